package metrics

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func records(from, to int) []Record {
	var out []Record
	for i := from; i < to; i++ {
		out = append(out, Record{Iter: i, Loss: math.Log(30) - 0.01*float64(i), LR: 0.1 * float64(i+1)})
	}
	return out
}

func write(t *testing.T, path string, fromIter int, rs []Record) *Writer {
	t.Helper()
	w, err := Open(path, fromIter)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestResumeKeepsEarlierSteps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "metrics.jsonl")
	write(t, path, 0, records(0, 8))
	// The run resumes from a checkpoint at iteration 5: steps 5-7 are redone.
	w := write(t, path, 5, records(5, 10))
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || len(w.Records()) != 10 {
		t.Fatalf("%d records in the file, %d in memory, want 10", len(got), len(w.Records()))
	}
	for i, r := range got {
		if r.Iter != i {
			t.Fatalf("record %d has iter %d", i, r.Iter)
		}
	}
	write(t, path, 0, records(0, 2)) // a fresh run starts over
	if got, _ := ReadFile(path); len(got) != 2 {
		t.Fatalf("fresh run: %d records", len(got))
	}
}

func TestReadFileBadLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	os.WriteFile(path, []byte("{\"iter\":0}\n{\"iter\":1,\"loss\":\n"), 0o644)
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "metrics.jsonl:2") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Open(path, 3); err == nil {
		t.Fatal("Open over a corrupt file: want an error")
	}
}

func TestPlotPNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loss.png")
	if err := PlotPNG(records(0, 50), "test run", path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil || img.Bounds().Dx() < 500 {
		t.Fatalf("png: %v %v", err, img.Bounds())
	}
	if err := PlotPNG(nil, "", path); err == nil {
		t.Fatal("no records: want an error")
	}
}

// TestTornTailAndUnbufferedWrite: each Write reaches the file at once (a
// kill -9 after it loses nothing), and a resume over a file whose last line
// was torn by a crash drops that line and continues (issue 16).
func TestTornTailAndUnbufferedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	w, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records(0, 6) {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	// No Flush or Close: what a killed process leaves behind.
	if got, err := ReadFile(path); err != nil || len(got) != 6 {
		t.Fatalf("before Close: %d records, %v; want 6", len(got), err)
	}
	w.f.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	f.WriteString(`{"iter":6,"lo`) // torn by the kill
	f.Close()
	w, err = Open(path, 4) // checkpoint at 4: steps 4-5 are redone
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records(4, 8) {
		w.Write(r)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil || len(got) != 8 {
		t.Fatalf("after resume: %d records, %v; want 8", len(got), err)
	}
	for i, r := range got {
		if r.Iter != i {
			t.Fatalf("record %d has iter %d", i, r.Iter)
		}
	}
}
