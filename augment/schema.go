package augment

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// The layout of a batch, shared by every stage that reads one:
//
//	key    utf8    the sample key
//	label  int64   the class index (-1 when unknown)
//	crop_0 ... crop_{V-1}  FixedSizeList<float32 | uint8> of 3*S*S values, CHW
//
// Each crop field's metadata holds "shape" ("[3,224,224]") and "group" (the
// index of its crop group). The schema metadata holds "dtype" ("float32": the
// crops are normalised; "uint8": raw pixels, normalise on the device with
// "mean" and "std", JSON arrays of 3 numbers).
const (
	ColKey   = "key"
	ColLabel = "label"
	// DTypeFloat32 marks normalised float32 crops, DTypeUint8 raw uint8 pixels.
	DTypeFloat32 = "float32"
	DTypeUint8   = "uint8"
)

// CropColumn is the name of crop column i.
func CropColumn(i int) string { return "crop_" + strconv.Itoa(i) }

// Batch is B samples' crops in one Arrow record batch. The Batch owns one
// reference to Record: whoever holds the Batch calls Release exactly once
// (the training or extraction stage, after its step; or the engine when the
// run is cancelled).
type Batch struct {
	Record arrow.RecordBatch
	// Epoch is the epoch the samples were drawn in.
	Epoch int
	// Last is the ingest position of the last sample in the batch; a source
	// resumed after it yields the next batch's samples.
	Last any
	// Skipped lists samples dropped while building this batch (key: reason).
	Skipped []string
}

// Release drops the batch's reference to its record.
func (b *Batch) Release() {
	if b.Record != nil {
		b.Record.Release()
		b.Record = nil
	}
}

// SizeBytes implements pipeline.Sizer (approximate: the crop buffers).
func (b *Batch) SizeBytes() int64 {
	var n int64
	for _, c := range b.Record.Columns() {
		for _, buf := range c.Data().Children() {
			for _, bb := range buf.Buffers() {
				if bb != nil {
					n += int64(bb.Len())
				}
			}
		}
	}
	return n
}

// Rows is the number of samples B.
func (b *Batch) Rows() int { return int(b.Record.NumRows()) }

// DType reports the crops' element type (DTypeFloat32 or DTypeUint8).
func (b *Batch) DType() string {
	md := b.Record.Schema().Metadata()
	if i := md.FindKey("dtype"); i >= 0 {
		return md.Values()[i]
	}
	return DTypeFloat32
}

// NumCrops is V, the number of crop columns.
func (b *Batch) NumCrops() int { return int(b.Record.NumCols()) - 2 }

// CropShape returns the [C,H,W] shape of crop column i.
func (b *Batch) CropShape(i int) ([3]int, error) {
	f := b.Record.Schema().Field(2 + i)
	var shape [3]int
	j := f.Metadata.FindKey("shape")
	if j < 0 {
		return shape, fmt.Errorf("augment: column %s has no shape metadata", f.Name)
	}
	var s []int
	if err := json.Unmarshal([]byte(f.Metadata.Values()[j]), &s); err != nil || len(s) != 3 {
		return shape, fmt.Errorf("augment: column %s: bad shape metadata %q", f.Name, f.Metadata.Values()[j])
	}
	copy(shape[:], s)
	return shape, nil
}

// CropFloat32 returns crop column i as B*3*S*S float32 values, sample-major,
// without copying. It fails for uint8 batches.
func (b *Batch) CropFloat32(i int) ([]float32, error) {
	col, ok := b.Record.Column(2 + i).(*array.FixedSizeList)
	if !ok {
		return nil, fmt.Errorf("augment: column %s is not a fixed-size list", CropColumn(i))
	}
	vals, ok := col.ListValues().(*array.Float32)
	if !ok {
		return nil, fmt.Errorf("augment: column %s holds %s, not float32", CropColumn(i), col.ListValues().DataType())
	}
	return vals.Float32Values(), nil
}

// CropUint8 returns crop column i as B*3*S*S uint8 values, sample-major,
// without copying. It fails for float32 batches.
func (b *Batch) CropUint8(i int) ([]uint8, error) {
	col, ok := b.Record.Column(2 + i).(*array.FixedSizeList)
	if !ok {
		return nil, fmt.Errorf("augment: column %s is not a fixed-size list", CropColumn(i))
	}
	vals, ok := col.ListValues().(*array.Uint8)
	if !ok {
		return nil, fmt.Errorf("augment: column %s holds %s, not uint8", CropColumn(i), col.ListValues().DataType())
	}
	return vals.Uint8Values(), nil
}

// Keys returns the sample keys.
func (b *Batch) Keys() []string {
	col := b.Record.Column(0).(*array.String)
	out := make([]string, col.Len())
	for i := range out {
		out[i] = col.Value(i)
	}
	return out
}

// Labels returns the sample labels.
func (b *Batch) Labels() []int64 {
	return b.Record.Column(1).(*array.Int64).Int64Values()
}
