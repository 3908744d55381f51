package weights_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/swavgo/swav/train/weights"
)

// FuzzDecode feeds arbitrary bytes to every weights reader (torch zip and
// legacy pickles, safetensors, our checkpoints; the format is sniffed) and
// to Import. Neither may panic (decode's recover turns a panic into an
// ErrCorrupt saying "reader failed": that counts as a finding here), and
// every error must be one of the named classes.
func FuzzDecode(f *testing.F) {
	f.Add(torchZipOf(f, twoTensors()))
	f.Add(torchLegacyOf(twoTensors()))
	f.Add(torchPickle(twoTensors()))
	var st bytes.Buffer
	weights.WriteSafetensors(&st, []weights.Tensor{
		{Name: "conv1.weight", Shape: []int{2, 2}, DType: weights.F32, Float: []float32{1, 2, 3, 4}},
		{Name: "bn1.num_batches_tracked", Shape: []int{}, DType: weights.I64, Int: []int64{3}},
	}, map[string]string{"format": "pt"})
	f.Add(st.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := weights.Decode(data, "fuzz.pth")
		if err != nil {
			if strings.Contains(err.Error(), "reader failed") {
				t.Fatalf("a reader panicked: %v", err)
			}
			if !errors.Is(err, weights.ErrCorrupt) && !errors.Is(err, weights.ErrFormat) && !errors.Is(err, weights.ErrUnsafePickle) &&
				!strings.Contains(err.Error(), "checkpoint") {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		for _, tn := range file.Tensors {
			if n := tn.Numel(); len(tn.Float)+len(tn.Int) != n {
				t.Fatalf("%s: shape %v, %d floats and %d ints", tn.Name, tn.Shape, len(tn.Float), len(tn.Int))
			}
		}
		if im, err := weights.Import(file); err == nil {
			im.Export(weights.LayoutSwAV)
		}
	})
}
