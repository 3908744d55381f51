package classify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/sinks/metrics"
	stagestrain "github.com/swavgo/swav/stages/train"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
)

// keepCheckpoints is how many checkpoints a run keeps (the newest).
const keepCheckpoints = 2

// fitter is the chain's sink: one SGD step per batch, a validation and a
// checkpoint at every epoch end. Used by one worker; it does not own the
// backend (Run's model does).
type fitter struct {
	s       Settings
	job     *configs.Job
	be      train.Classifier
	rep     *Report
	log     *slog.Logger
	began   time.Time
	ckptDir string
	store   checkpoint.Store
	val     *validator
	metrics *metrics.Writer
	stop    func()
	model   train.ModelConfig // the network's (from the weights)

	// Position: epoch of the next step, steps taken in it and in all, the
	// last consumed batch's cursor, and the steps at the last validation
	// (-1: none yet).
	epoch, stepsInEpoch, steps int
	cursor                     ingest.Position
	lastEval                   int
	idleFrom                   time.Time
	// savedAt is the steps of the last checkpoint written or resumed from:
	// checkpoints are named by their step and each is written once
	// (checkpoint.ErrTaken), so a position is saved at most once.
	savedAt int

	done, failed, finished bool
	// interrupted is set (by runChain's watcher) on a graceful stop.
	interrupted atomic.Bool
}

// progress is the resumable part of a run beyond the backend's state
// (checkpoint.Checkpoint.Extra).
type progress struct {
	Kind         string      `json:"kind"`
	Checkpoint   string      `json:"checkpoint"`
	Epoch        int         `json:"epoch"`
	StepsInEpoch int         `json:"steps_in_epoch"`
	LastEval     int         `json:"last_eval"`
	ValSeconds   float64     `json:"val_seconds"`
	History      []EpochEval `json:"history"`
}

func openMetrics(out string, fromIter int) (*metrics.Writer, error) {
	return metrics.Open(filepath.Join(out, "metrics.jsonl"), fromIter)
}

// budgetSpent reports whether max_seconds has run out.
func (f *fitter) budgetSpent() bool {
	return f.s.MaxSeconds > 0 && time.Since(f.began).Seconds() >= f.s.MaxSeconds
}

// resume loads the newest checkpoint of <out>/checkpoints, when there is
// one, and returns the source position after it. A checkpoint of another
// job (kind, weights, seed, network, classes) is an error: delete the
// folder or set resume false.
func (f *fitter) resume(ctx context.Context) (ingest.Position, error) {
	f.lastEval = -1
	url, found, err := f.store.Latest(ctx, f.ckptDir)
	if err != nil || !found {
		return ingest.Position{}, err
	}
	ck, err := f.store.Load(ctx, url)
	if err != nil {
		return ingest.Position{}, fmt.Errorf("%s: resume: %w (delete it, or set %s.resume: false)", f.s.Kind, err, f.s.Kind)
	}
	var p progress
	if err := json.Unmarshal(ck.Extra, &p); err != nil || p.Kind != f.s.Kind || p.Checkpoint != f.rep.Checkpoint || ck.Seed != f.job.Seed {
		return ingest.Position{}, fmt.Errorf("%s: cannot resume from %s: it is not a checkpoint of this %s run (its weights %q, seed %d; this run %q, seed %d); delete %s or set %s.resume: false",
			f.s.Kind, url, f.s.Kind, p.Checkpoint, ck.Seed, f.rep.Checkpoint, f.job.Seed, f.ckptDir, f.s.Kind)
	}
	if err := f.be.Load(ck.State); err != nil {
		return ingest.Position{}, fmt.Errorf("%s: resume from %s: %w", f.s.Kind, url, err)
	}
	f.epoch, f.stepsInEpoch, f.steps, f.cursor, f.lastEval = p.Epoch, p.StepsInEpoch, ck.Iter, ck.Cursor, p.LastEval
	f.savedAt = ck.Iter
	f.rep.History, f.rep.ValSeconds = p.History, p.ValSeconds
	f.log.Info("resuming", "checkpoint", url, "epoch", p.Epoch, "steps", ck.Iter)
	if ck.Iter == 0 {
		return ingest.Position{}, nil
	}
	return ck.Cursor.Next(), nil
}

// Consume takes one SGD step on an *augment.Batch (after validating the
// epoch the batch ends, when it is the first of the next one).
func (f *fitter) Consume(ctx context.Context, item any) error {
	waited := time.Since(f.idleFrom)
	defer func() { f.idleFrom = time.Now() }()
	b, ok := item.(*augment.Batch)
	if !ok {
		if r, ok := item.(pipeline.Releaser); ok {
			r.Release()
		}
		return fmt.Errorf("%s: got %T, want *augment.Batch", f.s.Kind, item)
	}
	defer b.Release()
	if f.done || f.failed {
		return nil
	}
	labels, keys := b.Labels(), b.Keys()
	for i, l := range labels {
		switch {
		case l < 0:
			return fmt.Errorf("%s: data.shards: sample %q: %w", f.s.Kind, keys[i], ErrNoLabel)
		case l >= int64(f.rep.Classes):
			return fmt.Errorf("%s: data.shards: sample %q has label %d, the classifier has %d classes: %w", f.s.Kind, keys[i], l, f.rep.Classes, ErrLabelRange)
		}
	}
	if f.interrupted.Load() && b.Rows() < f.s.BatchSize {
		// A graceful stop flushed the batch stage: this partial batch would
		// not exist in an uninterrupted run. The cursor stays before it, so
		// the rerun forms the same batches.
		return nil
	}
	cursor, ok := b.Last.(ingest.Position)
	if !ok {
		return fmt.Errorf("%s: batch without an ingest position (%T)", f.s.Kind, b.Last)
	}
	if b.Epoch > f.epoch {
		if err := f.endEpoch(ctx, b.Epoch); err != nil {
			return err
		}
	}
	if f.budgetSpent() {
		f.done = true
		f.stop()
		return nil
	}
	if f.s.Trainable == train.TrainAll && b.Rows() < 2 {
		f.cursor = cursor // training-mode BatchNorm needs two images: the last one of an epoch is left out
		return nil
	}
	data, err := b.CropFloat32(0)
	if err != nil {
		return err
	}
	shape, err := b.CropShape(0)
	if err != nil {
		return err
	}
	lr, headLR := f.s.LRAt(f.epoch)
	in := &train.StepInput{Iter: f.steps, LR: lr, HeadLR: headLR, Batch: b.Rows(), Labels: labels,
		Groups: []train.CropGroup{{Size: shape[1], Count: 1, Data: data}}}
	began := time.Now()
	res, err := f.be.Step(ctx, in)
	if err != nil {
		f.failed = true
		return fmt.Errorf("%s: step %d (epoch %d, lr %g/%g): %w", f.s.Kind, f.steps, f.epoch, lr, headLR, err)
	}
	stepTime := time.Since(began)
	cycle := (stepTime + waited).Seconds()
	rec := metrics.Record{Iter: f.steps, Epoch: f.epoch, Loss: res.Loss, LR: headLR, StepSeconds: stepTime.Seconds(),
		ImagesPerSec: float64(in.Batch) / cycle, WaitFraction: waited.Seconds() / cycle, Time: time.Now().UTC()}
	if err := f.metrics.Write(rec); err != nil {
		return err
	}
	f.steps++
	f.stepsInEpoch++
	f.cursor = cursor
	pipeline.SetStatus(ctx, fmt.Sprintf("epoch %d/%d step %d loss %.4f batch top-1 %.1f%% lr %.4g %.0f img/s",
		f.epoch+1, f.s.Epochs, f.steps, res.Loss, 100*float64(res.Correct1)/float64(in.Batch), headLR, rec.ImagesPerSec))
	pipeline.SetGauge(ctx, "loss", res.Loss)
	pipeline.SetGauge(ctx, "lr", headLR)
	return nil
}

// endEpoch validates the network after epoch f.epoch (every ValEvery-th
// and the last) and checkpoints at the start of next.
func (f *fitter) endEpoch(ctx context.Context, next int) error {
	if (f.epoch+1)%max(1, f.s.ValEvery) == 0 || next >= f.s.Epochs {
		if err := f.evaluate(ctx); err != nil {
			return err
		}
	}
	f.epoch, f.stepsInEpoch = next, 0
	return f.save(ctx)
}

// evaluate validates the current weights unless that was done at this step.
func (f *fitter) evaluate(ctx context.Context) error {
	if f.lastEval == f.steps {
		return nil
	}
	began := time.Now()
	v, err := f.val.run(ctx, f.be)
	if err != nil {
		return err
	}
	v.Seconds = time.Since(began).Seconds()
	f.rep.ValSeconds += v.Seconds
	f.rep.ValImages = v.Images
	f.lastEval = f.steps
	f.rep.History = append(f.rep.History, EpochEval{Epoch: f.epoch, Step: f.steps, Top1: percent(v.Top1), Top5: percent(v.Top5), Loss: v.Loss})
	f.log.Info("validation", "job", f.s.Kind, "epoch", f.epoch, "steps", f.steps, "top1", fmt.Sprintf("%.2f%%", 100*v.Top1),
		"top5", fmt.Sprintf("%.2f%%", 100*v.Top5), "images", v.Images, "seconds", fmt.Sprintf("%.1f", v.Seconds))
	if recs := f.metrics.Records(); len(recs) > 0 {
		// The step the evaluation follows carries it (one more line, same iter).
		last := recs[len(recs)-1]
		last.Val = &v
		return f.metrics.Write(last)
	}
	return nil
}

// save checkpoints the state and the run's progress (once per position).
func (f *fitter) save(ctx context.Context) error {
	if f.savedAt == f.steps {
		return nil
	}
	if err := f.metrics.Flush(); err != nil {
		return err
	}
	st, err := f.be.State()
	if err != nil {
		return err
	}
	extra, err := json.Marshal(progress{Kind: f.s.Kind, Checkpoint: f.rep.Checkpoint, Epoch: f.epoch, StepsInEpoch: f.stepsInEpoch,
		LastEval: f.lastEval, ValSeconds: f.rep.ValSeconds, History: f.rep.History})
	if err != nil {
		return err
	}
	cfg, _ := stagestrain.JobYAML(f.job)
	ck := &checkpoint.Checkpoint{Iter: f.steps, Epoch: f.epoch, Cursor: f.cursor, Seed: f.job.Seed, Backend: f.be.Name(),
		Model: f.model, Config: cfg, Extra: extra, State: st}
	url, err := f.store.Save(ctx, f.ckptDir, ck, keepCheckpoints)
	if err != nil {
		return fmt.Errorf("%s: checkpoint at step %d: %w", f.s.Kind, f.steps, err)
	}
	f.savedAt = f.steps
	f.log.Info("checkpoint saved", "steps", f.steps, "epoch", f.epoch, "url", url)
	return nil
}

// Flush implements pipeline.Flusher: the input ended (every epoch read, or
// the budget stopped the source). A finished epoch is validated and counted.
func (f *fitter) Flush(ctx context.Context, _ pipeline.Emit) error {
	if f.finished || f.failed {
		return nil
	}
	f.finished = true
	if f.interrupted.Load() {
		return f.save(ctx) // the epoch is not over: the rerun goes on
	}
	if !f.done {
		if err := f.endEpoch(ctx, f.s.Epochs); err != nil {
			return err
		}
		return nil
	}
	if err := f.evaluate(ctx); err != nil {
		return err
	}
	return f.save(ctx)
}

// Drain implements pipeline.Drainer: a graceful stop checkpoints the last
// step (no validation: the rerun validates where it ends).
func (f *fitter) Drain(ctx context.Context) error {
	if f.finished || f.failed || f.steps == 0 {
		return nil
	}
	f.finished = true
	return f.save(ctx)
}

// finalEval validates when the run ended after steps no validation saw (a
// resumed run that had nothing left to train) and fills the report's
// accuracies.
func (f *fitter) finalEval(ctx context.Context) error {
	if len(f.rep.History) == 0 || f.lastEval != f.steps {
		if err := f.evaluate(ctx); err != nil {
			return err
		}
	}
	rep := f.rep
	rep.Steps = f.steps
	rep.Epochs = min(f.epoch, f.s.Epochs)
	best := rep.History[0]
	for _, h := range rep.History {
		if h.Top1 > best.Top1 {
			best = h
		}
	}
	last := rep.History[len(rep.History)-1]
	rep.Top1, rep.Top5, rep.BestEpoch = best.Top1, best.Top5, best.Epoch
	rep.FinalTop1, rep.FinalTop5 = last.Top1, last.Top5
	return nil
}

// writePlot draws <out>/loss.png (loss, validation top-1, learning rate).
func (f *fitter) writePlot() {
	if f.metrics == nil {
		return
	}
	if err := f.metrics.Flush(); err != nil {
		f.log.Warn("metrics", "err", err)
	}
	recs := f.metrics.Records()
	if len(recs) == 0 {
		return
	}
	title := fmt.Sprintf("%s evaluation of %s (%s), %d classes, batch %d", f.s.Kind, f.rep.Arch, f.rep.Checkpoint, f.rep.Classes, f.s.BatchSize)
	if err := metrics.PlotPNG(recs, title, filepath.Join(f.job.Out, "loss.png")); err != nil {
		f.log.Warn("plot", "err", errors.Unwrap(err))
	}
}

// percent is a share in [0, 1] as a percentage rounded to 0.01 (one image
// in 10,000).
func percent(x float64) float64 { return math.Round(1e4*x) / 100 }
