package quickstart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/pipeline"
	_ "github.com/swavgo/swav/sinks/parquet" // the feature sink Run writes and reads (the binary links it through stages/all)
	"github.com/swavgo/swav/sinks/tensorboard/tbtest"
)

// tinyJob is the embedded quickstart config cut down to seconds: a few
// hundred images, a few training steps.
func tinyJob(t *testing.T, out string, local bool, extra ...string) *configs.Job {
	t.Helper()
	data, err := os.ReadFile("../../configs/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sets := []string{
		"out=" + out,
		"progress=off",
		"train.max_seconds=0", // no time budget: the run is bounded by iterations, whatever the machine's load
		"train.fit_to_budget=false",
		"train.max_iters=4",
		"train.batch_size=32",
		"train.cpu.threads=1",
		"train.checkpoint.every_iters=0",
		"extract.batch_size=64",
		"quickstart.cache=" + filepath.Join(out, "cache"),
		"quickstart.train_images=384",
		"quickstart.test_images=128",
		"quickstart.shard_size=100",
		"quickstart.knn=[5,10]",
	}
	if local {
		sets = append(sets, "quickstart.local=true")
	}
	job, err := configs.LoadBytes("quickstart.yaml", data, append(sets, extra...))
	if err != nil {
		t.Fatal(err)
	}
	return job
}

func TestQuickstartTiny(t *testing.T) {
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"); err != nil {
		t.Skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
	}
	local := false
	if _, err := s3local.Binary(); err != nil {
		t.Logf("versitygw missing (%v): testing the local-files mode only", err)
		local = true
	}
	out := t.TempDir()
	var buf bytes.Buffer
	rep, err := Run(context.Background(), tinyJob(t, out, local), pipeline.Options{}, &buf)
	t.Log(buf.String())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Iterations != 4 || rep.ImagesSeen != 4*32 || rep.TrainImages != 384 || rep.TestImages != 128 {
		t.Errorf("report %+v", rep)
	}
	for name, v := range map[string]float64{"swav": rep.KNNTop1SwAV, "random": rep.KNNTop1RandomInit, "raw": rep.KNNTop1RawPixels} {
		// 10 classes: even a poor feature beats chance (10%) with 384 neighbours.
		if v < 0.2 || v > 1 {
			t.Errorf("%s kNN top-1 %.3f out of range", name, v)
		}
	}
	var saved map[string]any
	raw, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &saved); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"knn_top1_swav", "knn_top1_random_init", "knn_top1_raw_pixels", "train_seconds", "epochs", "images_seen", "iterations", "recipe_hash", "knn_top5_swav", "config",
		"nmi_swav", "nmi_random_init", "clusters", "cluster_sheets", "neighbour_sheet", "neighbour_same_label", "tensorboard"} {
		if _, ok := saved[key]; !ok {
			t.Errorf("report.json lacks %s", key)
		}
	}
	for _, p := range []string{"loss.png", "metrics.jsonl", "features/random-init/train/fmnist-train-000003.parquet", "features/raw-pixels/test/fmnist-test-000001.parquet",
		"clusters-swav.png", "clusters-swav.parquet", "clusters-random-init.png", "neighbours-swav.png", "features/random-init-scores/test/fmnist-test-000001.parquet"} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Errorf("output lacks %s: %v", p, err)
		}
	}
	if !strings.Contains(buf.String(), "random init") || !strings.Contains(buf.String(), "raw pixels") {
		t.Errorf("no comparison table printed")
	}
	for name, st := range rep.Clusters {
		if st.Rows != 128 || st.Prototypes != 30 || !st.Labelled || st.NMI < 0 || st.NMI > 1 || st.Purity <= 0 {
			t.Errorf("%s cluster numbers %+v", name, st)
		}
	}
	if len(rep.Clusters) != 2 || rep.NMISwAV != rep.Clusters["swav"].NMI || rep.NeighbourSameLabel <= 0 ||
		!strings.Contains(buf.String(), "prototype clusters of the 128 test images (K=30)") {
		t.Errorf("cluster report %+v %v; output:\n%s", rep.Clusters, rep.NeighbourSameLabel, buf.String())
	}
	// One TensorBoard event per training step, with its loss.
	evs := tbtest.ReadDir(t, filepath.Join(out, "tensorboard"))
	if len(evs) != 1+rep.Iterations || evs[len(evs)-1].Scalars["train/loss"] == 0 {
		t.Errorf("%d events for %d steps; last %+v", len(evs), rep.Iterations, evs[len(evs)-1])
	}

	// A second run reuses the cached shards and the baselines' features;
	// its checkpoint already ends the schedule, and its last line says so.
	buf.Reset()
	job := tinyJob(t, out, true)
	if _, err := Run(context.Background(), job, pipeline.Options{}, &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "(cached)") || !strings.Contains(buf.String(), "0 rows written") {
		t.Errorf("second run did not reuse the cache:\n%s", buf.String())
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "nothing left to do") || !strings.Contains(last, "another out") {
		t.Errorf("second run's last line: %s", last)
	}
	// A longer max_iters trains on from the checkpoint.
	buf.Reset()
	rep, err = Run(context.Background(), tinyJob(t, out, true, "train.max_iters=6"), pipeline.Options{}, &buf)
	if err != nil || rep.Iterations != 6 {
		t.Fatalf("max_iters 4 -> 6: %v, %d iterations\n%s", err, rep.Iterations, buf.String())
	}
}

func TestQuickstartBadOutput(t *testing.T) {
	f := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), tinyJob(t, filepath.Join(f, "out"), true), pipeline.Options{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "a-file/out") {
		t.Fatalf("error %v", err)
	}
	var pe *os.PathError
	if !errors.As(err, &pe) {
		t.Errorf("error %v does not carry the path error", err)
	}
}

// TestRecipeHash: two seeds, another time budget, checkpointing or monitor
// of one recipe share the hash; a change of the recipe changes it.
func TestRecipeHash(t *testing.T) {
	base := tinyJob(t, t.TempDir(), true)
	want := RecipeHash(base)
	same := []string{"seed=7", "train.max_seconds=60", "train.checkpoint.every_iters=5", "train.cpu.threads=2", "train.monitor.every_iters=10", "train.tensorboard=off"}
	differ := []string{"train.optim.base_lr=0.6", "augment.crops.1.count=2", "train.model.prototypes=50", "augment.blur.p=0"}
	for _, set := range append(same, differ...) {
		job := tinyJob(t, t.TempDir(), true, set)
		if got := RecipeHash(job); (got == want) != slices.Contains(same, set) {
			t.Errorf("--set %s: hash %s, base %s", set, got, want)
		}
	}
	// Another backend's sub-section (linked into one binary, not into
	// another) is not part of the recipe.
	other := tinyJob(t, t.TempDir(), true)
	other.Train.Backends = maps.Clone(other.Train.Backends)
	other.Train.Backends["xla"] = &struct{ Precision string }{"bf16"}
	if got := RecipeHash(other); got != want {
		t.Errorf("with another backend's settings: hash %s, base %s", got, want)
	}
}
