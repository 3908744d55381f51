package classify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/ingesttest"
	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/stages/classify"
	"github.com/swavgo/swav/stages/finetune"
	"github.com/swavgo/swav/stages/linear"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
	"github.com/swavgo/swav/train/cpu" // the "cpu" backend
	"github.com/swavgo/swav/train/model"
)

const perShard = 30

// makeShards writes n shards of perShard real Fashion-MNIST test images
// (from image `from` on) into dir and returns their brace-range URL; with
// unlabelled the samples carry no label.
func makeShards(t *testing.T, dir string, n, from int, unlabelled bool) string {
	t.Helper()
	return ingesttest.FashionMNISTShards(t, dir, n, perShard, from, "img%05d", func(_ int, s *ingest.Sample) {
		if unlabelled {
			s.Label = -1
		}
	})
}

var smallModel = train.ModelConfig{Arch: "small", HiddenMLP: 32, FeatDim: 16, Prototypes: 20}

// fixture is a training set of 3 shards, a validation shard and a
// checkpoint of the small network.
type fixture struct{ dir, trainShards, valShards, ckpt string }

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{dir: dir,
		trainShards: makeShards(t, filepath.Join(dir, "train"), 3, 0, false),
		valShards:   makeShards(t, filepath.Join(dir, "val"), 1, 500, false)}
	st, err := model.Init(smallModel, 7)
	if err != nil {
		t.Fatal(err)
	}
	if f.ckpt, err = checkpoint.Save(context.Background(), filepath.Join(dir, "ck"),
		&checkpoint.Checkpoint{Iter: 5, Model: smallModel, Config: []byte("job: train\n"), State: st}, 1); err != nil {
		t.Fatal(err)
	}
	return f
}

// job is a linear or finetune job over the fixture, out in dir/name.
func (f fixture) job(kind, name string) *configs.Job {
	job := configs.Default()
	job.Job, job.Out, job.Progress = kind, filepath.Join(f.dir, name), "off"
	job.Data.Shards = []string{f.trainShards}
	job.Data.ShuffleBuffer = 20
	job.Augment.Eval = augment.EvalConfig{Resize: 28, Crop: 28}
	job.Augment.Mean, job.Augment.Std = []float64{0.286, 0.286, 0.286}, []float64{0.353, 0.353, 0.353}
	job.Augment.Workers = 2
	job.Train.Model = smallModel
	cpu.Edit(&job.Train).Threads = 1
	lin, fin := linear.Edit(&job), finetune.Edit(&job)
	lin.Checkpoint, lin.ValShards, lin.Epochs, lin.BatchSize = f.ckpt, []string{f.valShards}, 2, 16
	fin.Checkpoint, fin.ValShards, fin.Epochs, fin.BatchSize = f.ckpt, []string{f.valShards}, 2, 16
	fin.LabelFraction, fin.LR, fin.LRLastLayer = 0.5, 0.05, 0.5
	finetune.Edit(&job).DecayEpochs = []int{1}
	return &job
}

func settings(job *configs.Job) classify.Settings {
	if job.Job == linear.JobKind {
		return linear.Settings(linear.SettingsOf(job))
	}
	return finetune.Settings(finetune.SettingsOf(job))
}

func run(t *testing.T, job *configs.Job) (*classify.Report, error) {
	t.Helper()
	if err := job.Validate(); err != nil {
		t.Fatal(err)
	}
	return classify.Run(context.Background(), job, settings(job), pipeline.Options{})
}

// TestJobsRunAndReport runs both kinds: they train, validate every epoch,
// write report.json (top1/top5 in percent, label_fraction, checkpoint,
// seconds), metrics.jsonl, loss.png and checkpoints; finetune records its
// subset, which a rerun with the same seed draws again.
func TestJobsRunAndReport(t *testing.T) {
	f := newFixture(t)
	for _, kind := range []string{linear.JobKind, finetune.JobKind} {
		t.Run(kind, func(t *testing.T) {
			job := f.job(kind, kind)
			rep, err := run(t, job)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.History) != 2 || rep.Epochs != 2 || rep.Classes != 10 || rep.ValImages != perShard || rep.Checkpoint != f.ckpt {
				t.Errorf("report %+v", rep)
			}
			raw, err := os.ReadFile(filepath.Join(job.Out, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"top1", "top5", "label_fraction", "checkpoint", "seconds"} {
				if _, ok := m[k]; !ok {
					t.Errorf("report.json has no %q", k)
				}
			}
			if top1 := m["top1"].(float64); top1 < 0 || top1 > 100 || m["top5"].(float64) < top1 {
				t.Errorf("top1 %v top5 %v", m["top1"], m["top5"])
			}
			for _, name := range []string{"metrics.jsonl", "loss.png"} {
				if _, err := os.Stat(filepath.Join(job.Out, name)); err != nil {
					t.Error(err)
				}
			}
			if kind == finetune.JobKind {
				if rep.Subset == nil || rep.Subset.Source != "seeded" || rep.Subset.Images < 40 || rep.Subset.Images > 50 || rep.Subset.Total != 90 || rep.LabelFraction != 0.5 {
					t.Fatalf("subset %+v", rep.Subset)
				}
				again := f.job(kind, kind+"-again")
				finetune.Edit(again).Epochs = 1
				rep2, err := run(t, again)
				if err != nil {
					t.Fatal(err)
				}
				if rep2.Subset.SHA256 != rep.Subset.SHA256 {
					t.Error("the same seed drew another subset")
				}
			}
		})
	}
}

// TestResumeIsExact: a run of one epoch continued to two gives the state of
// a run of two epochs, bit for bit (same batches, same crops), with the
// samples held in memory and streamed from the shards through the subset
// filter.
func TestResumeIsExact(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testResume(t) })
	t.Run("streamed", func(t *testing.T) {
		defer classify.SetMemoryCap(0)()
		testResume(t)
	})
	t.Run("interrupted", testInterrupted)
}

// testInterrupted stops a run gracefully (as Ctrl-C does) at several
// moments; rerun, it ends with the state of an uninterrupted run.
func testInterrupted(t *testing.T) {
	f := newFixture(t)
	whole := f.job(finetune.JobKind, "whole")
	if _, err := run(t, whole); err != nil {
		t.Fatal(err)
	}
	want := latestState(t, whole.Out)
	for _, after := range []time.Duration{200 * time.Millisecond, 600 * time.Millisecond} {
		job := f.job(finetune.JobKind, fmt.Sprint("stopped-", after))
		stop := make(chan struct{})
		timer := time.AfterFunc(after, func() { close(stop) })
		_, err := classify.Run(context.Background(), job, settings(job), pipeline.Options{Stop: stop})
		timer.Stop()
		if err != nil && !errors.Is(err, pipeline.ErrInterrupted) {
			t.Fatal(err)
		}
		rep, err := run(t, job)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Epochs != 2 || rep.Steps != 6 {
			t.Errorf("stopped after %v: %d epochs, %d steps after the rerun, want 2 and 6", after, rep.Epochs, rep.Steps)
		}
		if err := sameParams(want, latestState(t, job.Out)); err != nil {
			t.Errorf("stopped after %v: %v", after, err)
		}
	}
}

func latestState(t *testing.T, out string) *train.State {
	t.Helper()
	s := checkpoint.Store{}
	url, found, err := s.Latest(context.Background(), filepath.Join(out, "checkpoints"))
	if err != nil || !found {
		t.Fatalf("no checkpoint in %s: %v", out, err)
	}
	ck, err := s.Load(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return ck.State
}

func sameParams(a, b *train.State) error {
	if len(a.Params) != len(b.Params) {
		return errors.New("different tensors")
	}
	for i := range a.Params {
		if !slices.Equal(a.Params[i].Data, b.Params[i].Data) {
			return fmt.Errorf("%s differs", a.Params[i].Name)
		}
	}
	return nil
}

func testResume(t *testing.T) {
	f := newFixture(t)
	whole := f.job(finetune.JobKind, "whole")
	if _, err := run(t, whole); err != nil {
		t.Fatal(err)
	}
	part := f.job(finetune.JobKind, "part")
	finetune.Edit(part).Epochs = 1
	if _, err := run(t, part); err != nil {
		t.Fatal(err)
	}
	finetune.Edit(part).Epochs = 2
	rep, err := run(t, part)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Epochs != 2 || len(rep.History) != 2 {
		t.Fatalf("resumed report: %d epochs, %d validations", rep.Epochs, len(rep.History))
	}
	if err := sameParams(latestState(t, whole.Out), latestState(t, part.Out)); err != nil {
		t.Fatalf("after the resume: %v", err)
	}
}

// TestBadInput: every named error of the evaluation jobs' inputs.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	// A checkpoint that declares resnet8 but holds the small network.
	st, _ := model.Init(smallModel, 7)
	misfit, err := checkpoint.Save(context.Background(), filepath.Join(f.dir, "misfit"),
		&checkpoint.Checkpoint{Iter: 1, Model: train.ModelConfig{Arch: "resnet8", HiddenMLP: 32, FeatDim: 16, Prototypes: 20}, Config: []byte("x"), State: st}, 1)
	if err != nil {
		t.Fatal(err)
	}
	list := func(name string, keys ...string) string {
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(keys, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, labels, _ := ingest.ReadFashionMNIST("test")
	var oneClass []string
	for i := 0; i < 3*perShard; i++ {
		if labels[i] == labels[0] {
			oneClass = append(oneClass, fmt.Sprintf("img%05d.png", i))
		}
	}
	unlabelledTrain := makeShards(t, filepath.Join(f.dir, "unlabelled-train"), 1, 0, true)
	unlabelledVal := makeShards(t, filepath.Join(f.dir, "unlabelled-val"), 1, 500, true)
	for _, tc := range []struct {
		name string
		edit func(j *configs.Job)
		is   error
		want []string
	}{
		{"unknown subset entry", func(j *configs.Job) {
			finetune.Edit(j).Subset = list("unknown.txt", "img00001.png", "n01440764_10026.JPEG")
		}, classify.ErrSubsetEntry, []string{"unknown.txt:2", "n01440764_10026.JPEG"}},
		{"subset leaves a class empty", func(j *configs.Job) {
			finetune.Edit(j).Subset = list("one-class.txt", oneClass...)
		}, classify.ErrEmptyClass, []string{"class ", "one-class.txt"}},
		{"trunk does not fit", func(j *configs.Job) { finetune.Edit(j).Checkpoint = misfit }, checkpoint.ErrArchitecture, []string{"finetune.checkpoint", misfit, "resnet8"}},
		{"labels missing from the training shards", func(j *configs.Job) { j.Data.Shards = []string{unlabelledTrain} }, classify.ErrNoLabel, []string{"fm-000000.tar", `"img00000"`}},
		{"labels missing from the validation shards", func(j *configs.Job) { finetune.Edit(j).ValShards = []string{unlabelledVal} }, classify.ErrNoLabel, []string{"finetune.val_shards", "img00500"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := f.job(finetune.JobKind, strings.ReplaceAll(tc.name, " ", "-"))
			finetune.Edit(job).Epochs = 1
			tc.edit(job)
			_, err := run(t, job)
			testutil.ErrorMentions(t, err, tc.is, tc.want...)
		})
	}
	// The linear job names a missing label on its training shards too
	// (classes given: no label pass, the batch carries it).
	job := f.job(linear.JobKind, "linear-unlabelled")
	lin := linear.Edit(job)
	job.Data.Shards, lin.Classes, lin.Epochs = []string{unlabelledTrain}, 10, 1
	_, err = run(t, job)
	testutil.ErrorMentions(t, err, classify.ErrNoLabel, "img000")
}

// TestSubsetList: a per-image list in the reference's format (file names
// with extensions, one a line), served over HTTP as the reference's
// ImageNet lists are, selects exactly those images.
func TestSubsetList(t *testing.T) {
	f := newFixture(t)
	_, labels, _ := ingest.ReadFashionMNIST("test")
	var names, keys []string
	per := map[uint8]int{}
	for i := 0; i < 3*perShard; i++ { // two images of each class
		if per[labels[i]] < 2 {
			per[labels[i]]++
			names = append(names, fmt.Sprintf("img%05d.JPEG", i))
			keys = append(keys, fmt.Sprintf("img%05d", i))
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Join(names, "\n")+"\n")
	}))
	defer srv.Close()
	job := f.job(finetune.JobKind, "listed")
	fin := finetune.Edit(job)
	fin.Epochs, fin.Subset = 1, srv.URL+"/10percent.txt"
	rep, err := run(t, job)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Subset.Source != finetune.SettingsOf(job).Subset || rep.Subset.Images != len(names) || rep.TrainImages != len(names) {
		t.Fatalf("subset %+v", rep.Subset)
	}
	raw, err := os.ReadFile(rep.Subset.File)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(raw)); !slices.Equal(got, keys) {
		t.Errorf("subset.txt: %v, want %v", got, keys)
	}
}

func TestLRSchedules(t *testing.T) {
	cos := classify.Settings{Scheduler: "cosine", Common: classify.Common{Epochs: 4}, LR: 0.3, HeadLR: 0.3}
	step := classify.Settings{Scheduler: "step", Common: classify.Common{Epochs: 20}, LR: 0.01, HeadLR: 0.2, DecayEpochs: []int{12, 16}, Gamma: 0.2}
	for _, tc := range []struct {
		s           classify.Settings
		epoch       int
		trunk, head float64
	}{
		{cos, 0, 0.3, 0.3}, {cos, 2, 0.15, 0.15}, {cos, 4, 0, 0},
		{step, 11, 0.01, 0.2}, {step, 12, 0.002, 0.04}, {step, 16, 0.0004, 0.008},
	} {
		tr, hd := tc.s.LRAt(tc.epoch)
		if d := max(abs(tr-tc.trunk), abs(hd-tc.head)); d > 1e-12 {
			t.Errorf("%s epoch %d: %v %v, want %v %v", tc.s.Scheduler, tc.epoch, tr, hd, tc.trunk, tc.head)
		}
	}
}

func abs(x float64) float64 { return max(x, -x) }
