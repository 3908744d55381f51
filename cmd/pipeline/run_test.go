package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
