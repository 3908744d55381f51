package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc"
	"github.com/sourcegraph/conc/panics"
	"github.com/sourcegraph/conc/stream"
)

// Options tune one Run. The zero value is a quiet run that cannot be stopped
// gracefully (only by cancelling its context).
type Options struct {
	// Stop requests a graceful stop when it is closed (or receives): the
	// source's context is cancelled, items in flight run to the end of the
	// chain, the Flusher and then the Drainer hooks run (last stage first) and
	// Run returns an error wrapping ErrInterrupted. SignalContext provides one
	// wired to SIGINT/SIGTERM. Nil: no graceful stop.
	Stop <-chan struct{}
	// Progress receives the run's live metrics every Interval (nil: none).
	// NewProgress picks bars or log lines from the output.
	Progress Progress
	// Interval is how often Progress.Update is called (0: one second). Bars
	// (BarProgress) are updated at least every 250 ms.
	Interval time.Duration
	// Summary, when set, receives the end-of-run table (Report.WriteTable).
	Summary io.Writer
	// Skips, when set, receives one JSON line (Skipped) per sample a stage
	// skipped (RecordSkip), one Write per line; SkipsName names it in the
	// end-of-run table ("runs/x/skipped.jsonl"). The caller owns and closes it.
	Skips     io.Writer
	SkipsName string
}

// errStopRequested is the cause of the source context's cancellation on a
// graceful stop.
var errStopRequested = errors.New("graceful stop requested")

// Run executes a chain: specs[0] is the Source, specs[len-1] the Sink, the
// stages between are Processors. Stage i runs Workers goroutines reading the
// output channel of stage i-1 (capacity Spec.Buffer), so at most
// sum(Buffer) + sum(Workers) items (plus, for an Ordered stage, its reorder
// window of 2*Workers+2 items) are in flight whatever the speed of the stages:
// a slow stage blocks the ones before it (backpressure).
//
// Run blocks until every goroutine it started has returned. The first error
// of any stage (or a panic, turned into an error) cancels the run and comes
// back as `stage "name": <err>` (errors.Is/As see the stage's error). Items
// left in channels when the run ends are released (Releaser). Closer hooks
// always run, last stage first. The Report is never nil once the specs are
// valid, also on error, and holds the metrics up to the end. An invalid chain
// is an error before anything runs (its stages' Closers are still called).
//
// Interruptions: after a graceful stop, whatever the source returns once its
// context is cancelled does not fail the drain (a non-context error is quoted
// in the final error); when ctx is cancelled with cause ErrInterrupted (the
// second signal of SignalContext), the error wraps ErrInterrupted even if a
// stage failed on the way out.
func Run(ctx context.Context, specs []Spec, opts Options) (*Report, error) {
	if err := checkSpecs(specs); err != nil {
		// The stages were built and may hold resources: close them.
		for i := len(specs) - 1; i >= 0; i-- {
			st := &stage{spec: specs[i]}
			if c, ok := st.hook().(Closer); ok {
				_ = callSafely(c.Close)
			}
		}
		return nil, err
	}
	r := newRunner(ctx, specs, opts)
	defer r.cancel(nil)
	return r.run()
}

// checkSpecs rejects chains the engine cannot run.
func checkSpecs(specs []Spec) error {
	if len(specs) < 2 {
		return fmt.Errorf("pipeline: a chain needs a source and a sink, got %d stage(s)", len(specs))
	}
	seen := map[string]bool{}
	for i, s := range specs {
		set := 0
		for _, ok := range []bool{s.Source != nil, s.Processor != nil, s.Sink != nil} {
			if ok {
				set++
			}
		}
		switch {
		case s.Name == "":
			return fmt.Errorf("pipeline: stage %d has no name", i)
		case seen[s.Name]:
			return fmt.Errorf("pipeline: stage name %q used twice", s.Name)
		case set != 1:
			return fmt.Errorf("pipeline: stage %q must set exactly one of Source, Processor and Sink", s.Name)
		case i == 0 && s.Source == nil:
			return fmt.Errorf("pipeline: first stage %q is not a Source", s.Name)
		case i == len(specs)-1 && s.Sink == nil:
			return fmt.Errorf("pipeline: last stage %q is not a Sink", s.Name)
		case i > 0 && i < len(specs)-1 && s.Processor == nil:
			return fmt.Errorf("pipeline: middle stage %q is not a Processor", s.Name)
		case s.Workers < 0 || s.Buffer < 0:
			return fmt.Errorf("pipeline: stage %q: negative Workers or Buffer", s.Name)
		case s.Sink != nil && s.Ordered && s.Workers > 1:
			return fmt.Errorf("pipeline: sink %q: Ordered needs Workers <= 1", s.Name)
		}
		seen[s.Name] = true
	}
	return nil
}

// stage is one running stage: its spec, channels and counters.
type stage struct {
	spec    Spec
	workers int
	in      <-chan any // nil for the source
	out     chan any   // nil for the sink
	stats   *stageStats
}

// runner holds the state of one Run.
type runner struct {
	opts   Options
	parent context.Context
	ctx    context.Context // cancelled on the first error
	cancel context.CancelCauseFunc
	srcCtx context.Context // cancelled as well on a graceful stop
	srcCan context.CancelCauseFunc
	stages []*stage
	start  time.Time
	skips  *skipLog

	stopped  atomic.Bool
	errMu    sync.Mutex
	err      error
	stopNote error // what the source returned when intake was stopped
}

func newRunner(parent context.Context, specs []Spec, opts Options) *runner {
	r := &runner{opts: opts, parent: parent, start: time.Now(),
		skips: &skipLog{w: opts.Skips, name: opts.SkipsName, byClass: map[string]int{}}}
	r.ctx, r.cancel = context.WithCancelCause(parent)
	r.srcCtx, r.srcCan = context.WithCancelCause(r.ctx)
	var prev chan any
	for i, sp := range specs {
		st := &stage{spec: sp, workers: max(sp.Workers, 1), in: prev, stats: &stageStats{name: sp.Name, skips: r.skips}}
		if sp.Source != nil {
			st.workers = 1
		}
		if i < len(specs)-1 {
			buf := sp.Buffer
			if buf == 0 {
				buf = st.workers
			}
			st.out = make(chan any, buf)
			prev = st.out
		}
		r.stages = append(r.stages, st)
	}
	return r
}

// fail records the first error of the run and cancels it. Errors that are a
// consequence of an earlier cancellation are dropped.
func (r *runner) fail(st *stage, err error) {
	if err == nil {
		return
	}
	isCtx := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
	if isCtx && r.ctx.Err() != nil {
		return
	}
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if st.spec.Source != nil && r.stopped.Load() && r.srcCtx.Err() != nil {
		// Intake was stopped: whatever the source says about it (a read
		// cut by the cancellation, wrapped without %w) does not fail the
		// drain; a non-context error is kept for the final message.
		if !isCtx {
			r.stopNote = fmt.Errorf("stage %q: %w", st.spec.Name, err)
		}
		return
	}
	if r.err != nil {
		return
	}
	r.err = fmt.Errorf("stage %q: %w", st.spec.Name, err)
	r.cancel(r.err)
}

func (r *runner) firstErr() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.err
}

func (r *runner) run() (*Report, error) {
	done := make(chan struct{})
	var aux conc.WaitGroup
	if r.opts.Stop != nil {
		aux.Go(func() {
			select {
			case <-r.opts.Stop:
				r.stopped.Store(true)
				r.srcCan(errStopRequested)
			case <-done:
			}
		})
	}
	if r.opts.Progress != nil {
		infos := make([]StageInfo, len(r.stages))
		for i, st := range r.stages {
			infos[i] = StageInfo{Name: st.spec.Name, Workers: st.workers, Total: st.spec.Total}
		}
		r.opts.Progress.Start(infos)
		interval := r.opts.Interval
		if interval <= 0 {
			interval = time.Second
		}
		if _, bars := r.opts.Progress.(*BarProgress); bars {
			interval = min(interval, barRefresh)
		}
		aux.Go(func() {
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					r.opts.Progress.Update(r.report())
				case <-done:
					return
				}
			}
		})
	}

	var wg conc.WaitGroup
	for _, st := range r.stages {
		wg.Go(func() { r.runStage(st) })
	}
	wg.Wait()
	close(done)
	aux.Wait()

	// Every producer has closed its channel: release what nobody consumed.
	for _, st := range r.stages {
		if st.out != nil {
			for item := range st.out {
				release(item)
			}
		}
	}

	err := r.firstErr()
	if err == nil && r.parent.Err() != nil {
		switch cause := context.Cause(r.parent); {
		case errors.Is(cause, ErrInterrupted):
			err = fmt.Errorf("hard stop, items in flight dropped: %w", cause)
		case r.stopped.Load():
			err = fmt.Errorf("%w: cancelled while draining: %w", ErrInterrupted, cause)
		default:
			err = fmt.Errorf("run cancelled: %w", cause)
		}
	}
	if err == nil && r.stopped.Load() {
		var drainErrs []error
		for i := len(r.stages) - 1; i >= 0; i-- {
			st := r.stages[i]
			if d, ok := st.hook().(Drainer); ok {
				if derr := callSafely(func() error { return d.Drain(st.withStats(r.ctx)) }); derr != nil {
					drainErrs = append(drainErrs, fmt.Errorf("stage %q: drain: %w", st.spec.Name, derr))
				}
			}
		}
		stopErr := fmt.Errorf("run stopped after draining: %w", ErrInterrupted)
		r.errMu.Lock()
		if r.stopNote != nil {
			stopErr = fmt.Errorf("run stopped after draining: %w (intake: %w)", ErrInterrupted, r.stopNote)
		}
		r.errMu.Unlock()
		err = errors.Join(append([]error{stopErr}, drainErrs...)...)
	}
	if err != nil && !errors.Is(err, ErrInterrupted) && errors.Is(context.Cause(r.parent), ErrInterrupted) {
		// A stage failed while a hard stop cancelled it: still an interruption.
		err = fmt.Errorf("%w (hard stop): %w", ErrInterrupted, err)
	}
	var closeErrs []error
	for i := len(r.stages) - 1; i >= 0; i-- {
		st := r.stages[i]
		if c, ok := st.hook().(Closer); ok {
			if cerr := callSafely(c.Close); cerr != nil {
				closeErrs = append(closeErrs, fmt.Errorf("stage %q: close: %w", st.spec.Name, cerr))
			}
		}
	}
	if len(closeErrs) > 0 {
		err = errors.Join(append([]error{err}, closeErrs...)...)
	}

	rep := r.report()
	rep.Interrupted = r.stopped.Load()
	rep.Err = err
	if r.opts.Progress != nil {
		r.opts.Progress.Finish(rep)
	}
	if r.opts.Summary != nil {
		rep.WriteTable(r.opts.Summary)
	}
	return rep, err
}

// hook is the stage's implementation (the one of Source, Processor and Sink
// that is set), for the optional hook interfaces.
func (st *stage) hook() any {
	switch {
	case st.spec.Source != nil:
		return st.spec.Source
	case st.spec.Processor != nil:
		return st.spec.Processor
	default:
		return st.spec.Sink
	}
}

// callSafely runs f and turns a panic into an error carrying the stack.
func callSafely(f func() error) (err error) {
	var pc panics.Catcher
	pc.Try(func() { err = f() })
	if rec := pc.Recovered(); rec != nil {
		return rec.AsError()
	}
	return err
}

// release frees an item the engine drops.
func release(item any) {
	if rl, ok := item.(Releaser); ok {
		rl.Release()
	}
}

// sizeOf is the item's payload size for the byte counters (0 if unknown).
func sizeOf(item any) int64 {
	if s, ok := item.(Sizer); ok {
		return s.SizeBytes()
	}
	return 0
}

// runStage runs every worker of st, then its Flusher, then closes its output.
func (r *runner) runStage(st *stage) {
	if st.out != nil {
		defer close(st.out)
	}
	ctx := r.ctx
	if st.spec.Source != nil {
		ctx = r.srcCtx
	}
	ctx = st.withStats(ctx)
	switch {
	case st.spec.Source != nil:
		r.fail(st, r.runSource(ctx, st))
	case st.spec.Processor != nil && st.spec.Ordered && st.workers > 1:
		r.runOrdered(ctx, st)
	default:
		var wg conc.WaitGroup
		for range st.workers {
			wg.Go(func() { r.fail(st, r.runWorker(ctx, st)) })
		}
		wg.Wait()
	}
	if r.ctx.Err() != nil {
		return
	}
	if f, ok := st.hook().(Flusher); ok {
		var emit Emit
		if st.out != nil {
			emit = r.emitter(r.ctx, st, nil)
		}
		// A source flushes with the run's context: intake has stopped already.
		r.fail(st, callSafely(func() error { return f.Flush(st.withStats(r.ctx), emit) }))
	}
}

// emitter returns the Emit of stage st. It counts items and bytes out and the
// time blocked on a full channel (also into *blocked when not nil). own is the
// context the stage was given (the source's is cancelled on a graceful stop).
func (r *runner) emitter(own context.Context, st *stage, blocked *atomic.Int64) Emit {
	return func(ctx context.Context, item any) error {
		size := sizeOf(item)
		select {
		case st.out <- item:
		default:
			t0 := time.Now()
			select {
			case st.out <- item:
			case <-ctx.Done():
				release(item)
				return ctx.Err()
			case <-own.Done():
				release(item)
				return own.Err()
			}
			d := int64(time.Since(t0))
			st.stats.waitOut.Add(d)
			if blocked != nil {
				blocked.Add(d)
			}
		}
		st.stats.itemsOut.Add(1)
		st.stats.bytesOut.Add(size)
		return nil
	}
}

func (r *runner) runSource(ctx context.Context, st *stage) error {
	var blocked atomic.Int64
	emit := r.emitter(ctx, st, &blocked)
	t0 := time.Now()
	err := callSafely(func() error { return st.spec.Source.Run(ctx, emit) })
	st.stats.busy.Add(int64(time.Since(t0)) - blocked.Load())
	return err
}

// receive waits for the next input item; ok is false at the end of the
// input or when the run is cancelled. *clock is when the worker started
// waiting; receive counts the wait and moves *clock to the item's arrival
// (one clock read per item: reading the clock costs ~0.1 µs on a VM).
func (r *runner) receive(st *stage, clock *time.Time) (item any, ok bool) {
	select {
	case item, ok = <-st.in:
	case <-r.ctx.Done():
		return nil, false
	}
	now := time.Now()
	st.stats.waitIn.Add(int64(now.Sub(*clock)))
	*clock = now
	if ok {
		st.stats.itemsIn.Add(1)
		st.stats.bytesIn.Add(sizeOf(item))
	}
	return item, ok
}

// runWorker is one worker of an unordered Processor or of a Sink.
func (r *runner) runWorker(ctx context.Context, st *stage) error {
	var blocked atomic.Int64
	var emit Emit
	if st.out != nil {
		emit = r.emitter(ctx, st, &blocked)
	}
	clock := time.Now()
	for {
		item, ok := r.receive(st, &clock)
		if !ok {
			return nil
		}
		blocked.Store(0)
		var err error
		if st.spec.Sink != nil {
			err = consumeSafely(ctx, st.spec.Sink, item)
		} else {
			err = processSafely(ctx, st.spec.Processor, item, emit)
		}
		now := time.Now()
		st.stats.busy.Add(int64(now.Sub(clock)) - blocked.Load())
		clock = now
		if err != nil {
			return err
		}
	}
}

// processSafely calls p.Process and turns a panic into an error (no closure
// allocation on the per-item path).
func processSafely(ctx context.Context, p Processor, item any, emit Emit) (err error) {
	defer recoverInto(&err)
	return p.Process(ctx, item, emit)
}

// consumeSafely calls s.Consume and turns a panic into an error.
func consumeSafely(ctx context.Context, s Sink, item any) (err error) {
	defer recoverInto(&err)
	return s.Consume(ctx, item)
}

// recoverInto, deferred, turns a panic into *err with the panic's stack.
func recoverInto(err *error) {
	if v := recover(); v != nil {
		rec := panics.NewRecovered(1, v)
		*err = rec.AsError()
	}
}

// runOrdered runs an Ordered Processor with several workers on a conc
// stream: each item is processed by a pool goroutine into a slice, and the
// slices are emitted in input order. The stream holds at most Workers running
// tasks and Workers+1 finished ones waiting for their turn.
func (r *runner) runOrdered(ctx context.Context, st *stage) {
	s := stream.New().WithMaxGoroutines(st.workers)
	emit := r.emitter(ctx, st, nil)
	for {
		clock := time.Now()
		item, ok := r.receive(st, &clock)
		if !ok {
			break
		}
		s.Go(func() stream.Callback {
			var outs []any
			collect := func(_ context.Context, it any) error {
				outs = append(outs, it)
				return nil
			}
			t0 := time.Now()
			err := processSafely(ctx, st.spec.Processor, item, collect)
			st.stats.busy.Add(int64(time.Since(t0)))
			if err != nil {
				r.fail(st, err)
			}
			return func() {
				for k, out := range outs {
					if err != nil || r.ctx.Err() != nil {
						release(out)
						continue
					}
					if err = emit(ctx, out); err != nil {
						r.fail(st, err)
						for _, rest := range outs[k+1:] {
							release(rest)
						}
						return
					}
				}
			}
		})
	}
	s.Wait()
}
