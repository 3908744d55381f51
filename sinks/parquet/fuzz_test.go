package parquet

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/sinks"
)

// FuzzReadFeatures reads arbitrary bytes as a feature file, as `pipeline
// eval` does. It must never panic, and an error names the file.
func FuzzReadFeatures(f *testing.F) {
	out, err := OpenOutput(context.Background(), f.TempDir(), store.Config{})
	if err != nil {
		f.Fatal(err)
	}
	writeFile(f, memory.DefaultAllocator, out, "seed.parquet", testMeta(4, "s.tar"), 9, WriterOptions{RowGroupRows: 4})
	seed, err := os.ReadFile(out.Path("seed.parquet"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		// A file of a few KB that takes seconds is a finding too (a reader
		// that loops or allocates on a lying length): the panic makes the
		// fuzzer keep the input.
		watchdog := time.AfterFunc(20*time.Second, func() { panic("FuzzReadFeatures: one input took over 20 s") })
		defer watchdog.Stop()
		var feats sinks.Features
		err := readFileInto(context.Background(), memory.DefaultAllocator, "fuzz.parquet", data, &feats)
		if err != nil && !strings.Contains(err.Error(), "fuzz.parquet") {
			t.Fatalf("error does not name the file: %v", err)
		}
		if err == nil && len(feats.Data) != feats.Rows()*feats.Dim {
			t.Fatalf("%d rows of dim %d but %d floats", feats.Rows(), feats.Dim, len(feats.Data))
		}
	})
}
