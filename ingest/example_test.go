package ingest_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
)

// Write three WebDataset shards, stream them shuffled, then resume after the
// third sample: the resumed source yields exactly what followed.
func ExampleNewSource() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example-*")
	defer os.RemoveAll(dir)
	out, _ := store.NewLocal(dir)
	w, _ := ingest.NewShardWriter(ctx, out, "toy-%06d.tar", 2) // writes index.json on Close
	for i := 0; i < 6; i++ {
		w.Write(&ingest.Sample{Key: fmt.Sprintf("img%d", i), Ext: "png", Data: []byte("..."), Label: int64(i % 2)})
	}
	w.Close()

	cfg := ingest.DefaultConfig()
	cfg.Shards = []string{dir + "/toy-{000000..000002}.tar"}
	cfg.ShuffleBuffer = 3
	read := func(start ingest.Position) {
		src, err := ingest.NewSource(ctx, cfg, ingest.SourceOptions{Seed: 42, World: 1, Epochs: 1, Start: start})
		if err != nil {
			fmt.Println(err)
			return
		}
		defer src.Close()
		var got []string
		src.Run(ctx, func(_ context.Context, item any) error {
			s := item.(*ingest.Sample)
			got = append(got, fmt.Sprintf("%s@%d", s.Key, s.Pos.Seq))
			return nil
		})
		fmt.Println(strings.Join(got, " "))
	}
	read(ingest.Position{})
	read(ingest.Position{Epoch: 0, Seq: 2}.Next())
	n, _ := ingest.CountSamples(ctx, cfg)
	fmt.Println(n, "samples")
	// Output:
	// img5@0 img2@1 img0@2 img4@3 img1@4 img3@5
	// img4@3 img1@4 img3@5
	// 6 samples
}
