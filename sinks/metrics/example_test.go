package metrics_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/swavgo/swav/sinks/metrics"
)

// A run writes one record per step; a run resumed from the checkpoint at
// iteration 2 keeps the earlier steps and redoes the later ones.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "metrics")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "metrics.jsonl")

	w, _ := metrics.Open(path, 0)
	for i := range 3 {
		w.Write(metrics.Record{Iter: i, Loss: 2.3 - 0.1*float64(i), LR: 0.1})
	}
	w.Close()

	w, _ = metrics.Open(path, 2) // resumed at iteration 2
	w.Write(metrics.Record{Iter: 2, Loss: 2.1, LR: 0.1})
	w.Close()
	if err := metrics.PlotPNG(w.Records(), "loss and lr", filepath.Join(dir, "loss.png")); err != nil {
		fmt.Println(err)
	}

	recs, _ := metrics.ReadFile(path)
	for _, r := range recs {
		fmt.Printf("iter %d loss %.1f\n", r.Iter, r.Loss)
	}
	// Output:
	// iter 0 loss 2.3
	// iter 1 loss 2.2
	// iter 2 loss 2.1
}
