package parquet_test

import (
	"context"
	"fmt"
	"os"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/sinks/parquet"
)

// One feature file per input shard: Create, Append batches, Commit (atomic),
// then read every file of the folder back through the read seam
// (sinks.ReadFeatures opens the folder by its scheme).
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "features")
	defer os.RemoveAll(dir)

	out, err := parquet.OpenOutput(ctx, dir, store.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer out.Close()
	shard := "s3://data/train-000000.tar"
	md := parquet.Metadata{Checkpoint: "ckpt-0000000100.swck", ConfigHash: "0123abcd", Shard: shard,
		Layout: parquet.Layout{Kind: "trunk", Dim: 3, Arch: "small"}}
	w, err := parquet.Create(ctx, out, parquet.FileName(shard), md, parquet.WriterOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := w.Append([]string{"a", "b"}, []int64{3, 7}, []float32{1, 2, 3, 4, 5, 6}); err != nil {
		w.Abort() // nothing is left behind
		fmt.Println(err)
		return
	}
	if err := w.Commit(ctx); err != nil {
		fmt.Println(err)
		return
	}
	f, err := sinks.ReadFeatures(ctx, sinks.ReadOptions{}, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(parquet.FileName(shard), f.Keys, f.Labels, f.Data, f.Dim, f.Files[0] == out.Path(parquet.FileName(shard)))
	// Output: train-000000.parquet [a b] [3 7] [1 2 3 4 5 6] 3 true
}
