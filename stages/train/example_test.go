package train

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/swavgo/swav/train/checkpoint"
)

// A Trainer consumes *augment.Batch items: one SwAV step each, a metrics
// line each, checkpoints at epoch ends and when its budget (here max_iters)
// is spent, then asks the source to stop.
func ExampleTrainer() {
	out, _ := os.MkdirTemp("", "train")
	defer os.RemoveAll(out)
	cfg := testConfig()
	cfg.MaxIters = 4
	tr, err := NewTrainer(Options{
		Config: cfg, Out: out, ItersPerEpoch: 3,
		Backend: newFakeBackend(10), // train.NewBackend(cfg, seed) in a real chain
		Stop:    func() { fmt.Println("source asked to stop") },
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	for _, b := range batchStream(3, 12, 4, []int{8, 8, 4}, nil) {
		if err := tr.Consume(ctx, b); err != nil { // releases b
			fmt.Println(err)
		}
	}
	tr.Flush(ctx, nil) // end of input: final checkpoint, metrics, loss.png
	tr.Close()         // closes the backend and the metrics file
	ents, _ := os.ReadDir(filepath.Join(out, "checkpoints"))
	for _, e := range ents {
		fmt.Println(e.Name())
	}
	url, _, _ := checkpoint.Latest(ctx, filepath.Join(out, "checkpoints"))
	ck, _ := checkpoint.Load(ctx, url)
	fmt.Println("next iteration", ck.Iter, "epoch", ck.Epoch, "cursor", ck.Cursor)
	// Output:
	// source asked to stop
	// ckpt-0000000003.swck
	// ckpt-0000000004.swck
	// next iteration 4 epoch 1 cursor {1 3}
}
