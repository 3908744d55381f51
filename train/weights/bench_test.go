package weights_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/torchtest"
	"github.com/swavgo/swav/train/weights"
)

// BenchmarkReadResNet50 reads a ResNet-50 that PyTorch saved in
// facebookresearch/swav's layout (about 108 MB) and builds the network's
// state from it, as extraction does before its first image. It reports
// MB/s and "heap/file": the heap in use after the load over the file's
// size (the peak RSS figures of `pipeline bench weights` come from fresh
// processes).
//
//	go test ./train/weights -run '^$' -bench ReadResNet50 -benchtime 5x
func BenchmarkReadResNet50(b *testing.B) {
	for _, format := range []string{"zip", "legacy", "safetensors"} {
		b.Run(format, func(b *testing.B) {
			file := filepath.Join(b.TempDir(), "r50."+format)
			torchtest.Run(b, torchWeights, "make", "--arch", "resnet50", "--layout", "swav", "--format", format, "--seed", "1", "--out", file)
			st, err := os.Stat(file)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Size())
			var heap uint64
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				f, err := weights.Read(context.Background(), file, store.Config{})
				if err != nil {
					b.Fatal(err)
				}
				im, err := weights.Import(f)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := im.State(im.ModelFor(train.DefaultConfig().Model), 0); err != nil {
					b.Fatal(err)
				}
				runtime.ReadMemStats(&after)
				heap = after.HeapInuse - before.HeapInuse
				runtime.KeepAlive(f)
			}
			b.ReportMetric(float64(heap)/float64(st.Size()), "heap/file")
		})
	}
}
