package s3local_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/ingest/store/storetest"
)

// TestMetadataModes runs the bucket acceptance suite (UploadIfAbsent's
// single winner included) on a server keeping metadata in xattrs and on one
// keeping it in a sidecar folder, and checks that a restarted server over
// the same folders still refuses to replace an object.
func TestMetadataModes(t *testing.T) {
	for _, mode := range []string{"xattr", "sidecar"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "sidecar" {
				s3local.ForceSidecar(t)
			}
			ctx := context.Background()
			dir := filepath.Join(t.TempDir(), "data")
			srv, err := s3local.Start(ctx, dir)
			if errors.Is(err, s3local.ErrNoBinary) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := srv.MetaDir != ""; got != (mode == "sidecar") {
				if mode == "xattr" {
					t.Skipf("the test folder's filesystem has no user xattrs (sidecar %s)", srv.MetaDir)
				}
				t.Fatalf("MetaDir = %q in mode %s", srv.MetaDir, mode)
			}
			b, err := srv.CreateBucket(ctx, "meta")
			if err != nil {
				srv.Stop()
				t.Fatal(err)
			}
			storetest.Run(t, b)
			if err := b.UploadIfAbsent(ctx, "kept.txt", strings.NewReader("first")); err != nil {
				t.Fatal(err)
			}
			srv.Stop()

			srv, err = s3local.Start(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Stop()
			b2, err := store.NewS3(ctx, "meta", srv.StoreConfig())
			if err != nil {
				t.Fatal(err)
			}
			if err := b2.UploadIfAbsent(ctx, "kept.txt", strings.NewReader("second")); !store.IsExist(err) {
				t.Fatalf("after a restart, a second conditional write: %v, want ErrExists", err)
			}
			if mode == "sidecar" {
				if _, err := os.Stat(srv.MetaDir); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
