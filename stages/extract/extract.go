// Package extract builds the "extract" job: a checkpoint's network embeds
// every sample of the data section and the features land in Parquet, one
// file per input shard (sinks/parquet). The chain is
//
//	read (ingest, one reader, no shuffle) → select (skip finished shards)
//	  → transform (decode, resize shorter side, centre crop; parallel, ordered)
//	  → batch → embed (Backend.Embed, evaluation mode) → write (Parquet)
//
// A shard's file is committed atomically when its last sample has been
// written, so a run killed or stopped halfway leaves only whole files; the
// next run skips them (same checkpoint, config hash and layout) and redoes
// the rest, without duplicates. The engine's per-stage metrics give the stall
// breakdown.
package extract

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/stages"
	"github.com/swavgo/swav/stages/source"
	"github.com/swavgo/swav/train"
)

// JobKind is the job kind this package registers.
const JobKind = "extract"

func init() {
	stages.Register(JobKind, stages.Kind{
		Build: func(ctx context.Context, job *configs.Job) ([]pipeline.Spec, error) {
			m, err := OpenModel(ctx, job)
			if err != nil {
				return nil, err
			}
			return Build(ctx, job, m)
		},
		Sections: []string{configs.SectionData, configs.SectionStore, configs.SectionAugment, configs.SectionTrain, configs.SectionMetrics},
		Settings: DefaultConfig(),
		Check:    Check,
	})
}

// Build returns the extraction chain for job with model m. The chain owns m
// (its last stage closes it); on error m is closed here. Errors before
// anything runs: an output location that cannot be written, an empty or
// unreadable shard list, shard names that would share an output file.
func Build(ctx context.Context, job *configs.Job, m *Model) (specs []pipeline.Spec, err error) {
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	ex := SettingsOf(job)
	if ex.Output == "" {
		return nil, field.Errorf("extract.output", "must name a folder or s3:// prefix")
	}
	out, err := sinks.Open(ctx, ex.Output, sinks.Options{Store: job.Store, Settings: ex.Sinks})
	if err != nil {
		return nil, err
	}
	writer := &writeStage{
		out: out, model: m,
		md:    sinks.Metadata{Checkpoint: m.Checkpoint, ConfigHash: configHash(job, m), Layout: m.Layout},
		open:  map[string]sinks.ShardWriter{},
		other: map[string]bool{},
	}
	defer func() {
		if err != nil {
			out.Close()
		}
	}()

	// One reader and no sample shuffle: each shard's samples arrive together,
	// so a shard is finished when the next one starts.
	data := *job
	data.Data.Workers = 1
	data.Data.ShuffleBuffer = 0
	// Dropping finished shards from the list before the rank split would
	// change the split (it is a seeded order over the whole list): with
	// several ranks (Slurm array tasks, indexed Jobs) every rank keeps the
	// whole list, so its share stays the same on a re-run, and selectStage
	// skips the finished shards' samples instead.
	_, world, err := job.Data.RankWorld()
	if err != nil {
		return nil, err
	}
	doneBefore := 0
	if world == 1 {
		if data.Data.Shards, doneBefore, err = pendingShards(ctx, job.DataConfig(), out, writer.md); err != nil {
			return nil, err
		}
	}
	read, err := source.New(ctx, &data, ingest.Position{}, 1, nil)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	sel := &selectStage{src: read.Source, out: out, want: writer.md, names: map[string]string{}, done: map[string]bool{}, skipped: doneBefore}
	read.Source = sel
	writer.sel = sel
	read.Name = "read"

	workers := ex.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	tf := augment.NewEvalTransform(job.Augment)
	return []pipeline.Spec{
		read,
		{Name: "transform", Processor: &transformStage{tf: tf, raw: m.Feature == FeatureRaw, budget: job.Augment.SkipBudget},
			Workers: workers, Ordered: true, Buffer: 2 * workers, Total: read.Total},
		{Name: "batch", Processor: &batchStage{size: ex.BatchSize, imgLen: pixelsPerImage(tf, m)}, Buffer: 2},
		{Name: "embed", Processor: &embedStage{model: m, size: tf.Crop}, Buffer: 2},
		{Name: "write", Sink: writer},
	}, nil
}

func pixelsPerImage(tf augment.EvalTransform, m *Model) int {
	if m.Feature == FeatureRaw {
		return tf.Crop * tf.Crop
	}
	return tf.Len()
}

// pendingShards drops from the shard list the shards whose feature file is
// already done, so a rerun does not even read them. Only entries that name
// files (brace ranges included; ingest.NamedShards reads the list as the
// source does) are checked here; globs and prefixes stay
// and their done shards are skipped while reading (selectStage). If every
// shard is done, one is kept so the chain has a source; it is skipped too.
// Every named file must exist (checked up front, so a typo fails before any
// work and a missing shard cannot stall a one-reader source). done counts
// the finished shards dropped (the kept one is not: selectStage counts it
// when it skips it).
func pendingShards(ctx context.Context, data ingest.Config, out sinks.FeatureSink, want sinks.Metadata) (pending []string, done int, err error) {
	first := ""
	for _, entry := range data.Shards {
		urls, named, err := ingest.NamedShards(&data, entry)
		if err != nil {
			return nil, 0, fmt.Errorf("extract: data.shards %q: %w", entry, err)
		}
		if !named {
			pending = append(pending, entry)
			continue
		}
		for _, u := range urls {
			if err := shardExists(ctx, u, data.Store); err != nil {
				return nil, 0, err
			}
			if first == "" {
				first = u
			}
			finished, err := out.Done(ctx, u, want)
			if err != nil {
				return nil, 0, fmt.Errorf("extract: shard %s: %w", u, err)
			}
			if finished {
				done++
			} else {
				pending = append(pending, u)
			}
		}
	}
	if len(pending) == 0 && first != "" {
		pending = []string{first}
		done--
	}
	return pending, done, nil
}

// shardExists fails, naming the shard, when a listed shard is missing: the
// run stops before any work instead of partway.
func shardExists(ctx context.Context, url string, sc store.Config) error {
	b, key, err := store.Open(ctx, url, sc)
	if err != nil {
		return fmt.Errorf("extract: shard %s: %w", url, err)
	}
	defer b.Close()
	ok, err := b.Exists(ctx, key)
	if err != nil {
		return fmt.Errorf("extract: shard %s: %w", url, err)
	}
	if !ok {
		return fmt.Errorf("extract: shard %s does not exist", url)
	}
	return nil
}

// shardEnd follows the last sample of a shard through the chain: the writer
// commits the shard's file when it arrives. It is only emitted once the shard
// has been read to its end, so a stopped run never commits a partial shard.
type shardEnd struct{ shard string }

// selectStage wraps the ingest source: it drops the samples of shards whose
// feature file is already done and emits shardEnd after each shard.
type selectStage struct {
	src   pipeline.Source
	out   sinks.FeatureSink
	want  sinks.Metadata
	names map[string]string // output unit (Where) -> shard, to catch collisions
	done  map[string]bool   // shard -> file already finished

	shard   string
	skipped int
}

func (s *selectStage) Run(ctx context.Context, emit pipeline.Emit) error {
	// An error of ours cancels the wrapped source's context as well as
	// returning: the source then stops its readers before it returns.
	srcCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	fail := func(err error) error {
		cancel(err)
		return err
	}
	err := s.src.Run(srcCtx, func(ctx context.Context, item any) error {
		smp, ok := item.(*ingest.Sample)
		if !ok {
			return emit(ctx, item)
		}
		if smp.Shard != s.shard {
			if err := s.endShard(ctx, emit); err != nil {
				return fail(err)
			}
			if err := s.startShard(ctx, smp.Shard); err != nil {
				return fail(err)
			}
		}
		if s.done[smp.Shard] {
			return nil
		}
		if err := emit(ctx, smp); err != nil {
			return fail(err)
		}
		return nil
	})
	if cause := context.Cause(srcCtx); err != nil && cause != nil && ctx.Err() == nil {
		return cause
	}
	if err != nil {
		return err
	}
	if err := s.endShard(ctx, emit); err != nil {
		return err
	}
	if s.skipped > 0 {
		pipeline.SetStatus(ctx, fmt.Sprintf("%d shards already done, skipped", s.skipped))
	}
	return nil
}

func (s *selectStage) startShard(ctx context.Context, shard string) error {
	s.shard = shard
	if _, seen := s.done[shard]; seen {
		return fmt.Errorf("extract: shard %s came back after another one: the reader interleaves shards", shard)
	}
	where := s.out.Where(shard)
	if other, dup := s.names[where]; dup {
		return fmt.Errorf("extract: shards %s and %s would both write %s: rename one", other, shard, where)
	}
	s.names[where] = shard
	done, err := s.out.Done(ctx, shard, s.want)
	if err != nil {
		return fmt.Errorf("extract: shard %s: %w", shard, err)
	}
	s.done[shard] = done
	if done {
		s.skipped++
		pipeline.SetStatus(ctx, "skip finished shard "+shard)
	}
	return nil
}

func (s *selectStage) endShard(ctx context.Context, emit pipeline.Emit) error {
	if s.shard == "" || s.done[s.shard] {
		return nil
	}
	return emit(ctx, &shardEnd{shard: s.shard})
}

// Close closes the wrapped source.
func (s *selectStage) Close() error {
	if c, ok := s.src.(pipeline.Closer); ok {
		return c.Close()
	}
	return nil
}

// transformed is one transformed sample.
type transformed struct {
	key, shard string
	label      int64
	pix        []float32
}

// transformStage decodes and transforms samples (parallel, order kept).
// Images that do not decode are skipped and counted; past the budget
// (augment.skip_budget; -1 unlimited) the run fails naming the sample.
type transformStage struct {
	tf     augment.EvalTransform
	raw    bool
	budget int

	mu      sync.Mutex
	skipped []string
}

func (t *transformStage) Process(ctx context.Context, item any, emit pipeline.Emit) error {
	smp, ok := item.(*ingest.Sample)
	if !ok {
		return emit(ctx, item)
	}
	pix, err := t.tf.Apply(smp.Data, smp.Ext)
	if err != nil {
		return t.skip(ctx, smp, err)
	}
	if t.raw {
		pix = channelMean(pix, t.tf.Crop*t.tf.Crop)
	}
	return emit(ctx, &transformed{key: smp.Key, shard: smp.Shard, label: smp.Label, pix: pix})
}

func (t *transformStage) skip(ctx context.Context, smp *ingest.Sample, err error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.skipped = append(t.skipped, fmt.Sprintf("%s (%s): %v", smp.Key, smp.Shard, err))
	pipeline.SetGauge(ctx, "skipped", float64(len(t.skipped)))
	pipeline.RecordSkip(ctx, pipeline.Skipped{Shard: smp.Shard, Key: smp.Key, Where: smp.Where, Class: augment.SkipReason(err), Reason: err.Error()})
	if t.budget >= 0 && len(t.skipped) > t.budget {
		return fmt.Errorf("extract: %w (%d allowed): sample %q of %s: %v", ingest.ErrSkipBudget, t.budget, smp.Key, smp.Shard, err)
	}
	return nil
}

// channelMean averages the 3 planes of a CHW image.
func channelMean(chw []float32, plane int) []float32 {
	out := make([]float32, plane)
	for i := range out {
		out[i] = (chw[i] + chw[plane+i] + chw[2*plane+i]) / 3
	}
	return out
}

// imageBatch is up to B images of one shard.
type imageBatch struct {
	keys   []string
	labels []int64
	shard  string
	pix    []float32
}

func (b *imageBatch) rows() int { return len(b.keys) }

// batchStage groups images into batches of one shard; a shardEnd flushes the
// shard's last, partial batch before passing on.
type batchStage struct {
	size, imgLen int
	cur          *imageBatch
}

func (b *batchStage) Process(ctx context.Context, item any, emit pipeline.Emit) error {
	switch it := item.(type) {
	case *transformed:
		if b.cur != nil && b.cur.shard != it.shard {
			if err := b.flush(ctx, emit); err != nil {
				return err
			}
		}
		if b.cur == nil {
			b.cur = &imageBatch{shard: it.shard, pix: make([]float32, 0, b.size*b.imgLen)}
		}
		b.cur.keys = append(b.cur.keys, it.key)
		b.cur.labels = append(b.cur.labels, it.label)
		b.cur.pix = append(b.cur.pix, it.pix...)
		if b.cur.rows() == b.size {
			return b.flush(ctx, emit)
		}
		return nil
	case *shardEnd:
		if err := b.flush(ctx, emit); err != nil {
			return err
		}
		return emit(ctx, it)
	default:
		return fmt.Errorf("extract: batch stage got %T", item)
	}
}

func (b *batchStage) flush(ctx context.Context, emit pipeline.Emit) error {
	if b.cur == nil {
		return nil
	}
	cur := b.cur
	b.cur = nil
	return emit(ctx, cur)
}

// features is one batch's embeddings.
type features struct {
	keys   []string
	labels []int64
	shard  string
	data   []float32
	dim    int
}

// embedStage runs the network on each batch (one goroutine: a Backend is
// used by one goroutine at a time).
type embedStage struct {
	model *Model
	size  int
}

func (e *embedStage) Process(ctx context.Context, item any, emit pipeline.Emit) error {
	b, ok := item.(*imageBatch)
	if !ok {
		return emit(ctx, item)
	}
	f := &features{keys: b.keys, labels: b.labels, shard: b.shard}
	if e.model.Backend == nil {
		f.data, f.dim = b.pix, e.model.Layout.Dim
	} else {
		var err error
		f.data, f.dim, err = e.model.Backend.Embed(ctx, b.pix, b.rows(), e.size, train.Feature(e.model.Feature))
		if err != nil {
			return fmt.Errorf("extract: embed %d images of %s: %w", b.rows(), b.shard, err)
		}
	}
	if f.dim != e.model.Layout.Dim {
		return fmt.Errorf("extract: the network returned rows of %d floats, its layout says %d", f.dim, e.model.Layout.Dim)
	}
	return emit(ctx, f)
}

// writeStage writes each shard's rows to its feature file and commits it on
// the shard's shardEnd. Files still open when the run ends (error or stop)
// are aborted: nothing partial is left. A shard whose file another attempt
// committed first (sinks.ErrWrittenByOther, found at Begin or at Commit) is
// counted and its remaining rows dropped. It owns the Output and the Model.
type writeStage struct {
	out   sinks.FeatureSink
	model *Model
	md    sinks.Metadata
	open  map[string]sinks.ShardWriter
	// other holds the shards found written by another attempt at Begin,
	// until their shardEnd.
	other map[string]bool
	// sel counts the shards found done before the run (pendingShards) or
	// before they were read.
	sel *selectStage

	mu        sync.Mutex
	committed []string
	byOthers  int // shards found committed by another attempt at Begin or Commit
	rows      int64
}

// SummaryLine is the last status of the write stage, the line an
// extraction ends with (its words are a contract: scripts add the counts of
// racing processes up to the number of shards).
func SummaryLine(wrote, byOthers int) string {
	return fmt.Sprintf("wrote %d shard files; %d already written by another attempt", wrote, byOthers)
}

// counts returns the files this run committed and the shards it found
// written by another attempt (before the run, while reading, or when
// creating or committing the file).
func (w *writeStage) counts() (wrote, byOthers int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	byOthers = w.byOthers
	if w.sel != nil {
		byOthers += w.sel.skipped
	}
	return len(w.committed), byOthers
}

// Flush implements pipeline.Flusher: the summary line becomes the stage's
// summary, the last line of the run's table, and its status.
func (w *writeStage) Flush(ctx context.Context, _ pipeline.Emit) error {
	line := SummaryLine(w.counts())
	pipeline.SetStatus(ctx, line)
	pipeline.SetSummary(ctx, line)
	return nil
}

// writtenByOther counts shard as committed by another attempt.
func (w *writeStage) writtenByOther(ctx context.Context, shard string, err error) {
	w.mu.Lock()
	w.byOthers++
	w.mu.Unlock()
	pipeline.SetStatus(ctx, fmt.Sprintf("shard %s: %v", shard, err))
}

func (w *writeStage) Consume(ctx context.Context, item any) error {
	switch it := item.(type) {
	case *features:
		if w.other[it.shard] {
			return nil
		}
		fw := w.open[it.shard]
		if fw == nil {
			md := w.md
			md.Shard = it.shard
			var err error
			if fw, err = w.out.Begin(ctx, it.shard, md); errors.Is(err, sinks.ErrWrittenByOther) {
				w.other[it.shard] = true
				w.writtenByOther(ctx, it.shard, err)
				return nil
			}
			if err != nil {
				return fmt.Errorf("extract: shard %s: %w", it.shard, err)
			}
			w.open[it.shard] = fw
			pipeline.SetStatus(ctx, "writing "+fw.Path())
		}
		if err := fw.Append(it.keys, it.labels, it.data); err != nil {
			return err
		}
		w.mu.Lock()
		w.rows += int64(len(it.keys))
		w.mu.Unlock()
		return nil
	case *shardEnd:
		if w.other[it.shard] {
			delete(w.other, it.shard)
			return nil
		}
		fw := w.open[it.shard]
		if fw == nil {
			return nil // no decodable sample in the shard: no file
		}
		delete(w.open, it.shard)
		if err := fw.Commit(ctx); errors.Is(err, sinks.ErrWrittenByOther) {
			w.writtenByOther(ctx, it.shard, err)
			return nil
		} else if err != nil {
			return fmt.Errorf("extract: shard %s: %w", it.shard, err)
		}
		w.mu.Lock()
		w.committed = append(w.committed, fw.Path())
		n := len(w.committed)
		w.mu.Unlock()
		pipeline.SetStatus(ctx, fmt.Sprintf("%d files committed, last %s", n, fw.Path()))
		return nil
	default:
		return fmt.Errorf("extract: write stage got %T", item)
	}
}

// Close aborts unfinished files and releases the output and the model.
func (w *writeStage) Close() error {
	for shard, fw := range w.open {
		fw.Abort()
		delete(w.open, shard)
	}
	return errors.Join(w.out.Close(), w.model.Close())
}

// Written returns the feature files committed so far and the rows written.
func (w *writeStage) Written() ([]string, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.committed...), w.rows
}

// Result is what one extraction run produced.
type Result struct {
	// Files are the feature files committed by this run (shards already done
	// are not listed).
	Files []string
	// Rows is the number of rows written by this run.
	Rows int64
	// WrittenByOthers counts the shards whose file another attempt (an
	// earlier run, a racing process) had committed: found done before the
	// run or while reading, or taken between this run's start and commit.
	WrittenByOthers int
	// Report is the engine's metrics (the per-stage stall breakdown).
	Report *pipeline.Report
}

// Run builds the extraction chain for job with model m (which it owns and
// closes) and runs it. It blocks until the run is over.
func Run(ctx context.Context, job *configs.Job, m *Model, opts pipeline.Options) (*Result, error) {
	specs, err := Build(ctx, job, m)
	if err != nil {
		return nil, err
	}
	w := specs[len(specs)-1].Sink.(*writeStage)
	rep, err := pipeline.Run(ctx, specs, opts)
	files, rows := w.Written()
	_, others := w.counts()
	return &Result{Files: files, Rows: rows, WrittenByOthers: others, Report: rep}, err
}
