package checkpoint

import (
	"bytes"
	"context"
	"testing"

	"github.com/swavgo/swav/train"
)

// benchState is about a ResNet-18's parameters plus momentum (2 x 11.7 M
// float32, 94 MB).
func benchState() *train.State {
	const n = 11_700_000
	p := make([]float32, n)
	for i := range p {
		p[i] = float32(i%977) * 1e-3
	}
	return &train.State{
		Params:   []train.Tensor{{Name: "w", Shape: []int{n}, Data: p}},
		Momentum: []train.Tensor{{Name: "w", Shape: []int{n}, Data: p}},
	}
}

func BenchmarkEncodeDecode(b *testing.B) {
	ck := &Checkpoint{State: benchState()}
	var buf bytes.Buffer
	b.SetBytes(2 * 11_700_000 * 4)
	for b.Loop() {
		buf.Reset()
		if err := Encode(&buf, ck); err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(bytes.NewReader(buf.Bytes()), "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSaveLoadLocal(b *testing.B) {
	ck := &Checkpoint{State: benchState()}
	dir := b.TempDir()
	ctx := context.Background()
	b.SetBytes(2 * 11_700_000 * 4)
	for b.Loop() {
		url, err := Save(ctx, dir, ck, 1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Load(ctx, url); err != nil {
			b.Fatal(err)
		}
	}
}
