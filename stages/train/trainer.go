// Package train (stages/train; importers that also use the domain package
// train name it stagestrain) is the training stage: it
// registers the job kind "train" (read shards -> multi-crop augment ->
// batch -> Trainer) and implements the Trainer, the chain's Sink, which
// runs one SwAV step per batch on a train.Backend, writes metrics,
// checkpoints, resumes, and guards against non-finite losses and collapse.
package train

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"time"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/sinks/metrics"
	"github.com/swavgo/swav/sinks/tensorboard"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
	"github.com/swavgo/swav/train/swav"
)

// Options configure a Trainer.
type Options struct {
	// Config is the job's train section (validated).
	Config train.Config
	// Seed is the job's root seed; JobYAML the job as it ran (stored in
	// checkpoints).
	Seed    int64
	JobYAML []byte
	// Out is the run's output folder: metrics.jsonl, loss.png and, when
	// Config.Checkpoint.Dir and Config.Tensorboard are empty, checkpoints/
	// and tensorboard/.
	Out string
	// ItersPerEpoch is the schedule's iterations per epoch (>= 1).
	ItersPerEpoch int
	// Backend runs the steps. The Trainer owns it and closes it in Close.
	Backend train.Backend
	// Store reaches the checkpoint folder (S3 settings).
	Store checkpoint.Store
	// Resume, when set, is the checkpoint the run continues from; its state
	// must already be loaded into Backend (see Resume).
	Resume *checkpoint.Checkpoint
	// Stop asks the chain's source to stop; the Trainer calls it once the
	// run's budget (epochs, max_iters, max_seconds) is spent. Nil: the
	// Trainer ignores the batches that still arrive.
	Stop func()
	// Logger receives warnings and checkpoint notes (nil: slog.Default()).
	Logger *slog.Logger
	// Monitor, when set, evaluates the kNN monitor (train.monitor) after
	// the steps it says are due and after the last one; the Trainer owns it.
	Monitor *Monitor
	// Start is when the run's time budget (train.max_seconds) began
	// counting: Build sets it before it counts samples and reads the
	// monitor's images, so the budget covers them (zero: NewTrainer's time).
	Start time.Time
	// Now is the Trainer's clock: max_seconds, the fit, step and
	// checkpoint timings and the metrics' timestamps read it (nil: the wall
	// clock, time.Now). Tests pass a clock they advance, so that what they
	// check does not depend on the machine's load.
	Now func() time.Time
	// CollapseWindow is how many consecutive steps (after the prototypes
	// are unfrozen) with a loss within 1% of ln(K) raise the collapse
	// warning (0: max(ItersPerEpoch, 100)).
	CollapseWindow int
}

// Trainer is the train chain's Sink: one SwAV step per *augment.Batch. It
// is used by one worker (its Consume is not concurrent). It owns the
// backend and the metrics file; Close releases them.
type Trainer struct {
	opts    Options
	cfg     train.Config
	ipe     int
	ckptDir string
	log     *slog.Logger

	// Position of the next step: epoch, step within the epoch, global
	// iteration (epoch*ipe + it) and steps taken so far in this process.
	epoch, itInEpoch, iter, steps int
	cursor                        ingest.Position
	losses                        []float64
	lastSaved                     int // iteration of the newest checkpoint (-1: none)
	lastSavedURL                  string

	// The time budget: scheduleIters is the schedule's total fixed by
	// fit_to_budget (0: epochs*ipe), anchorIter and anchorProgress where
	// the last fit left the cosine (see lrAt); cycle the moving average of
	// a step's wall time, waiting for its batch included (0: none timed
	// yet); monitorSeconds and saveSeconds the last evaluation's and
	// checkpoint's.
	scheduleIters, anchorIter          int
	anchorProgress                     float64
	cycle, monitorSeconds, saveSeconds float64

	conv     converter
	metrics  *metrics.Writer
	tb       *tensorboard.Writer // nil: train.tensorboard is "off"
	collapse collapseGuard
	start    time.Time
	idleFrom time.Time // when the previous Consume returned

	done     bool // budget spent: later batches are released unseen
	failed   bool // a step failed: no checkpoint at the end
	finished bool
	closed   bool
}

// NewTrainer opens the metrics file (keeping the steps before a resumed
// checkpoint) and sets the Trainer at the resumed position or at
// iteration 0. It does not load the checkpoint's state into the backend.
func NewTrainer(opts Options) (*Trainer, error) {
	if opts.Backend == nil {
		return nil, errors.New("train: no backend")
	}
	if opts.ItersPerEpoch < 1 {
		return nil, fmt.Errorf("train: iterations per epoch must be at least 1, got %d", opts.ItersPerEpoch)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t := &Trainer{opts: opts, cfg: opts.Config, ipe: opts.ItersPerEpoch, log: opts.Logger, lastSaved: -1}
	t.ckptDir = CheckpointDir(opts.Config, opts.Out)
	if ck := opts.Resume; ck != nil {
		t.epoch, t.iter, t.cursor = ck.Epoch, ck.Iter, ck.Cursor
		t.itInEpoch = ck.Iter - ck.Epoch*t.ipe
		t.losses = append([]float64(nil), ck.Losses...)
		t.lastSaved = ck.Iter
		t.scheduleIters, t.anchorIter, t.anchorProgress = ck.ScheduleIters, ck.ScheduleAnchorIter, ck.ScheduleAnchorProgress
		if t.itInEpoch < 0 || t.itInEpoch > t.ipe {
			return nil, fmt.Errorf("train: checkpoint at iteration %d, epoch %d does not fit %d iterations per epoch", ck.Iter, ck.Epoch, t.ipe)
		}
	}
	w, err := metrics.Open(filepath.Join(opts.Out, "metrics.jsonl"), t.iter)
	if err != nil {
		return nil, err
	}
	t.metrics = w
	if dir := opts.Config.Tensorboard; dir != TensorboardOff {
		// A new event file per process: a resumed run's steps after its
		// checkpoint appear in both files, TensorBoard draws both.
		tb, err := tensorboard.Open(context.Background(), tensorboard.Dir(dir, opts.Out), tensorboard.Options{Store: opts.Store.Config})
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("train: %w", err)
		}
		t.tb = tb
		if opts.Monitor != nil {
			opts.Monitor.clusters = true
		}
	}
	window := opts.CollapseWindow
	if window <= 0 {
		window = max(t.ipe, 100)
	}
	t.collapse = collapseGuard{lnK: math.Log(float64(t.cfg.Model.Prototypes)), window: window}
	t.start = opts.Start
	if t.start.IsZero() {
		t.start = opts.Now()
	}
	t.idleFrom = opts.Now()
	if t.budgetSpent() {
		t.stop()
	}
	return t, nil
}

// since is the time passed on the Trainer's clock since then.
func (t *Trainer) since(then time.Time) time.Duration { return t.opts.Now().Sub(then) }

// TensorboardOff is the train.tensorboard value that writes no event file.
const TensorboardOff = "off"

// CheckpointDir is where a run's checkpoints go: train.checkpoint.dir, or
// <out>/checkpoints when that is empty.
func CheckpointDir(cfg train.Config, out string) string {
	if cfg.Checkpoint.Dir != "" {
		return cfg.Checkpoint.Dir
	}
	return filepath.Join(out, "checkpoints")
}

// Iter is the global iteration of the next step (= steps taken in the
// whole run, resumed ones included).
func (t *Trainer) Iter() int { return t.iter }

// Losses returns the loss of every step of the run so far, in order
// (resumed ones included). The slice is shared: do not modify it.
func (t *Trainer) Losses() []float64 { return t.losses }

// budgetSpent reports whether the run must not take another step.
func (t *Trainer) budgetSpent() bool { return t.budgetSpentAt(t.epoch, t.itInEpoch) }

// budgetSpentAt reports whether a step at (epoch, step it of the epoch) is
// outside the run's budget: the schedule, max_iters or max_seconds.
func (t *Trainer) budgetSpentAt(epoch, it int) bool {
	switch {
	case epoch >= t.cfg.Epochs, epoch == t.cfg.Epochs-1 && it >= t.ipe:
		return true
	case t.scheduleIters > 0 && epoch*t.ipe+it >= t.scheduleIters:
		return true
	case t.cfg.MaxIters > 0 && epoch*t.ipe+it >= t.cfg.MaxIters:
		return true
	case t.cfg.MaxSeconds > 0 && t.steps > 0 && t.secondsAfterNextStep() > t.cfg.MaxSeconds:
		// At least one step, so that a run whose start-up (reading, the
		// first crops) outlasts the budget still leaves a checkpoint.
		return true
	}
	return false
}

// closingSeconds is kept free at the end of max_seconds for what follows
// the trainer's last checkpoint: the metrics flush, loss.png, and the
// chain's shutdown (the quickstart's train_seconds includes them): 2 s, or
// 1% of a budget under 200 s.
func (t *Trainer) closingSeconds() float64 { return min(2, 0.01*t.cfg.MaxSeconds) }

// secondsAfterNextStep predicts the budget's clock after one more step and
// the work that ends a run (the last monitor evaluation and checkpoint, and
// closingSeconds), so that the run, not only its last step, ends within
// max_seconds.
func (t *Trainer) secondsAfterNextStep() float64 {
	end := t.saveSeconds + t.closingSeconds()
	if t.opts.Monitor != nil {
		end += t.monitorSeconds
	}
	return t.since(t.start).Seconds() + t.cycle + end
}

// totalIters is the schedule's length: fitted, or epochs*ipe.
func (t *Trainer) totalIters() int {
	if t.scheduleIters > 0 {
		return t.scheduleIters
	}
	return t.cfg.Epochs * t.ipe
}

// fitCalibrationSteps is how many steps fit_to_budget times before it fixes
// the schedule (the first ones allocate and fill caches: they run slower).
const fitCalibrationSteps = 100

// fitDue reports whether fit_to_budget fits the schedule after this step:
// after the calibration steps, then again after each kNN monitor
// evaluation (every refitEvery iterations without the monitor) until 80%
// of the schedule, so that the schedule follows the machine's actual pace.
func (t *Trainer) fitDue() bool {
	if !t.cfg.FitToBudget || t.cfg.MaxSeconds <= 0 || t.steps < fitCalibrationSteps {
		return false
	}
	if t.scheduleIters == 0 {
		return true
	}
	every := t.cfg.Monitor.EveryIters
	if t.opts.Monitor == nil || every <= 0 {
		every = refitEvery
	}
	return t.iter%every == 0 && float64(t.iter) < 0.8*float64(t.scheduleIters)
}

// refitEvery is how often the schedule is fitted again without a monitor
// (a fit without an evaluation to time costs nothing).
const refitEvery = 50

// lrAt is the learning rate of iteration iter. Without a fit it is the
// reference's schedule (swav.LRAt). A fit keeps the warm-up and continues
// the cosine from where it is: its progress q (0 at the end of the warm-up,
// 1 at the end) runs linearly from anchorProgress at anchorIter to 1 at
// scheduleIters, so a new total bends the curve without a jump.
func (t *Trainer) lrAt(iter int) float64 {
	warm := t.ipe * t.cfg.Optim.WarmupEpochs
	if t.scheduleIters == 0 || iter < warm {
		return swav.LRAt(t.cfg.Optim, t.ipe, t.cfg.Epochs, iter)
	}
	return swav.CosineLR(t.cfg.Optim, t.progressAt(iter))
}

// progressAt is the cosine's progress q at iter (see cosineProgress).
func (t *Trainer) progressAt(iter int) float64 {
	warm := t.ipe * t.cfg.Optim.WarmupEpochs
	return cosineProgress(iter, warm, t.totalIters(), t.scheduleIters > 0, t.anchorIter, t.anchorProgress)
}

// fitSchedule fixes the schedule's total iterations to those that fit in
// what is left of max_seconds: the steps at the measured cycle, the
// monitor's evaluations at their measured cost, and the run's closing
// evaluation and checkpoint, less a 3% margin for a machine that slows
// down (the budget check stops the run in time regardless). The schedule
// only shortens: it never runs past epochs.
func (t *Trainer) fitSchedule() {
	left := t.cfg.MaxSeconds - t.since(t.start).Seconds() - t.saveSeconds - t.closingSeconds()
	perIter := t.cycle
	if t.opts.Monitor != nil {
		left -= t.monitorSeconds
		if every := t.cfg.Monitor.EveryIters; every > 0 {
			perIter += t.monitorSeconds / float64(every)
		}
		if every := t.cfg.Monitor.EverySeconds; every > 0 {
			perIter *= 1 + t.monitorSeconds/every
		}
	}
	if every := t.cfg.Checkpoint.EveryIters; every > 0 {
		perIter += t.saveSeconds / float64(every)
	}
	more := 1
	if perIter > 0 && left > 0 {
		more = max(int(0.97*left/perIter), 1)
	}
	warm := t.ipe * t.cfg.Optim.WarmupEpochs
	anchor := max(t.iter, warm)
	total := min(max(t.iter+more, anchor+1), t.cfg.Epochs*t.ipe)
	if t.scheduleIters > 0 && math.Abs(float64(total-t.scheduleIters)) < 0.01*float64(t.scheduleIters) {
		return // within 1%: keep the schedule as it is
	}
	t.anchorProgress = t.progressAt(anchor)
	t.anchorIter, t.scheduleIters = anchor, total
	t.log.Info("schedule fitted to the time budget", "iterations", total, "epochs", fmt.Sprintf("%.2f", float64(total)/float64(t.ipe)),
		"max_seconds", t.cfg.MaxSeconds, "step_seconds", fmt.Sprintf("%.3f", t.cycle), "monitor_seconds", fmt.Sprintf("%.1f", t.monitorSeconds))
}

// stop marks the run done and asks the source to stop.
func (t *Trainer) stop() {
	if !t.done && t.opts.Stop != nil {
		t.opts.Stop()
	}
	t.done = true
}

// Consume runs one step on a batch and releases it. It blocks for the step
// (the whole forward/backward/LARS update) and, on a checkpoint iteration,
// for the checkpoint write. Batches with fewer rows than batch_size (the
// last partial batch; the reference drops it), batches beyond the epoch's
// iteration count and batches after the budget is spent advance the data
// cursor but take no step. A non-finite loss ends the run with an error
// naming the iteration (wrapping train.ErrNonFinite); the newest checkpoint
// stays the last good one.
//
// It reads as the reference's train() loop body (main_swav.py), one named
// step per line: the epoch boundary, the budget, the step (forward,
// Sinkhorn, loss, backward, LARS, prototypes frozen early), the record, the
// collapse guard, the kNN monitor and schedule fit, the metrics, and the
// checkpoint.
func (t *Trainer) Consume(ctx context.Context, item any) error {
	waited := t.since(t.idleFrom) // the wait for this batch (the reference's data_time)
	defer func() { t.idleFrom = t.opts.Now() }()
	b, err := asBatch(item)
	if err != nil {
		return err
	}
	defer b.Release()
	if t.done || t.failed {
		return nil
	}
	cursor, err := batchCursor(b)
	if err != nil {
		return err
	}
	epoch, it, err := t.crossEpoch(ctx, b.Epoch, cursor)
	if err != nil {
		return err
	}
	if t.budgetSpentAt(epoch, it) {
		t.stop() // the position stays that of the last step, as the checkpoint must
		return nil
	}
	t.moveTo(epoch, it)
	if skip, err := t.skipBatch(b, cursor); skip || err != nil {
		return err
	}
	in, res, took, err := t.step(ctx, b)
	if err != nil {
		return err
	}
	rec := t.record(in, res, took, waited)
	t.guardCollapse(rec)
	t.advance(cursor)
	spent, err := t.monitorAndFit(ctx, &rec)
	if err != nil {
		return err
	}
	if err := t.publish(ctx, rec); err != nil {
		return err
	}
	if err := t.checkpointIfDue(ctx, spent); err != nil {
		return err
	}
	if spent {
		t.stop()
	}
	return nil
}

// asBatch takes the chain's item as the batch Consume steps on; from here
// on the caller owns it and releases it. Any other item is released here
// (when it can be) and is an error: the train chain sends only batches.
func asBatch(item any) (*augment.Batch, error) {
	b, ok := item.(*augment.Batch)
	if !ok {
		if r, ok := item.(pipeline.Releaser); ok {
			r.Release()
		}
		return nil, fmt.Errorf("train: got %T, want *augment.Batch", item)
	}
	return b, nil
}

// crossEpoch is the epoch boundary: it returns the position (epoch, step
// within the epoch) that a batch of batchEpoch steps at. A batch of the
// current epoch continues it; the first batch of a later epoch starts that
// epoch at step 0, and when the epoch before it ended short it logs that
// and checkpoints the short epoch's end (blocking for the write) as a full
// epoch's end would be. A batch of an earlier epoch is an error: the source
// went backwards. It does not move the Trainer: the budget decides first.
func (t *Trainer) crossEpoch(ctx context.Context, batchEpoch int, cursor ingest.Position) (epoch, it int, err error) {
	switch {
	case batchEpoch < t.epoch:
		return 0, 0, fmt.Errorf("train: batch of epoch %d after epoch %d (the source went backwards; last sample %+v)", batchEpoch, t.epoch, cursor)
	case batchEpoch == t.epoch:
		return t.epoch, t.itInEpoch, nil
	}
	if t.itInEpoch > 0 && t.itInEpoch < t.ipe {
		// The epoch gave fewer full batches than the schedule counts
		// (iterations per epoch come from the sample count, which
		// includes the samples skipped since): its last iterations are
		// not run, the next epoch starts at its scheduled iteration, and
		// the epoch end is checkpointed as a full one would be.
		t.log.Warn("epoch ended short: skipped samples left too few full batches; the schedule goes on at the next epoch's first iteration",
			"epoch", t.epoch, "iterations", t.itInEpoch, "scheduled", t.ipe, "next_iter", batchEpoch*t.ipe)
		if err := t.save(ctx); err != nil {
			return 0, 0, err
		}
	}
	return batchEpoch, 0, nil
}

// moveTo sets the Trainer at the position of the next step: epoch, step it
// within it, and the global iteration epoch*ipe+it (the reference's
// iteration = epoch * len(train_loader) + it).
func (t *Trainer) moveTo(epoch, it int) {
	t.epoch, t.itInEpoch, t.iter = epoch, it, epoch*t.ipe+it
}

// skipBatch reports whether the batch takes no step: one with fewer rows
// than batch_size (the last partial batch, which the reference's loader
// drops) or beyond the epoch's iterations. Such a batch only moves the data
// cursor past its samples. A batch with more rows than batch_size is an
// error (and moves nothing).
func (t *Trainer) skipBatch(b *augment.Batch, cursor ingest.Position) (bool, error) {
	if b.Rows() == t.cfg.BatchSize && t.itInEpoch < t.ipe {
		return false, nil
	}
	if b.Rows() > t.cfg.BatchSize {
		return true, fmt.Errorf("train: batch of %d rows, batch_size is %d", b.Rows(), t.cfg.BatchSize)
	}
	t.cursor = cursor
	return true, nil
}

// step runs one SwAV iteration on the batch at the current position and
// returns its input, result and duration on the Trainer's clock. The
// backend does the algorithm (train.Backend.Step): prototypes normalised,
// forward of every crop group, Sinkhorn codes (with the queue from
// swav.epoch_queue_starts), the swapped-prediction loss, backward, the
// prototypes' gradients dropped for the first swav.freeze_prototypes_iters,
// and the LARS update at the schedule's learning rate (lrAt). It blocks for
// all of it, the Trainer's heaviest cost. The batch stays the caller's and
// must live until step returns: a crop group may alias its column, the
// others are converted into buffers the converter reuses. A failed step or
// a non-finite loss marks the run failed (no checkpoint after it) and is an
// error naming the iteration.
func (t *Trainer) step(ctx context.Context, b *augment.Batch) (*train.StepInput, train.StepResult, time.Duration, error) {
	began := t.opts.Now()
	groups, err := t.conv.groups(b)
	if err != nil {
		return nil, train.StepResult{}, 0, fmt.Errorf("train: iteration %d: %w", t.iter, err)
	}
	in := &train.StepInput{
		Iter:     t.iter,
		LR:       t.lrAt(t.iter),
		UseQueue: t.cfg.SwAV.QueueLength > 0 && t.epoch >= t.cfg.SwAV.EpochQueueStarts,
		Batch:    b.Rows(),
		Groups:   groups,
	}
	res, err := t.opts.Backend.Step(ctx, in)
	if err == nil && (math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0)) {
		err = fmt.Errorf("%w: loss %v", train.ErrNonFinite, res.Loss)
	}
	if err != nil {
		t.failed = true
		if errors.Is(err, train.ErrNonFinite) {
			return nil, train.StepResult{}, 0, t.nonFinite(in, err)
		}
		return nil, train.StepResult{}, 0, fmt.Errorf("train: iteration %d (epoch %d): %w", t.iter, t.epoch, err)
	}
	return in, res, t.since(began), nil
}

// record keeps the step's loss (for the checkpoint and the plot), folds its
// cycle (the step and the wait for its batch) into the moving average the
// time budget predicts with, and returns the step's metrics record. It
// costs nothing; the record is written later (publish), once the monitor
// has had its say.
func (t *Trainer) record(in *train.StepInput, res train.StepResult, took, waited time.Duration) metrics.Record {
	t.losses = append(t.losses, res.Loss)
	cycle := (took + waited).Seconds()
	if t.steps >= 10 { // the first steps allocate and warm caches: they would inflate the average
		if t.cycle == 0 {
			t.cycle = cycle
		}
		t.cycle += 0.05 * (cycle - t.cycle)
	}
	return metrics.Record{
		Iter: t.iter, Epoch: t.epoch, Loss: res.Loss, LR: in.LR,
		StepSeconds: took.Seconds(), ImagesPerSec: float64(in.Batch) / cycle,
		WaitFraction: waited.Seconds() / cycle, Time: t.opts.Now().UTC(),
	}
}

// guardCollapse feeds the step's loss to the collapse guard once the
// prototypes are unfrozen and logs the warning when the loss has stayed at
// ln(K) for the guard's window (training goes on). It costs nothing.
func (t *Trainer) guardCollapse(rec metrics.Record) {
	if rec.Iter < t.cfg.SwAV.FreezePrototypesIters {
		return
	}
	if t.collapse.observe(rec.Loss) {
		t.log.Warn(collapseWarning(rec.Iter, rec.Loss, t.collapse.lnK, t.collapse.window, t.cfg.Model.Prototypes))
	}
}

// advance moves the Trainer past the step just taken: the next iteration,
// one more step in this process, and the data cursor at the batch's last
// sample (what a checkpoint from now on resumes after).
func (t *Trainer) advance(cursor ingest.Position) {
	t.iter++
	t.itInEpoch++
	t.steps++
	t.cursor = cursor
}

// monitorAndFit runs, after a step, the kNN monitor when it is due and the
// fit of the schedule to max_seconds when that is due (a fit needs the cost
// of an evaluation, so one runs with it), and reports whether the budget is
// now spent: this was the run's last step. An evaluation blocks for
// embedding the bank and the queries (seconds); its result joins rec. Only
// a cancelled context is an error.
func (t *Trainer) monitorAndFit(ctx context.Context, rec *metrics.Record) (spent bool, err error) {
	fit := t.fitDue()
	spent = !fit && t.budgetSpent()
	if t.opts.Monitor.Due(t.iter, spent) || fit && t.opts.Monitor != nil {
		// The fit needs the cost of an evaluation: one runs now.
		if err := t.monitor(ctx, rec); err != nil {
			return false, err
		}
	}
	if fit {
		t.fitSchedule()
		spent = t.budgetSpent()
	}
	return spent, nil
}

// publish writes the step's record: a line of metrics.jsonl (buffered), a
// TensorBoard event (when on) and the engine's progress display and
// gauges. It blocks only when a buffer fills.
func (t *Trainer) publish(ctx context.Context, rec metrics.Record) error {
	if err := t.metrics.Write(rec); err != nil {
		return err
	}
	if err := t.writeEvent(ctx, rec); err != nil {
		return err
	}
	t.report(ctx, rec)
	return nil
}

// checkpointIfDue saves a checkpoint after the step that ends an epoch (as
// the reference does after each epoch), every checkpoint.every_iters
// iterations, and after the run's last step (spent). It blocks for the
// backend's State and the write.
func (t *Trainer) checkpointIfDue(ctx context.Context, spent bool) error {
	epochEnd := t.itInEpoch == t.ipe
	every := t.cfg.Checkpoint.EveryIters > 0 && t.iter%t.cfg.Checkpoint.EveryIters == 0
	if !epochEnd && !every && !spent {
		return nil
	}
	return t.save(ctx)
}

// monitor runs the kNN monitor on the weights after the step of rec and
// attaches the result to rec. A failed evaluation is logged and turns the
// monitor off (training goes on); only a cancelled context is an error.
func (t *Trainer) monitor(ctx context.Context, rec *metrics.Record) error {
	p, err := t.opts.Monitor.Evaluate(ctx, t.opts.Backend, t.iter)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.log.Warn("kNN monitor failed; training goes on without it", "iter", t.iter, "err", err)
		t.opts.Monitor = nil
		return nil
	}
	rec.KNN = p
	t.monitorSeconds = p.Seconds
	t.log.Info("kNN monitor", "iter", t.iter, "epoch", t.epoch, "k", p.K, "top1", fmt.Sprintf("%.2f%%", 100*p.Top1),
		"top5", fmt.Sprintf("%.2f%%", 100*p.Top5), "bank", p.Bank, "queries", p.Queries, "seconds", fmt.Sprintf("%.1f", p.Seconds))
	return nil
}

// nonFinite builds the error of a step whose loss was NaN or Inf.
func (t *Trainer) nonFinite(in *train.StepInput, err error) error {
	keep := "no checkpoint was written in this run's folder yet"
	if t.lastSaved >= 0 {
		keep = fmt.Sprintf("the last good checkpoint is iteration %d", t.lastSaved)
		if t.lastSavedURL != "" {
			keep += " (" + t.lastSavedURL + ")"
		}
	}
	return fmt.Errorf("train: iteration %d (epoch %d, lr %g): the loss is not finite, stopping; %s, it was not overwritten. "+
		"Lower the learning rate, raise swav.epsilon, or check the data: %w", in.Iter, t.epoch, in.LR, keep, err)
}

// writeEvent appends the step's TensorBoard event: one Event holding the
// loss, learning rate, images/s and data-wait share, and after a monitor
// evaluation its top-1/top-5, empty prototypes and cluster-size histogram.
func (t *Trainer) writeEvent(ctx context.Context, r metrics.Record) error {
	if t.tb == nil {
		return nil
	}
	sc := []tensorboard.Scalar{
		{Tag: "train/loss", Value: r.Loss}, {Tag: "train/lr", Value: r.LR},
		{Tag: "train/images_per_s", Value: r.ImagesPerSec}, {Tag: "train/data_wait_share", Value: r.WaitFraction},
		{Tag: "train/epoch", Value: float64(r.Epoch)},
	}
	var hs []tensorboard.Histogram
	if k := r.KNN; k != nil {
		sc = append(sc, tensorboard.Scalar{Tag: "monitor/knn_top1", Value: k.Top1}, tensorboard.Scalar{Tag: "monitor/knn_top5", Value: k.Top5})
		if len(k.ClusterSizes) > 0 {
			sizes := make([]float64, len(k.ClusterSizes))
			empty := 0
			for i, n := range k.ClusterSizes {
				sizes[i] = float64(n)
				if n == 0 {
					empty++
				}
			}
			sc = append(sc, tensorboard.Scalar{Tag: "monitor/empty_prototypes", Value: float64(empty)})
			hs = append(hs, tensorboard.NewHistogram("monitor/cluster_sizes", sizes, 30))
		}
	}
	if err := t.tb.Write(ctx, int64(r.Iter), r.Time, sc, hs); err != nil {
		return fmt.Errorf("train: iteration %d: %w", r.Iter, err)
	}
	return nil
}

// report publishes the step to the engine's progress display: the epoch
// as metrics.jsonl, checkpoints and log lines count it (from 0), and the
// steps done of the schedule's total ("epoch 0 iter 6/6" after the sixth
// step of a 6-iteration epoch).
func (t *Trainer) report(ctx context.Context, r metrics.Record) {
	pipeline.SetStatus(ctx, fmt.Sprintf("epoch %d iter %d/%d loss %.4f lr %.4g %.1f img/s",
		r.Epoch, r.Iter+1, t.totalIters(), r.Loss, r.LR, r.ImagesPerSec))
	pipeline.SetGauge(ctx, "loss", r.Loss)
	pipeline.SetGauge(ctx, "lr", r.LR)
	pipeline.SetGauge(ctx, "images_per_s", r.ImagesPerSec)
	pipeline.SetGauge(ctx, "wait_fraction", r.WaitFraction)
	if r.KNN != nil {
		pipeline.SetGauge(ctx, "knn_top1", r.KNN.Top1)
	}
}

// batchCursor reads the batch's last ingest position.
func batchCursor(b *augment.Batch) (ingest.Position, error) {
	switch p := b.Last.(type) {
	case ingest.Position:
		return p, nil
	case *ingest.Position:
		if p != nil {
			return *p, nil
		}
	}
	return ingest.Position{}, fmt.Errorf("train: batch of epoch %d has no ingest position (Last is %T)", b.Epoch, b.Last)
}

// save writes a checkpoint of the current state, unless one exists at this
// iteration already. It blocks for State() and the write.
func (t *Trainer) save(ctx context.Context) error {
	if t.lastSaved == t.iter {
		return nil
	}
	// The metrics of every step the checkpoint covers reach the disk first.
	if err := t.metrics.Flush(); err != nil {
		return fmt.Errorf("train: checkpoint at iteration %d: %w", t.iter, err)
	}
	if t.tb != nil {
		if err := t.tb.Flush(ctx); err != nil {
			return fmt.Errorf("train: checkpoint at iteration %d: %w", t.iter, err)
		}
	}
	st, err := t.opts.Backend.State()
	if err != nil {
		return fmt.Errorf("train: checkpoint at iteration %d: %w", t.iter, err)
	}
	ck := &checkpoint.Checkpoint{
		Iter: t.iter, Epoch: t.epoch, ItersPerEpoch: t.ipe, ScheduleIters: t.scheduleIters,
		ScheduleAnchorIter: t.anchorIter, ScheduleAnchorProgress: t.anchorProgress, Cursor: t.cursor,
		Seed: t.opts.Seed, Backend: t.opts.Backend.Name(), Model: t.cfg.Model,
		Config: t.opts.JobYAML, RNG: map[string]uint64{"seed": uint64(t.opts.Seed)},
		Losses: t.losses, State: st,
	}
	began := t.opts.Now()
	url, err := t.opts.Store.Save(ctx, t.ckptDir, ck, t.cfg.Checkpoint.Keep)
	if err != nil {
		return fmt.Errorf("train: iteration %d: %w", t.iter, err)
	}
	t.saveSeconds = t.since(began).Seconds()
	t.lastSaved, t.lastSavedURL = t.iter, url
	t.log.Info("checkpoint saved", "iter", t.iter, "epoch", t.epoch, "url", url)
	return nil
}

// finish checkpoints (unless a step failed or nothing changed), flushes the
// metrics and draws the plot. It runs once, from Flush or Drain.
func (t *Trainer) finish(ctx context.Context) error {
	if t.finished || t.failed {
		return nil
	}
	t.finished = true
	var errs []error
	if t.steps > 0 {
		errs = append(errs, t.save(ctx))
	}
	return errors.Join(append(errs, t.writeOutputs())...)
}

// writeOutputs flushes the metrics file and draws <out>/loss.png.
func (t *Trainer) writeOutputs() error {
	errs := []error{t.metrics.Flush()}
	if recs := t.metrics.Records(); len(recs) > 0 {
		title := fmt.Sprintf("SwAV %s, K=%d, batch %d", t.cfg.Model.Arch, t.cfg.Model.Prototypes, t.cfg.BatchSize)
		errs = append(errs, metrics.PlotPNG(recs, title, filepath.Join(t.opts.Out, "loss.png")))
	}
	return errors.Join(errs...)
}

// Flush implements pipeline.Flusher: at the end of the input (data
// exhausted or the budget spent) it writes the final checkpoint, the
// metrics and the plot.
func (t *Trainer) Flush(ctx context.Context, _ pipeline.Emit) error { return t.finish(ctx) }

// Drain implements pipeline.Drainer: on a graceful stop it checkpoints the
// state of the last completed step, so a resumed run continues there.
func (t *Trainer) Drain(ctx context.Context) error { return t.finish(ctx) }

// Close implements pipeline.Closer: it closes the metrics file and the
// backend. It never checkpoints (Flush or Drain did, or an error ended the
// run and the newest checkpoint stays the last good one), but after an
// error it still writes the metrics and the plot of the steps taken.
func (t *Trainer) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	if !t.finished {
		errs = append(errs, t.writeOutputs())
	}
	if t.tb != nil {
		errs = append(errs, t.tb.Close(context.Background()))
	}
	return errors.Join(append(errs, t.metrics.Close(), t.opts.Backend.Close())...)
}
