package s3local_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/s3local"
)

func TestServeDir(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "a.tar"), []byte("shard bytes"), 0o644)
	srv, err := s3local.ServeDir(context.Background(), dir, "fmnist")
	if errors.Is(err, s3local.ErrNoBinary) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ctx := context.Background()
	b, prefix, err := store.Open(ctx, "s3://fmnist/sub/", srv.StoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := store.List(ctx, b, prefix)
	if err != nil || len(objs) != 1 || objs[0].Name != "sub/a.tar" {
		t.Fatalf("List = %v, %v", objs, err)
	}
	rc, err := b.Get(ctx, "sub/a.tar")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "shard bytes" {
		t.Fatalf("got %q", data)
	}
}

func TestMissingBinaryNamesMakeDeps(t *testing.T) {
	if !strings.Contains(s3local.ErrNoBinary.Error(), "make deps") {
		t.Fatal("the error must tell the user to run make deps")
	}
	t.Setenv("VERSITYGW", filepath.Join(t.TempDir(), "no-such-versitygw"))
	if _, err := s3local.Start(context.Background(), t.TempDir()); err == nil {
		t.Fatal("started a missing binary")
	}
}
