package augment

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BatchBuilder assembles up to batchSize samples' crops into one Arrow record
// batch (the layout of schema.go). Crops are rendered straight into the
// Arrow buffers (Float32Crop/Uint8Crop return slices of them), so assembly
// costs no copy. A BatchBuilder is used by one goroutine.
//
// Ownership: the builder owns its buffers until Build, which hands them to
// the returned *Batch (release it once with Batch.Release). Release frees an
// unfinished batch's buffers; call it when the builder is abandoned.
type BatchBuilder struct {
	// Mean and Std go into the schema metadata (the device normalises uint8
	// crops with them). They default to the reference's.
	Mean, Std []float64

	mem      memory.Allocator
	dtype    string
	capacity int
	sizes    []int // crop side per column
	groups   []int // crop group per column
	schema   *arrow.Schema
	keys     *array.StringBuilder
	labels   *array.Int64Builder
	bufs     []*memory.Buffer
	rows     int
}

// NewBatchBuilder returns a builder for batches of at most batchSize rows with
// one crop column per crop of groups (in order), of dtype DTypeFloat32 or
// DTypeUint8. It panics on an unknown dtype or a batchSize < 1 (programming
// errors: configs are validated before).
func NewBatchBuilder(mem memory.Allocator, groups []CropGroupConfig, dtype string, batchSize int) *BatchBuilder {
	if dtype != DTypeFloat32 && dtype != DTypeUint8 {
		panic("augment: NewBatchBuilder: unknown dtype " + strconv.Quote(dtype))
	}
	if batchSize < 1 {
		panic("augment: NewBatchBuilder: batch size must be at least 1")
	}
	d := DefaultConfig()
	b := &BatchBuilder{Mean: d.Mean, Std: d.Std, mem: mem, dtype: dtype, capacity: batchSize}
	for gi, g := range groups {
		for range g.Count {
			b.sizes = append(b.sizes, g.Size)
			b.groups = append(b.groups, gi)
		}
	}
	b.keys = array.NewStringBuilder(mem)
	b.labels = array.NewInt64Builder(mem)
	return b
}

// Len is the number of rows appended since the last Build.
func (b *BatchBuilder) Len() int { return b.rows }

// Cap is the batch size.
func (b *BatchBuilder) Cap() int { return b.capacity }

// Full reports whether Len() == Cap().
func (b *BatchBuilder) Full() bool { return b.rows == b.capacity }

// DType is the crops' element type (DTypeFloat32 or DTypeUint8).
func (b *BatchBuilder) DType() string { return b.dtype }

// NumCrops is the number of crop columns V.
func (b *BatchBuilder) NumCrops() int { return len(b.sizes) }

func (b *BatchBuilder) elemSize() int {
	if b.dtype == DTypeUint8 {
		return 1
	}
	return 4
}

// Append adds a row for a sample and returns its index; the caller then
// fills every crop of the row through Float32Crop/Uint8Crop before Build.
func (b *BatchBuilder) Append(key string, label int64) (int, error) {
	if b.rows == b.capacity {
		return 0, fmt.Errorf("augment: batch already holds %d rows", b.capacity)
	}
	if b.bufs == nil {
		b.bufs = make([]*memory.Buffer, len(b.sizes))
		for i, s := range b.sizes {
			buf := memory.NewResizableBuffer(b.mem)
			buf.Resize(b.capacity * 3 * s * s * b.elemSize())
			b.bufs[i] = buf
		}
	}
	b.keys.Append(key)
	b.labels.Append(label)
	b.rows++
	return b.rows - 1, nil
}

// Float32Crop is the 3*S*S values of crop column crop in row row (float32
// batches), a slice of the Arrow buffer.
func (b *BatchBuilder) Float32Crop(row, crop int) []float32 {
	n := 3 * b.sizes[crop] * b.sizes[crop]
	all := b.bufs[crop].Buf()
	f := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(all))), len(all)/4)
	return f[row*n : (row+1)*n : (row+1)*n]
}

// Uint8Crop is the 3*S*S values of crop column crop in row row (uint8 batches).
func (b *BatchBuilder) Uint8Crop(row, crop int) []uint8 {
	n := 3 * b.sizes[crop] * b.sizes[crop]
	return b.bufs[crop].Buf()[row*n : (row+1)*n : (row+1)*n]
}

// Schema is the batches' schema (built once).
func (b *BatchBuilder) Schema() *arrow.Schema {
	if b.schema != nil {
		return b.schema
	}
	elem := arrow.DataType(arrow.PrimitiveTypes.Float32)
	if b.dtype == DTypeUint8 {
		elem = arrow.PrimitiveTypes.Uint8
	}
	fields := []arrow.Field{{Name: ColKey, Type: arrow.BinaryTypes.String}, {Name: ColLabel, Type: arrow.PrimitiveTypes.Int64}}
	for i, s := range b.sizes {
		fields = append(fields, arrow.Field{
			Name: CropColumn(i), Type: arrow.FixedSizeListOf(int32(3*s*s), elem),
			Metadata: arrow.NewMetadata([]string{"shape", "group"}, []string{fmt.Sprintf("[3,%d,%d]", s, s), strconv.Itoa(b.groups[i])}),
		})
	}
	mean, _ := json.Marshal(b.Mean)
	std, _ := json.Marshal(b.Std)
	md := arrow.NewMetadata([]string{"dtype", "mean", "std"}, []string{b.dtype, string(mean), string(std)})
	b.schema = arrow.NewSchema(fields, &md)
	return b.schema
}

// Build hands the rows appended so far over to a new Batch (the caller owns
// it and calls Release) and resets the builder. Build of an empty builder
// returns a zero-row batch.
func (b *BatchBuilder) Build(epoch int, last any, skipped []string) *Batch {
	schema := b.Schema()
	cols := make([]arrow.Array, 0, 2+len(b.sizes))
	cols = append(cols, b.keys.NewArray(), b.labels.NewArray())
	for i, s := range b.sizes {
		n := 3 * s * s
		var buf *memory.Buffer
		if b.bufs != nil {
			buf = b.bufs[i]
			buf.ResizeNoShrink(b.rows * n * b.elemSize())
		} else {
			buf = memory.NewResizableBuffer(b.mem)
		}
		lt := schema.Field(2 + i).Type.(*arrow.FixedSizeListType)
		values := array.NewData(lt.Elem(), b.rows*n, []*memory.Buffer{nil, buf}, nil, 0, 0)
		list := array.NewData(lt, b.rows, []*memory.Buffer{nil}, []arrow.ArrayData{values}, 0, 0)
		cols = append(cols, array.MakeFromData(list))
		list.Release()
		values.Release()
		buf.Release()
	}
	rec := array.NewRecordBatch(schema, cols, int64(b.rows))
	for _, c := range cols {
		c.Release()
	}
	b.bufs = nil
	b.rows = 0
	return &Batch{Record: rec, Epoch: epoch, Last: last, Skipped: skipped}
}

// Release frees the buffers of rows appended since the last Build.
func (b *BatchBuilder) Release() {
	for _, buf := range b.bufs {
		buf.Release()
	}
	b.bufs = nil
	b.rows = 0
	b.keys.Release()
	b.labels.Release()
	b.keys = array.NewStringBuilder(b.mem)
	b.labels = array.NewInt64Builder(b.mem)
}
