package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/pipeline"
)

// tarMembers returns the data offset and size of each member of a tar.
func tarMembers(t *testing.T, b []byte) (offsets, sizes []int64) {
	t.Helper()
	r := bytes.NewReader(b)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return offsets, sizes
		}
		if err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, int64(len(b))-int64(r.Len()))
		sizes = append(sizes, h.Size)
	}
}

// cutShardsFixture makes three shards of two samples each with `shards
// make` (index.json beside them), one of them with an image that does not
// decode, then cuts toy-000001.tar inside its first member and
// toy-000002.tar inside the padding after its third member. It returns the
// shard folder.
func cutShardsFixture(t *testing.T) string {
	src := t.TempDir()
	for i, name := range []string{"a/1.png", "a/2.png", "b/3.png", "b/4.png", "c/5.png", "c/6.png"} {
		img := image.NewGray(image.Rect(0, 0, 8, 8))
		img.SetGray(i, i, color.Gray{Y: 200})
		var buf bytes.Buffer
		png.Encode(&buf, img)
		data := buf.Bytes()
		if name == "a/2.png" {
			data = data[:20] // does not decode
		}
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, data, 0o644)
	}
	shards := t.TempDir()
	if msg, err := runShards(t, "make", "--from", src, "--out", shards, "--shard-size", "2", "--name", "toy"); err != nil {
		t.Fatalf("make: %s %v", msg, err)
	}
	cutAt := func(name string, at func(off, size []int64) int64) {
		p := filepath.Join(shards, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		off, size := tarMembers(t, b)
		os.WriteFile(p, b[:at(off, size)], 0o644)
	}
	cutAt("toy-000001.tar", func(off, size []int64) int64 { return off[0] + size[0]/2 })
	cutAt("toy-000002.tar", func(off, size []int64) int64 { return off[2] + size[2] + 10 })
	return shards
}

// TestShardsCutListedCheckedAndRead: cut shards made by `shards make` are
// INCOMPLETE for ls and check (exit 1), check lists the cut member and the
// samples the index promises that are missing, and a run reads the rest,
// records every lost sample in skipped.jsonl and the end-of-run table, and
// stops with exit 3 naming the shard when the budget is too small.
func TestShardsCutListedCheckedAndRead(t *testing.T) {
	shards := cutShardsFixture(t)
	msg, err := runShards(t, "ls", shards+"/")
	if err == nil || strings.Count(msg, "INCOMPLETE") != 2 || !strings.Contains(msg, "toy-000001.tar: it is cut inside member") ||
		!strings.Contains(msg, "toy-000002.tar: it ends at byte") || !strings.Contains(msg, "2 incomplete shards") {
		t.Fatalf("ls: %v\n%s", err, msg)
	}
	msg, err = runShards(t, "check", shards+"/")
	for _, want := range []string{
		"SKIP file://" + shards + "/toy-000001.tar b_3: cut-shard: byte 0: member \"b_3.png\" is cut",
		"SKIP file://" + shards + "/toy-000001.tar (missing): cut-shard: sample 2 of 2: not read: the shard is cut inside member",
		"SKIP file://" + shards + "/toy-000002.tar c_6: cut-shard:",
		"INCOMPLETE file://" + shards + "/toy-000001.tar",
		"total: 6 samples, 3 would be skipped (the others are readable), 2 incomplete shards",
	} {
		if err == nil || !strings.Contains(msg, want) {
			t.Errorf("check: %v: no %q in\n%s", err, want, msg)
		}
	}

	msg, err = extractRaw(t, shards, t.TempDir(), "2")
	if code := exitCode(err); code != exitData || !strings.Contains(err.Error(), "toy-00000") {
		t.Fatalf("budget 2 of 3: exit %d, %v", code, err)
	}
	out := t.TempDir()
	msg, err = extractRaw(t, shards, out, "3")
	if err != nil {
		t.Fatalf("budget 3: %v\n%s", err, msg)
	}
	if !strings.Contains(msg, "skipped 4 samples: cut-shard 3, truncated 1; each listed in "+filepath.Join(out, "skipped.jsonl")) {
		t.Errorf("the end-of-run table does not count the lost samples:\n%s", msg)
	}
	raw, _ := os.ReadFile(filepath.Join(out, "skipped.jsonl"))
	var cut, decode int
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var s pipeline.Skipped
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatal(err)
		}
		if s.Where == "" || s.Shard == "" || s.Reason == "" {
			t.Errorf("skip line lacks where, shard or reason: %s", line)
		}
		switch s.Class {
		case ingest.SkipClassCutShard:
			cut++
		default:
			decode++
			if s.Stage != "transform" || s.Key != "a_2" || !strings.HasPrefix(s.Where, "byte ") {
				t.Errorf("decode skip: %s", line)
			}
		}
	}
	if cut != 3 || decode != 1 {
		t.Errorf("skipped.jsonl: %d cut-shard and %d decode lines\n%s", cut, decode, raw)
	}
}

// extractRaw extracts raw-pixel features of the shards under dir to
// out/f with data.skip_budget budget (augment.skip_budget 1).
func extractRaw(t *testing.T, dir, out, budget string) (string, error) {
	return execute(t, "run", "../../configs/extract.yaml", "--set", "out="+out, "--set", "progress=off",
		"--set", `data.shards=["`+dir+`/"]`, "--set", "extract.feature=raw", "--set", "extract.checkpoint=",
		"--set", "augment.eval={resize: 8, crop: 8}", "--set", "data.skip_budget="+budget, "--set", "augment.skip_budget=1",
		"--set", "extract.output="+filepath.Join(out, "f"))
}
