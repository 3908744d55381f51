package augment

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestVectorResampleMatchesGo: the vector horizontal pass gives the Go
// pass's bytes for random boxes (down- and up-scaling, mirrored or not),
// including boxes that end at the last byte of the image.
func TestVectorResampleMatchesGo(t *testing.T) {
	if !vectorResample {
		t.Skip("no vector kernel on this platform")
	}
	defer func() { vectorResample = true }()
	rng := rand.New(rand.NewPCG(5, 6))
	img := &Image{W: 157, H: 101, Pix: make([]uint8, 3*157*101)}
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	var zv, zg resizer
	for i := range 300 {
		w, h := 1+rng.IntN(img.W), 1+rng.IntN(img.H)
		box := cropBox{Left: rng.IntN(img.W - w + 1), Top: rng.IntN(img.H - h + 1), W: w, H: h}
		if i%5 == 0 { // touch the bottom-right corner
			box.Left, box.Top = img.W-w, img.H-h
		}
		size := []int{1, 7, 32, 96, 224}[rng.IntN(5)]
		flip := rng.IntN(2) == 0
		want := make([]uint8, 3*size*size)
		got := make([]uint8, 3*size*size)
		vectorResample = false
		zg.resizeCrop(want, img, box, size, size, flip)
		vectorResample = true
		zv.resizeCrop(got, img, box, size, size, flip)
		if !bytes.Equal(got, want) {
			t.Fatalf("box %+v -> %d, flip %v: vector and Go passes differ", box, size, flip)
		}
	}
}
