package checkpoint

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/swavgo/swav/internal/testutil"
)

// bigCheckpoint is sampleCheckpoint with a state of about 256 KiB.
func bigCheckpoint(iter int) *Checkpoint {
	ck := sampleCheckpoint(iter)
	data := make([]float32, 64<<10)
	for i := range data {
		data[i] = float32(i%1000) / 7
	}
	ck.State.Params[0].Shape, ck.State.Params[0].Data = []int{len(data)}, data
	ck.State.Momentum[0].Shape, ck.State.Momentum[0].Data = []int{len(data)}, data
	return ck
}

// TestSaveOnAFullOrReadOnlyDisk: a checkpoint write that fails (the disk
// fills up, the folder turns read-only) is an error naming the file and the
// cause, leaves no temporary file, and leaves the latest good checkpoint
// the latest, loadable, for a resume; once there is room a rerun writes the
// checkpoint. A real tmpfs limited to one and a half checkpoints (root).
func TestSaveOnAFullOrReadOnlyDisk(t *testing.T) {
	ctx := context.Background()
	n := int64(len(encoded(t, bigCheckpoint(5))))
	mnt := testutil.Tmpfs(t, n*3/2)
	dir := filepath.Join(mnt, "checkpoints")
	if _, err := Save(ctx, dir, bigCheckpoint(5), 0); err != nil {
		t.Fatal(err)
	}
	onlyFirst := func(when string) {
		t.Helper()
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 || ents[0].Name() != FileName(5) {
			t.Fatalf("%s: the folder holds %v, want only %s", when, ents, FileName(5))
		}
		url, found, err := Latest(ctx, dir)
		if err != nil || !found || filepath.Base(url) != FileName(5) {
			t.Fatalf("%s: latest %s %v %v", when, url, found, err)
		}
		if ck, err := Load(ctx, url); err != nil || ck.Iter != 5 {
			t.Fatalf("%s: the latest good checkpoint does not load: %v", when, err)
		}
	}
	_, err := Save(ctx, dir, bigCheckpoint(10), 0)
	testutil.ErrorMentions(t, err, syscall.ENOSPC, filepath.Join(dir, FileName(10)), "no space left on device")
	t.Logf("disk full: %v", err)
	onlyFirst("disk full")

	testutil.Remount(t, mnt, n*3/2, true)
	_, err = Save(ctx, dir, bigCheckpoint(10), 0)
	testutil.ErrorMentions(t, err, syscall.EROFS, filepath.Join(dir, FileName(10)), "read-only file system")
	t.Logf("read-only: %v", err)
	onlyFirst("read-only")

	testutil.Remount(t, mnt, n*3, false)
	if _, err := Save(ctx, dir, bigCheckpoint(10), 0); err != nil {
		t.Fatalf("rerun with room: %v", err)
	}
	if url, _, _ := Latest(ctx, dir); filepath.Base(url) != FileName(10) {
		t.Fatalf("latest %s after the rerun", url)
	}
}
