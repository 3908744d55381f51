package extract

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/ingesttest"
	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/sinks/parquet"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
	"github.com/swavgo/swav/train/cpu" // the "cpu" backend
	"github.com/swavgo/swav/train/model"
)

const perShard = 24

// makeShards writes n shards of perShard real Fashion-MNIST test images into
// dir and returns their brace-range URL. A corrupt image replaces sample
// `corrupt` of the last shard when corrupt >= 0.
func makeShards(t *testing.T, dir string, n, corrupt int) string {
	t.Helper()
	return ingesttest.FashionMNISTShards(t, dir, n, perShard, 0, "s%04d", func(i int, s *ingest.Sample) {
		if corrupt >= 0 && i == (n-1)*perShard+corrupt {
			s.Data = []byte("\x89PNG\r\n\x1a\nnot really")
		}
	})
}

var smallModel = train.ModelConfig{Arch: "small", HiddenMLP: 32, FeatDim: 16, Prototypes: 20}

// testJob is an extraction job over shards into out with checkpoint ck.
func testJob(shards, out, ck string) *configs.Job {
	job := configs.Default()
	job.Job = JobKind
	job.Data.Shards = []string{shards}
	job.Augment.Eval = augment.EvalConfig{Resize: 28, Crop: 28}
	job.Train.Model = smallModel
	cpu.Edit(&job.Train).Threads = 1
	Edit(&job).Checkpoint = ck
	Edit(&job).Output = out
	Edit(&job).BatchSize = 10
	Edit(&job).Workers = 2
	parquet.Edit(&Edit(&job).Sinks).RowGroupRows = 16
	return &job
}

// saveCheckpoint saves model.Init weights of m (seed 7) in dir.
func saveCheckpoint(t *testing.T, dir string, m train.ModelConfig) string {
	t.Helper()
	st, err := model.Init(m, 7)
	if err != nil {
		t.Fatal(err)
	}
	url, err := checkpoint.Save(context.Background(), dir, &checkpoint.Checkpoint{Iter: 5, Model: m, Config: []byte("job: train\n"), State: st}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// reference writes nShards shards and a checkpoint under dir and extracts
// them once, undisturbed, into dir/ref: the run that interrupted, racing
// or faulty runs must equal.
func reference(t *testing.T, dir string, nShards int) (shards, ck string, want *sinks.Features) {
	t.Helper()
	shards = makeShards(t, filepath.Join(dir, "shards"), nShards, -1)
	ck = saveCheckpoint(t, filepath.Join(dir, "ck"), smallModel)
	ref := filepath.Join(dir, "ref")
	if _, err := run(t, testJob(shards, ref, ck)); err != nil {
		t.Fatal(err)
	}
	want, err := sinks.ReadFeatures(context.Background(), sinks.ReadOptions{}, ref)
	if err != nil {
		t.Fatal(err)
	}
	return shards, ck, want
}

func run(t *testing.T, job *configs.Job) (*Result, error) {
	t.Helper()
	m, err := OpenModel(context.Background(), job)
	if err != nil {
		return nil, err
	}
	return Run(context.Background(), job, m, pipeline.Options{})
}

func TestExtractWritesOneFilePerShardAndResumes(t *testing.T) {
	dir := t.TempDir()
	shards := makeShards(t, filepath.Join(dir, "shards"), 3, -1)
	ck := saveCheckpoint(t, filepath.Join(dir, "ck"), smallModel)
	out := filepath.Join(dir, "features")
	job := testJob(shards, out, ck)

	res, err := run(t, job)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 3 || res.Rows != 3*perShard {
		t.Fatalf("files %v rows %d, want 3 files of %d rows", res.Files, res.Rows, perShard)
	}
	for _, name := range []string{"read", "transform", "batch", "embed", "write"} {
		if st, ok := res.Report.Stage(name); !ok || st.Busy <= 0 {
			t.Errorf("stage %s missing from the report or never busy: %+v", name, st)
		}
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	fs, err := sinks.ReadFeatures(context.Background(), sinks.ReadOptions{Mem: mem}, out)
	if err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	if fs.Rows() != 3*perShard || fs.Dim != 64 {
		t.Fatalf("read %d rows of dim %d, want %d of 64 (small trunk)", fs.Rows(), fs.Dim, 3*perShard)
	}
	md := fs.Meta[0]
	if md.Checkpoint != ck || md.Layout != (parquet.Layout{Kind: "trunk", Dim: 64, Arch: "small"}) || md.ConfigHash == "" || !strings.HasSuffix(md.Shard, "fm-000000.tar") {
		t.Errorf("metadata %+v", md)
	}

	// The features are the network's: embed the first rows directly.
	imgs, labels, _ := ingest.ReadFashionMNIST("test")
	tf := augment.NewEvalTransform(job.Augment)
	var pix []float32
	for i := range 4 {
		p, err := tf.Apply(pngOf(t, imgs[i]), "png")
		if err != nil {
			t.Fatal(err)
		}
		pix = append(pix, p...)
	}
	m, err := OpenModel(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := m.Backend.Embed(context.Background(), pix, 4, 28, train.FeatureTrunk)
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if fs.Keys[i] != fmt.Sprintf("s%04d", i) || fs.Labels[i] != int64(labels[i]) {
			t.Fatalf("row %d: %s/%d", i, fs.Keys[i], fs.Labels[i])
		}
	}
	for i, v := range want {
		if d := v - fs.Data[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("float %d: file %v, direct embed %v", i, fs.Data[i], v)
		}
	}

	// A rerun finds every shard done and writes nothing.
	before := stat(t, filepath.Join(out, "fm-000001.parquet"))
	res, err = run(t, job)
	if err != nil || len(res.Files) != 0 || res.Rows != 0 {
		t.Fatalf("rerun: files %v rows %v err %v", res.Files, res.Rows, err)
	}
	if after := stat(t, filepath.Join(out, "fm-000001.parquet")); !after.ModTime().Equal(before.ModTime()) {
		t.Error("rerun rewrote a finished file")
	}
	if st, _ := res.Report.Stage("read"); st.Status != "3 shards already done, skipped" {
		t.Errorf("rerun: read status %q, want 3 shards already done", st.Status)
	}

	// A run killed after the first shard: only the missing shard is redone.
	if err := os.Remove(filepath.Join(out, "fm-000002.parquet")); err != nil {
		t.Fatal(err)
	}
	res, err = run(t, job)
	if err != nil || len(res.Files) != 1 || !strings.HasSuffix(res.Files[0], "fm-000002.parquet") || res.Rows != perShard {
		t.Fatalf("resume: files %v rows %v err %v", res.Files, res.Rows, err)
	}
	if st, _ := res.Report.Stage("read"); st.Status != "2 shards already done, skipped" {
		t.Errorf("resume: read status %q, want 2 shards already done", st.Status)
	}
	if _, err := sinks.ReadFeatures(context.Background(), sinks.ReadOptions{}, out); err != nil {
		t.Fatal(err)
	}
}

// TestNightlyExtractsOnlyNewShards is the nightly job over a growing input
// prefix (deploy/k8s's CronJob, deploy/slurm's scrontab line): the second
// night finds two new shards next to the two it did, extracts only those,
// leaves the old files untouched, and the output holds every key once.
func TestNightlyExtractsOnlyNewShards(t *testing.T) {
	dir := t.TempDir()
	makeShards(t, filepath.Join(dir, "shards"), 2, -1)
	ck := saveCheckpoint(t, filepath.Join(dir, "ck"), smallModel)
	out := filepath.Join(dir, "features")
	job := testJob(filepath.Join(dir, "shards", "fm-*.tar"), out, ck)
	res, err := run(t, job)
	if err != nil || len(res.Files) != 2 {
		t.Fatalf("first night: files %v err %v", res.Files, err)
	}
	first := stat(t, filepath.Join(out, "fm-000000.parquet"))

	makeShards(t, filepath.Join(dir, "shards"), 4, -1) // two more shards arrive under the prefix
	res, err = run(t, job)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(res.Files)
	if len(res.Files) != 2 || !strings.HasSuffix(res.Files[0], "fm-000002.parquet") || !strings.HasSuffix(res.Files[1], "fm-000003.parquet") || res.Rows != 2*perShard {
		t.Fatalf("second night: files %v rows %d, want only the two new shards", res.Files, res.Rows)
	}
	if again := stat(t, filepath.Join(out, "fm-000000.parquet")); !again.ModTime().Equal(first.ModTime()) {
		t.Error("the second night rewrote a file of the first")
	}
	fs, err := sinks.ReadFeatures(context.Background(), sinks.ReadOptions{}, out)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, k := range fs.Keys {
		if seen[k] {
			t.Fatalf("key %s twice", k)
		}
		seen[k] = true
	}
	if len(seen) != 4*perShard {
		t.Fatalf("%d keys, want %d", len(seen), 4*perShard)
	}
}

func stat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestExtractRawAndInit(t *testing.T) {
	dir := t.TempDir()
	shards := makeShards(t, filepath.Join(dir, "shards"), 1, -1)
	for _, tc := range []struct {
		feature, ck string
		layout      parquet.Layout
	}{
		{"raw", "", parquet.Layout{Kind: "raw", Dim: 28 * 28}},
		{"projection", "init", parquet.Layout{Kind: "projection", Dim: 16, Arch: "small"}},
		{"scores", "init", parquet.Layout{Kind: "scores", Dim: 20, Arch: "small"}},
	} {
		t.Run(tc.feature, func(t *testing.T) {
			out := filepath.Join(dir, tc.feature)
			job := testJob(shards, out, tc.ck)
			Edit(job).Feature = tc.feature
			if _, err := run(t, job); err != nil {
				t.Fatal(err)
			}
			fs, err := sinks.ReadFeatures(context.Background(), sinks.ReadOptions{}, out)
			if err != nil {
				t.Fatal(err)
			}
			if fs.Rows() != perShard || fs.Meta[0].Layout != tc.layout {
				t.Fatalf("%d rows, layout %+v", fs.Rows(), fs.Meta[0].Layout)
			}
		})
	}
}

func TestExtractBadInput(t *testing.T) {
	dir := t.TempDir()
	shards := makeShards(t, filepath.Join(dir, "shards"), 2, 3)
	ck := saveCheckpoint(t, filepath.Join(dir, "ck"), smallModel)

	corrupt := filepath.Join(dir, "corrupt.swck")
	data, err := os.ReadFile(ck)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(corrupt, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	// A checkpoint that says "small" but holds tensors of another width.
	wrong := saveMismatched(t, filepath.Join(dir, "wrong"))

	finished := filepath.Join(dir, "finished")
	strict := testJob(shards, finished, "init")
	strict.Augment.SkipBudget = 0
	if _, err := run(t, strict); err == nil {
		t.Fatal("the corrupt image in shard 1 did not fail the run with skip budget 0")
	}
	aFile := filepath.Join(dir, "a-file")
	if err := os.WriteFile(aFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		edit func(j *configs.Job)
		want []string
		is   error
	}{
		{"corrupt checkpoint", func(j *configs.Job) { Edit(j).Checkpoint = corrupt }, []string{"corrupt.swck"}, checkpoint.ErrCorrupt},
		{"missing checkpoint", func(j *configs.Job) { Edit(j).Checkpoint = filepath.Join(dir, "nope.swck") }, []string{"nope.swck"}, nil},
		{"other architecture", func(j *configs.Job) { Edit(j).Arch = "resnet18" }, []string{"holds a small network", "asks for resnet18"}, checkpoint.ErrArchitecture},
		{"tensors do not fit", func(j *configs.Job) { Edit(j).Checkpoint = wrong }, []string{"does not fit the small network"}, checkpoint.ErrArchitecture},
		{"no checkpoint", func(j *configs.Job) { Edit(j).Checkpoint = "" }, []string{"extract.checkpoint is required"}, ErrNoCheckpoint},
		{"empty shard list", func(j *configs.Job) { j.Data.Shards = nil }, []string{"shards"}, nil},
		{"no such shards", func(j *configs.Job) { j.Data.Shards = []string{filepath.Join(dir, "none-{000..003}.tar")} }, []string{"none-000.tar", "does not exist"}, nil},
		{"unwritable output", func(j *configs.Job) { Edit(j).Output = filepath.Join(aFile, "out") }, []string{"a-file/out"}, nil},
		{"corrupt image beyond the skip budget", func(j *configs.Job) { j.Augment.SkipBudget = 0 }, []string{"s0027", "fm-000001.tar"}, ingest.ErrSkipBudget},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := testJob(shards, filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-")), ck)
			tc.edit(job)
			_, err := run(t, job)
			testutil.ErrorMentions(t, err, tc.is, tc.want...)
		})
	}

	// The failed run above left no partial file: at most shard 0, whole (the
	// error cancels the run, possibly before shard 0's commit came through).
	ents, _ := os.ReadDir(finished)
	for _, e := range ents {
		if e.Name() != "fm-000000.parquet" {
			t.Fatalf("after the failed run the output holds %s", e.Name())
		}
	}
	// With a budget the rerun finishes what is missing (shard 1 one sample
	// short) and keeps what is done.
	job := testJob(shards, finished, "init")
	job.Augment.SkipBudget = 1
	if _, err := run(t, job); err != nil {
		t.Fatal(err)
	}
	fs, err := sinks.ReadFeatures(context.Background(), sinks.ReadOptions{}, finished)
	if err != nil {
		t.Fatal(err)
	}
	if fs.Rows() != 2*perShard-1 {
		t.Fatalf("after the rerun: %d rows, want %d", fs.Rows(), 2*perShard-1)
	}
	before := stat(t, filepath.Join(finished, "fm-000000.parquet"))
	// Finished output from another checkpoint is refused, not overwritten.
	job = testJob(shards, finished, ck)
	job.Augment.SkipBudget = 1
	if _, err := run(t, job); err == nil || !strings.Contains(err.Error(), "use another output location") {
		t.Fatalf("other checkpoint into finished output: %v", err)
	}
	if !stat(t, filepath.Join(finished, "fm-000000.parquet")).ModTime().Equal(before.ModTime()) {
		t.Error("finished shard overwritten by another checkpoint's run")
	}
}

// saveMismatched saves a checkpoint declaring the small model whose
// tensors are those of a wider one.
func saveMismatched(t *testing.T, dir string) string {
	t.Helper()
	other := smallModel
	other.FeatDim = 24
	st, err := model.Init(other, 1)
	if err != nil {
		t.Fatal(err)
	}
	url, err := checkpoint.Save(context.Background(), dir, &checkpoint.Checkpoint{Model: smallModel, Config: []byte("x"), State: st}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return url
}

func pngOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
