package tensorboard_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/swavgo/swav/sinks/tensorboard"
)

// A run writes one event per step into <out>/tensorboard; `tensorboard
// --logdir` shows the curves and the histogram.
func Example() {
	ctx := context.Background()
	out, _ := os.MkdirTemp("", "run")
	defer os.RemoveAll(out)
	w, err := tensorboard.Open(ctx, tensorboard.Dir("", out), tensorboard.Options{Now: time.Unix(1765000000, 0), Host: "node1"})
	if err != nil {
		panic(err)
	}
	for step := range int64(3) {
		w.Write(ctx, step, time.Now(), []tensorboard.Scalar{{Tag: "train/loss", Value: 3 - float64(step)/10}},
			[]tensorboard.Histogram{tensorboard.NewHistogram("monitor/cluster_sizes", []float64{0, 3, 3, 9}, 30)})
	}
	if err := w.Close(ctx); err != nil {
		panic(err)
	}
	rel, _ := filepath.Rel(out, w.Path())
	fmt.Println(rel)
	// Output: tensorboard/events.out.tfevents.1765000000.node1
}
