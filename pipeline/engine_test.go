package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/swavgo/swav/pipeline"
)

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler)) // SignalContext's warnings
	goleak.VerifyTestMain(m, leakOpts...)
}

// os/signal keeps one runtime goroutine once Notify was called.
var leakOpts = []goleak.Option{goleak.IgnoreAnyFunction("os/signal.signal_recv"), goleak.IgnoreAnyFunction("os/signal.loop")}

// counter is a Source emitting 0..n-1 (n < 0: until cancelled).
type counter struct {
	n       int
	emitted atomic.Int64
	onEmit  func(i int) // called after each successful emit
}

func (c *counter) Run(ctx context.Context, emit pipeline.Emit) error {
	for i := 0; c.n < 0 || i < c.n; i++ {
		if err := emit(ctx, i); err != nil {
			return err
		}
		c.emitted.Add(1)
		if c.onEmit != nil {
			c.onEmit(i)
		}
	}
	return nil
}

// procFunc adapts a function to a Processor.
type procFunc func(ctx context.Context, item any, emit pipeline.Emit) error

func (f procFunc) Process(ctx context.Context, item any, emit pipeline.Emit) error {
	return f(ctx, item, emit)
}

// collector is a Sink keeping what it consumed.
type collector struct {
	mu    sync.Mutex
	items []any
	delay time.Duration
	fail  func(item any) error
}

func (c *collector) Consume(ctx context.Context, item any) error {
	if c.fail != nil {
		if err := c.fail(item); err != nil {
			return err
		}
	}
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	c.mu.Lock()
	c.items = append(c.items, item)
	c.mu.Unlock()
	return nil
}

func double(_ context.Context, item any, emit pipeline.Emit) error {
	return emit(context.Background(), item.(int)*2)
}

func TestRunDeliversEveryItem(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int
		ordered bool
	}{
		{"one worker", 1, false},
		{"four workers unordered", 4, false},
		{"four workers ordered", 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, leakOpts...)
			const n = 500
			sink := &collector{}
			rep, err := pipeline.Run(t.Context(), []pipeline.Spec{
				{Name: "count", Source: &counter{n: n}, Total: n},
				{Name: "double", Processor: procFunc(double), Workers: tc.workers, Ordered: tc.ordered},
				{Name: "collect", Sink: sink},
			}, pipeline.Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := make([]any, n)
			for i := range want {
				want[i] = 2 * i
			}
			got := slices.Clone(sink.items)
			if !tc.ordered {
				slices.SortFunc(got, func(a, b any) int { return a.(int) - b.(int) })
			}
			if !slices.Equal(got, want) {
				t.Fatalf("sink got %d items, order kept=%v", len(got), tc.ordered)
			}
			for _, name := range []string{"count", "double", "collect"} {
				s, ok := rep.Stage(name)
				if !ok {
					t.Fatalf("no report for %s", name)
				}
				if name != "count" && s.ItemsIn != n || name != "collect" && s.ItemsOut != n {
					t.Errorf("%s: items in %d out %d, want %d", name, s.ItemsIn, s.ItemsOut, n)
				}
			}
		})
	}
}

var errBoom = errors.New("boom")

func TestFailingStageStopsTheRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ordered bool
		panics  bool
	}{
		{"error", false, false},
		{"error ordered", true, false},
		{"panic", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, leakOpts...)
			src := &counter{n: -1} // endless: only cancellation stops it
			fail := procFunc(func(ctx context.Context, item any, emit pipeline.Emit) error {
				if item.(int) == 100 {
					if tc.panics {
						panic(errBoom)
					}
					return fmt.Errorf("item %d: %w", item, errBoom)
				}
				return emit(ctx, item)
			})
			sink := &collector{}
			rep, err := pipeline.Run(t.Context(), []pipeline.Spec{
				{Name: "count", Source: src},
				{Name: "explode", Processor: fail, Workers: 3, Ordered: tc.ordered},
				{Name: "collect", Sink: sink},
			}, pipeline.Options{})
			if !errors.Is(err, errBoom) {
				t.Fatalf("err = %v, want errBoom", err)
			}
			if !strings.HasPrefix(err.Error(), `stage "explode": `) {
				t.Fatalf("error does not name the stage: %v", err)
			}
			if rep == nil || rep.Err == nil {
				t.Fatal("report missing or without the error")
			}
			// The endless source was stopped by the cancellation.
			if src.emitted.Load() < 100 {
				t.Fatalf("source emitted only %d", src.emitted.Load())
			}
		})
	}
}

func TestParentCancelStopsTheRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	src := &counter{n: -1, onEmit: func(i int) {
		if i == 50 {
			cancel()
		}
	}}
	_, err := pipeline.Run(ctx, []pipeline.Spec{
		{Name: "count", Source: src},
		{Name: "collect", Sink: &collector{}},
	}, pipeline.Options{})
	if !errors.Is(err, context.Canceled) || errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// tracked is an item that counts its releases.
type tracked struct {
	released *atomic.Int64
	n        int
}

func (t tracked) Release()         { t.released.Add(1) }
func (t tracked) SizeBytes() int64 { return 8 }

func TestDroppedItemsAreReleased(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) {
			var made, released, consumed atomic.Int64
			src := sourceFunc(func(ctx context.Context, emit pipeline.Emit) error {
				for i := 0; ; i++ {
					made.Add(1)
					if err := emit(ctx, tracked{&released, i}); err != nil {
						return err
					}
				}
			})
			// pass splits each item in two: the input is released, two are made.
			pass := procFunc(func(ctx context.Context, item any, emit pipeline.Emit) error {
				in := item.(tracked)
				in.Release()
				for k := range 2 {
					made.Add(1)
					if err := emit(ctx, tracked{&released, 2*in.n + k}); err != nil {
						return err
					}
				}
				return nil
			})
			sink := &collector{fail: func(item any) error {
				item.(tracked).Release()
				if item.(tracked).n == 400 {
					return errBoom
				}
				consumed.Add(1)
				return nil
			}}
			_, err := pipeline.Run(t.Context(), []pipeline.Spec{
				{Name: "make", Source: src, Buffer: 16},
				{Name: "pass", Processor: pass, Workers: 3, Ordered: ordered, Buffer: 16},
				{Name: "take", Sink: sink},
			}, pipeline.Options{})
			if !errors.Is(err, errBoom) {
				t.Fatal(err)
			}
			if made.Load() != released.Load() {
				t.Fatalf("made %d items, released %d (consumed %d): leak or double release", made.Load(), released.Load(), consumed.Load())
			}
		})
	}
}

type sourceFunc func(ctx context.Context, emit pipeline.Emit) error

func (f sourceFunc) Run(ctx context.Context, emit pipeline.Emit) error { return f(ctx, emit) }

// TestBackpressureBoundsItemsInFlight runs a fast source into a slow sink and
// checks that the items created but not yet consumed never exceed what the
// channels and workers can hold.
func TestBackpressureBoundsItemsInFlight(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int
		ordered bool
		buffer  int
	}{
		{"unordered", 3, false, 4},
		{"ordered", 3, true, 2},
		{"default buffers", 1, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var inFlight, peak atomic.Int64
			note := func(d int64) {
				v := inFlight.Add(d)
				for p := peak.Load(); v > p && !peak.CompareAndSwap(p, v); p = peak.Load() {
				}
			}
			const n = 400
			src := sourceFunc(func(ctx context.Context, emit pipeline.Emit) error {
				for i := range n {
					note(1) // created: counted before it is handed on
					if err := emit(ctx, i); err != nil {
						return err
					}
				}
				return nil
			})
			sink := &collector{delay: 200 * time.Microsecond, fail: func(any) error { note(-1); return nil }}
			specs := []pipeline.Spec{
				{Name: "src", Source: src, Buffer: tc.buffer},
				{Name: "mid", Processor: procFunc(double), Workers: tc.workers, Ordered: tc.ordered, Buffer: tc.buffer},
				{Name: "slow", Sink: sink},
			}
			if _, err := pipeline.Run(t.Context(), specs, pipeline.Options{}); err != nil {
				t.Fatal(err)
			}
			// Bound: each channel's capacity, one item per worker, the item the
			// source holds, and an ordered stage's reorder window.
			bound := int64(1 + 1) // the source's item, the sink's item
			for _, s := range specs[:2] {
				buf := s.Buffer
				if buf == 0 {
					buf = max(s.Workers, 1)
				}
				bound += int64(buf)
			}
			bound += int64(tc.workers)
			if tc.ordered {
				bound += int64(2*tc.workers + 2)
			}
			if got := peak.Load(); got > bound {
				t.Fatalf("peak items in flight %d > bound %d", got, bound)
			}
			if len(sink.items) != n {
				t.Fatalf("sink got %d of %d", len(sink.items), n)
			}
		})
	}
}

// drainRecorder is a Sink that records its hooks.
type drainRecorder struct {
	collector
	name string
	log  *[]string
	mu   *sync.Mutex
}

func (d *drainRecorder) record(s string) {
	d.mu.Lock()
	*d.log = append(*d.log, s)
	d.mu.Unlock()
}
func (d *drainRecorder) Drain(context.Context) error { d.record("drain " + d.name); return nil }
func (d *drainRecorder) Close() error                { d.record("close " + d.name); return nil }

type drainProc struct {
	procFunc
	rec *drainRecorder
}

func (d *drainProc) Drain(ctx context.Context) error { return d.rec.Drain(ctx) }
func (d *drainProc) Close() error                    { return d.rec.Close() }

func TestGracefulStopDrainsInFlightItems(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	var mu sync.Mutex
	var hooks []string
	stop := make(chan struct{})
	src := &counter{n: -1, onEmit: func(i int) {
		if i == 300 {
			close(stop)
		}
	}}
	sink := &drainRecorder{name: "sink", log: &hooks, mu: &mu}
	mid := &drainProc{procFunc: double, rec: &drainRecorder{name: "mid", log: &hooks, mu: &mu}}
	rep, err := pipeline.Run(t.Context(), []pipeline.Spec{
		{Name: "count", Source: src, Buffer: 8},
		{Name: "mid", Processor: mid, Workers: 2, Buffer: 8},
		{Name: "sink", Sink: sink},
	}, pipeline.Options{Stop: stop})
	if !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	if !rep.Interrupted {
		t.Error("report not marked interrupted")
	}
	if got, want := int64(len(sink.items)), src.emitted.Load(); got != want {
		t.Fatalf("sink consumed %d items, source emitted %d: items in flight were lost", got, want)
	}
	if want := []string{"drain sink", "drain mid", "close sink", "close mid"}; !slices.Equal(hooks, want) {
		t.Fatalf("hooks %v, want %v", hooks, want)
	}
}

func TestSignalDrainsAndLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	ctx, stop, release := pipeline.SignalContext(t.Context())
	defer release()
	src := &counter{n: -1, onEmit: func(i int) {
		if i == 100 {
			if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
				panic(err)
			}
		}
	}}
	sink := &collector{}
	_, err := pipeline.Run(ctx, []pipeline.Spec{
		{Name: "count", Source: src},
		{Name: "sink", Sink: sink},
	}, pipeline.Options{Stop: stop})
	if !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	if int64(len(sink.items)) != src.emitted.Load() {
		t.Fatalf("sink %d, source %d", len(sink.items), src.emitted.Load())
	}
	release()
}

func TestSecondSignalAborts(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	ctx, stop, release := pipeline.SignalContext(t.Context(), syscall.SIGUSR1)
	defer release()
	for range 2 {
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		if _, ok := <-stop; ok {
			t.Fatal("stop channel delivered a value instead of closing")
		}
	}
	<-ctx.Done()
	if !errors.Is(context.Cause(ctx), pipeline.ErrInterrupted) {
		t.Fatalf("cause %v", context.Cause(ctx))
	}
}

func TestBottleneckIsTheBusiestStage(t *testing.T) {
	slow := procFunc(func(ctx context.Context, item any, emit pipeline.Emit) error {
		time.Sleep(time.Millisecond)
		return emit(ctx, item)
	})
	var out bytes.Buffer
	rep, err := pipeline.Run(t.Context(), []pipeline.Spec{
		{Name: "count", Source: &counter{n: 60}},
		{Name: "slow", Processor: slow},
		{Name: "sink", Sink: &collector{}},
	}, pipeline.Options{Summary: &out})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Bottleneck != "slow" {
		t.Fatalf("bottleneck %q, want slow", rep.Bottleneck)
	}
	if !strings.Contains(out.String(), "bottleneck: slow") || !strings.Contains(out.String(), "*slow") {
		t.Fatalf("summary does not name the bottleneck:\n%s", out.String())
	}
	src, _ := rep.Stage("count")
	if src.WaitOut == 0 {
		t.Error("the source never waited on the slow stage")
	}
	sink, _ := rep.Stage("sink")
	if sink.WaitIn == 0 {
		t.Error("the sink never waited for input")
	}
}

// gaugeSink reports a status and a gauge.
type gaugeSink struct{ n int }

func (g *gaugeSink) Consume(ctx context.Context, item any) error {
	g.n++
	pipeline.SetStatus(ctx, fmt.Sprintf("step %d", g.n))
	pipeline.SetGauge(ctx, "loss", 1/float64(g.n))
	pipeline.SetSummary(ctx, fmt.Sprintf("took %d steps", g.n))
	return nil
}

// recordingProgress keeps every snapshot it receives.
type recordingProgress struct {
	started  []pipeline.StageInfo
	updates  int
	finished *pipeline.Report
}

func (r *recordingProgress) Start(s []pipeline.StageInfo)  { r.started = s }
func (r *recordingProgress) Update(*pipeline.Report)       { r.updates++ }
func (r *recordingProgress) Finish(final *pipeline.Report) { r.finished = final }

func TestStatusGaugesAndProgress(t *testing.T) {
	prog := &recordingProgress{}
	slowSrc := &counter{n: 20, onEmit: func(int) { time.Sleep(time.Millisecond) }}
	rep, err := pipeline.Run(t.Context(), []pipeline.Spec{
		{Name: "count", Source: slowSrc, Total: 20},
		{Name: "train", Sink: &gaugeSink{}},
	}, pipeline.Options{Progress: prog, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := rep.Stage("train")
	if s.Status != "step 20" || s.Gauges["loss"] != 1.0/20 {
		t.Fatalf("status %q gauges %v", s.Status, s.Gauges)
	}
	if len(prog.started) != 2 || prog.started[0].Total != 20 || prog.finished != rep || prog.updates == 0 {
		t.Fatalf("progress calls: start %v updates %d finish %v", prog.started, prog.updates, prog.finished)
	}
	// The summary is the table's last line, alone and word for word.
	var table strings.Builder
	rep.WriteTable(&table)
	if lines := strings.Split(strings.TrimSpace(table.String()), "\n"); lines[len(lines)-1] != "took 20 steps" {
		t.Fatalf("the table ends with %q, want the summary line", lines[len(lines)-1])
	}
	// Outside a run these do nothing.
	pipeline.SetSummary(context.Background(), "x")
	pipeline.SetStatus(context.Background(), "x")
	pipeline.SetGauge(context.Background(), "x", 1)
}

// batcher groups ints in pairs and flushes the odd one at the end.
type batcher struct {
	mu      sync.Mutex
	pending []int
}

func (b *batcher) Process(ctx context.Context, item any, emit pipeline.Emit) error {
	b.pending = append(b.pending, item.(int))
	if len(b.pending) == 2 {
		out := b.pending
		b.pending = nil
		return emit(ctx, out)
	}
	return nil
}

func (b *batcher) Flush(ctx context.Context, emit pipeline.Emit) error {
	if len(b.pending) > 0 {
		return emit(ctx, b.pending)
	}
	return nil
}

func TestFlusherEmitsHeldItems(t *testing.T) {
	sink := &collector{}
	_, err := pipeline.Run(t.Context(), []pipeline.Spec{
		{Name: "count", Source: &counter{n: 5}},
		{Name: "pairs", Processor: &batcher{}},
		{Name: "sink", Sink: sink},
	}, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(sink.items); got != "[[0 1] [2 3] [4]]" {
		t.Fatalf("got %s", got)
	}
}

func TestInvalidChains(t *testing.T) {
	src, sink, proc := &counter{}, &collector{}, procFunc(double)
	for _, tc := range []struct {
		name  string
		specs []pipeline.Spec
		want  string
	}{
		{"empty", nil, "needs a source and a sink"},
		{"no name", []pipeline.Spec{{Source: src}, {Name: "b", Sink: sink}}, "has no name"},
		{"duplicate", []pipeline.Spec{{Name: "a", Source: src}, {Name: "a", Sink: sink}}, "used twice"},
		{"two roles", []pipeline.Spec{{Name: "a", Source: src, Sink: sink}, {Name: "b", Sink: sink}}, "exactly one"},
		{"sink first", []pipeline.Spec{{Name: "a", Sink: sink}, {Name: "b", Sink: sink}}, "not a Source"},
		{"no sink", []pipeline.Spec{{Name: "a", Source: src}, {Name: "b", Processor: proc}}, "not a Sink"},
		{"source in middle", []pipeline.Spec{{Name: "a", Source: src}, {Name: "m", Source: src}, {Name: "b", Sink: sink}}, "not a Processor"},
		{"negative", []pipeline.Spec{{Name: "a", Source: src, Buffer: -1}, {Name: "b", Sink: sink}}, "negative"},
		{"ordered sink", []pipeline.Spec{{Name: "a", Source: src}, {Name: "b", Sink: sink, Workers: 2, Ordered: true}}, "Ordered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipeline.Run(t.Context(), tc.specs, pipeline.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	for in, want := range map[int64]string{0: "0B", 1023: "1023B", 1024: "1.0KiB", 1536 * 1024: "1.5MiB", 3 << 30: "3.0GiB"} {
		if got := pipeline.FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%d) = %s, want %s", in, got, want)
		}
	}
}

// Example shows a chain: a source of numbers, a processor squaring them with
// four ordered workers, and a sink summing them.
func ExampleRun() {
	square := procFunc(func(ctx context.Context, item any, emit pipeline.Emit) error {
		n := item.(int)
		return emit(ctx, n*n)
	})
	sum := &collector{}
	rep, err := pipeline.Run(context.Background(), []pipeline.Spec{
		{Name: "numbers", Source: &counter{n: 10}, Total: 10},
		{Name: "square", Processor: square, Workers: 4, Ordered: true, Buffer: 8},
		{Name: "sum", Sink: sum},
	}, pipeline.Options{})
	if err != nil {
		panic(err)
	}
	s, _ := rep.Stage("square")
	fmt.Println(sum.items, s.ItemsIn, s.ItemsOut)
	// Output: [0 1 4 9 16 25 36 49 64 81] 10 10
}

// ExampleSignalContext wires SIGINT/SIGTERM to a run: the first signal
// drains (Run returns an error wrapping ErrInterrupted, exit code 130), the
// second aborts.
func ExampleSignalContext() {
	ctx, stop, release := pipeline.SignalContext(context.Background())
	defer release()
	specs := []pipeline.Spec{
		{Name: "numbers", Source: &counter{n: 1000}},
		{Name: "sink", Sink: &collector{}},
	}
	rep, err := pipeline.Run(ctx, specs, pipeline.Options{Stop: stop, Summary: os.Stderr})
	switch {
	case errors.Is(err, pipeline.ErrInterrupted):
		fmt.Println("stopped after draining; bottleneck", rep.Bottleneck)
	case err != nil:
		fmt.Println("failed:", err)
	}
}
