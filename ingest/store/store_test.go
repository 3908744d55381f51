package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/ingest/store/storetest"
)

// TestBucketAcceptance runs the one acceptance suite on every
// implementation: local, S3 (versitygw), and each seen from a folder.
func TestBucketAcceptance(t *testing.T) {
	ctx := context.Background()
	srv := s3local.StartForTest(t)
	s3Bucket := func(t *testing.T, name string) store.Bucket {
		b, err := srv.CreateBucket(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		open func(t *testing.T) (store.Bucket, error)
	}{
		{"local", func(t *testing.T) (store.Bucket, error) { return store.NewLocal(t.TempDir()) }},
		{"local-OpenDir", func(t *testing.T) (store.Bucket, error) {
			return store.OpenDir(ctx, t.TempDir()+"/", store.Config{})
		}},
		{"local-Prefixed", func(t *testing.T) (store.Bucket, error) {
			b, err := store.NewLocal(t.TempDir())
			return store.Prefixed(store.Prefixed(b, "run1/"), "/sub"), err
		}},
		{"s3", func(t *testing.T) (store.Bucket, error) { return s3Bucket(t, "accept"), nil }},
		{"s3-OpenDir", func(t *testing.T) (store.Bucket, error) {
			s3Bucket(t, "accept-dir")
			return store.OpenDir(ctx, "s3://accept-dir/run1/", srv.StoreConfig())
		}},
		{"s3-Prefixed", func(t *testing.T) (store.Bucket, error) {
			return store.Prefixed(s3Bucket(t, "accept-prefixed"), "a/b"), nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.open(t)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			storetest.Run(t, b)
		})
	}
}

func TestOpenURLs(t *testing.T) {
	for _, tc := range []struct {
		url, name, prefix, dir, err string
	}{
		{url: "/data/shards", name: "file:///", prefix: "data/shards", dir: "file:///data/shards"},
		{url: "file:///data/shards/", name: "file:///", prefix: "data/shards/", dir: "file:///data/shards"},
		{url: "s3://bkt/some/prefix-", name: "s3://bkt", prefix: "some/prefix-", dir: "s3://bkt/some/prefix-"},
		{url: "s3://bkt", name: "s3://bkt", prefix: "", dir: "s3://bkt"},
		{url: "s3://", err: "no bucket name"},
		{url: "gs://x/y", err: "unsupported scheme"},
	} {
		sc := store.Config{S3: store.S3Config{Region: "us-east-1", AccessKeyID: "k", SecretAccessKey: "s"}}
		b, prefix, err := store.Open(context.Background(), tc.url, sc)
		d, dirErr := store.OpenDir(context.Background(), tc.url, sc)
		if tc.err != "" {
			for _, err := range []error{err, dirErr} {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("Open/OpenDir(%q) error %v, want %q", tc.url, err, tc.err)
				}
			}
			continue
		}
		if err != nil || dirErr != nil {
			t.Fatalf("Open/OpenDir(%q): %v, %v", tc.url, err, dirErr)
		}
		if b.Name() != tc.name || prefix != tc.prefix {
			t.Errorf("Open(%q) = %s, %q; want %s, %q", tc.url, b.Name(), prefix, tc.name, tc.prefix)
		}
		if d.Name() != tc.dir {
			t.Errorf("OpenDir(%q).Name() = %s, want %s", tc.url, d.Name(), tc.dir)
		}
	}
}

// TestCopyFolders copies one folder of a bucket into a folder of another:
// names are kept relative, nothing outside the source folder is copied.
func TestCopyFolders(t *testing.T) {
	ctx := context.Background()
	src, _ := store.NewLocal(t.TempDir())
	dst, _ := store.NewLocal(t.TempDir())
	for _, n := range []string{"in/a.tar", "in/sub/b.tar", "inside.txt", "out.txt"} {
		if err := src.Upload(ctx, n, strings.NewReader(n)); err != nil {
			t.Fatal(err)
		}
	}
	n, size, err := store.Copy(ctx, store.Prefixed(src, "in"), store.Prefixed(dst, "copy/"))
	if err != nil || n != 2 || size != int64(len("in/a.tar")+len("in/sub/b.tar")) {
		t.Fatalf("Copy = %d, %d, %v", n, size, err)
	}
	objs, err := store.List(ctx, dst, "")
	var got []string
	for _, o := range objs {
		got = append(got, o.Name)
	}
	if err != nil || strings.Join(got, ",") != "copy/a.tar,copy/sub/b.tar" {
		t.Fatalf("destination holds %v, %v", got, err)
	}
}

func TestS3BadInput(t *testing.T) {
	srv := s3local.StartForTest(t)
	ctx := context.Background()
	if _, err := srv.CreateBucket(ctx, "badinput"); err != nil {
		t.Fatal(err)
	}
	t.Run("missing bucket", func(t *testing.T) {
		b, _ := store.NewS3(ctx, "no-such-bucket", srv.StoreConfig())
		_, err := b.Get(ctx, "x.tar")
		if err == nil || !strings.Contains(err.Error(), "no-such-bucket") || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("error %v should name the missing bucket", err)
		}
	})
	t.Run("bad credentials", func(t *testing.T) {
		for _, tc := range []struct{ name, key, secret string }{
			{"wrong secret", srv.AccessKey, "wrong-secret"},
			{"unknown access key id", "AKIANOSUCHKEY", "wrong-secret"},
		} {
			cfg := srv.StoreConfig()
			cfg.S3.AccessKeyID, cfg.S3.SecretAccessKey = tc.key, tc.secret
			cfg.Retries = 1
			b, _ := store.NewS3(ctx, "badinput", cfg)
			_, getErr := b.Get(ctx, "x.tar")
			_, headErr := b.Attributes(ctx, "x.tar")
			_, existsErr := b.Exists(ctx, "x.tar")
			listErr := b.Iter(ctx, "", func(store.ObjectInfo) error { return nil })
			for op, err := range map[string]error{"get": getErr, "head": headErr, "exists": existsErr, "list": listErr} {
				if err == nil || !strings.Contains(err.Error(), "credentials rejected") || !strings.Contains(err.Error(), "s3://badinput") {
					t.Errorf("%s, %s: error %v should say credentials were rejected for s3://badinput", tc.name, op, err)
				}
				if err != nil && strings.Contains(err.Error(), "wrong-secret") {
					t.Errorf("%s, %s: error leaks the secret: %v", tc.name, op, err)
				}
			}
		}
	})
	t.Run("secret redacted", func(t *testing.T) {
		s := srv.S3Config().String()
		if strings.Contains(s, srv.SecretKey) {
			t.Fatalf("S3Config.String leaks the secret: %s", s)
		}
	})
}
