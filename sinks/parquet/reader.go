package parquet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	apq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/swavgo/swav/ingest/store"
)

// ErrNoFeatures is returned (wrapped) when the given locations hold no rows.
var ErrNoFeatures = errors.New("no features")

// Features is a set of feature rows read from one or more files.
type Features struct {
	Keys   []string
	Labels []int64
	// Data holds len(Keys)*Dim floats, row-major.
	Data []float32
	Dim  int
	// Files lists the files read, in order; Meta their metadata.
	Files []string
	Meta  []Metadata
}

// Rows is the number of rows.
func (f *Features) Rows() int { return len(f.Keys) }

// ReadFeatures reads every feature file at urls (a file, a local folder, or
// an s3:// prefix, whose *.parquet files are read in name order) and
// concatenates their rows. All files must have the same dim; an error names
// the first file that differs. No rows at all gives ErrNoFeatures.
func ReadFeatures(ctx context.Context, urls ...string) (keys []string, labels []int64, feats []float32, dim int, err error) {
	f, err := ReadFeatureSet(ctx, ReadOptions{}, urls...)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	return f.Keys, f.Labels, f.Data, f.Dim, nil
}

// ReadOptions tune ReadFeatureSet.
type ReadOptions struct {
	// Mem allocates the transient Arrow buffers (nil: the default allocator);
	// the result is plain Go memory.
	Mem memory.Allocator
	// Store configures s3:// locations (zero: the standard AWS environment).
	Store store.Config
}

// ReadFeatureSet is ReadFeatures returning the files and their metadata too.
func ReadFeatureSet(ctx context.Context, opts ReadOptions, urls ...string) (*Features, error) {
	mem := opts.Mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("read features: no location given: %w", ErrNoFeatures)
	}
	out := &Features{}
	for _, url := range urls {
		files, err := expand(ctx, url, opts.Store)
		if err != nil {
			return nil, err
		}
		for _, fl := range files {
			data, err := fl.out.readAll(ctx, fl.name)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", fl.out.Path(fl.name), err)
			}
			if err := readFileInto(ctx, mem, fl.out.Path(fl.name), data, out); err != nil {
				return nil, err
			}
		}
	}
	if out.Rows() == 0 {
		return nil, fmt.Errorf("read features %s: %w", strings.Join(urls, ", "), ErrNoFeatures)
	}
	return out, nil
}

type fileRef struct {
	out  *Output
	name string
}

// expand turns one location into its feature files.
func expand(ctx context.Context, url string, sc store.Config) ([]fileRef, error) {
	if strings.HasSuffix(url, ".parquet") {
		i := strings.LastIndex(url, "/")
		dir, name := ".", url
		if i >= 0 {
			dir, name = url[:i], url[i+1:]
		}
		o, err := openForRead(ctx, dir, sc)
		if err != nil {
			return nil, err
		}
		ok, err := o.exists(ctx, name)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("read features: %s does not exist", url)
		}
		return []fileRef{{o, name}}, nil
	}
	o, err := openForRead(ctx, url, sc)
	if err != nil {
		return nil, err
	}
	names, err := o.featureFiles(ctx)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("read features: %s holds no .parquet files: %w", url, ErrNoFeatures)
	}
	refs := make([]fileRef, len(names))
	for i, n := range names {
		refs[i] = fileRef{o, n}
	}
	return refs, nil
}

// openForRead opens a location without creating or probing it.
func openForRead(ctx context.Context, url string, sc store.Config) (*Output, error) {
	if isRemote(url) {
		return openStore(ctx, url, sc)
	}
	dir := strings.TrimPrefix(url, "file://")
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("read features: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("read features: %s is not a folder or a .parquet file", dir)
	}
	return &Output{url: url, dir: dir}, nil
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
	md, err := parseMetadata(rdr.MetaData().KeyValueMetadata().FindValue)
	if err != nil {
		rdr.Close()
		return nil, Metadata{}, fmt.Errorf("%s: %w", path, err)
	}
	if md.Rows != rdr.NumRows() {
		rdr.Close()
		return nil, Metadata{}, fmt.Errorf("%s: metadata says %d rows, file holds %d", path, md.Rows, rdr.NumRows())
	}
	return rdr, md, nil
}

// readFileInto appends the rows of one feature file to out.
//
// arrow-go panics on some corrupt files (a page header without its data-page
// part): the panic is returned as an error naming the file, never a crash.
func readFileInto(ctx context.Context, mem memory.Allocator, path string, data []byte, out *Features) (err error) {
	defer recoverCorrupt(path, &err)
	rdr, md, err := openParquet(path, data)
	if err != nil {
		return err
	}
	defer rdr.Close()
	if out.Dim != 0 && md.Layout.Dim != out.Dim {
		return fmt.Errorf("%s has features of dim %d but %s has dim %d", path, md.Layout.Dim, out.Files[0], out.Dim)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, mem)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tbl, err := fr.ReadTable(ctx)
	if err != nil {
		return fmt.Errorf("%s: read rows: %w", path, err)
	}
	defer tbl.Release()
	if err := appendTable(tbl, md.Layout.Dim, out); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	out.Dim = md.Layout.Dim
	out.Files = append(out.Files, path)
	out.Meta = append(out.Meta, md)
	return nil
}

func appendTable(tbl arrow.Table, dim int, out *Features) error {
	sc := tbl.Schema()
	idx := func(name string) (int, error) {
		is := sc.FieldIndices(name)
		if len(is) != 1 {
			return 0, fmt.Errorf("no %q column", name)
		}
		return is[0], nil
	}
	ki, err := idx(ColKey)
	if err != nil {
		return err
	}
	li, err := idx(ColLabel)
	if err != nil {
		return err
	}
	fi, err := idx(ColFeature)
	if err != nil {
		return err
	}
	if ft, ok := sc.Field(fi).Type.(*arrow.FixedSizeListType); !ok || int(ft.Len()) != dim {
		return fmt.Errorf("column %q is %s, metadata says FixedSizeList<float32>[%d]", ColFeature, sc.Field(fi).Type, dim)
	}
	for _, ch := range tbl.Column(ki).Data().Chunks() {
		s, ok := ch.(*array.String)
		if !ok {
			return fmt.Errorf("column %q holds %s, not utf8", ColKey, ch.DataType())
		}
		for i := 0; i < s.Len(); i++ {
			out.Keys = append(out.Keys, s.Value(i))
		}
	}
	for _, ch := range tbl.Column(li).Data().Chunks() {
		a, ok := ch.(*array.Int64)
		if !ok {
			return fmt.Errorf("column %q holds %s, not int64", ColLabel, ch.DataType())
		}
		out.Labels = append(out.Labels, a.Int64Values()...)
	}
	for _, ch := range tbl.Column(fi).Data().Chunks() {
		l := ch.(*array.FixedSizeList)
		vals, ok := l.ListValues().(*array.Float32)
		if !ok {
			return fmt.Errorf("column %q holds %s, not float32", ColFeature, l.ListValues().DataType())
		}
		off := l.Data().Offset() * dim
		out.Data = append(out.Data, vals.Float32Values()[off:off+l.Len()*dim]...)
	}
	if len(out.Labels) != len(out.Keys) || len(out.Data) != len(out.Keys)*dim {
		return fmt.Errorf("columns disagree: %d keys, %d labels, %d floats (dim %d)", len(out.Keys), len(out.Labels), len(out.Data), dim)
	}
	return nil
}

// ReadMetadata reads the metadata of one feature file (its footer only for
// local files).
func ReadMetadata(ctx context.Context, url string, sc store.Config) (Metadata, error) {
	refs, err := expand(ctx, url, sc)
	if err != nil {
		return Metadata{}, err
	}
	if len(refs) != 1 {
		return Metadata{}, fmt.Errorf("%s: want one feature file, found %d", url, len(refs))
	}
	return refs[0].out.metadata(ctx, refs[0].name)
}

// metadata validates file name of o and returns its metadata.
func (o *Output) metadata(ctx context.Context, name string) (Metadata, error) {
	path := o.Path(name)
	if o.store == nil {
		rdr, err := file.OpenParquetFile(path, false)
		if err != nil {
			return Metadata{}, fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
		}
		defer rdr.Close()
		md, err := parseMetadata(rdr.MetaData().KeyValueMetadata().FindValue)
		if err != nil {
			return Metadata{}, fmt.Errorf("%s: %w", path, err)
		}
		if md.Rows != rdr.NumRows() {
			return Metadata{}, fmt.Errorf("%s: metadata says %d rows, file holds %d", path, md.Rows, rdr.NumRows())
		}
		return md, nil
	}
	data, err := o.readAll(ctx, name)
	if err != nil {
		return Metadata{}, fmt.Errorf("read %s: %w", path, err)
	}
	rdr, md, err := openParquet(path, data)
	if err != nil {
		return Metadata{}, err
	}
	rdr.Close()
	return md, nil
}

// Done reports whether the output already holds a finished feature file
// name. A present file must be valid and come from the same checkpoint,
// config hash and layout as want (a zero want.Layout.Dim matches any dim); otherwise Done fails (the file is left
// alone: finished output is never overwritten).
func (o *Output) Done(ctx context.Context, name string, want Metadata) (bool, error) {
	ok, err := o.exists(ctx, name)
	if err != nil || !ok {
		return false, err
	}
	md, err := o.metadata(ctx, name)
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

var _ apq.ReaderAtSeeker = (*bytes.Reader)(nil)

// FileInfo is what Inspect learns of one feature file.
type FileInfo struct {
	Path string
	// Meta is the file's metadata (Rows from the file); zero when Err is set.
	Meta Metadata
	// Err is why the file cannot be read (damaged: ErrChecksum, not a
	// feature file, unreadable); the walk goes on.
	Err error
}

// Inspect reads every feature file at urls (files, folders, s3:// prefixes),
// verifies each one's checksums and metadata, and returns one FileInfo per
// file in name order. A location that cannot be listed is an error; a bad
// file is reported in its FileInfo. It reads one file at a time.
func Inspect(ctx context.Context, opts ReadOptions, urls ...string) ([]FileInfo, error) {
	var infos []FileInfo
	for _, url := range urls {
		files, err := expand(ctx, url, opts.Store)
		if err != nil {
			return nil, err
		}
		for _, fl := range files {
			info := FileInfo{Path: fl.out.Path(fl.name)}
			data, err := fl.out.readAll(ctx, fl.name)
			if err == nil {
				var rdr *file.Reader
				rdr, info.Meta, err = openParquetSafely(info.Path, data)
				if rdr != nil {
					rdr.Close()
				}
			}
			info.Err = err
			infos = append(infos, info)
		}
	}
	return infos, nil
}

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
