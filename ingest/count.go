package ingest

import (
	"context"
	"fmt"
	"sync"
)

// ShardList is a data section's shard list, resolved once (ResolveShards):
// every shard in list order, the buckets that serve them and the sample
// counts learnt so far. A job that counts its samples before it reads them
// (a train job's iterations per epoch) resolves the list once, counts it,
// and hands it to its Source (SourceOptions.Shards), which keeps the counts
// and closes the list. Close is idempotent.
type ShardList struct {
	cfg       Config
	set       *shardSet
	closeOnce sync.Once
	closeErr  error
}

// ResolveShards validates cfg and lists its shards (expanding brace ranges,
// globs and prefixes; one listing per S3 prefix). The caller closes the
// list, or hands it to a Source.
func ResolveShards(ctx context.Context, cfg Config) (*ShardList, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	set, err := resolveShards(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	return &ShardList{cfg: cfg, set: set}, nil
}

// Len is the number of shards (all ranks).
func (l *ShardList) Len() int { return len(l.set.shards) }

// CountSamples returns the number of sample slots in the whole list (all
// ranks) and keeps each shard's count. It reads only the index sidecars
// when `shards make` wrote them (and image folders' listings); other shards
// are read once to count.
func (l *ShardList) CountSamples(ctx context.Context) (int64, error) {
	src := &Source{cfg: l.cfg, set: l.set}
	var total int64
	for _, sh := range l.set.shards {
		n, err := src.shardCount(ctx, sh)
		if err != nil {
			return 0, fmt.Errorf("count samples: %w", err)
		}
		total += n
	}
	return total, nil
}

// Close releases the buckets (once).
func (l *ShardList) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.set.Close() })
	return l.closeErr
}

// CountSamples returns the number of sample slots in the whole shard list of
// cfg (all ranks): ResolveShards, ShardList.CountSamples, Close.
func CountSamples(ctx context.Context, cfg Config) (int64, error) {
	l, err := ResolveShards(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.CountSamples(ctx)
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

// CountsKnown reports whether every shard's sample count is known without
// reading it (index sidecars, image folders).
func (s *Source) CountsKnown() bool {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	for _, sh := range s.set.shards {
		if sh.count < 0 {
			return false
		}
	}
	return true
}

// ShardReport is what InspectShards learns about one shard.
type ShardReport struct {
	URL     string
	Format  string
	Samples int64 // readable samples
	Corrupt int64 // corrupt or missing samples (skipped by a run, within its budget)
	Bytes   int64 // -1 when unknown
	Err     error // non-nil when the shard is unreadable
	// Incomplete is set when the shard stops before its end or is shorter
	// than its index sidecar (Corrupt then counts what it cost).
	Incomplete *IncompleteShardError
}

// InspectShards reads every shard of cfg in list order and calls f with its
// report; an unreadable shard gets a report with Err set and does not stop
// the walk. Only a listing error or an error from f stops it.
func InspectShards(ctx context.Context, cfg Config, f func(ShardReport) error) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	set, err := resolveShards(ctx, &cfg)
	if err != nil {
		return err
	}
	defer set.Close()
	for _, sh := range set.shards {
		rep := ShardReport{URL: sh.URL, Format: sh.format, Bytes: sh.Size}
		if rep.Bytes < 0 && !sh.listed {
			if attr, err := sh.Bucket.Attributes(ctx, sh.Name); err == nil {
				rep.Bytes = attr.Size
			}
		}
		rep.Samples, rep.Corrupt, rep.Incomplete, rep.Err = inspectShard(ctx, sh, &cfg)
		if err := f(rep); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func inspectShard(ctx context.Context, sh *shardRef, cfg *Config) (good, bad int64, inc *IncompleteShardError, err error) {
	rd, err := openChecked(ctx, sh, cfg, sh.count)
	if err != nil {
		return 0, 0, nil, err
	}
	defer rd.Close()
	for rd.Next() {
		if rd.Record().Sample == nil {
			bad++
		} else {
			good++
		}
	}
	return good, bad, rd.Incomplete(), rd.Err()
}

// RankEpochSamples returns the number of sample slots every rank yields in
// epoch (index r: rank r), from the same shard split this source uses. Ranks
// get whole shards, so the counts differ by up to a shard; data-parallel
// training that needs equal step counts takes the minimum. It reads only
// index sidecars when present.
func (s *Source) RankEpochSamples(ctx context.Context, epoch int) ([]int64, error) {
	order := epochShardOrder(s.opts.Seed, epoch, len(s.set.shards))
	out := make([]int64, s.opts.World)
	for i, idx := range order {
		n, err := s.shardCount(ctx, s.set.shards[idx])
		if err != nil {
			return nil, err
		}
		out[i%s.opts.World] += n
	}
	return out, nil
}
