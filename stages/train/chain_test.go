package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/swavgo/swav/train/cpu"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/sinks/metrics"
	"github.com/swavgo/swav/sinks/tensorboard/tbtest"
	"github.com/swavgo/swav/stages"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
)

// fashionShards writes the first n real Fashion-MNIST test images as
// WebDataset shards of perShard samples under dir and returns the shard URL
// pattern.
func fashionShards(t *testing.T, dir string, n, perShard int) string {
	t.Helper()
	ctx := context.Background()
	b, err := store.OpenDir(ctx, dir+"/", store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := ingest.MakeFashionMNISTFirst(ctx, "test", b, perShard, n); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("Fashion-MNIST not installed: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, fmt.Sprintf("fmnist-test-{000000..%06d}.tar", (n+perShard-1)/perShard-1))
}

// tinyJob is a train job small enough for a test: a small network on 16-px
// and 8-px crops of 40 Fashion-MNIST images, batch 8 (5 iterations per
// epoch), a queue from epoch 1.
func tinyJob(shards, out string) *configs.Job {
	job := configs.Default()
	job.Job, job.Out, job.Seed, job.Progress = JobKind, out, 5, "off"
	job.Data.Shards = []string{shards}
	job.Data.Format, job.Data.ShuffleBuffer, job.Data.Workers, job.Data.Prefetch = "wds", 16, 1, 0
	job.Augment.Crops = []augment.CropGroupConfig{{Size: 16, Count: 2, MinScale: 0.3, MaxScale: 1}, {Size: 8, Count: 2, MinScale: 0.1, MaxScale: 0.3}}
	job.Augment.Workers = 2
	c := &job.Train
	c.Backend, c.BatchSize, c.Epochs, cpu.Edit(c).Threads = "cpu", 8, 3, 1
	c.Model = train.ModelConfig{Arch: "small", SmallStem: true, HiddenMLP: 0, FeatDim: 8, Prototypes: 10}
	c.SwAV.QueueLength, c.SwAV.EpochQueueStarts, c.SwAV.FreezePrototypesIters = 16, 1, 3
	c.Optim.BaseLR, c.Optim.FinalLR, c.Optim.WarmupEpochs, c.Optim.StartWarmup = 0.3, 0.003, 1, 0.05
	c.Checkpoint.Keep, c.Checkpoint.Resume = 2, true
	return &job
}

func runJob(t *testing.T, job *configs.Job) error {
	t.Helper()
	return runJobStop(t, job, 0)
}

// runJobStop runs job with the engine and, when stopAfter > 0, asks for a
// graceful stop after stopAfter batches.
func runJobStop(t *testing.T, job *configs.Job, stopAfter int) error {
	t.Helper()
	if err := job.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	specs, err := Build(ctx, job)
	if err != nil {
		return err
	}
	var stopCh <-chan struct{}
	if stopAfter > 0 {
		ch := make(chan struct{})
		stopCh = ch
		last := &specs[len(specs)-1]
		last.Sink = &stopAfterSink{Trainer: last.Sink.(*Trainer), n: stopAfter, stop: ch}
	}
	_, err = pipeline.Run(ctx, specs, pipeline.Options{Stop: stopCh})
	return err
}

// stopAfterSink asks for a graceful stop (as SIGINT does) once n batches
// reached the Trainer; the batches already in flight still arrive.
type stopAfterSink struct {
	*Trainer
	n    int
	seen int
	stop chan struct{}
}

func (s *stopAfterSink) Consume(ctx context.Context, item any) error {
	if s.seen++; s.seen == s.n {
		close(s.stop)
	}
	return s.Trainer.Consume(ctx, item)
}

func checkpointLosses(t *testing.T, out string) *checkpoint.Checkpoint {
	t.Helper()
	url, found, err := checkpoint.Latest(context.Background(), filepath.Join(out, "checkpoints"))
	if err != nil || !found {
		t.Fatalf("no checkpoint in %s: %v", out, err)
	}
	ck, err := checkpoint.Load(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

// TestResumeBitForBit is THE test: on the CPU backend with real images,
// real multi-crop and the real source, N steps in one run and k steps, a
// stop, and a resumed run of N-k steps give the same loss sequence, bit for
// bit, across an epoch boundary and the start of the queue.
func TestResumeBitForBit(t *testing.T) {
	if _, err := train.NewBackend(train.Config{Backend: "cpu"}, 0); err != nil && strings.Contains(err.Error(), "not built") {
		t.Skip(err)
	}
	shards := fashionShards(t, t.TempDir(), 40, 10)
	const n = 15 // the whole schedule: 3 epochs of 5
	full := tinyJob(shards, t.TempDir())
	full.Train.MaxIters = n
	if err := runJob(t, full); err != nil {
		t.Fatal(err)
	}
	want := checkpointLosses(t, full.Out)
	t.Logf("losses %v", want.Losses)
	if want.Iter != n || len(want.Losses) != n {
		t.Fatalf("uninterrupted run: checkpoint at %d with %d losses", want.Iter, len(want.Losses))
	}
	// k > 0: stop at max_iters k; k < 0: a graceful stop (SIGINT) after -k
	// batches, with more batches in flight.
	for _, k := range []int{3, 6, -2} {
		out := t.TempDir()
		first := tinyJob(shards, out)
		if k > 0 {
			first.Train.MaxIters = k
			if err := runJob(t, first); err != nil {
				t.Fatal(err)
			}
		} else {
			first.Train.MaxIters = n
			if err := runJobStop(t, first, -k); !errors.Is(err, pipeline.ErrInterrupted) {
				t.Fatalf("graceful stop: err = %v", err)
			}
			if ck, _, _ := checkpoint.Latest(context.Background(), filepath.Join(out, "checkpoints")); ck != "" {
				t.Logf("graceful stop left %s", filepath.Base(ck))
			}
		}
		second := tinyJob(shards, out)
		second.Train.MaxIters = n
		if err := runJob(t, second); err != nil {
			t.Fatal(err)
		}
		got := checkpointLosses(t, out)
		if !equalBits(got.Losses, want.Losses) {
			t.Fatalf("k=%d: resumed losses\n%v\nwant\n%v", k, got.Losses, want.Losses)
		}
		if got.Cursor != want.Cursor {
			t.Fatalf("k=%d: cursor %+v, want %+v", k, got.Cursor, want.Cursor)
		}
		for i := range got.State.Params {
			if !testutil.BitEqual(got.State.Params[i].Data, want.State.Params[i].Data) {
				t.Fatalf("k=%d: parameter %s differs", k, got.State.Params[i].Name)
			}
		}
		recs, err := metrics.ReadFile(filepath.Join(out, "metrics.jsonl"))
		if err != nil || len(recs) != n {
			t.Fatalf("k=%d: %d metric records (%v)", k, len(recs), err)
		}
		if _, err := os.Stat(filepath.Join(out, "loss.png")); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResumeRefusesAnotherRun(t *testing.T) {
	if _, err := train.NewBackend(train.Config{Backend: "cpu"}, 0); err != nil && strings.Contains(err.Error(), "not built") {
		t.Skip(err)
	}
	shards := fashionShards(t, t.TempDir(), 16, 8)
	out := t.TempDir()
	job := tinyJob(shards, out)
	job.Train.MaxIters = 1
	if err := runJob(t, job); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(j *configs.Job)
		want string
	}{
		{"other architecture", func(j *configs.Job) { j.Train.Model.Prototypes = 20 }, "model.prototypes: checkpoint 10, config 20"},
		{"other seed", func(j *configs.Job) { j.Seed = 6 }, "seed: checkpoint 5, job 6"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := tinyJob(shards, out)
			c.edit(j)
			_, err := Build(context.Background(), j)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	// A corrupt newest checkpoint is named in the error.
	url, _, _ := checkpoint.Latest(context.Background(), filepath.Join(out, "checkpoints"))
	data, _ := os.ReadFile(url)
	if err := os.WriteFile(url, data[:len(data)-100], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Build(context.Background(), tinyJob(shards, out))
	if !errors.Is(err, checkpoint.ErrCorrupt) || !strings.Contains(err.Error(), filepath.Base(url)) {
		t.Fatalf("err = %v", err)
	}
}

// TestUint8CropsMatchFloat32: raw uint8 crops normalised by the Trainer give
// the same losses, bit for bit, as crops the augment stage normalised.
func TestUint8CropsMatchFloat32(t *testing.T) {
	if _, err := train.NewBackend(train.Config{Backend: "cpu"}, 0); err != nil && strings.Contains(err.Error(), "not built") {
		t.Skip(err)
	}
	shards := fashionShards(t, t.TempDir(), 24, 8)
	var losses [][]float64
	for _, dtype := range []string{augment.DTypeFloat32, augment.DTypeUint8} {
		job := tinyJob(shards, t.TempDir())
		job.Augment.DType = dtype
		job.Train.MaxIters = 3
		if err := runJob(t, job); err != nil {
			t.Fatal(err)
		}
		losses = append(losses, checkpointLosses(t, job.Out).Losses)
	}
	if len(losses[0]) != 3 || !equalBits(losses[0], losses[1]) {
		t.Fatalf("float32 crops: %v\nuint8 crops:   %v", losses[0], losses[1])
	}
}

// TestCheckpointsOnS3 keeps the checkpoints on a real S3 server (versitygw)
// and resumes from there, matching a local uninterrupted run bit for bit.
func TestCheckpointsOnS3(t *testing.T) {
	if _, err := train.NewBackend(train.Config{Backend: "cpu"}, 0); err != nil && strings.Contains(err.Error(), "not built") {
		t.Skip(err)
	}
	ctx := context.Background()
	srv := s3local.StartForTest(t)
	if _, err := srv.CreateBucket(ctx, "runs"); err != nil {
		t.Fatal(err)
	}
	shards := fashionShards(t, t.TempDir(), 24, 8)
	local := tinyJob(shards, t.TempDir())
	local.Train.MaxIters = 4
	if err := runJob(t, local); err != nil {
		t.Fatal(err)
	}
	want := checkpointLosses(t, local.Out).Losses
	out := t.TempDir()
	for _, maxIters := range []int{2, 4} {
		job := tinyJob(shards, out)
		job.Store.S3 = srv.S3Config()
		job.Train.Checkpoint.Dir = "s3://runs/tiny/checkpoints"
		job.Train.Tensorboard = "s3://runs/tiny/tensorboard"
		job.Train.MaxIters = maxIters
		if err := runJob(t, job); err != nil {
			t.Fatal(err)
		}
	}
	cs := checkpoint.Store{Config: srv.StoreConfig()}
	url, found, err := cs.Latest(ctx, "s3://runs/tiny/checkpoints")
	if err != nil || !found || url != "s3://runs/tiny/checkpoints/"+checkpoint.FileName(4) {
		t.Fatalf("latest %q %v %v", url, found, err)
	}
	ck, err := cs.Load(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if !equalBits(ck.Losses, want) {
		t.Fatalf("losses through S3 %v, want %v", ck.Losses, want)
	}
	// TensorBoard on S3: one event file per run (2 steps, then 2 more).
	b, err := store.OpenDir(ctx, "s3://runs/tiny/tensorboard/", srv.StoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	objs, err := store.List(ctx, b, "")
	if err != nil || len(objs) != 2 {
		t.Fatalf("event files on S3: %v %v", objs, err)
	}
	var steps []int64
	for _, o := range objs {
		r, err := b.Get(ctx, o.Name)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(r)
		r.Close()
		for _, ev := range tbtest.Decode(t, data)[1:] {
			steps = append(steps, ev.Step)
		}
	}
	if fmt.Sprint(steps) != "[0 1 2 3]" {
		t.Fatalf("steps in the event files %v, want [0 1 2 3]", steps)
	}
}

func TestJobYAMLRedactsSecret(t *testing.T) {
	job := tinyJob("x.tar", t.TempDir())
	job.Store.S3.SecretAccessKey = "hunter2"
	out, err := JobYAML(job)
	if err != nil || bytes.Contains(out, []byte("hunter2")) || !bytes.Contains(out, []byte("max_iters")) {
		t.Fatalf("%v\n%s", err, out)
	}
	if job.Store.S3.SecretAccessKey != "hunter2" {
		t.Fatal("the job itself was modified")
	}
}

// TestResumeWithAnotherSchedule: a resumed run never quietly does nothing.
// The same schedule resumed at its end says there is nothing left to do
// (stages.ErrNothingLeft); a longer max_iters trains on with the curve
// unchanged; more epochs mid-way bend the cosine on to the new end; a
// longer schedule after the curve ended, or one that ends before the
// checkpoint, is a configuration error naming the setting and the ways out.
func TestResumeWithAnotherSchedule(t *testing.T) {
	if _, err := train.NewBackend(train.Config{Backend: "cpu"}, 0); err != nil && strings.Contains(err.Error(), "not built") {
		t.Skip(err)
	}
	shards := fashionShards(t, t.TempDir(), 16, 8) // 2 iterations per epoch
	out := t.TempDir()
	job := func(epochs, maxIters int) *configs.Job {
		j := tinyJob(shards, out)
		j.Train.Epochs, j.Train.MaxIters = epochs, maxIters
		return j
	}
	if err := runJob(t, job(3, 2)); err != nil {
		t.Fatal(err)
	}
	nothingLeft := func(j *configs.Job, want ...string) {
		t.Helper()
		_, err := Build(context.Background(), j)
		testutil.ErrorMentions(t, err, stages.ErrNothingLeft, want...)
	}
	refused := func(j *configs.Job, setting string, want ...string) {
		t.Helper()
		_, err := Build(context.Background(), j)
		var fe *field.Error
		if !errors.As(err, &fe) || fe.Field != setting {
			t.Fatalf("err = %v, want a configuration error on %s", err, setting)
		}
		testutil.ErrorMentions(t, err, nil, append(want, "another out", "train.checkpoint.resume: false", "train.init_from=")...)
	}
	nothingLeft(job(3, 2), "at iteration 2 already ends this run's schedule (train.max_iters 2)", "another out")
	if err := runJob(t, job(3, 4)); err != nil { // max_iters 2 -> 4: the same curve
		t.Fatal(err)
	}
	if ck := checkpointLosses(t, out); ck.Iter != 4 || ck.ScheduleIters != 0 {
		t.Fatalf("after max_iters 4: iteration %d, schedule %d", ck.Iter, ck.ScheduleIters)
	}
	if err := runJob(t, job(5, 0)); err != nil { // epochs 3 -> 5 at iteration 4 of 6: bent
		t.Fatal(err)
	}
	ck := checkpointLosses(t, out)
	if ck.Iter != 10 || ck.ScheduleIters != 10 || ck.ScheduleAnchorIter != 4 || ck.ScheduleAnchorProgress != 0.5 {
		t.Fatalf("after epochs 5: iteration %d, schedule %d from %d at %g", ck.Iter, ck.ScheduleIters, ck.ScheduleAnchorIter, ck.ScheduleAnchorProgress)
	}
	recs, err := metrics.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 10 {
		t.Fatalf("%d metrics records, want 10", len(recs))
	}
	for i := 3; i < len(recs); i++ { // past the warm-up the learning rate only comes down
		if recs[i].LR >= recs[i-1].LR {
			t.Errorf("lr at iteration %d: %g after %g", i, recs[i].LR, recs[i-1].LR)
		}
	}
	nothingLeft(job(5, 0), "at iteration 10 already ends this run's schedule (train.epochs 5 x 2 iterations)")
	refused(job(6, 0), "train.epochs", "train.epochs 5 -> 6", "schedule ended at iteration 10")
	refused(job(2, 0), "train.epochs", "train.epochs 5 -> 2", "the new schedule ends at iteration 4: nothing left to train")
}
