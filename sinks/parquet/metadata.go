// Package parquet writes and reads feature files: one Parquet file per input
// shard with the columns
//
//	key      utf8                       the sample key
//	label    int64                      the class index (-1 when unknown)
//	feature  FixedSizeList<float32>[D]  the embedding
//
// and file metadata naming the checkpoint, the config hash and the feature
// layout (kind, dim, model arch). Files are written through arrow-go's
// pqarrow and committed atomically (a temp file renamed into place locally,
// a finished temp file uploaded for s3://), so a reader never sees half a
// file and a rerun can skip the shards that are done.
package parquet

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/swavgo/swav/sinks"
)

// Column names of a feature file.
const (
	ColKey     = "key"
	ColLabel   = "label"
	ColFeature = "feature"
)

// Keys of the file's key-value metadata.
const (
	MetaCheckpoint = "swav.checkpoint"  // the checkpoint URL the features come from
	MetaConfigHash = "swav.config_hash" // hash of the extraction config
	MetaLayout     = "swav.feature"     // JSON Layout
	MetaShard      = "swav.shard"       // the input shard
	MetaRows       = "swav.rows"        // number of rows, decimal
)

// Layout and Metadata are the sinks' (every feature sink records the same).
type (
	Layout   = sinks.Layout
	Metadata = sinks.Metadata
)

// keyValues renders md as the file's key-value metadata.
func keyValues(md Metadata) (map[string]string, error) {
	layout, err := json.Marshal(md.Layout)
	if err != nil {
		return nil, fmt.Errorf("encode feature layout: %w", err)
	}
	return map[string]string{
		MetaCheckpoint: md.Checkpoint,
		MetaConfigHash: md.ConfigHash,
		MetaLayout:     string(layout),
		MetaShard:      md.Shard,
		MetaRows:       strconv.FormatInt(md.Rows, 10),
	}, nil
}

// parseMetadata reads md back from the key-value metadata (find returns nil
// for a missing key). A file without the layout key is not one of ours.
func parseMetadata(find func(string) *string) (Metadata, error) {
	var md Metadata
	get := func(k string) string {
		if v := find(k); v != nil {
			return *v
		}
		return ""
	}
	raw := find(MetaLayout)
	if raw == nil {
		return md, fmt.Errorf("no %s metadata: not a feature file", MetaLayout)
	}
	if err := json.Unmarshal([]byte(*raw), &md.Layout); err != nil {
		return md, fmt.Errorf("bad %s metadata %q: %w", MetaLayout, *raw, err)
	}
	md.Checkpoint = get(MetaCheckpoint)
	md.ConfigHash = get(MetaConfigHash)
	md.Shard = get(MetaShard)
	if r := get(MetaRows); r != "" {
		n, err := strconv.ParseInt(r, 10, 64)
		if err != nil {
			return md, fmt.Errorf("bad %s metadata %q: %w", MetaRows, r, err)
		}
		md.Rows = n
	}
	return md, nil
}
