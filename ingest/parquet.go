package ingest

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/settings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Hugging Face Parquet shards: one row per sample, an image column (struct
// {bytes, path} or binary) and an integer label column, read by byte range.
func init() {
	RegisterFormat(parquetFormat, Format{Ext: ".parquet", Open: openParquet, Settings: ParquetConfig{ImageColumn: "image", LabelColumn: "label"},
		Validate: func(c *Config) error {
			if ParquetSettings(c).ImageColumn == "" {
				return field.Errorf("parquet.image_column", "must name the Parquet image column")
			}
			return nil
		}})
}

const parquetFormat = "parquet"

// ParquetConfig is the parquet format's own sub-section of the data
// section (data.parquet), registered with the format.
type ParquetConfig struct {
	// ImageColumn and LabelColumn name the Parquet columns: the image is a
	// struct {bytes, path} (or plain binary) column, the label an integer one.
	ImageColumn string `yaml:"image_column"`
	LabelColumn string `yaml:"label_column"`
}

// ParquetSettings returns the parquet format's settings of a data section
// (its defaults where the section holds none).
func ParquetSettings(c *Config) ParquetConfig {
	return settings.Get[ParquetConfig](c.Formats, Section, parquetFormat)
}

// EditParquet returns the parquet format's settings of c for changing them
// in place; c gets its own copy first.
func EditParquet(c *Config) *ParquetConfig {
	return settings.Edit[ParquetConfig](&c.Formats, Section, parquetFormat)
}

// parquetBatchRows is the number of rows decoded at a time: memory is about
// this many images, not a whole row group.
const parquetBatchRows = 64

// parquetReader reads Hugging Face-style rows: an image column that is a
// struct {bytes, path} (or plain binary) and an integer label column.
type parquetReader struct {
	readerState
	shard    string
	pf       *file.Reader
	rr       pqarrow.RecordReader
	imageCol string
	labelCol string
	batch    arrow.RecordBatch
	i        int   // row inside batch
	row      int64 // row inside the file
}

func openParquet(ctx context.Context, s Shard, cfg *Config) (reader ShardReader, err error) {
	defer func() {
		if r := recover(); r != nil { // arrow-go on a corrupt footer or schema
			reader, err = nil, fmt.Errorf("shard %s: not a readable Parquet file: %v", s.URL, r)
		}
	}()
	size := s.Size
	if size < 0 {
		attr, err := s.Bucket.Attributes(ctx, s.Name)
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", s.URL, err)
		}
		size = attr.Size
	}
	pf, err := file.NewParquetReader(store.NewReaderAt(ctx, s.Bucket, s.Name, size))
	if err != nil {
		return nil, fmt.Errorf("shard %s: not a readable Parquet file: %w", s.URL, err)
	}
	own := ParquetSettings(cfg)
	imageCol, labelCol := orDefault(own.ImageColumn, "image"), own.LabelColumn
	sc := pf.MetaData().Schema
	var leaves []int
	var names []string
	foundImage := false
	for i := 0; i < sc.NumColumns(); i++ {
		top := strings.Split(sc.Column(i).Path(), ".")[0]
		names = append(names, sc.Column(i).Path())
		switch {
		case top == imageCol:
			foundImage = true
			leaves = append(leaves, i)
		case labelCol != "" && top == labelCol:
			leaves = append(leaves, i)
		}
	}
	if !foundImage {
		pf.Close()
		return nil, fmt.Errorf("shard %s: no image column %q (columns: %s); set data.parquet.image_column", s.URL, imageCol, strings.Join(names, ", "))
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: parquetBatchRows}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("shard %s: %w", s.URL, err)
	}
	rr, err := fr.GetRecordReader(ctx, leaves, nil)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("shard %s: %w", s.URL, err)
	}
	return &parquetReader{shard: s.URL, pf: pf, rr: rr, imageCol: imageCol, labelCol: labelCol}, nil
}

// Next implements ShardReader: the next row. arrow-go panics on some
// corrupt pages (a page header without its data-page part): the panic is
// turned into an error naming the shard and the row, never a crash of the
// run.
func (p *parquetReader) Next() (ok bool) {
	p.rec = Record{}
	if p.err != nil {
		return false
	}
	defer func() {
		if r := recover(); r != nil {
			p.rec, p.err, ok = Record{}, fmt.Errorf("shard %s: corrupt Parquet data near row %d: %v", p.shard, p.row, r), false
		}
	}()
	for p.batch == nil || p.i >= int(p.batch.NumRows()) {
		if !p.rr.Next() {
			if err := p.rr.Err(); err != nil && err != io.EOF {
				p.err = fmt.Errorf("shard %s: read near row %d: %w", p.shard, p.row, err)
			}
			return false
		}
		p.batch, p.i = p.rr.RecordBatch(), 0
	}
	p.rec = p.rowRecord(p.batch, p.i)
	p.i++
	p.row++
	return true
}

// rowRecord extracts row i of batch. The image bytes are copied out so that
// the Sample does not pin the batch's buffers.
func (p *parquetReader) rowRecord(b arrow.RecordBatch, i int) Record {
	rec := Record{Key: fmt.Sprintf("row%08d", p.row), Shard: p.shard, Where: fmt.Sprintf("row %d", p.row)}
	s := &Sample{Shard: p.shard, Label: -1}
	sch := b.Schema()
	for c := 0; c < int(b.NumCols()); c++ {
		col := b.Column(c)
		switch sch.Field(c).Name {
		case p.imageCol:
			data, pth, ok := imageCell(col, i)
			if !ok {
				rec.Bad = fmt.Sprintf("null or unsupported image cell (type %s)", col.DataType())
				return rec
			}
			s.Data = append([]byte(nil), data...)
			if pth != "" {
				rec.Key = strings.TrimSuffix(pth, "."+extOf(pth))
				s.Ext = normImageExt(extOf(pth))
			}
		case p.labelCol:
			v, ok := intCell(col, i)
			if !ok {
				rec.Bad = fmt.Sprintf("label column %q: null or non-integer cell (type %s)", p.labelCol, col.DataType())
				return rec
			}
			s.Label = v
		}
	}
	if s.Ext == "" || !isImageExt(s.Ext) {
		s.Ext = sniffImageExt(s.Data)
	}
	s.Key = rec.Key
	rec.Sample = s
	return rec
}

func imageCell(col arrow.Array, i int) (data []byte, path string, ok bool) {
	if col.IsNull(i) {
		return nil, "", false
	}
	switch a := col.(type) {
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		for f := 0; f < st.NumFields(); f++ {
			child := a.Field(f)
			switch st.Field(f).Name {
			case "bytes":
				data, ok = binaryCell(child, i)
			case "path":
				if s, isStr := child.(*array.String); isStr && !s.IsNull(i) {
					path = s.Value(i)
				}
			}
		}
		return data, path, ok
	default:
		data, ok = binaryCell(col, i)
		return data, "", ok
	}
}

func binaryCell(col arrow.Array, i int) ([]byte, bool) {
	if col.IsNull(i) {
		return nil, false
	}
	switch a := col.(type) {
	case *array.Binary:
		return a.Value(i), true
	case *array.LargeBinary:
		return a.Value(i), true
	case *array.BinaryView:
		return a.Value(i), true
	}
	return nil, false
}

func intCell(col arrow.Array, i int) (int64, bool) {
	if col.IsNull(i) {
		return 0, false
	}
	switch a := col.(type) {
	case *array.Int64:
		return a.Value(i), true
	case *array.Int32:
		return int64(a.Value(i)), true
	case *array.Int16:
		return int64(a.Value(i)), true
	case *array.Int8:
		return int64(a.Value(i)), true
	case *array.Uint8:
		return int64(a.Value(i)), true
	case *array.Uint16:
		return int64(a.Value(i)), true
	case *array.Uint32:
		return int64(a.Value(i)), true
	case *array.Uint64:
		return int64(a.Value(i)), true
	}
	return 0, false
}

// sniffImageExt names the image format from its magic bytes ("" if unknown).
func sniffImageExt(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff:
		return "jpg"
	case len(b) >= 8 && string(b[:8]) == "\x89PNG\r\n\x1a\n":
		return "png"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	}
	return ""
}

func (p *parquetReader) Close() error {
	p.rr.Release()
	return p.pf.Close()
}
