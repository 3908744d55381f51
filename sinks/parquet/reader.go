package parquet

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	apq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/sinks"
)

// readBatchRows is the longest batch a reader returns.
const readBatchRows = 64 << 10

// Source is the sinks.FeatureSource of feature files: a .parquet file, or
// every *.parquet file of a folder or s3:// prefix (name order), read
// through a store.Bucket.
type Source struct {
	out *Output
	// base is what a file name is appended to for its unit URL: the
	// location up to its last "/" for a file, the folder with a "/".
	base string
	// one is the single file the location names ("" for a folder).
	one string
	mem memory.Allocator
}

// OpenSource opens url for reading: a location ending in .parquet is one
// feature file, anything else a folder of them. Nothing is created; a
// folder that does not exist holds no files.
func OpenSource(ctx context.Context, url string, o sinks.ReadOptions) (sinks.FeatureSource, error) {
	dir, base, one := url, strings.TrimSuffix(url, "/")+"/", ""
	if strings.HasSuffix(url, ".parquet") {
		dir, base, one = ".", "", url
		if i := strings.LastIndex(url, "/"); i >= 0 {
			dir, base, one = url[:i+1], url[:i+1], url[i+1:]
		}
	}
	out, err := openOutput(ctx, dir, o.Store)
	if err != nil {
		return nil, fmt.Errorf("read features: %w", err)
	}
	mem := o.Mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	return &Source{out: out, base: base, one: one, mem: mem}, nil
}

// URL implements sinks.FeatureSource.
func (s *Source) URL() string {
	if s.one != "" {
		return s.base + s.one
	}
	return s.out.URL()
}

// Close implements sinks.FeatureSource.
func (s *Source) Close() error { return s.out.Close() }

// Units implements sinks.FeatureSource: the feature files' URLs.
func (s *Source) Units(ctx context.Context) ([]string, error) {
	if s.one != "" {
		ok, err := s.out.exists(ctx, s.one)
		if err != nil {
			return nil, fmt.Errorf("read features: %w", err)
		}
		if !ok {
			return nil, fmt.Errorf("read features: %s does not exist", s.URL())
		}
		return []string{s.URL()}, nil
	}
	names, err := s.out.featureFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("read features: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("read features: %s holds no .parquet files: %w", s.out.URL(), sinks.ErrNoFeatures)
	}
	units := make([]string, len(names))
	for i, n := range names {
		units[i] = s.base + n
	}
	return units, nil
}

// Open implements sinks.FeatureSource: it reads the file whole, verifies
// its checksums, metadata and schema, and returns a reader of its rows.
func (s *Source) Open(ctx context.Context, unit string) (sinks.ShardReader, error) {
	name, ok := strings.CutPrefix(unit, s.base)
	if !ok || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("read features: %s is not a file of %s", unit, s.URL())
	}
	data, err := s.out.readAll(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", unit, err)
	}
	return openReader(ctx, s.mem, unit, data)
}

// FileReader reads the rows of one feature file held in memory, a record
// batch (up to 64 Ki rows of a row group) at a time: sinks.ShardReader.
type FileReader struct {
	path string
	md   Metadata
	rdr  *file.Reader
	rr   pqarrow.RecordReader
	cur  sinks.Batch
	err  error
}

// openReader verifies the feature file in data (checksums, metadata, row
// count, schema) and returns its reader. arrow-go panics on some corrupt
// files (a page header without its data-page part): the panic is returned
// as an error naming the file, never a crash.
func openReader(ctx context.Context, mem memory.Allocator, path string, data []byte) (_ *FileReader, err error) {
	defer recoverCorrupt(path, &err)
	rdr, md, err := openParquet(path, data)
	if err != nil {
		return nil, err
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: readBatchRows}, mem)
	if err == nil {
		err = checkSchema(fr, md.Layout.Dim)
	}
	if err != nil {
		rdr.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		rdr.Close()
		return nil, fmt.Errorf("%s: read rows: %w", path, err)
	}
	return &FileReader{path: path, md: md, rdr: rdr, rr: rr}, nil
}

// checkSchema checks that the file has our three columns, in order, with
// the feature column of dim floats.
func checkSchema(fr *pqarrow.FileReader, dim int) error {
	sc, err := fr.Schema()
	if err != nil {
		return err
	}
	want := Schema(dim)
	for i, f := range want.Fields() {
		is := sc.FieldIndices(f.Name)
		if len(is) != 1 || is[0] != i {
			return fmt.Errorf("no %q column (column %d)", f.Name, i)
		}
		if got := sc.Field(i).Type; !arrow.TypeEqual(got, f.Type) {
			if f.Name == ColFeature {
				return fmt.Errorf("column %q is %s, metadata says FixedSizeList<float32>[%d]", ColFeature, got, dim)
			}
			return fmt.Errorf("column %q is %s, want %s", f.Name, got, f.Type)
		}
	}
	return nil
}

// Metadata implements sinks.ShardReader.
func (r *FileReader) Metadata() Metadata { return r.md }

// Next implements sinks.ShardReader.
func (r *FileReader) Next() (ok bool) {
	if r.err != nil || r.rr == nil {
		return false
	}
	defer func() {
		if rec := recover(); rec != nil {
			r.err = fmt.Errorf("%s: corrupt Parquet file: %v", r.path, rec)
			ok = false
		}
	}()
	if !r.rr.Next() {
		if err := r.rr.Err(); err != nil {
			r.err = fmt.Errorf("%s: read rows: %w", r.path, err)
		}
		return false
	}
	b, err := toBatch(r.rr.RecordBatch(), r.md.Layout.Dim)
	if err != nil {
		r.err = fmt.Errorf("%s: %w", r.path, err)
		return false
	}
	r.cur = b
	return true
}

// toBatch views rec's columns as a sinks.Batch: labels and floats alias
// rec's buffers, keys are copied into one Go string.
func toBatch(rec arrow.RecordBatch, dim int) (sinks.Batch, error) {
	keys, ok := rec.Column(0).(*array.String)
	if !ok {
		return sinks.Batch{}, fmt.Errorf("column %q holds %s, not utf8", ColKey, rec.Column(0).DataType())
	}
	labels, ok := rec.Column(1).(*array.Int64)
	if !ok {
		return sinks.Batch{}, fmt.Errorf("column %q holds %s, not int64", ColLabel, rec.Column(1).DataType())
	}
	list, ok := rec.Column(2).(*array.FixedSizeList)
	if !ok {
		return sinks.Batch{}, fmt.Errorf("column %q holds %s, not a fixed-size list", ColFeature, rec.Column(2).DataType())
	}
	vals, ok := list.ListValues().(*array.Float32)
	if !ok {
		return sinks.Batch{}, fmt.Errorf("column %q holds %s, not float32", ColFeature, list.ListValues().DataType())
	}
	n := keys.Len()
	if n == 0 {
		return sinks.Batch{}, nil
	}
	if labels.Len() != n || list.Len() != n {
		return sinks.Batch{}, fmt.Errorf("columns disagree: %d keys, %d labels, %d features", n, labels.Len(), list.Len())
	}
	b := sinks.Batch{Keys: make([]string, n), Labels: labels.Int64Values()}
	all := string(keys.ValueBytes())
	base := keys.ValueOffset(0)
	for i := range n {
		b.Keys[i] = all[keys.ValueOffset(i)-base : keys.ValueOffset(i)-base+keys.ValueLen(i)]
	}
	off := list.Data().Offset() * dim
	fv := vals.Float32Values()
	if off+n*dim > len(fv) {
		return sinks.Batch{}, fmt.Errorf("column %q holds %d floats, %d rows of dim %d need %d", ColFeature, len(fv), n, dim, off+n*dim)
	}
	b.Feats = fv[off : off+n*dim]
	return b, nil
}

// Batch implements sinks.ShardReader.
func (r *FileReader) Batch() sinks.Batch { return r.cur }

// Err implements sinks.ShardReader.
func (r *FileReader) Err() error { return r.err }

// Close implements sinks.ShardReader.
func (r *FileReader) Close() error {
	if r.rr != nil {
		r.rr.Release()
		r.rr = nil
	}
	r.cur = sinks.Batch{}
	if r.rdr == nil {
		return nil
	}
	err := r.rdr.Close()
	r.rdr = nil
	return err
}

// openParquet parses the footer of a feature file held in data and checks
// that it is one of ours.
func openParquet(path string, data []byte) (*file.Reader, Metadata, error) {
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, Metadata{}, fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
	}
	if err := verifyChecksums(path, data, rdr.MetaData()); err != nil {
		rdr.Close()
		return nil, Metadata{}, err
	}
	md, err := fileMetadata(path, rdr.MetaData())
	if err != nil {
		rdr.Close()
		return nil, Metadata{}, err
	}
	return rdr, md, nil
}

// fileMetadata reads our metadata from a file's footer and checks its row
// count against the file's.
func fileMetadata(path string, fmd *metadata.FileMetaData) (Metadata, error) {
	md, err := parseMetadata(fmd.KeyValueMetadata().FindValue)
	if err != nil {
		return Metadata{}, fmt.Errorf("%s: %w", path, err)
	}
	if md.Rows != fmd.NumRows {
		return Metadata{}, fmt.Errorf("%s: metadata says %d rows, file holds %d", path, md.Rows, fmd.NumRows)
	}
	return md, nil
}

// metadata returns the metadata of file name of o, size bytes long, from
// its footer alone (two range reads of the object, whatever the store).
func (o *Output) metadata(ctx context.Context, name string, size int64) (md Metadata, err error) {
	path := o.Path(name)
	defer recoverCorrupt(path, &err)
	footer, _, err := readFooter(store.NewReaderAt(ctx, o.b, name, size), size)
	if err != nil {
		return Metadata{}, fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
	}
	fmd, err := metadata.NewFileMetaData(footer, nil)
	if err != nil {
		return Metadata{}, fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
	}
	return fileMetadata(path, fmd)
}

// Done reports whether the output already holds a finished feature file
// name. A present file must be valid and come from the same checkpoint,
// config hash and layout as want (a zero want.Layout.Dim matches any dim); otherwise Done fails (the file is left
// alone: finished output is never overwritten). It reads the file's footer only.
func (o *Output) Done(ctx context.Context, name string, want Metadata) (bool, error) {
	attrs, err := o.b.Attributes(ctx, name) // one look at the object: is it there, how long
	if store.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s: %w", o.Path(name), err)
	}
	md, err := o.metadata(ctx, name, attrs.Size)
	if err != nil {
		return false, fmt.Errorf("existing output is not a valid feature file (move it away to redo the shard): %w", err)
	}
	sameLayout := md.Layout.Kind == want.Layout.Kind && md.Layout.Arch == want.Layout.Arch &&
		(want.Layout.Dim == 0 || md.Layout.Dim == want.Layout.Dim)
	if md.Checkpoint != want.Checkpoint || md.ConfigHash != want.ConfigHash || !sameLayout {
		return false, fmt.Errorf("%s already holds features from checkpoint %q, config %s, layout %+v; this run is checkpoint %q, config %s, layout %+v: use another output location",
			o.Path(name), md.Checkpoint, md.ConfigHash, md.Layout, want.Checkpoint, want.ConfigHash, want.Layout)
	}
	return true, nil
}

var (
	_ apq.ReaderAtSeeker  = (*bytes.Reader)(nil)
	_ sinks.ShardReader   = (*FileReader)(nil)
	_ sinks.FeatureSource = (*Source)(nil)
)

// openParquetSafely is openParquet with arrow-go's panics on corrupt input
// turned into errors naming the file.
func openParquetSafely(path string, data []byte) (rdr *file.Reader, md Metadata, err error) {
	defer recoverCorrupt(path, &err)
	return openParquet(path, data)
}

// recoverCorrupt, deferred, turns a panic of arrow-go on corrupt input (a
// page header without its data-page part, ...) into *err naming the file.
func recoverCorrupt(path string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: corrupt Parquet file: %v", path, r)
	}
}
