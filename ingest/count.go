package ingest

import (
	"context"
	"fmt"
)

// CountSamples returns the number of sample slots in the whole shard list of
// cfg (all ranks). It reads only the index sidecars when `shards make` wrote
// them (and image folders' listings); other shards are read once to count.
func CountSamples(ctx context.Context, cfg Config) (int64, error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	set, err := resolveShards(ctx, &cfg)
	if err != nil {
		return 0, err
	}
	defer set.Close()
	src := &Source{cfg: cfg, set: set}
	var total int64
	for _, sh := range set.shards {
		n, err := src.shardCount(ctx, sh)
		if err != nil {
			return 0, fmt.Errorf("count samples: %w", err)
		}
		total += n
	}
	return total, nil
}

// EpochSamples returns the number of sample slots this source yields in
// epoch (its rank's share, which varies with the epoch's shard order). It
// reads only index sidecars when present.
func (s *Source) EpochSamples(ctx context.Context, epoch int) (int64, error) {
	var total int64
	for _, p := range s.plans(epoch) {
		for _, sh := range p.shards {
			n, err := s.shardCount(ctx, sh)
			if err != nil {
				return 0, err
			}
			total += n
		}
	}
	return total, nil
}
