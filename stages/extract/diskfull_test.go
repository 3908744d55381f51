package extract

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/sinks"
)

// TestExtractOnAFullOrReadOnlyDisk: the output disk fills up partway (a
// real tmpfs with room for two and a half feature files; root). The run
// fails with an error naming the feature file and the cause; the output
// holds only complete files and no temporary one. A read-only output fails
// before any work, naming the folder. Once there is room, a rerun finishes:
// every shard once, the rows of an undisturbed run, and its summary counts
// the files of the first run as written by another attempt.
func TestExtractOnAFullOrReadOnlyDisk(t *testing.T) {
	dir := t.TempDir()
	const nShards = 6
	shards := makeShards(t, filepath.Join(dir, "shards"), nShards, -1)
	rawJob := func(out string) *configs.Job {
		job := testJob(shards, out, "")
		Edit(job).Feature = FeatureRaw
		return job
	}
	ref := filepath.Join(dir, "ref")
	if _, err := run(t, rawJob(ref)); err != nil {
		t.Fatal(err)
	}
	want, err := sinks.ReadFeatures(context.Background(), sinks.ReadOptions{}, ref)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(want.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	mnt := testutil.Tmpfs(t, st.Size()*5/2)
	out := filepath.Join(mnt, "features")

	_, err = run(t, rawJob(out))
	testutil.ErrorMentions(t, err, syscall.ENOSPC, out, "no space left on device")
	t.Logf("disk full: %v", err)
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind %s", e.Name())
		}
	}
	done := len(ents)
	if done == 0 || done >= nShards {
		t.Fatalf("%d files landed on the full disk, want some but not all", done)
	}
	if _, err := sinks.ReadFeatures(context.Background(), sinks.ReadOptions{}, out); err != nil {
		t.Fatalf("a file on the full disk is not complete: %v", err)
	}

	testutil.Remount(t, mnt, st.Size()*5/2, true)
	_, err = run(t, rawJob(out))
	testutil.ErrorMentions(t, err, syscall.EROFS, out, "cannot write there", "read-only file system")

	testutil.Remount(t, mnt, st.Size()*nShards*2, false)
	res, err := run(t, rawJob(out))
	if err != nil {
		t.Fatalf("rerun with room: %v", err)
	}
	if len(res.Files) != nShards-done || res.WrittenByOthers != done {
		t.Fatalf("rerun wrote %d files and found %d written; want %d and %d", len(res.Files), res.WrittenByOthers, nShards-done, done)
	}
	got, err := sinks.ReadFeatures(context.Background(), sinks.ReadOptions{}, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Files) != nShards || got.Rows() != want.Rows() {
		t.Fatalf("%d files, %d rows; want %d, %d", len(got.Files), got.Rows(), nShards, want.Rows())
	}
	for i := range want.Keys {
		if got.Keys[i] != want.Keys[i] || !testutil.BitEqual(got.Data[i*want.Dim:(i+1)*want.Dim], want.Data[i*want.Dim:(i+1)*want.Dim]) {
			t.Fatalf("row %d differs from the undisturbed run's", i)
		}
	}
}
