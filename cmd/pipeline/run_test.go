package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
