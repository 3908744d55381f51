package train

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/stages"
	stagesaugment "github.com/swavgo/swav/stages/augment"
	"github.com/swavgo/swav/stages/source"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
	"github.com/swavgo/swav/train/weights"
)

// JobKind is the job kind this package registers.
const JobKind = "train"

// StageName is the name of the Trainer stage in the chain.
const StageName = "train"

func init() {
	stages.Register(JobKind, stages.Kind{
		Build:    Build,
		Sections: []string{configs.SectionData, configs.SectionStore, configs.SectionAugment, configs.SectionTrain, configs.SectionMetrics},
		Check:    Check,
	})
}

// Build returns the train chain of job:
//
//	read (ingest source, from the resumed cursor) -> augment (multi-crop,
//	parallel, ordered) -> batch (Arrow batches of train.batch_size) -> train
//
// It counts the data's samples when train.iters_per_epoch is 0, builds the
// backend (train.NewBackend with job.Seed) and, when train.checkpoint.resume
// is set and the checkpoint folder holds a checkpoint, loads it into the
// backend and opens the source after its cursor. The returned stages own
// their resources and release them in their Close hooks; on error nothing is
// left open.
func Build(ctx context.Context, job *configs.Job) (specs []pipeline.Spec, err error) {
	began := time.Now() // train.max_seconds counts from here
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
		}
	}()
	cfg := job.Train
	jobYAML, err := JobYAML(job)
	if err != nil {
		return nil, err
	}
	// The shard list is listed once: counted here for the iterations per
	// epoch, then read by the source (which keeps the counts).
	shards, err := ingest.ResolveShards(ctx, job.DataConfig())
	if err != nil {
		return nil, err
	}
	closers = append(closers, shards.Close) // the source's once it takes it
	ipe, err := itersPerEpoch(ctx, job, shards)
	if err != nil {
		return nil, err
	}
	backend, err := train.NewBackend(cfg, job.Seed)
	if err != nil {
		return nil, err
	}
	closers = append(closers, backend.Close)
	// What the run trains on: kernels and instruction set, precision,
	// threads; for xla the GPU model and the data-parallel device count.
	slog.Info("training backend", "backend", cfg.Backend, "engine", backend.Engine(), "batch", cfg.BatchSize)
	store := checkpoint.Store{Config: job.Store}
	resume, err := Resume(ctx, job, store, backend, ipe)
	if err != nil {
		return nil, err
	}
	var start ingest.Position
	if resume != nil {
		start = resume.Cursor.Next()
	} else if err := InitFrom(ctx, job, backend); err != nil {
		return nil, err
	}
	src, err := source.New(ctx, job, start, cfg.Epochs, shards)
	if err != nil {
		return nil, err
	}
	stop := &stoppableSource{inner: src.Source}
	src.Source = stop
	closers = append(closers, stop.Close)
	crops, batches, err := stagesaugment.New(job, nil)
	if err != nil {
		return nil, err
	}
	for _, s := range []pipeline.Spec{crops, batches} {
		if c, ok := s.Processor.(pipeline.Closer); ok {
			closers = append(closers, c.Close)
		}
	}
	mon, err := NewMonitor(ctx, job, slog.Default())
	if err != nil {
		return nil, err
	}
	tr, err := NewTrainer(Options{
		Config: cfg, Seed: job.Seed, JobYAML: jobYAML, Out: job.Out, ItersPerEpoch: ipe,
		Backend: backend, Store: store, Resume: resume, Stop: stop.Stop, Monitor: mon, Start: began,
	})
	if err != nil {
		return nil, err
	}
	sink := pipeline.Spec{Name: StageName, Sink: tr, Workers: 1}
	// The progress bar's ETA: the steps left (max_seconds may end it sooner).
	steps := cfg.Epochs * ipe
	if cfg.MaxIters > 0 {
		steps = min(steps, cfg.MaxIters)
	}
	batches.Total = int64(max(steps-tr.Iter(), 0))
	return []pipeline.Spec{src, crops, batches, sink}, nil
}

// JobYAML is the job as checkpoints store it: its YAML with the S3 secret
// key redacted (checkpoints get copied and shared).
func JobYAML(job *configs.Job) ([]byte, error) {
	redacted := *job
	if redacted.Store.S3.SecretAccessKey != "" {
		redacted.Store.S3.SecretAccessKey = "<redacted>"
	}
	out, err := yaml.Marshal(&redacted)
	if err != nil {
		return nil, fmt.Errorf("train: encode the job: %w", err)
	}
	return out, nil
}

// itersPerEpoch is train.iters_per_epoch, or else the reference's
// len(train_loader) = floor(ceil(N / world) / batch_size) for the N samples
// of the data section's resolved shard list (index sidecars or one counting
// pass over the shards; the list keeps the counts for the source).
func itersPerEpoch(ctx context.Context, job *configs.Job, shards *ingest.ShardList) (int, error) {
	if job.Train.ItersPerEpoch > 0 {
		return job.Train.ItersPerEpoch, nil
	}
	n, err := shards.CountSamples(ctx)
	if err != nil {
		return 0, fmt.Errorf("train: count the samples for iters_per_epoch: %w", err)
	}
	_, world, err := job.Data.RankWorld()
	if err != nil {
		return 0, err
	}
	perRank := (n + int64(world) - 1) / int64(world)
	ipe := perRank / int64(job.Train.BatchSize)
	if ipe < 1 {
		return 0, field.Errorf("train.batch_size", "%d is larger than the %d samples each of the %d ranks reads (%d in all): not one full batch per epoch",
			job.Train.BatchSize, perRank, world, n)
	}
	return int(ipe), nil
}

// Resume finds the newest checkpoint of the job's checkpoint folder when
// train.checkpoint.resume is set, checks that it belongs to this run
// (model, seed, iterations per epoch: else a *field.Error on
// train.checkpoint.resume), decides how the schedule goes on
// (continueSchedule: an error wrapping stages.ErrNothingLeft when the
// checkpoint already ends it, a *field.Error when a changed schedule
// cannot continue) and loads its state into backend. It returns nil (and no
// error) when resume is off or the folder holds none. A corrupt newest
// checkpoint is an error naming it: delete it to resume from the previous
// one.
func Resume(ctx context.Context, job *configs.Job, store checkpoint.Store, backend train.Backend, ipe int) (*checkpoint.Checkpoint, error) {
	cfg := job.Train
	if !cfg.Checkpoint.Resume {
		return nil, nil
	}
	dir := CheckpointDir(cfg, job.Out)
	url, found, err := store.Latest(ctx, dir)
	if err != nil || !found {
		return nil, err
	}
	ck, err := store.Load(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("train: resume: %w (delete it to resume from an older checkpoint, or set train.checkpoint.resume: false)", err)
	}
	var problems []string
	if err := ck.CheckModel(cfg.Model); err != nil {
		problems = append(problems, err.Error())
	}
	if ck.Seed != job.Seed {
		problems = append(problems, fmt.Sprintf("seed: checkpoint %d, job %d (the data order and crops would differ)", ck.Seed, job.Seed))
	}
	if ck.ItersPerEpoch != ipe {
		problems = append(problems, fmt.Sprintf("iterations per epoch: checkpoint %d, job %d (the schedule would differ)", ck.ItersPerEpoch, ipe))
	}
	if ck.State == nil {
		problems = append(problems, "the checkpoint holds no state")
	}
	if len(problems) > 0 {
		return nil, job.Locate(field.Errorf("train.checkpoint.resume", "cannot resume from %s: %s. Start a new run in another out, or set train.checkpoint.resume: false to start over in this one",
			url, strings.Join(problems, "; ")))
	}
	if err := continueSchedule(ck, url, cfg, ipe, slog.Default()); err != nil {
		return nil, job.Locate(err)
	}
	if err := backend.Load(ck.State); err != nil {
		return nil, fmt.Errorf("train: resume from %s: %w", url, err)
	}
	slog.Info("resuming", "checkpoint", url, "iter", ck.Iter, "epoch", ck.Epoch, "cursor", ck.Cursor)
	return ck, nil
}

// InitFrom loads train.init_from into backend (nothing when it is empty):
// a torch.save or safetensors file, or one of our checkpoints, checked
// against train.model tensor by tensor; the head and prototypes come from
// the file when it has them and from the seed otherwise. The optimiser and
// the queue start fresh. What the file held beyond the network is logged.
func InitFrom(ctx context.Context, job *configs.Job, backend train.Backend) error {
	url := job.Train.InitFrom
	if url == "" {
		return nil
	}
	f, im, err := weights.Open(ctx, url, job.Store)
	if err != nil {
		return fmt.Errorf("train.init_from: %w", err)
	}
	st, rep, err := im.State(job.Train.Model, job.Seed)
	if err != nil {
		return fmt.Errorf("train.init_from: %w", err)
	}
	if err := backend.Load(st); err != nil {
		return fmt.Errorf("train.init_from: %s: %w", url, err)
	}
	weights.LogLoaded(slog.Default(), "initialised from weights (train.init_from)", f, im, rep)
	return nil
}

// stoppableSource wraps the chain's source so that the Trainer can end the
// run cleanly once its budget is spent: Stop cancels the inner source's
// context and Run then returns nil, as if the data had ended; the batches in
// flight reach the Trainer, which releases them, and the Flusher hooks run.
type stoppableSource struct {
	inner pipeline.Source

	mu      sync.Mutex
	cancel  context.CancelFunc
	stopped bool
}

// Run runs the inner source until it ends or Stop is called.
func (s *stoppableSource) Run(ctx context.Context, emit pipeline.Emit) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	inner, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.mu.Unlock()
	defer cancel()
	err := s.inner.Run(inner, emit)
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if err != nil && stopped && ctx.Err() == nil {
		return nil
	}
	return err
}

// Stop ends Run (now or, when it has not started, as soon as it does). Safe
// to call from any goroutine, more than once.
func (s *stoppableSource) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if s.cancel != nil {
		s.cancel()
	}
}

// Close closes the inner source when it is a pipeline.Closer.
func (s *stoppableSource) Close() error {
	if c, ok := s.inner.(pipeline.Closer); ok {
		return c.Close()
	}
	return nil
}

// Stoppable wraps a chain's source so that its sink can end the run
// cleanly (a spent budget): the returned source runs inner until it ends or
// stop is called, and then returns nil as if the data had ended; it closes
// inner in its Close hook. The evaluation jobs use it as the train chain
// does.
func Stoppable(inner pipeline.Source) (src pipeline.Source, stop func()) {
	s := &stoppableSource{inner: inner}
	return s, s.Stop
}
