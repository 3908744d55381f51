package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/sourcegraph/conc"
	"github.com/swavgo/swav/pipeline"
)

// SourceOptions place one Source in a run.
type SourceOptions struct {
	// Seed is the run's seed; shard and sample orders derive from
	// (Seed, epoch, rank, worker).
	Seed int64
	// Rank and World split the shards across processes. World 0 takes both
	// from the config, then the environment (Config.RankWorld).
	Rank, World int
	// Workers is the number of shard readers (0: Config.Workers). The order
	// depends on it: a resumed run must use the same value.
	Workers int
	// Epochs is the number of epochs to read (0: forever).
	Epochs int
	// Start is the position of the first sample to yield: the zero value
	// starts at the beginning; a checkpoint stores the Pos of the last sample
	// it consumed and resumes at Pos.Next().
	Start Position
	// Shards, when set, is the list already resolved from the same config
	// (ResolveShards), with the counts learnt so far; the Source takes it
	// over and closes it. Nil resolves the list.
	Shards *ShardList
}

// Skip describes one corrupt sample that the skip budget let the run skip.
type Skip struct {
	Shard  string
	Key    string // "" for a sample an incomplete shard lacks
	Where  string // "byte 1536" (tar), "row 12" (Parquet), "sample 7 of 10" (missing)
	Class  string // SkipClassUnreadable or SkipClassCutShard
	Reason string
}

func (s Skip) String() string {
	if s.Key == "" {
		return fmt.Sprintf("shard %s: %s: %s", s.Shard, s.Where, s.Reason)
	}
	return fmt.Sprintf("shard %s: sample %q at %s: %s", s.Shard, s.Key, s.Where, s.Reason)
}

// ErrSkipBudget is wrapped by the error of a run that met more corrupt
// samples than data.skip_budget allows, or more undecodable images than
// augment.skip_budget (stages/augment, stages/extract): one sentinel for every
// skip budget, so one errors.Is (and one exit code) covers them.
var ErrSkipBudget = errors.New("skip budget exceeded")

// Source streams the samples of a shard list as a pipeline.Source, in an
// order fixed by (seed, rank, world, workers):
//
//   - each epoch, the shard list is permuted from (seed, epoch) alone, so all
//     ranks agree; rank r takes every world-th shard from r, and worker w of
//     the rank every workers-th of those;
//   - each worker reads its shards in order, Prefetch shards ahead, through
//     its own bounded shuffle buffer seeded from (seed, epoch, rank, worker);
//   - the workers' outputs are merged round-robin (an exhausted worker drops
//     out), so the order does not depend on timing.
//
// Every sample slot gets the next Position.Seq, including a corrupt sample
// that is skipped; so Seq may jump by one over a skipped sample.
//
// Resuming (SourceOptions.Start) is exact: the source replays the epoch's
// shuffle on sample indices only (no data is read: the per-shard counts come
// from the index sidecar, or are counted once), which yields each worker's
// read offset, shuffle-buffer contents and random state at Start; it then
// re-reads only the buffered samples (the shards from the oldest one still
// buffered, typically the last one or two) and carries on. The replay costs
// O(Start.Seq) integer steps.
//
// Memory per worker: ShuffleBuffer samples plus (Prefetch+1) shards x 32
// samples read ahead; it does not grow with the number of shards beyond the
// shard list itself.
type Source struct {
	cfg     Config
	opts    SourceOptions
	set     *shardSet
	list    *ShardList // owns set; nil in the internal Sources that only count
	countMu sync.Mutex

	skipMu     sync.Mutex
	skipped    []Skip
	incomplete []IncompleteShardError
}

// NewSource resolves the shard list of cfg (listing prefixes and globs,
// reading index sidecars) and returns a Source ready to Run. The caller owns
// it and calls Close (pipeline.Closer) to release its buckets.
func NewSource(ctx context.Context, cfg Config, opts SourceOptions) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.World == 0 {
		r, w, err := cfg.RankWorld()
		if err != nil {
			return nil, err
		}
		opts.Rank, opts.World = r, w
	}
	if opts.Rank < 0 || opts.Rank >= opts.World {
		return nil, fmt.Errorf("ingest: rank %d outside world size %d", opts.Rank, opts.World)
	}
	if opts.Workers <= 0 {
		opts.Workers = cfg.Workers
	}
	if opts.Start.Epoch < 0 || opts.Start.Seq < 0 {
		return nil, fmt.Errorf("ingest: bad start position %+v", opts.Start)
	}
	list := opts.Shards
	opts.Shards = nil // owned by the Source from here
	if list == nil {
		set, err := resolveShards(ctx, &cfg)
		if err != nil {
			return nil, err
		}
		list = &ShardList{cfg: cfg, set: set}
	} else if !slices.Equal(list.cfg.Shards, cfg.Shards) {
		list.Close()
		return nil, fmt.Errorf("ingest: the shard list was resolved from %q, the source reads %q", list.cfg.Shards, cfg.Shards)
	}
	if list.Len() < opts.World {
		list.Close()
		return nil, fmt.Errorf("ingest: %d shards cannot feed %d ranks (need at least one shard per rank; use smaller shards)", list.Len(), opts.World)
	}
	return &Source{cfg: cfg, opts: opts, set: list.set, list: list}, nil
}

// NumShards returns the number of shards in the resolved list (all ranks).
func (s *Source) NumShards() int { return len(s.set.shards) }

// Options returns the resolved options (rank, world and workers filled in).
func (s *Source) Options() SourceOptions { return s.opts }

// Close releases the buckets (pipeline.Closer).
func (s *Source) Close() error { return s.list.Close() }

// Skipped returns the corrupt samples skipped so far.
func (s *Source) Skipped() []Skip {
	s.skipMu.Lock()
	defer s.skipMu.Unlock()
	return append([]Skip(nil), s.skipped...)
}

// Incomplete returns the incomplete shards met so far (once per shard and
// epoch read): cut tars and shards shorter than their index sidecar.
func (s *Source) Incomplete() []IncompleteShardError {
	s.skipMu.Lock()
	defer s.skipMu.Unlock()
	return append([]IncompleteShardError(nil), s.incomplete...)
}

// Run implements pipeline.Source: it emits *Sample items, epoch after epoch
// from opts.Start, and returns nil after the last epoch (never when Epochs is
// 0). It blocks in emit while the next stage is full.
func (s *Source) Run(ctx context.Context, emit pipeline.Emit) error {
	for epoch := s.opts.Start.Epoch; s.opts.Epochs == 0 || epoch < s.opts.Epochs; epoch++ {
		start := int64(0)
		if epoch == s.opts.Start.Epoch {
			start = s.opts.Start.Seq
		}
		if err := s.runEpoch(ctx, epoch, start, emit); err != nil {
			return err
		}
	}
	return nil
}

// workerPlan is where a worker starts in an epoch: its shards, and, when
// resuming, the state computed by the index replay.
type workerPlan struct {
	shards []*shardRef
	resume *workerResume
}

// workerResume is a worker's state after the replay: it reads its stream
// from index first (shard firstShard), keeps the buffered indices (need: index
// -> buffer slot) and starts shuffling again at index readTo.
type workerResume struct {
	firstShard int
	first      int64
	readTo     int64
	need       map[int64]int
	bufLen     int
	shuf       *shuffler[int64]
}

type item struct {
	rec Record
	err error
}

func (s *Source) plans(epoch int) []workerPlan {
	order := epochShardOrder(s.opts.Seed, epoch, len(s.set.shards))
	plans := make([]workerPlan, s.opts.Workers)
	for w := range plans {
		for _, i := range splitShards(order, s.opts.Rank, s.opts.World, w, s.opts.Workers) {
			plans[w].shards = append(plans[w].shards, s.set.shards[i])
		}
	}
	return plans
}

func (s *Source) newSampleShuffler(epoch, worker int) *shuffler[int64] {
	return newShuffler[int64](s.cfg.ShuffleBuffer, newPCG(s.opts.Seed, streamSampleOrder, int64(epoch), int64(s.opts.Rank), int64(worker)))
}

func (s *Source) runEpoch(ctx context.Context, epoch int, startSeq int64, emit pipeline.Emit) error {
	plans := s.plans(epoch)
	turn := 0
	if startSeq > 0 {
		var err error
		if turn, err = s.fastForward(ctx, epoch, plans, startSeq); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg conc.WaitGroup
	defer func() { cancel(); wg.Wait() }() // stop the workers, then wait for them
	outs := make([]chan item, len(plans))
	for w := range plans {
		outs[w] = make(chan item, shardReadAhead)
		wg.Go(func() {
			defer close(outs[w])
			if err := s.runWorker(ctx, epoch, w, plans[w], outs[w]); err != nil {
				select {
				case outs[w] <- item{err: err}:
				case <-ctx.Done():
				}
			}
		})
	}
	dead := make([]bool, len(plans))
	alive := len(plans)
	seq := startSeq
	for alive > 0 {
		w := turn % len(plans)
		turn++
		if dead[w] {
			continue
		}
		var it item
		var ok bool
		select {
		case it, ok = <-outs[w]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			dead[w] = true
			alive--
			continue
		}
		if it.err != nil {
			return it.err
		}
		pos := Position{Epoch: epoch, Seq: seq}
		seq++
		if it.rec.Sample == nil {
			if err := s.skip(ctx, it.rec); err != nil {
				return err
			}
			continue
		}
		it.rec.Sample.Pos = pos
		if it.rec.Sample.Where == "" {
			it.rec.Sample.Where = it.rec.Where
		}
		if err := emit(ctx, it.rec.Sample); err != nil {
			return err
		}
	}
	return nil
}

// skip counts a corrupt or missing sample against the budget and reports
// it (pipeline.RecordSkip, its record's class).
func (s *Source) skip(ctx context.Context, rec Record) error {
	class := rec.Class
	if class == "" {
		class = SkipClassUnreadable
	}
	sk := Skip{Shard: rec.Shard, Key: rec.Key, Where: rec.Where, Class: class, Reason: rec.Bad}
	s.skipMu.Lock()
	s.skipped = append(s.skipped, sk)
	n := len(s.skipped)
	s.skipMu.Unlock()
	pipeline.RecordSkip(ctx, pipeline.Skipped{Shard: sk.Shard, Key: sk.Key, Where: sk.Where, Class: sk.Class, Reason: sk.Reason})
	if s.cfg.SkipBudget >= 0 && n > s.cfg.SkipBudget {
		return fmt.Errorf("%s (%d corrupt or missing samples, data.skip_budget %d): %w", sk, n, s.cfg.SkipBudget, ErrSkipBudget)
	}
	return nil
}

// runWorker reads the worker's shards through its shuffle buffer into out.
func (s *Source) runWorker(ctx context.Context, epoch, w int, plan workerPlan, out chan<- item) error {
	send := func(rec Record) error {
		select {
		case out <- item{rec: rec}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	shards := plan.shards
	idx := int64(0)
	var shuf *shuffler[Record]
	var need map[int64]int
	readTo := int64(0)
	if r := plan.resume; r != nil {
		shards = shards[r.firstShard:]
		idx, need, readTo = r.first, r.need, r.readTo
		shuf = newShuffler[Record](r.shuf.size, &r.shuf.pcg)
		shuf.buf = make([]Record, r.bufLen)
	} else {
		sim := s.newSampleShuffler(epoch, w)
		shuf = newShuffler[Record](sim.size, &sim.pcg)
	}
	err := s.readShards(ctx, shards, func(rec Record) error {
		i := idx
		idx++
		if i < readTo {
			if slot, ok := need[i]; ok {
				shuf.buf[slot] = rec
			} else if rec.Sample != nil {
				rec.Sample.Release() // read only to get past it
			}
			return nil
		}
		if o, ok := shuf.push(rec); ok {
			return send(o)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if idx < readTo {
		return fmt.Errorf("ingest: epoch %d worker %d: shards hold %d samples, fewer than the %d the index promised (shards changed since they were counted?)", epoch, w, idx, readTo)
	}
	for {
		o, ok := shuf.pop()
		if !ok {
			return nil
		}
		if err := send(o); err != nil {
			return err
		}
	}
}

// shardStream carries the records of one shard from its reader goroutine.
type shardStream struct {
	items chan item
}

// readShards calls f for every record of shards, in order, while up to
// cfg.Prefetch further shards are opened and read ahead concurrently (each
// into a 32-record channel). It blocks until all its goroutines are done.
func (s *Source) readShards(ctx context.Context, shards []*shardRef, f func(Record) error) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg conc.WaitGroup
	defer func() { cancel(); wg.Wait() }() // stop the readers, then wait for them
	streams := make(chan *shardStream, s.cfg.Prefetch)
	wg.Go(func() {
		defer close(streams)
		for _, sh := range shards {
			st := &shardStream{items: make(chan item, shardReadAhead)}
			select {
			case streams <- st:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				defer close(st.items)
				s.readShard(ctx, sh, st.items)
			})
		}
	})
	for st := range streams {
		for it := range st.items {
			if it.err != nil {
				return it.err
			}
			if err := f(it.rec); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// readShard sends one shard's records, held to its index sidecar or
// earlier count (checkedReader: a mismatch would make resumed runs
// diverge), and logs and keeps an incomplete shard.
func (s *Source) readShard(ctx context.Context, sh *shardRef, out chan<- item) {
	send := func(it item) bool {
		select {
		case out <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	rd, err := openChecked(ctx, sh, &s.cfg, s.knownCount(sh))
	if err != nil {
		send(item{err: err})
		return
	}
	defer rd.Close()
	for rd.Next() {
		if !send(item{rec: rd.Record()}) {
			return
		}
	}
	if err := rd.Err(); err != nil {
		send(item{err: err})
		return
	}
	if inc := rd.Incomplete(); inc != nil {
		slog.Warn("incomplete shard", "shard", inc.Shard, "reason", inc.Reason, "samples_lost", inc.Lost)
		s.skipMu.Lock()
		s.incomplete = append(s.incomplete, *inc)
		s.skipMu.Unlock()
	}
}

func (s *Source) knownCount(sh *shardRef) int64 {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	return sh.count
}

// shardCount returns the number of sample slots of a shard: from the index
// sidecar, or by reading the shard once (then cached).
func (s *Source) shardCount(ctx context.Context, sh *shardRef) (int64, error) {
	if n := s.knownCount(sh); n >= 0 {
		return n, nil
	}
	n, err := countShard(ctx, sh, &s.cfg)
	if err != nil {
		return 0, err
	}
	s.countMu.Lock()
	sh.count = n
	s.countMu.Unlock()
	return n, nil
}

func countShard(ctx context.Context, sh *shardRef, cfg *Config) (int64, error) {
	rd, err := openChecked(ctx, sh, cfg, -1)
	if err != nil {
		return 0, err
	}
	defer rd.Close()
	n := int64(0)
	for rd.Next() {
		n++
	}
	if err := rd.Err(); err != nil {
		return 0, err
	}
	return n, nil
}

// simWorker replays one worker's shuffle on sample indices.
type simWorker struct {
	shards    []*shardRef
	counts    []int64 // known prefix
	k         int     // current shard
	inShard   int64
	idx       int64 // next index to read
	inputDone bool
	shuf      *shuffler[int64]
}

func (w *simWorker) next(ctx context.Context, s *Source) (bool, error) {
	for !w.inputDone {
		for w.k < len(w.shards) {
			if w.k == len(w.counts) {
				n, err := s.shardCount(ctx, w.shards[w.k])
				if err != nil {
					return false, err
				}
				w.counts = append(w.counts, n)
			}
			if w.inShard < w.counts[w.k] {
				break
			}
			w.k++
			w.inShard = 0
		}
		if w.k == len(w.shards) {
			w.inputDone = true
			break
		}
		i := w.idx
		w.idx++
		w.inShard++
		if _, ok := w.shuf.push(i); ok {
			return true, nil
		}
	}
	_, ok := w.shuf.pop()
	return ok, nil
}

// fastForward replays the epoch's merge for startSeq slots on indices and
// fills each plan's resume state; it returns the merge turn to continue at.
func (s *Source) fastForward(ctx context.Context, epoch int, plans []workerPlan, startSeq int64) (int, error) {
	sims := make([]*simWorker, len(plans))
	for w := range plans {
		sims[w] = &simWorker{shards: plans[w].shards, shuf: s.newSampleShuffler(epoch, w)}
	}
	dead := make([]bool, len(plans))
	alive, turn := len(plans), 0
	for seq := int64(0); seq < startSeq && alive > 0; {
		w := turn % len(plans)
		turn++
		if dead[w] {
			continue
		}
		ok, err := sims[w].next(ctx, s)
		if err != nil {
			return 0, fmt.Errorf("ingest: resume at epoch %d seq %d: %w", epoch, startSeq, err)
		}
		if !ok {
			dead[w], alive = true, alive-1
			continue
		}
		seq++
		if seq&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
	}
	for w, sim := range sims {
		r := &workerResume{readTo: sim.idx, need: make(map[int64]int, len(sim.shuf.buf)), bufLen: len(sim.shuf.buf), shuf: sim.shuf}
		oldest := sim.idx
		for slot, i := range sim.shuf.buf {
			r.need[i] = slot
			oldest = min(oldest, i)
		}
		// Find the shard holding the oldest needed index.
		var cum int64
		k := 0
		for k < len(sim.counts) && cum+sim.counts[k] <= oldest {
			cum += sim.counts[k]
			k++
		}
		r.firstShard, r.first = k, cum
		plans[w].resume = r
	}
	return turn, nil
}

// shardReadAhead is how many records a shard reader may read ahead of the
// consumer. Small keeps the bytes in flight cache-warm; the network overlap
// comes from reading Prefetch shards concurrently.
var shardReadAhead = 4
