package sinks_test

import (
	"context"
	"fmt"

	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/sinks/sinktest" // the mem:// sink, written and read
)

// A feature sink both ways: rows go in through the FeatureSink its URL's
// scheme opens (one unit per input shard, visible on Commit) and come back
// through the FeatureSource of the same scheme, which eval, `pipeline
// features` and `pipeline eval` read with (ReadFeatures, Inspect).
func Example() {
	ctx := context.Background()
	defer sinktest.Forget("mem://example/features") // in memory for the process's life
	sink, err := sinks.Open(ctx, "mem://example/features", sinks.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sink.Close()
	md := sinks.Metadata{Checkpoint: "init", ConfigHash: "0123abcd", Layout: sinks.Layout{Kind: "trunk", Dim: 2, Arch: "small"}}
	for shard, rows := range map[string][]float32{"s3://data/train-000000.tar": {1, 2, 3, 4}, "s3://data/train-000001.tar": {5, 6}} {
		w, err := sink.Begin(ctx, shard, md)
		if err != nil {
			fmt.Println(err)
			return
		}
		n := len(rows) / 2
		keys, labels := make([]string, n), make([]int64, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("%s#%d", shard[len("s3://data/"):], i)
		}
		if err := w.Append(keys, labels, rows); err != nil {
			w.Abort()
			fmt.Println(err)
			return
		}
		if err := w.Commit(ctx); err != nil {
			fmt.Println(err)
			return
		}
	}
	f, err := sinks.ReadFeatures(ctx, sinks.ReadOptions{}, "mem://example/features")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Files)
	fmt.Println(f.Keys, f.Data, f.Dim)
	// Output:
	// [mem://example/features/train-000000 mem://example/features/train-000001]
	// [train-000000.tar#0 train-000000.tar#1 train-000001.tar#0] [1 2 3 4 5 6] 2
}
