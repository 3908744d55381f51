package augment

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// benchImages loads the shared benchmark JPEGs (skips when absent).
func benchImages(b *testing.B) [][]byte {
	dir := filepath.Join("..", "..", "shared", "bench", "images")
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Skipf("no bench images: %v", err)
	}
	var out [][]byte
	for _, e := range ents {
		if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && filepath.Ext(e.Name()) == ".jpg" {
			out = append(out, data)
		}
	}
	return out
}

func BenchmarkDecode(b *testing.B) {
	imgs := benchImages(b)
	img := new(Image)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Decode(img, imgs[i%len(imgs)], DefaultMaxPixels); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecipe is decode + the SwAV 2x224+6x96 recipe, one goroutine.
func BenchmarkRecipe(b *testing.B) {
	imgs := benchImages(b)
	r, err := NewRecipe(DefaultConfig(), 1)
	if err != nil {
		b.Fatal(err)
	}
	img := new(Image)
	c := GetCropper()
	out := r.NewSampleCrops()
	b.ResetTimer()
	c0 := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op") }()
	for i := 0; i < b.N; i++ {
		if _, err := Decode(img, imgs[i%len(imgs)], DefaultMaxPixels); err != nil {
			b.Fatal(err)
		}
		if err := r.Render(c, out, img, 0, "k"+string(rune(i%len(imgs)))); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchSource() *Image {
	img := &Image{W: 500, H: 375, Pix: make([]uint8, 3*500*375)}
	for i := range img.Pix {
		img.Pix[i] = uint8(i*7 + i/1500)
	}
	return img
}

func BenchmarkResize224(b *testing.B) {
	img := benchSource()
	var z resizer
	dst := make([]uint8, 3*224*224)
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		z.resizeCrop(dst, img, cropBox{Top: 20, Left: 50, W: 330, H: 330}, 224, 224, i%2 == 0)
	}
}

func BenchmarkResize96(b *testing.B) {
	img := benchSource()
	var z resizer
	dst := make([]uint8, 3*96*96)
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		z.resizeCrop(dst, img, cropBox{Top: 20, Left: 50, W: 133, H: 133}, 96, 96, i%2 == 0)
	}
}

func BenchmarkBlur224(b *testing.B) {
	pix := benchSource().Pix[:3*224*224]
	scratch := make([]uint8, blurScratchLen(224, 224))
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		gaussianBlur(pix, scratch, make([]uint32, 3*224), 224, 224, 1.3)
	}
}

func BenchmarkHue224(b *testing.B) {
	pix := benchSource().Pix[:3*224*224]
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		adjustHue(pix, 0.13)
	}
}

// reportCPU reports CPU ns per op (the machine is shared: wall time is noisy).
func reportCPU(b *testing.B) func() {
	b.ResetTimer()
	c0 := cpuTime()
	return func() { b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op") }
}
