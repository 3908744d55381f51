package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swavgo/swav/pipeline"
)

func TestRunDemoConfig(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.png", "b.png"} {
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	got, err := execute(t, "run", "../../configs/demo.yaml", "--set", "demo.dir="+dir, "--set", "out="+out, "--set", "progress=off")
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	if !strings.Contains(got, "bottleneck:") {
		t.Fatalf("no summary table:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(out, "demo_summary.json")); err != nil {
		t.Fatal(err)
	}
}

func TestRunRejectsABadConfig(t *testing.T) {
	if _, err := execute(t, "run", "--set", "job=demo", "--set", "demo.passes=0"); err == nil || !strings.Contains(err.Error(), "demo.passes") {
		t.Fatalf("err %v", err)
	}
}

// TestRunListsSkippedSamples: a run that skips images finishes and names
// each one (shard, key, stage, class, reason) in <out>/skipped.jsonl and
// counts them by class in the summary table.
func TestRunListsSkippedSamples(t *testing.T) {
	images := filepath.Join(t.TempDir(), "images", "c0")
	if err := os.MkdirAll(images, 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"good1.png": buf.Bytes(), "good2.png": buf.Bytes(),
		"cut.png":   buf.Bytes()[:buf.Len()/2],
		"empty.jpg": nil,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(images, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	got, err := execute(t, "run", "../../configs/extract.yaml", "--set", "out="+out, "--set", "progress=off",
		"--set", `data.shards=["`+filepath.Dir(images)+`/"]`, "--set", "extract.feature=raw", "--set", "extract.checkpoint=",
		"--set", "augment.skip_budget=5", "--set", "extract.output="+filepath.Join(out, "features"))
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	if !strings.Contains(got, "skipped 2 samples: truncated 1, zero-byte 1; each listed in "+filepath.Join(out, "skipped.jsonl")) {
		t.Errorf("summary does not count the skips by class:\n%s", got)
	}
	raw, err := os.ReadFile(filepath.Join(out, "skipped.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2 {
		t.Fatalf("skipped.jsonl has %d lines, want 2:\n%s", len(lines), raw)
	}
	for _, line := range lines {
		var s pipeline.Skipped
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatal(err)
		}
		if s.Stage != "transform" || s.Shard == "" || s.Reason == "" || !strings.Contains(line, `"key":"c0/`) {
			t.Errorf("skip line lacks stage, shard, key or reason: %s", line)
		}
	}
}

// TestFeaturesVerify extracts three shards, verifies the output, then breaks
// it three ways (a lost file, a shard written twice, a flipped byte): each
// is a named problem and a non-zero exit.
func TestFeaturesVerify(t *testing.T) {
	src := t.TempDir()
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)))
	for _, name := range []string{"a/1.png", "a/2.png", "b/3.png"} {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, buf.Bytes(), 0o644)
	}
	shards := t.TempDir()
	if msg, err := runShards(t, "make", "--from", src, "--out", shards, "--shard-size", "1", "--name", "toy"); err != nil {
		t.Fatalf("make: %s %v", msg, err)
	}
	out := t.TempDir()
	data := shards + "/toy-{000000..000002}.tar"
	if msg, err := execute(t, "run", "../../configs/extract.yaml", "--set", "out="+out, "--set", "progress=off",
		"--set", `data.shards=["`+data+`"]`, "--set", "extract.feature=raw", "--set", "extract.checkpoint=",
		"--set", "augment.eval={resize: 8, crop: 8}", "--set", "extract.output="+filepath.Join(out, "f")); err != nil {
		t.Fatalf("extract: %v\n%s", err, msg)
	}
	verify := func(outputs ...string) (string, error) {
		return runCommand(t, newFeaturesCmd(), append([]string{"verify", "--data", data}, outputs...)...)
	}
	msg, err := verify(filepath.Join(out, "f"))
	if err != nil || !strings.Contains(msg, "verified 3 feature files (3 rows) against 3 input shards: 0 problems") {
		t.Fatalf("verify a good output: %v\n%s", err, msg)
	}
	files, _ := filepath.Glob(filepath.Join(out, "f", "*.parquet"))
	second := t.TempDir()
	b0, _ := os.ReadFile(files[0])
	os.WriteFile(filepath.Join(second, filepath.Base(files[0])), b0, 0o644)
	if msg, err = verify(filepath.Join(out, "f"), second); err == nil || !strings.Contains(msg, "has 2 feature files") {
		t.Fatalf("a shard twice: %v\n%s", err, msg)
	}
	b1, _ := os.ReadFile(files[1])
	// A flipped byte in the first column chunk, right after the leading
	// "PAR1": the checksums catch it. (A flip at a fixed fraction of the
	// file could land in the footer's Thrift structure, whose length moves
	// with the run's metadata, and make the file unreadable instead.)
	b1[len("PAR1")+2] ^= 1
	os.WriteFile(files[1], b1, 0o644)
	os.Remove(files[2])
	msg, err = verify(filepath.Join(out, "f"))
	if err == nil || !strings.Contains(msg, "checksum mismatch") || !strings.Contains(msg, "toy-000002.tar has no feature file") {
		t.Fatalf("a flipped byte and a lost file: %v\n%s", err, msg)
	}
}

// TestExitCodes walks the README's exit codes for every kind of failure:
// usage and configuration errors, whenever they are found, are 2; data bad
// beyond the skip budget 3; a run's other failures 1 (the codes Kubernetes'
// podFailurePolicy and Slurm's requeue go by).
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	images := filepath.Join(dir, "images", "c0")
	os.MkdirAll(images, 0o755)
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 12, 12)))
	for i := range 8 {
		os.WriteFile(filepath.Join(images, fmt.Sprintf("%d.png", i)), buf.Bytes(), 0o644)
	}
	bad := filepath.Join(dir, "bad", "c0")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "empty.png"), nil, 0o644)
	folder := func(d string) string { return `data.shards=["` + filepath.Dir(d) + `/"]` }
	// A tiny trained checkpoint (resnet8) for the configurations that do
	// not fit it.
	tiny := []string{"--set", "job=train", "--set", "progress=off", "--set", folder(images),
		"--set", "augment.crops=[{size: 8, count: 2, min_scale: 0.5, max_scale: 1}]", "--set", "train.batch_size=4",
		"--set", "train.epochs=1", "--set", "train.iters_per_epoch=1", "--set", "train.optim.warmup_epochs=0",
		"--set", "train.model={arch: resnet8, small_stem: true, hidden_mlp: 0, feat_dim: 8, prototypes: 4}",
		"--set", "train.swav.freeze_prototypes_iters=0"}
	trained := filepath.Join(dir, "trained")
	if msg, err := execute(t, append([]string{"run", "--set", "out=" + trained}, tiny...)...); err != nil {
		t.Fatalf("the tiny training run: %v\n%s", err, msg)
	}
	ckpt := filepath.Join(trained, "checkpoints")
	files, _ := filepath.Glob(filepath.Join(ckpt, "*.swck"))
	if len(files) != 1 {
		t.Fatalf("checkpoints %v", files)
	}
	extract := func(sets ...string) []string {
		args := []string{"run", "../../configs/extract.yaml", "--set", "out=" + dir, "--set", "progress=off", "--set", folder(images),
			"--set", "extract.output=" + filepath.Join(dir, "features", fmt.Sprint(len(sets)))}
		for _, s := range sets {
			args = append(args, "--set", s)
		}
		return args
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"help", []string{"--help"}, exitOK},
		{"a group without a subcommand prints its help", []string{"shards"}, exitOK},
		{"unknown command", []string{"trian"}, exitUsage},
		{"help on a command", []string{"help", "shards", "ls"}, exitOK},
		{"help on an unknown topic", []string{"help", "bogus"}, exitUsage},
		{"help on an unknown subcommand", []string{"help", "shards", "lss"}, exitUsage},
		{"unknown subcommand of a group", []string{"shards", "lss"}, exitUsage},
		{"unknown flag", []string{"run", "--bogus"}, exitUsage},
		{"unknown flag of a subcommand", []string{"weights", "inspect", "x.pth", "--bogus"}, exitUsage},
		{"too many arguments", []string{"run", "a.yaml", "b.yaml"}, exitUsage},
		{"too few arguments", []string{"weights", "inspect"}, exitUsage},
		{"a flag value out of range", []string{"shards", "make", "--from", "fashion-mnist", "--out", dir, "--split", "tset"}, exitUsage},
		{"a config file that does not exist", []string{"run", filepath.Join(dir, "no-such.yaml")}, exitUsage},
		{"validate: a config file that does not exist", []string{"validate", filepath.Join(dir, "no-such.yaml")}, exitUsage},
		{"validate: an invalid config", []string{"validate", "../../configs/demo.yaml", "--set", "demo.passes=0"}, exitUsage},
		{"unknown job kind", []string{"run", "--set", "job=trian"}, exitUsage},
		{"a value out of range", []string{"run", "--set", "job=demo", "--set", "demo.passes=0"}, exitUsage},
		{"empty extract.output", extract("extract.output="), exitUsage},
		{"empty extract.checkpoint", extract("extract.checkpoint="), exitUsage},
		{"extract.arch does not fit the checkpoint", extract("extract.checkpoint="+ckpt, "extract.arch=resnet18"), exitUsage},
		{"crops_for_assign past the last crop", append([]string{"run", "--set", "out=" + filepath.Join(dir, "c")},
			append(tiny, "--set", "train.swav.crops_for_assign=[0,2]")...), exitUsage},
		{"train.init_from does not fit the model", append([]string{"run", "--set", "out=" + filepath.Join(dir, "i")},
			append(tiny, "--set", "train.init_from="+files[0], "--set", "train.model.feat_dim=16")...), exitUsage},
		{"a training world size above 1", append([]string{"run", "--set", "out=" + filepath.Join(dir, "w")},
			append(tiny, "--set", "data.world_size=2", "--set", "data.rank=0")...), exitUsage},
		{"an undecodable image with skip budget 0", extract("extract.feature=raw", "augment.skip_budget=0", folder(bad)), exitData},
		{"a missing shard", extract("extract.feature=raw", `data.shards=["`+filepath.Join(dir, "no-such-shard.tar")+`"]`), exitError},
		{"extraction from the checkpoint", extract("extract.checkpoint="+ckpt, "augment.eval={resize: 8, crop: 8}"), exitOK},
	} {
		msg, err := execute(t, tc.args...)
		t.Logf("%s: %v", tc.name, err)
		if code := exitCode(err); code != tc.want {
			t.Errorf("%s: exit %d, want %d (%v)\n%s", tc.name, code, tc.want, err, msg)
		}
	}
}

// TestMetricsPushGateway runs a job that pushes its metrics to a real
// Pushgateway (Debian's prometheus-pushgateway, started here): the gateway
// then holds the run's stage counters and
// pipeline_job_last_success_timestamp_seconds for the job and rank.
func TestMetricsPushGateway(t *testing.T) {
	bin, err := exec.LookPath("prometheus-pushgateway")
	if err != nil {
		t.Skip("prometheus-pushgateway not installed (make deps installs it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	gw := exec.Command(bin, "--web.listen-address="+addr)
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { gw.Process.Kill(); gw.Wait() }()
	for i := 0; ; i++ {
		if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 200 {
			t.Fatal("pushgateway did not start")
		}
		time.Sleep(25 * time.Millisecond)
	}
	dir := t.TempDir()
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4)))
	os.WriteFile(filepath.Join(dir, "a.png"), buf.Bytes(), 0o644)
	if msg, err := execute(t, "run", "../../configs/demo.yaml", "--set", "demo.dir="+dir, "--set", "out="+t.TempDir(),
		"--set", "progress=off", "--set", "metrics.push_url=http://"+addr); err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`pipeline_job_last_success_timestamp_seconds{instance="",job="pipeline_demo",rank="0"}`,
		`pipeline_stage_items_total{direction="out",instance="",job="pipeline_demo",rank="0",stage="walk"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("pushgateway lacks %s", want)
		}
	}
}

// TestAugmentPreview: the quickstart's config previews its cached shards
// (made here in a small cache); a config without shards names the dotted
// data.shards.
func TestAugmentPreview(t *testing.T) {
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist"); err != nil && os.Getenv("FASHION_MNIST_DIR") == "" {
		t.Skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
	}
	dir := t.TempDir()
	sheet := filepath.Join(dir, "crops.png")
	msg, err := execute(t, "augment", "preview", "../../configs/quickstart.yaml", "--out", sheet, "--samples", "2",
		"--set", "quickstart.cache="+filepath.Join(dir, "cache"), "--set", "quickstart.train_images=20", "--set", "quickstart.shard_size=10")
	if err != nil || !strings.Contains(msg, "wrote "+sheet+": 2 samples x 6 crops") {
		t.Fatalf("%v\n%s", err, msg)
	}
	_, err = execute(t, "augment", "preview", "../../configs/fashion_mnist_train.yaml", "--out", sheet, "--set", "data.shards=[]")
	if err == nil || !strings.Contains(err.Error(), "data.shards: must list at least one shard") {
		t.Fatalf("no shards: %v", err)
	}
}
