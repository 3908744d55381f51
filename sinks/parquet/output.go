package parquet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/sinks"
)

// Output is where feature files go: a folder of a store.Bucket (a local
// folder, file:// or an s3:// prefix; store.OpenDir), written and read
// through the Bucket only. A file is written as a store.StagedFile and
// committed only if absent (a rename beside it locally, UploadIfAbsent on
// S3), so an Output never holds a partial feature file and never replaces
// one.
type Output struct {
	url string
	// b is the output's folder: object names are feature file names.
	b store.Bucket
}

// OpenOutput opens url (a local folder, file:// or s3://bucket/prefix) for
// writing feature files; sc configures s3:// (ingest.Config.StoreConfig).
// A location the bucket can tell is not writable (store.CheckWrite: a
// read-only local folder, one that cannot be created) is an error naming
// it, before any work. The caller closes the Output.
func OpenOutput(ctx context.Context, url string, sc store.Config) (*Output, error) {
	o, err := openOutput(ctx, url, sc)
	if err != nil {
		return nil, err
	}
	if err := store.CheckWrite(ctx, o.b); err != nil {
		o.Close()
		return nil, fmt.Errorf("feature output %s: %w", url, err)
	}
	return o, nil
}

// openOutput opens url's folder without creating or probing it (readers).
func openOutput(ctx context.Context, url string, sc store.Config) (*Output, error) {
	if url == "" {
		return nil, errors.New("feature output: empty location")
	}
	b, err := store.OpenDir(ctx, url, sc)
	if err != nil {
		return nil, fmt.Errorf("feature output %s: %w", url, err)
	}
	return &Output{url: url, b: b}, nil
}

// Close releases the bucket.
func (o *Output) Close() error { return o.b.Close() }

// URL is the location the Output was opened with.
func (o *Output) URL() string { return o.url }

// Path names file name inside the output: the location as given joined
// with name ("out/x.parquet", "s3://b/p/x.parquet"); errors use it.
func (o *Output) Path(name string) string {
	return strings.TrimSuffix(o.url, "/") + "/" + name
}

// exists says whether the output holds file name.
func (o *Output) exists(ctx context.Context, name string) (bool, error) {
	ok, err := o.b.Exists(ctx, name)
	if err != nil {
		return false, fmt.Errorf("check %s: %w", o.Path(name), err)
	}
	return ok, nil
}

// taken explains why file name, found already there when this attempt
// wanted to create it, stops the write: an error wrapping
// sinks.ErrWrittenByOther when it is a complete, intact feature file (its
// checksum footer verified) of the same shard, checkpoint, config hash and
// layout as want, else one wrapping sinks.ErrConflict that names what is
// there. It reads the file whole.
func (o *Output) taken(ctx context.Context, name string, want Metadata) error {
	path := o.Path(name)
	data, err := o.readAll(ctx, name)
	if err == nil {
		var rdr *file.Reader
		var md Metadata
		rdr, md, err = openParquetSafely(path, data)
		if rdr != nil {
			rdr.Close()
		}
		if err == nil {
			if md.Shard == want.Shard && md.ConfigHash == want.ConfigHash && md.Checkpoint == want.Checkpoint && md.Layout == want.Layout {
				return fmt.Errorf("%s: %w", path, sinks.ErrWrittenByOther)
			}
			return fmt.Errorf("%s: %w: it holds shard %s, checkpoint %q, config %s, layout %+v; this attempt writes shard %s, checkpoint %q, config %s, layout %+v: use another output location",
				path, sinks.ErrConflict, md.Shard, md.Checkpoint, md.ConfigHash, md.Layout, want.Shard, want.Checkpoint, want.ConfigHash, want.Layout)
		}
	}
	return fmt.Errorf("%s: %w: a file is there that is not a complete feature file (%v); move it away to redo shard %s", path, sinks.ErrConflict, err, want.Shard)
}

// readAll returns file name's bytes (feature files are read whole: the
// Parquet reader needs random access and object stores serve ranges poorly
// for many small reads).
func (o *Output) readAll(ctx context.Context, name string) ([]byte, error) {
	rc, err := o.b.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, rc); err != nil {
		return nil, fmt.Errorf("read %s: %w", o.Path(name), err)
	}
	return buf.Bytes(), nil
}

// featureFiles lists the *.parquet files of the output (not its sub-folders,
// not hidden or temp files), in name order.
func (o *Output) featureFiles(ctx context.Context) ([]string, error) {
	objs, err := store.List(ctx, o.b, "")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", o.url, err)
	}
	var names []string
	for _, obj := range objs {
		if strings.HasSuffix(obj.Name, ".parquet") && !strings.Contains(obj.Name, "/") && !strings.HasPrefix(obj.Name, ".") {
			names = append(names, obj.Name)
		}
	}
	return names, nil
}

// FileName is the feature file name for an input shard URL: the shard's base
// name with its extension replaced by .parquet ("s3://b/train-000003.tar" →
// "train-000003.parquet").
func FileName(shard string) string {
	base := shard
	if i := strings.LastIndexAny(base, "/\\"); i >= 0 {
		base = base[i+1:]
	}
	if i := strings.Index(base, "."); i > 0 {
		base = base[:i]
	}
	if base == "" {
		base = "features"
	}
	return base + ".parquet"
}
