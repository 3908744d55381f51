package tensorboard

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/sinks/tensorboard/tbtest"
)

// TestWriterS3 writes to a real S3 server (versitygw): the object exists
// from Open on, is re-uploaded whole when UploadEvery has passed, and holds
// every event after Close.
func TestWriterS3(t *testing.T) {
	ctx := context.Background()
	srv := s3local.StartForTest(t)
	if _, err := srv.CreateBucket(ctx, "runs"); err != nil {
		t.Fatal(err)
	}
	w, err := Open(ctx, "s3://runs/r1/tensorboard", Options{Store: srv.StoreConfig(), Host: "h", Now: time.Unix(100, 0), UploadEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if w.Path() != "s3://runs/r1/tensorboard/events.out.tfevents.0000000100.h" {
		t.Fatal(w.Path())
	}
	read := func() []tbtest.Event {
		b, key, err := store.Open(ctx, w.Path(), srv.StoreConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		r, err := b.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return tbtest.Decode(t, data)
	}
	if evs := read(); len(evs) != 1 || evs[0].FileVersion != FileVersion {
		t.Fatalf("after Open: %+v", evs)
	}
	for step := range int64(3) {
		if err := w.Write(ctx, step, time.Now(), []Scalar{{"train/loss", float64(step)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if evs := read(); len(evs) != 1 {
		t.Fatalf("uploaded before UploadEvery: %d events", len(evs))
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	evs := read()
	if len(evs) != 4 || evs[3].Step != 2 || evs[3].Scalars["train/loss"] != 2 {
		t.Fatalf("after Close: %+v", evs)
	}
}

// TestKill9LeavesReadableFile runs a writer in a child process, kills it
// with SIGKILL while it writes, and decodes what it left: every frame
// checks, the first is the file version, steps run 0, 1, 2, ... with none
// missing.
func TestKill9LeavesReadableFile(t *testing.T) {
	if dir := os.Getenv("TB_KILL_CHILD_DIR"); dir != "" {
		ctx := context.Background()
		w, err := Open(ctx, dir, Options{Host: "child"})
		if err != nil {
			os.Exit(3)
		}
		for step := int64(0); ; step++ {
			sc := []Scalar{{"train/loss", float64(step)}, {"train/lr", 0.1}, {"train/images_per_s", 300}}
			if err := w.Write(ctx, step, time.Now(), sc, []Histogram{NewHistogram("h", []float64{1, 2, float64(step)}, 30)}); err != nil {
				os.Exit(4)
			}
		}
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9LeavesReadableFile$")
	cmd.Env = append(os.Environ(), "TB_KILL_CHILD_DIR="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once the file has grown past a few thousand events.
	deadline := time.Now().Add(30 * time.Second)
	var path string
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*.child"))
		if len(m) == 1 {
			path = m[0]
			if st, err := os.Stat(path); err == nil && st.Size() > 200_000 {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if path == "" {
		t.Fatal("the child wrote no event file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	evs := tbtest.Decode(t, b)
	if evs[0].FileVersion != FileVersion || len(evs) < 100 {
		t.Fatalf("%d events, first %+v", len(evs), evs[0])
	}
	for i, ev := range evs[1:] {
		if ev.Step != int64(i) || ev.Scalars["train/loss"] != float32(i) {
			t.Fatalf("event %d: step %d loss %v", i+1, ev.Step, ev.Scalars["train/loss"])
		}
	}
	t.Logf("killed after %d steps (%s bytes)", len(evs)-1, strconv.Itoa(len(b)))
}
