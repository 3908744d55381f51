// Package augment (stages/augment; importers that also use the domain
// package augment name it stagesaugment) builds the augment stages of a
// chain: a parallel, ordered crop stage (*ingest.Sample ->
// *augment.SampleCrops) and a batch stage (B samples -> *augment.Batch).
// Chain builders (the train job) call New.
package augment

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/pipeline"
)

// Options configure the two stages.
type Options struct {
	// Config is the augment section (validated by NewStages).
	Config augment.Config
	// Seed is the job's root seed (with epoch, sample key and crop index it
	// determines every draw).
	Seed int64
	// BatchSize is B, samples per batch.
	BatchSize int
	// Mem allocates the Arrow batches (nil: a process-wide
	// augment.RecyclingAllocator, which reuses the buffers of released
	// batches).
	Mem memory.Allocator
}

// sharedMem is the default allocator of every chain in the process, so the
// batch buffers of one run (and of the run before it) are reused by the next
// instead of being faulted in afresh (a float32 2x224+6x96 batch of 32 is
// 60 MB; a few are in flight).
var sharedMem = augment.NewRecyclingAllocator()

// New returns the crop and batch stages of a job: its augment section, seed
// and train.batch_size. Put them between the source and the sink, in that
// order.
func New(job *configs.Job, mem memory.Allocator) (crops, batches pipeline.Spec, err error) {
	return NewStages(Options{Config: job.Augment, Seed: job.Seed, BatchSize: job.Train.BatchSize, Mem: mem})
}

// NewStages returns the crop stage (Workers = augment.workers or GOMAXPROCS,
// ordered, so batches do not depend on the worker count) and the batch stage
// (one worker).
func NewStages(o Options) (crops, batches pipeline.Spec, err error) {
	recipe, err := augment.NewRecipe(o.Config, o.Seed)
	if err != nil {
		return crops, batches, fmt.Errorf("augment: %w", err)
	}
	if o.BatchSize < 1 {
		return crops, batches, field.Errorf("train.batch_size", "must be at least 1, got %d", o.BatchSize)
	}
	if o.Mem == nil {
		o.Mem = sharedMem
	}
	workers := o.Config.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	cp := &CropProcessor{Recipe: recipe, MaxPixels: o.Config.MaxPixels}
	bp := NewBatchProcessor(o.Mem, o.Config, o.BatchSize)
	crops = pipeline.Spec{Name: "augment", Processor: cp, Workers: workers, Ordered: true, Buffer: 2 * workers}
	batches = pipeline.Spec{Name: "batch", Processor: bp, Workers: 1, Buffer: 2}
	return crops, batches, nil
}

// CropProcessor decodes an *ingest.Sample and renders its V crops into a
// pooled *augment.SampleCrops as packed RGB (the batch stage normalises them
// straight into the Arrow buffers, so float32 values are written once). A sample that cannot be decoded (zero bytes,
// not an image, truncated, corrupt, over the pixel limit) goes on as a
// SampleCrops with Skip set, so that the batch stage counts it in order.
// Safe for concurrent use (each call takes its own scratch buffers).
type CropProcessor struct {
	Recipe    *augment.Recipe
	MaxPixels int64
}

// Process implements pipeline.Processor. It takes ownership of the sample and
// emits one *augment.SampleCrops (released downstream).
func (p *CropProcessor) Process(ctx context.Context, item any, emit pipeline.Emit) error {
	s, ok := item.(*ingest.Sample)
	if !ok {
		return fmt.Errorf("augment: expected *ingest.Sample, got %T", item)
	}
	out := p.Recipe.NewPackedCrops()
	out.Key, out.Shard, out.Where, out.Label, out.Epoch, out.Pos = s.Key, s.Shard, s.Where, s.Label, s.Pos.Epoch, s.Pos
	img := augment.GetImage()
	_, err := augment.Decode(img, s.Data, p.MaxPixels)
	if err == nil {
		c := augment.GetCropper()
		err = p.Recipe.RenderPacked(c, out, img, s.Pos.Epoch, s.Key)
		augment.PutCropper(c)
		if err != nil {
			augment.PutImage(img)
			out.Release()
			return fmt.Errorf("augment: sample %q of %s: %w", s.Key, s.Shard, err)
		}
	} else {
		out.SkipClass = augment.SkipReason(err)
		out.Skip = out.SkipClass + ": " + err.Error()
	}
	augment.PutImage(img)
	if err := emit(ctx, out); err != nil {
		out.Release()
		return err
	}
	return nil
}

// BatchProcessor collects *augment.SampleCrops in arrival order into batches
// of B rows and emits each full *augment.Batch (ownership moves to the next
// stage). A batch holds samples of one epoch: at an epoch change, and at the
// end of the input (Flush), a partial batch is emitted or, with
// augment.drop_last, dropped. Skipped samples are counted against the skip
// budget; they are listed in the next batch's Skipped. One worker only.
type BatchProcessor struct {
	builder  *augment.BatchBuilder
	recipe   *augment.Recipe // normalises packed crops (nil: bad mean/std)
	err      error           // why recipe is nil
	dropLast bool
	budget   int

	epoch   int
	last    any
	pending []string // skipped since the last emitted batch

	mu      sync.Mutex
	skipped []string // every skipped sample, "key (shard): reason"
	dropped int      // samples dropped in partial batches
}

// NewBatchProcessor returns a batch stage for cfg's crops and dtype.
func NewBatchProcessor(mem memory.Allocator, cfg augment.Config, batchSize int) *BatchProcessor {
	b := augment.NewBatchBuilder(mem, cfg.Crops, cfg.DType, batchSize)
	b.Mean, b.Std = cfg.Mean, cfg.Std
	// The recipe's seed does not matter here: only its normalisation is used.
	r, err := augment.NewRecipe(cfg, 0)
	return &BatchProcessor{builder: b, recipe: r, err: err, dropLast: cfg.DropLast, budget: cfg.SkipBudget}
}

// Skipped lists the samples skipped so far ("key (shard): reason").
func (b *BatchProcessor) Skipped() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.skipped...)
}

// Dropped is the number of samples dropped in partial batches (drop_last).
func (b *BatchProcessor) Dropped() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// Process implements pipeline.Processor.
func (b *BatchProcessor) Process(ctx context.Context, item any, emit pipeline.Emit) error {
	s, ok := item.(*augment.SampleCrops)
	if !ok {
		return fmt.Errorf("batch: expected *augment.SampleCrops, got %T", item)
	}
	defer s.Release()
	if b.builder.Len() > 0 && s.Epoch != b.epoch {
		if err := b.finishPartial(ctx, emit); err != nil {
			return err
		}
	}
	b.epoch = s.Epoch
	if s.Skip != "" {
		return b.skip(ctx, s)
	}
	row, err := b.builder.Append(s.Key, s.Label)
	if err != nil {
		return err
	}
	for i := range b.builder.NumCrops() {
		switch {
		case s.RGB != nil && b.recipe == nil:
			return fmt.Errorf("batch: sample %q: %w", s.Key, b.err)
		case s.RGB != nil && b.builder.DType() == augment.DTypeUint8:
			err = b.recipe.WriteUint8(b.builder.Uint8Crop(row, i), s.RGB[i])
		case s.RGB != nil:
			err = b.recipe.WriteFloat32(b.builder.Float32Crop(row, i), s.RGB[i])
		case s.F32 != nil:
			copy(b.builder.Float32Crop(row, i), s.F32[i])
		default:
			copy(b.builder.Uint8Crop(row, i), s.U8[i])
		}
		if err != nil {
			return fmt.Errorf("batch: sample %q crop %d: %w", s.Key, i, err)
		}
	}
	b.last = s.Pos
	if b.builder.Full() {
		return b.emitBatch(ctx, emit)
	}
	return nil
}

func (b *BatchProcessor) skip(ctx context.Context, s *augment.SampleCrops) error {
	entry := fmt.Sprintf("%s (%s): %s", s.Key, s.Shard, s.Skip)
	b.mu.Lock()
	b.skipped = append(b.skipped, entry)
	n := len(b.skipped)
	b.mu.Unlock()
	b.pending = append(b.pending, entry)
	pipeline.SetGauge(ctx, "skipped", float64(n))
	pipeline.RecordSkip(ctx, pipeline.Skipped{Shard: s.Shard, Key: s.Key, Where: s.Where, Class: s.SkipClass, Reason: s.Skip})
	if b.budget >= 0 && n > b.budget {
		return fmt.Errorf("augment: %w (%d allowed): sample %q of %s: %s", ingest.ErrSkipBudget, b.budget, s.Key, s.Shard, s.Skip)
	}
	return nil
}

func (b *BatchProcessor) emitBatch(ctx context.Context, emit pipeline.Emit) error {
	batch := b.builder.Build(b.epoch, b.last, b.pending)
	b.pending = nil
	if err := emit(ctx, batch); err != nil {
		batch.Release()
		return err
	}
	return nil
}

// finishPartial emits or drops the rows held at an epoch end.
func (b *BatchProcessor) finishPartial(ctx context.Context, emit pipeline.Emit) error {
	if b.builder.Len() == 0 {
		return nil
	}
	if b.dropLast {
		b.mu.Lock()
		b.dropped += b.builder.Len()
		b.mu.Unlock()
		b.builder.Release()
		return nil
	}
	return b.emitBatch(ctx, emit)
}

// Flush implements pipeline.Flusher: the end of the input ends the epoch.
func (b *BatchProcessor) Flush(ctx context.Context, emit pipeline.Emit) error {
	return b.finishPartial(ctx, emit)
}

// Close implements pipeline.Closer: frees rows of an unfinished batch.
func (b *BatchProcessor) Close() error {
	b.builder.Release()
	return nil
}
