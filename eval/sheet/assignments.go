package sheet

import (
	"bytes"
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	apq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/swavgo/swav/ingest/store"
)

// Column names of a cluster-assignment file (`pipeline features clusters`).
const (
	ColKey     = "key"
	ColCluster = "cluster"
	ColScore   = "score"
)

// AssignmentSchema is the schema of a cluster-assignment file: key (utf8),
// cluster (int32, the prototype), score (float32, its prototype score).
var AssignmentSchema = arrow.NewSchema([]arrow.Field{
	{Name: ColKey, Type: arrow.BinaryTypes.String},
	{Name: ColCluster, Type: arrow.PrimitiveTypes.Int32},
	{Name: ColScore, Type: arrow.PrimitiveTypes.Float32},
}, nil)

// WriteAssignments writes one row per sample, key, cluster and score, as a
// plain Parquet file (snappy) that any tool reads (DuckDB, pandas, Spark) to
// sort images by cluster; it is not a feature file and needs no feature
// sink (arrow-go's pqarrow writes it). url is a local path or an s3:// object; the file
// is built in memory (about 20 bytes a row) and uploaded or renamed into
// place atomically. The three slices must have the same length.
func WriteAssignments(ctx context.Context, url string, sc store.Config, keys []string, clusters []int32, scores []float32) error {
	if len(clusters) != len(keys) || len(scores) != len(keys) {
		return fmt.Errorf("write %s: %d keys, %d clusters, %d scores", url, len(keys), len(clusters), len(scores))
	}
	mem := memory.DefaultAllocator
	b := array.NewRecordBuilder(mem, AssignmentSchema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues(keys, nil)
	b.Field(1).(*array.Int32Builder).AppendValues(clusters, nil)
	b.Field(2).(*array.Float32Builder).AppendValues(scores, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	props := apq.NewWriterProperties(apq.WithAllocator(mem), apq.WithCompression(compress.Codecs.Snappy))
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(AssignmentSchema, &buf, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		return fmt.Errorf("write %s: %w", url, err)
	}
	if err := w.Write(rec); err != nil {
		w.Close()
		return fmt.Errorf("write %s: %w", url, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", url, err)
	}
	bucket, key, err := store.Open(ctx, url, sc)
	if err != nil {
		return fmt.Errorf("write %s: %w", url, err)
	}
	defer bucket.Close()
	// A seekable reader: Upload sends it as it is, without spooling it to a
	// temporary file first.
	if err := bucket.Upload(ctx, key, bytes.NewReader(buf.Bytes())); err != nil {
		return fmt.Errorf("write %s: %w", url, err)
	}
	return nil
}
