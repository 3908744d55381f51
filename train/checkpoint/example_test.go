package checkpoint_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
)

// A training run saves its state every few iterations; a later run (or the
// extraction stage) finds the newest one and loads it.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "ckpt")
	defer os.RemoveAll(dir)

	for iter := 100; iter <= 400; iter += 100 {
		ck := &checkpoint.Checkpoint{
			Iter: iter, Epoch: iter / 250, Cursor: ingest.Position{Epoch: iter / 250, Seq: int64(iter % 250 * 32)},
			Model:  train.ModelConfig{Arch: "small", FeatDim: 16, Prototypes: 30},
			Config: []byte("job: train\n"),
			State:  &train.State{Params: []train.Tensor{{Name: "prototypes.weight", Shape: []int{30, 16}, Data: make([]float32, 480)}}},
		}
		if _, err := checkpoint.Save(ctx, dir, ck, 2); err != nil { // keep the newest 2
			fmt.Println(err)
			return
		}
	}
	url, found, _ := checkpoint.Latest(ctx, dir)
	ck, err := checkpoint.Load(ctx, url)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(filepath.Base(url), found, ck.Iter, ck.Cursor, ck.State.Params[0].Shape)
	if err := ck.CheckModel(train.ModelConfig{Arch: "resnet50", FeatDim: 16, Prototypes: 30}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// ckpt-0000000400.swck true 400 {1 4800} [30 16]
	// checkpoint is for another model: [model.arch: checkpoint small, config resnet50]
}
