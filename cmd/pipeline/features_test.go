package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFeaturesVerifySkippedAndMoved: an extraction that skipped an image
// that does not decode and read two cut shards verifies clean with the
// run's skipped.jsonl (found above the output folder, or named with
// --skipped), saying how many missing rows it accepted; without the list
// each gap is a problem. Shards moved after the extraction are matched by
// file name, and verify says so.
func TestFeaturesVerifySkippedAndMoved(t *testing.T) {
	shards := cutShardsFixture(t)
	out := t.TempDir()
	if msg, err := extractRaw(t, shards, out, "3"); err != nil {
		t.Fatalf("extract: %v\n%s", err, msg)
	}
	verify := func(args ...string) (string, error) {
		return runCommand(t, newFeaturesCmd(), append([]string{"verify"}, args...)...)
	}
	msg, err := verify(filepath.Join(out, "f"), "--data", shards+"/")
	for _, want := range []string{
		"skipped samples: 4 listed in " + filepath.Join(out, "skipped.jsonl"),
		"NOTE input shard " + shards + "/toy-000001.tar is incomplete: it is cut inside member",
		"NOTE accepted 1 missing rows: samples listed as skipped",
		"verified 2 feature files (2 rows) against 3 input shards: 0 problems",
	} {
		if err != nil || !strings.Contains(msg, want) {
			t.Errorf("verify with the run's skipped.jsonl: %v: no %q in\n%s", err, want, msg)
		}
	}

	empty := filepath.Join(t.TempDir(), "skipped.jsonl")
	os.WriteFile(empty, nil, 0o644)
	msg, err = verify(filepath.Join(out, "f"), "--data", shards+"/", "--skipped", empty)
	for _, want := range []string{
		"toy-000000.tar has 2 samples and 0 of them are listed as skipped",
		"input shard " + shards + "/toy-000002.tar is incomplete (it ends at byte",
		"3 problems",
	} {
		if err == nil || !strings.Contains(msg, want) {
			t.Errorf("verify without skips: %v: no %q in\n%s", err, want, msg)
		}
	}

	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(shards, moved); err != nil {
		t.Fatal(err)
	}
	msg, err = verify(filepath.Join(out, "f"), "--data", moved+"/", "--skipped", out)
	for _, want := range []string{
		"NOTE matched 2 feature files to the input shards by file name (their recorded shards are elsewhere, e.g. file://" + shards,
		"NOTE accepted 1 missing rows",
		"verified 2 feature files (2 rows) against 3 input shards: 0 problems",
	} {
		if err != nil || !strings.Contains(msg, want) {
			t.Errorf("verify moved shards: %v: no %q in\n%s", err, want, msg)
		}
	}
}
