package ingest

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkResumeReplay measures the index replay that positions a resumed
// source half-way through an ImageNet-sized epoch (1,282 shards x 1,000
// samples, world 1, 4 workers, shuffle buffer 1,000): no shard is read.
func BenchmarkResumeReplay(b *testing.B) {
	cfg := DefaultConfig()
	cfg.ShuffleBuffer = 1000
	set := &shardSet{}
	for i := 0; i < 1282; i++ {
		set.shards = append(set.shards, &shardRef{Shard: Shard{Name: fmt.Sprintf("train-%06d.tar", i), Size: -1, Samples: -1}, format: "wds", count: 1000})
	}
	src := &Source{cfg: cfg, opts: SourceOptions{Seed: 1, World: 1, Workers: 4}, set: set}
	for b.Loop() {
		if _, err := src.fastForward(context.Background(), 0, src.plans(0), 641_000); err != nil {
			b.Fatal(err)
		}
	}
}
