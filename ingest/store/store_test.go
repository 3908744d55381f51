package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/ingest/store/storetest"
)

func TestBucketAcceptance(t *testing.T) {
	t.Run("local", func(t *testing.T) {
		b, err := store.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		storetest.Run(t, b, "")
	})
	t.Run("local-via-Open", func(t *testing.T) {
		b, prefix, err := store.Open(context.Background(), t.TempDir()+"/", store.Config{})
		if err != nil {
			t.Fatal(err)
		}
		storetest.Run(t, b, prefix)
	})
	t.Run("s3-versitygw", func(t *testing.T) {
		srv := s3local.StartForTest(t)
		ctx := context.Background()
		if _, err := srv.CreateBucket(ctx, "accept"); err != nil {
			t.Fatal(err)
		}
		b, prefix, err := store.Open(ctx, "s3://accept/run1/", srv.StoreConfig())
		if err != nil {
			t.Fatal(err)
		}
		storetest.Run(t, b, prefix)
	})
}

func TestOpenURLs(t *testing.T) {
	for _, tc := range []struct {
		url, name, prefix, err string
	}{
		{url: "/data/shards", name: "file:///", prefix: "data/shards"},
		{url: "file:///data/shards/", name: "file:///", prefix: "data/shards/"},
		{url: "s3://bkt/some/prefix-", name: "s3://bkt", prefix: "some/prefix-"},
		{url: "s3://", err: "no bucket name"},
		{url: "gs://x/y", err: "unsupported scheme"},
	} {
		b, prefix, err := store.Open(context.Background(), tc.url, store.Config{S3: store.S3Config{Region: "us-east-1", AccessKeyID: "k", SecretAccessKey: "s"}})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Open(%q) error %v, want %q", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Open(%q): %v", tc.url, err)
		}
		if b.Name() != tc.name || prefix != tc.prefix {
			t.Errorf("Open(%q) = %s, %q; want %s, %q", tc.url, b.Name(), prefix, tc.name, tc.prefix)
		}
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
