package weights

import (
	"errors"
	"fmt"
	"io"

	"github.com/nlpodyssey/safetensors"
)

// readSafetensors reads a safetensors file with github.com/nlpodyssey/
// safetensors, which checks the header before anything is used: its length
// (at most 100 MB and inside the file), every tensor's dtype and shape, and
// data offsets that are contiguous, in range, of the right length and that
// end exactly at the end of the file. The file is held in memory (its size
// is known, so nothing larger is allocated); F32 tensors share that memory,
// F16, BF16 and F64 are widened to float32, integer tensors kept as int64.
func readSafetensors(r io.ReaderAt, size int64) (*File, error) {
	data := make([]byte, size)
	if _, err := r.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	st, err := safetensors.Deserialize(data)
	if err != nil {
		return nil, fmt.Errorf("%w: safetensors header: %v", ErrCorrupt, err)
	}
	_, meta, _ := safetensors.ReadMetadata(data)
	f := &File{Format: FormatSafetensors, Metadata: meta.Metadata()}
	for _, nt := range st.Tensors() {
		dt := nt.TensorView.DType().String()
		shape := make([]int, len(nt.TensorView.Shape()))
		n := 1
		for i, d := range nt.TensorView.Shape() {
			shape[i] = int(d)
			n *= int(d)
		}
		t := Tensor{Name: nt.Name, Shape: shape, DType: dt}
		raw := nt.TensorView.Data()
		switch {
		case isFloat(dt):
			t.Float = widen(raw, dt, n)
		case dt == I64 || dt == I32 || dt == I16 || dt == I8 || dt == U8 || dt == Bool:
			s := &storage{dtype: dt, numel: n, raw: raw}
			t.Int = make([]int64, n)
			for i := range t.Int {
				t.Int[i] = s.intAt(i)
			}
		default:
			return nil, fmt.Errorf("%w: tensor %s has dtype %s (read: F32, F16, BF16, F64 and signed integers)", ErrFormat, nt.Name, dt)
		}
		f.Tensors = append(f.Tensors, t)
	}
	return f, nil
}

// WriteSafetensors writes tensors (float32 as F32, integer ones as I64) and
// metadata as a safetensors file to w. It streams the tensors' memory
// without copying it.
func WriteSafetensors(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	views := make(map[string]tensorView, len(tensors))
	for _, t := range tensors {
		shape := make([]uint64, len(t.Shape))
		for i, d := range t.Shape {
			shape[i] = uint64(d)
		}
		dt, data := safetensors.F32, floatBytes(t.Float)
		if t.Float == nil {
			dt, data = safetensors.I64, intBytes(t.Int)
		}
		if _, dup := views[t.Name]; dup {
			return fmt.Errorf("weights: tensor %s written twice", t.Name)
		}
		if want := uint64(t.Numel()) * dt.Size(); uint64(len(data)) != want {
			return fmt.Errorf("weights: tensor %s: shape %v needs %d bytes, has %d", t.Name, t.Shape, want, len(data))
		}
		views[t.Name] = tensorView{dtype: dt, shape: shape, data: data}
	}
	if err := safetensors.SerializeToWriter(views, metadata, w); err != nil {
		return fmt.Errorf("weights: write safetensors: %w", err)
	}
	return nil
}

// tensorView is a safetensors.View. (safetensors.NewTensorView counts a
// scalar, shape [], as zero elements, so scalars such as BatchNorm's
// num_batches_tracked could not be written through it.)
type tensorView struct {
	dtype safetensors.DType
	shape []uint64
	data  []byte
}

func (v tensorView) DType() safetensors.DType { return v.dtype }
func (v tensorView) Shape() []uint64          { return v.shape }
func (v tensorView) Data() []byte             { return v.data }
func (v tensorView) DataLen() uint64          { return uint64(len(v.data)) }
