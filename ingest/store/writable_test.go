package store_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/internal/testutil"
)

// TestCheckWrite: a local folder (or a folder of it) is created and found
// writable; one under a regular file is an error naming it; S3 has no
// cheap check and reports nil without a request.
func TestCheckWrite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s3, err := store.NewS3(ctx, "no-such-bucket", store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		url  string
		b    store.Bucket
		want []string
	}{
		{"new local folder", filepath.Join(dir, "new", "out"), nil, nil},
		{"under a file", filepath.Join(file, "out"), nil, []string{"a-file/out", "cannot create the folder"}},
		{"s3", "", s3, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b
			if b == nil {
				if b, err = store.OpenDir(ctx, tc.url, store.Config{}); err != nil {
					t.Fatal(err)
				}
			}
			err := store.CheckWrite(ctx, b)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if tc.url != "" {
					ents, err := os.ReadDir(tc.url)
					if err != nil || len(ents) != 0 {
						t.Fatalf("folder after the check: %v entries, %v", len(ents), err)
					}
				}
				return
			}
			testutil.ErrorMentions(t, err, nil, tc.want...)
		})
	}
}

// TestUploadRemovesTempsOfDeadWriters: a temp file a killed writer left
// beside an object (its PID in the name) is removed by the next upload of
// that name; a live writer's is kept.
func TestUploadRemovesTempsOfDeadWriters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, ".x.bin.tmp-upload-"+strconv.Itoa(cmd.Process.Pid)+"-123")
	live := filepath.Join(dir, ".x.bin.tmp-upload-"+strconv.Itoa(os.Getppid())+"-456")
	for _, p := range []string{dead, live} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.UploadIfAbsent(ctx, "x.bin", strings.NewReader("whole")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the dead writer's temp is still there: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the live writer's temp was removed: %v", err)
	}
}
