package train

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/sinks/metrics"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
	"github.com/swavgo/swav/train/swav"
)

func testConfig() train.Config {
	cfg := train.DefaultConfig()
	cfg.BatchSize, cfg.Epochs = 4, 3
	cfg.Model = train.ModelConfig{Arch: "small", SmallStem: true, FeatDim: 8, Prototypes: 10}
	cfg.SwAV.QueueLength, cfg.SwAV.EpochQueueStarts, cfg.SwAV.FreezePrototypesIters = 8, 1, 2
	cfg.Optim.BaseLR, cfg.Optim.FinalLR, cfg.Optim.WarmupEpochs, cfg.Optim.StartWarmup = 0.5, 0.005, 1, 0.1
	cfg.Checkpoint.Keep = 2
	return cfg
}

// run feeds batches to a new Trainer like the engine does: it stops feeding
// (releasing the rest) once the Trainer calls Stop, then calls Flush and
// Close. It returns the Trainer, the backend and the first error.
func run(t *testing.T, opts Options, be *fakeBackend, batches []*augment.Batch) (*Trainer, error) {
	t.Helper()
	stopped := false
	opts.Stop = func() { stopped = true }
	opts.Backend = be
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	tr, err := NewTrainer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, b := range batches {
		if stopped || err != nil {
			b.Release()
			continue
		}
		err = tr.Consume(ctx, b)
	}
	if err == nil {
		err = tr.Flush(ctx, nil)
	}
	if cerr := tr.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if !be.closed {
		t.Fatal("backend not closed")
	}
	return tr, err
}

func TestTrainerEpochsMetricsCheckpoints(t *testing.T) {
	out := t.TempDir()
	cfg := testConfig()
	be := newFakeBackend(10)
	// 14 samples per epoch, batch 4: 3 full batches and a partial one (dropped).
	tr, err := run(t, Options{Config: cfg, Seed: 7, JobYAML: []byte("job: train\n"), Out: out, ItersPerEpoch: 3}, be,
		batchStream(3, 14, 4, []int{8, 8, 4}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(be.seen, want) {
		t.Fatalf("stepped iterations %v, want %v", be.seen, want)
	}
	recs, err := metrics.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if err != nil || len(recs) != 9 {
		t.Fatalf("metrics: %d records, %v", len(recs), err)
	}
	for i, r := range recs {
		if r.Iter != i || r.Epoch != i/3 || r.ImagesPerSec <= 0 || r.WaitFraction < 0 || r.WaitFraction > 1 || r.Loss != tr.Losses()[i] {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	if recs[2].LR != cfg.Optim.BaseLR || recs[0].LR != cfg.Optim.StartWarmup {
		t.Fatalf("lr schedule: %v %v", recs[0].LR, recs[2].LR)
	}
	if _, err := os.Stat(filepath.Join(out, "loss.png")); err != nil {
		t.Fatal(err)
	}
	// Epoch-end checkpoints at 3, 6, 9; keep 2.
	ents, _ := os.ReadDir(filepath.Join(out, "checkpoints"))
	if len(ents) != 2 || ents[0].Name() != checkpoint.FileName(6) || ents[1].Name() != checkpoint.FileName(9) {
		t.Fatalf("checkpoints %v", ents)
	}
	ck, err := checkpoint.Load(context.Background(), filepath.Join(out, "checkpoints", checkpoint.FileName(9)))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Epoch != 2 || ck.Cursor.Epoch != 2 || ck.Cursor.Seq != 11 || ck.Seed != 7 || len(ck.Losses) != 9 || ck.State.Queue == nil {
		t.Fatalf("checkpoint %+v cursor %+v", ck, ck.Cursor)
	}
}

// TestResumeMatchesUninterrupted: N steps in one go equal k steps, a stop
// (max_iters, or a graceful drain), and a resumed run, bit for bit.
func TestResumeMatchesUninterrupted(t *testing.T) {
	sizes := []int{8, 8, 4, 4}
	cfg := testConfig()
	cfg.Checkpoint.EveryIters = 4
	ipe := 3
	full, err := run(t, Options{Config: cfg, Out: t.TempDir(), ItersPerEpoch: ipe}, newFakeBackend(10), batchStream(3, 12, 4, sizes, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := full.Losses()
	if len(want) != 9 {
		t.Fatalf("%d steps", len(want))
	}
	for _, k := range []int{1, 3, 5, 8} {
		out := t.TempDir()
		first := cfg
		first.MaxIters = k
		if _, err := run(t, Options{Config: first, Out: out, ItersPerEpoch: ipe}, newFakeBackend(10), batchStream(3, 12, 4, sizes, nil)); err != nil {
			t.Fatal(err)
		}
		url, found, err := checkpoint.Latest(context.Background(), CheckpointDir(cfg, out))
		if err != nil || !found {
			t.Fatalf("k=%d: no checkpoint: %v", k, err)
		}
		ck, err := checkpoint.Load(context.Background(), url)
		if err != nil || ck.Iter != k {
			t.Fatalf("k=%d: checkpoint at %d: %v", k, ck.Iter, err)
		}
		be := newFakeBackend(10)
		if err := be.Load(ck.State); err != nil {
			t.Fatal(err)
		}
		resumed, err := run(t, Options{Config: cfg, Out: out, ItersPerEpoch: ipe, Resume: ck}, be, batchStream(3, 12, 4, sizes, &ck.Cursor))
		if err != nil {
			t.Fatal(err)
		}
		got := resumed.Losses()
		if !equalBits(got, want) {
			t.Fatalf("k=%d: resumed losses\n%v\nwant\n%v", k, got, want)
		}
		recs, _ := metrics.ReadFile(filepath.Join(out, "metrics.jsonl"))
		if len(recs) != len(want) {
			t.Fatalf("k=%d: %d metric records, want %d", k, len(recs), len(want))
		}
	}
}

func TestDrainCheckpointsLastStep(t *testing.T) {
	out := t.TempDir()
	be := newFakeBackend(10)
	tr, err := NewTrainer(Options{Config: testConfig(), Out: out, ItersPerEpoch: 3, Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, b := range batchStream(1, 8, 4, []int{4}, nil) {
		if err := tr.Consume(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	url, _, _ := checkpoint.Latest(ctx, filepath.Join(out, "checkpoints"))
	if filepath.Base(url) != checkpoint.FileName(2) {
		t.Fatalf("latest %s, want the drained iteration 2", url)
	}
}

func TestNonFiniteLossKeepsLastGoodCheckpoint(t *testing.T) {
	out := t.TempDir()
	cfg := testConfig()
	cfg.Checkpoint.EveryIters = 2
	be := newFakeBackend(10)
	be.nanAt = 5
	_, err := run(t, Options{Config: cfg, Out: out, ItersPerEpoch: 3}, be, batchStream(3, 12, 4, []int{4}, nil))
	if !errors.Is(err, train.ErrNonFinite) || !strings.Contains(err.Error(), "iteration 5 ") || !strings.Contains(err.Error(), "last good checkpoint is iteration 4") {
		t.Fatalf("err = %v", err)
	}
	url, _, _ := checkpoint.Latest(context.Background(), filepath.Join(out, "checkpoints"))
	if filepath.Base(url) != checkpoint.FileName(4) {
		t.Fatalf("latest %s, want iteration 4", url)
	}
	recs, _ := metrics.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if len(recs) != 5 {
		t.Fatalf("%d metric records, want the 5 good steps", len(recs))
	}
	if _, err := os.Stat(filepath.Join(out, "loss.png")); err != nil {
		t.Fatalf("no plot after the failure: %v", err)
	}
}

func TestCollapseWarning(t *testing.T) {
	var log bytes.Buffer
	be := newFakeBackend(10)
	be.flatLoss = true
	_, err := run(t, Options{Config: testConfig(), Out: t.TempDir(), ItersPerEpoch: 3, CollapseWindow: 4,
		Logger: slog.New(slog.NewTextHandler(&log, nil))}, be, batchStream(3, 12, 4, []int{4}, nil))
	if err != nil {
		t.Fatal(err)
	}
	msg := log.String()
	if strings.Count(msg, "possible collapse") != 1 || !strings.Contains(msg, "epsilon 0.03") || !strings.Contains(msg, "ln(10)") {
		t.Fatalf("log:\n%s", msg)
	}
}

func TestMaxSecondsStopsWithCheckpoint(t *testing.T) {
	out := t.TempDir()
	cfg := testConfig()
	cfg.MaxSeconds = 0.5
	be := newFakeBackend(10)
	clock := newFakeClock()
	be.delay, be.clock = 100*time.Millisecond, clock
	tr, err := run(t, Options{Config: cfg, Out: out, ItersPerEpoch: 3, Now: clock.Now}, be, batchStream(3, 12, 4, []int{4}, nil))
	if err != nil || len(be.seen) < 1 || len(be.seen) >= 9 {
		t.Fatalf("err %v, steps %v: want a stop before the end of the schedule", err, be.seen)
	}
	url, _, _ := checkpoint.Latest(context.Background(), filepath.Join(out, "checkpoints"))
	if filepath.Base(url) != checkpoint.FileName(tr.Iter()) {
		t.Fatalf("latest %s, want the stop's iteration %d", url, tr.Iter())
	}

	// A budget spent before the first batch arrives still takes one step
	// and leaves its checkpoint.
	cfg.MaxSeconds = 1e-9
	be = newFakeBackend(10)
	out = t.TempDir()
	clock = newFakeClock()
	be.delay, be.clock = time.Millisecond, clock
	tr, err = run(t, Options{Config: cfg, Out: out, ItersPerEpoch: 3, Now: clock.Now}, be, batchStream(3, 12, 4, []int{4}, nil))
	if err != nil || tr.Iter() != 1 || len(be.seen) != 1 {
		t.Fatalf("err %v, iter %d, steps %v", err, tr.Iter(), be.seen)
	}
	if url, found, _ := checkpoint.Latest(context.Background(), filepath.Join(out, "checkpoints")); !found || filepath.Base(url) != checkpoint.FileName(1) {
		t.Fatalf("latest %s", url)
	}
}

// TestFitToBudget: with fit_to_budget the schedule is fitted after the
// calibration steps to the iterations that fit in max_seconds, and fitted
// again as the pace changes (here the steps slow down to twice their time
// after iteration 120), so the cosine reaches its end (final_lr) when the
// budget does; the checkpoint keeps the fit and a resumed run goes on
// with it.
func TestFitToBudget(t *testing.T) {
	out := t.TempDir()
	cfg := testConfig()
	cfg.Epochs, cfg.MaxSeconds, cfg.FitToBudget = 20, 4, true
	const ipe = 20 // 400 iterations: more than fit in 4 s at 20 ms a step
	be := newFakeBackend(10)
	clock := newFakeClock() // time passes only in the steps: 15 ms each, 30 ms from iteration 120
	be.delay, be.slowFrom, be.clock = 15*time.Millisecond, 120, clock
	began := clock.Now()
	tr, err := run(t, Options{Config: cfg, Out: out, ItersPerEpoch: ipe, Start: began, Now: clock.Now}, be, batchStream(cfg.Epochs, ipe*cfg.BatchSize, cfg.BatchSize, []int{4}, nil))
	took := clock.Now().Sub(began).Seconds()
	if err != nil {
		t.Fatal(err)
	}
	url, _, _ := checkpoint.Latest(context.Background(), filepath.Join(out, "checkpoints"))
	ck, err := checkpoint.Load(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	total := ck.ScheduleIters
	if total <= fitCalibrationSteps || total >= cfg.Epochs*ipe {
		t.Fatalf("fitted schedule of %d iterations, want between %d and %d", total, fitCalibrationSteps, cfg.Epochs*ipe)
	}
	if ck.ScheduleAnchorIter <= fitCalibrationSteps {
		t.Errorf("the schedule was last fitted at iteration %d: not fitted again after the slow-down", ck.ScheduleAnchorIter)
	}
	if tr.Iter() > total || tr.Iter() < total*9/10 {
		t.Errorf("stopped at iteration %d of a fitted %d", tr.Iter(), total)
	}
	// Before the fit the schedule is the reference's, epochs long; after
	// it, and after every refit, the cosine bends without a jump: no step
	// changes the rate by more than twice the steepest slope a schedule
	// ending at total could have, and the rate never rises after the
	// warm-up.
	warm := ipe * cfg.Optim.WarmupEpochs
	steepest := 0.5 * (cfg.Optim.BaseLR - cfg.Optim.FinalLR) * math.Pi / float64(total-fitCalibrationSteps)
	for i, it := range be.seen {
		if it < fitCalibrationSteps && be.lrs[i] != swav.LRAt(cfg.Optim, ipe, cfg.Epochs, it) {
			t.Fatalf("iteration %d: lr %v before the fit, want the reference's %v", it, be.lrs[i], swav.LRAt(cfg.Optim, ipe, cfg.Epochs, it))
		}
		if i > 0 && it > warm {
			if d := be.lrs[i] - be.lrs[i-1]; d > 1e-12 || -d > 2*steepest {
				t.Fatalf("iteration %d: lr %v after %v: a jump", it, be.lrs[i], be.lrs[i-1])
			}
		}
	}
	if last := be.lrs[len(be.lrs)-1]; last > 0.05*cfg.Optim.BaseLR {
		t.Errorf("last lr %v: the cosine did not reach its end", last)
	}
	if took > cfg.MaxSeconds {
		t.Errorf("the run took %.2f s of a %.0f s budget on the test's clock", took, cfg.MaxSeconds)
	}

	// A resumed run keeps the fitted length.
	resumed, err := NewTrainer(Options{Config: cfg, Out: out, ItersPerEpoch: ipe, Backend: newFakeBackend(10), Resume: ck, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	if resumed.totalIters() != total {
		t.Errorf("resumed schedule %d iterations, want %d", resumed.totalIters(), total)
	}
	for i := len(be.seen) - 5; i < len(be.seen); i++ {
		if got := resumed.lrAt(be.seen[i]); got != be.lrs[i] {
			t.Errorf("iteration %d: resumed lr %v, the run's %v", be.seen[i], got, be.lrs[i])
		}
	}
}

func TestConsumeBadItems(t *testing.T) {
	cases := []struct {
		name string
		item func() any
		want string
	}{
		{"not a batch", func() any { return "hello" }, "want *augment.Batch"},
		{"no cursor", func() any { b := testBatch(0, 0, 4, []int{4}, "float32"); b.Last = nil; return b }, "no ingest position"},
		{"too many rows", func() any { return testBatch(0, 0, 5, []int{4}, "float32") }, "batch of 5 rows"},
		{"epoch goes back", nil, "went backwards"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := NewTrainer(Options{Config: testConfig(), Out: t.TempDir(), ItersPerEpoch: 3, Backend: newFakeBackend(10)})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			ctx := context.Background()
			var item any
			if c.item == nil {
				if err := tr.Consume(ctx, testBatch(1, 0, 4, []int{4}, "float32")); err != nil {
					t.Fatal(err)
				}
				item = testBatch(0, 4, 4, []int{4}, "float32")
			} else {
				item = c.item()
			}
			if err := tr.Consume(ctx, item); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestConverterGroupsAndNormalises(t *testing.T) {
	var c converter
	b := testBatch(0, 0, 2, []int{4, 4, 2, 2, 2}, augment.DTypeUint8)
	defer b.Release()
	groups, err := c.groups(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || groups[0].Size != 4 || groups[0].Count != 2 || groups[1].Size != 2 || groups[1].Count != 3 {
		t.Fatalf("groups %+v", groups)
	}
	mean, std := []float32{0.485, 0.456, 0.406}, []float32{0.228, 0.224, 0.225}
	for gi, g := range groups {
		first := []int{0, 2}[gi]
		per := 2 * 3 * g.Size * g.Size
		for ci := range g.Count {
			raw, _ := b.CropUint8(first + ci)
			for j, v := range raw {
				ch := (j / (g.Size * g.Size)) % 3
				if want := (float32(v)/255 - mean[ch]) / std[ch]; g.Data[ci*per+j] != want {
					t.Fatalf("group %d crop %d value %d: %v, want %v", gi, ci, j, g.Data[ci*per+j], want)
				}
			}
		}
	}
	// A float32 batch: a single-crop group aliases the column.
	fb := testBatch(0, 0, 2, []int{4, 2}, augment.DTypeFloat32)
	defer fb.Release()
	groups, err = c.groups(fb)
	col, _ := fb.CropFloat32(1)
	if err != nil || len(groups) != 2 || &groups[1].Data[0] != &col[0] {
		t.Fatalf("float32 groups: %v", err)
	}
}

func equalBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// TestShortEpochsKeepTheSchedule: an epoch with fewer full batches than
// iters_per_epoch (samples skipped) jumps to the next epoch's first
// iteration, so the LR schedule stays aligned; a run stopped there resumes
// exactly.
func TestShortEpochsKeepTheSchedule(t *testing.T) {
	cfg := testConfig()
	const ipe = 4 // the data has 3 full batches per epoch
	full := newFakeBackend(10)
	fullTr, err := run(t, Options{Config: cfg, Out: t.TempDir(), ItersPerEpoch: ipe}, full, batchStream(3, 12, 4, []int{4}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 4, 5, 6, 8, 9, 10}; !slices.Equal(full.seen, want) {
		t.Fatalf("iterations %v, want %v", full.seen, want)
	}
	out := t.TempDir()
	first := cfg
	first.MaxIters = 4 // reached by the first batch of epoch 1
	if _, err := run(t, Options{Config: first, Out: out, ItersPerEpoch: ipe}, newFakeBackend(10), batchStream(3, 12, 4, []int{4}, nil)); err != nil {
		t.Fatal(err)
	}
	url, _, _ := checkpoint.Latest(context.Background(), filepath.Join(out, "checkpoints"))
	ck, err := checkpoint.Load(context.Background(), url)
	if err != nil || ck.Iter != 3 || ck.Epoch != 0 || ck.Cursor.Epoch != 0 || ck.Cursor.Seq != 11 {
		t.Fatalf("checkpoint %+v: %v", ck, err)
	}
	be := newFakeBackend(10)
	be.Load(ck.State)
	resumed, err := run(t, Options{Config: cfg, Out: out, ItersPerEpoch: ipe, Resume: ck}, be, batchStream(3, 12, 4, []int{4}, &ck.Cursor))
	if err != nil {
		t.Fatal(err)
	}
	if !equalBits(resumed.Losses(), fullTr.Losses()) {
		t.Fatalf("resumed %v, want %v", resumed.Losses(), fullTr.Losses())
	}
}

// TestTwoTrainersOnOneCheckpointFolder: a requeued job starts while the old
// one still runs, both from the same state and on the same checkpoint
// folder. The first to reach an epoch end writes its checkpoint; the second
// stops with an error naming the folder and the iteration it found taken,
// and the first one's checkpoint is the one that loads.
func TestTwoTrainersOnOneCheckpointFolder(t *testing.T) {
	out := t.TempDir()
	ctx := context.Background()
	newTrainer := func() *Trainer {
		tr, err := NewTrainer(Options{Config: testConfig(), Out: out, ItersPerEpoch: 3, Backend: newFakeBackend(10),
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	first, second := newTrainer(), newTrainer()
	epoch := func(tr *Trainer) error {
		for _, b := range batchStream(1, 12, 4, []int{8, 8, 4}, nil) {
			if err := tr.Consume(ctx, b); err != nil {
				return err
			}
		}
		return nil
	}
	if err := epoch(first); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(out, "checkpoints")
	err := epoch(second)
	if !errors.Is(err, checkpoint.ErrTaken) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "iteration 3") {
		t.Fatalf("second trainer: %v; want ErrTaken naming %s and iteration 3", err, dir)
	}
	for _, tr := range []*Trainer{first, second} {
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ck, err := checkpoint.Load(ctx, filepath.Join(dir, checkpoint.FileName(3)))
	if err != nil || !slices.Equal(ck.Losses, first.Losses()) {
		t.Fatalf("the checkpoint is not the first trainer's: %v", err)
	}
}
