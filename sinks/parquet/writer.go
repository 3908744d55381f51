package parquet

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	apq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/swavgo/swav/ingest/store"
)

// WriterOptions tune a feature file.
type WriterOptions struct {
	// RowGroupRows is the number of rows per row group (0: 8192).
	RowGroupRows int
	// Compression is "snappy" (default), "zstd" or "none".
	Compression string
	// Mem allocates the Arrow buffers (nil: memory.DefaultAllocator). Tests
	// pass a memory.NewCheckedAllocator.
	Mem memory.Allocator
}

const defaultRowGroupRows = 8192

// Schema is the Arrow schema of a feature file with dim floats per row.
func Schema(dim int) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: ColKey, Type: arrow.BinaryTypes.String},
		{Name: ColLabel, Type: arrow.PrimitiveTypes.Int64},
		{Name: ColFeature, Type: arrow.FixedSizeListOfNonNullable(int32(dim), arrow.PrimitiveTypes.Float32)},
	}, nil)
}

// Props returns the Parquet writer properties for opts: the given
// compression and row-group length, no dictionary for the feature floats.
// The benchmark's plain write loop uses the same properties.
func (opts WriterOptions) Props() (*apq.WriterProperties, error) {
	codec := compress.Codecs.Snappy
	switch opts.Compression {
	case "", "snappy":
	case "zstd":
		codec = compress.Codecs.Zstd
	case "none":
		codec = compress.Codecs.Uncompressed
	default:
		return nil, fmt.Errorf("unknown compression %q (want snappy, zstd or none)", opts.Compression)
	}
	rows := opts.RowGroupRows
	if rows <= 0 {
		rows = defaultRowGroupRows
	}
	return apq.NewWriterProperties(
		apq.WithAllocator(opts.mem()),
		apq.WithCompression(codec),
		apq.WithMaxRowGroupLength(int64(rows)),
		apq.WithDictionaryDefault(false),
		apq.WithDictionaryFor(ColKey, true),
		apq.WithStats(false),
	), nil
}

func (opts WriterOptions) mem() memory.Allocator {
	if opts.Mem == nil {
		return memory.DefaultAllocator
	}
	return opts.Mem
}

// ErrExists is wrapped by Create's and Commit's error when the output
// already holds a file of that name (alongside sinks.ErrWrittenByOther or
// sinks.ErrConflict, see Output.taken): finished output is never
// overwritten.
var ErrExists = store.ErrExists

// FileWriter writes one feature file. Rows are buffered up to one row group
// (RowGroupRows x (D+1) values) and written to a temp file as each group
// fills; Commit makes the file visible under its final name, Abort drops it.
// A FileWriter is used by one goroutine; it owns its temp file until Commit
// or Abort, one of which must be called.
type FileWriter struct {
	out  *Output
	name string
	md   Metadata
	dim  int
	rows int
	mem  memory.Allocator

	tmp *store.StagedFile
	buf *bufio.Writer // over tmp; not an io.Closer, so pqarrow leaves tmp open
	fw  *pqarrow.FileWriter

	keys   []string
	labels []int64
	feats  []float32
	total  int64
	done   bool
}

// Create starts feature file name (see FileName) in out with the given
// metadata (md.Layout.Dim is D). It fails with ErrExists when the file is
// already there.
func Create(ctx context.Context, out *Output, name string, md Metadata, opts WriterOptions) (*FileWriter, error) {
	dim := md.Layout.Dim
	if dim <= 0 {
		return nil, fmt.Errorf("feature file %s: dim must be positive, got %d", out.Path(name), dim)
	}
	ok, err := out.exists(ctx, name)
	if err != nil {
		return nil, err
	}
	if ok {
		return nil, fmt.Errorf("%w (%w)", out.taken(ctx, name, md), ErrExists)
	}
	props, err := opts.Props()
	if err != nil {
		return nil, fmt.Errorf("feature file %s: %w", out.Path(name), err)
	}
	tmp, err := store.Stage(ctx, out.b, name)
	if err != nil {
		return nil, fmt.Errorf("feature file %s: %w", out.Path(name), err)
	}
	buf := bufio.NewWriterSize(tmp, 1<<20)
	fw, err := pqarrow.NewFileWriter(Schema(dim), buf, props,
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(opts.mem())))
	if err != nil {
		tmp.Abort()
		return nil, fmt.Errorf("feature file %s: %w", out.Path(name), err)
	}
	rows := opts.RowGroupRows
	if rows <= 0 {
		rows = defaultRowGroupRows
	}
	return &FileWriter{
		out: out, name: name, md: md, dim: dim, rows: rows, mem: opts.mem(),
		tmp: tmp, buf: buf, fw: fw,
		keys: make([]string, 0, rows), labels: make([]int64, 0, rows), feats: make([]float32, 0, rows*dim),
	}, nil
}

// Path is the final URL of the file.
func (w *FileWriter) Path() string { return w.out.Path(w.name) }

// Rows is the number of rows appended so far.
func (w *FileWriter) Rows() int64 { return w.total + int64(len(w.keys)) }

// Append adds len(keys) rows; feats holds len(keys)*D floats, row-major. The
// slices are copied; the caller keeps them.
func (w *FileWriter) Append(keys []string, labels []int64, feats []float32) error {
	if w.done {
		return fmt.Errorf("feature file %s: append after commit or abort", w.Path())
	}
	if len(labels) != len(keys) || len(feats) != len(keys)*w.dim {
		return fmt.Errorf("feature file %s: %d keys, %d labels and %d floats do not make rows of dim %d",
			w.Path(), len(keys), len(labels), len(feats), w.dim)
	}
	for len(keys) > 0 {
		n := min(w.rows-len(w.keys), len(keys))
		w.keys = append(w.keys, keys[:n]...)
		w.labels = append(w.labels, labels[:n]...)
		w.feats = append(w.feats, feats[:n*w.dim]...)
		keys, labels, feats = keys[n:], labels[n:], feats[n*w.dim:]
		if len(w.keys) == w.rows {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes the buffered rows as one row group.
func (w *FileWriter) flush() error {
	if len(w.keys) == 0 {
		return nil
	}
	rec := buildRecord(w.mem, w.dim, w.keys, w.labels, w.feats)
	defer rec.Release()
	if err := w.fw.Write(rec); err != nil {
		return fmt.Errorf("feature file %s: write row group at row %d: %w", w.Path(), w.total, err)
	}
	w.total += int64(len(w.keys))
	w.keys, w.labels, w.feats = w.keys[:0], w.labels[:0], w.feats[:0]
	return nil
}

// buildRecord assembles one record. The label and feature buffers wrap the
// given slices without copying, so the record must be written before they
// are reused.
func buildRecord(mem memory.Allocator, dim int, keys []string, labels []int64, feats []float32) arrow.RecordBatch {
	kb := array.NewStringBuilder(mem)
	defer kb.Release()
	kb.AppendValues(keys, nil)
	keyArr := kb.NewArray()
	defer keyArr.Release()

	n := len(keys)
	labelData := array.NewData(arrow.PrimitiveTypes.Int64, n,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(labels))}, nil, 0, 0)
	defer labelData.Release()
	labelArr := array.NewInt64Data(labelData)
	defer labelArr.Release()

	valData := array.NewData(arrow.PrimitiveTypes.Float32, n*dim,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Float32Traits.CastToBytes(feats))}, nil, 0, 0)
	defer valData.Release()
	listType := arrow.FixedSizeListOfNonNullable(int32(dim), arrow.PrimitiveTypes.Float32)
	listData := array.NewData(listType, n, []*memory.Buffer{nil}, []arrow.ArrayData{valData}, 0, 0)
	defer listData.Release()
	featArr := array.NewFixedSizeListData(listData)
	defer featArr.Release()

	return array.NewRecordBatch(Schema(dim), []arrow.Array{keyArr, labelArr, featArr}, int64(n))
}

// Commit writes the last row group and the footer (with the metadata) and
// moves the file into place atomically. On error nothing is left behind.
func (w *FileWriter) Commit(ctx context.Context) error {
	if w.done {
		return fmt.Errorf("feature file %s: commit after commit or abort", w.Path())
	}
	if err := w.flush(); err != nil {
		w.Abort()
		return err
	}
	w.done = true
	w.md.Rows = w.total
	kv, err := keyValues(w.md)
	if err == nil {
		for _, k := range []string{MetaCheckpoint, MetaConfigHash, MetaLayout, MetaShard, MetaRows} {
			if err = w.fw.AppendKeyValueMetadata(k, kv[k]); err != nil {
				break
			}
		}
	}
	if err != nil {
		w.fw.Close()
		w.tmp.Abort()
		return fmt.Errorf("feature file %s: metadata: %w", w.Path(), err)
	}
	if err := w.fw.Close(); err != nil {
		w.tmp.Abort()
		return fmt.Errorf("feature file %s: close: %w", w.Path(), err)
	}
	if err := w.buf.Flush(); err != nil {
		w.tmp.Abort()
		return fmt.Errorf("feature file %s: close: %w", w.Path(), err)
	}
	if err := addChecksums(w.tmp.File); err != nil {
		w.tmp.Abort()
		return fmt.Errorf("feature file %s: checksums: %w", w.Path(), err)
	}
	if err := w.tmp.Commit(ctx); err != nil {
		if errors.Is(err, store.ErrExists) {
			// Another attempt committed this name between Create and now.
			return fmt.Errorf("%w (%w)", w.out.taken(ctx, w.name, w.md), ErrExists)
		}
		return fmt.Errorf("feature file %s: %w", w.Path(), err)
	}
	return nil
}

// Abort drops the file; nothing is left in the output. Safe to call after
// Commit (it does nothing then).
func (w *FileWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.fw.Close()
	w.tmp.Abort()
}
