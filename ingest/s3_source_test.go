package ingest_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/faultproxy"
)

// s3Shards uploads 10 shards x 40 samples (with index) to bucket/prefix on
// the shared versitygw and returns a local copy's directory for comparison.
func s3Shards(t *testing.T, bucket string) string {
	srv := needS3(t)
	ctx := context.Background()
	dir := t.TempDir()
	local, _ := store.NewLocal(dir)
	writeShards(t, local, "", 10, 40, true)
	b, err := srv.CreateBucket(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Copy(ctx, local, store.Prefixed(b, "wds")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestS3SourceMatchesLocal(t *testing.T) {
	dir := s3Shards(t, "clean")
	cfg := localConfig(t, dir)
	cfg.ShuffleBuffer, cfg.Prefetch = 16, 3
	opts := ingest.SourceOptions{Seed: 11, World: 1, Workers: 2, Epochs: 1}
	want, err := collect(t, cfg, opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Shards = []string{"s3://clean/wds/"} // a prefix
	cfg.Store.S3 = s3srv.S3Config()
	gotS3, err := collect(t, cfg, opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotS3, want) {
		t.Fatalf("S3 run differs from the local run (%d vs %d samples)", len(gotS3), len(want))
	}
	n, err := ingest.CountSamples(context.Background(), cfg)
	if err != nil || n != 400 {
		t.Fatalf("CountSamples over S3 = %d, %v", n, err)
	}
}

// TestS3FaultsLoseNothing reads through a proxy that resets connections,
// answers 503 SlowDown, cuts bodies mid-shard and delays responses: the run
// must yield exactly the samples, in the same order, of a clean run.
func TestS3FaultsLoseNothing(t *testing.T) {
	dir := s3Shards(t, "faulty")
	cfg := localConfig(t, dir)
	cfg.ShuffleBuffer, cfg.Prefetch = 16, 2
	opts := ingest.SourceOptions{Seed: 5, World: 1, Workers: 2, Epochs: 1}
	want, err := collect(t, cfg, opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := faultproxy.Start(s3srv.Endpoint, faultproxy.Faults{
		ResetEvery: 3, SlowDownEvery: 5, CutEvery: 2, SlowEvery: 7, SlowDelay: 30 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	cfg.Shards = []string{"s3://faulty/wds/part-{000000..000009}.tar"}
	cfg.Store.S3 = s3srv.S3Config()
	cfg.Store.S3.Endpoint = proxy.URL
	before := store.S3Counters()
	got, err := collect(t, cfg, opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	inj := proxy.Injected()
	// The S3 counters (pipeline_s3_* metrics) saw the faults: the GETs the
	// proxy counted (less the resets Go's HTTP transport resends on its
	// own, below the SDK), the 503s as failed attempts, the cut bodies as
	// resumed reads.
	after := store.S3Counters()
	if d := after.Requests - before.Requests; d < proxy.Gets()-inj["reset"] {
		t.Errorf("S3 requests counted %d, the proxy saw %d GETs and %d resets", d, proxy.Gets(), inj["reset"])
	}
	if d := after.Failed - before.Failed; d < inj["slowdown"] {
		t.Errorf("failed S3 requests counted %d, injected %d SlowDowns", d, inj["slowdown"])
	}
	if d := after.Resumed - before.Resumed; d < inj["cut"] {
		t.Errorf("resumed reads counted %d, injected %d cut bodies", d, inj["cut"])
	}
	for _, k := range []string{"reset", "slowdown", "cut", "slow"} {
		if inj[k] == 0 {
			t.Errorf("no %s fault was injected (%v)", k, inj)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("faulty run yields %d samples, clean run %d, or a different order", len(got), len(want))
	}
	t.Logf("faults injected: %v", inj)
}

// TestS3StandardEnvironment reaches the server with an empty S3 section:
// endpoint, region and keys come from the standard AWS variables, and
// path-style addressing is on because the endpoint is custom.
func TestS3StandardEnvironment(t *testing.T) {
	dir := s3Shards(t, "envbucket")
	for _, endpointVar := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Run(endpointVar, func(t *testing.T) {
			t.Setenv(endpointVar, s3srv.Endpoint)
			t.Setenv("AWS_REGION", "us-east-1")
			t.Setenv("AWS_ACCESS_KEY_ID", s3srv.AccessKey)
			t.Setenv("AWS_SECRET_ACCESS_KEY", s3srv.SecretKey)
			t.Setenv("AWS_CONFIG_FILE", "/dev/null")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
			cfg := localConfig(t, dir)
			want, err := collect(t, cfg, ingest.SourceOptions{Seed: 1, World: 1, Epochs: 1}, 0)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Shards = []string{"s3://envbucket/wds/part-*.tar"}
			got, err := collect(t, cfg, ingest.SourceOptions{Seed: 1, World: 1, Epochs: 1}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatal("S3 run via the AWS environment differs from the local run")
			}
		})
	}
}

// TestS3ParquetRangedReadsSurviveFaults reads Parquet shards (footer and
// column chunks by byte range) through the fault proxy.
func TestS3ParquetRangedReadsSurviveFaults(t *testing.T) {
	srv := needS3(t)
	ctx := context.Background()
	dir := t.TempDir()
	writeParquet(t, filepath.Join(dir, "a.parquet"), "image", 30)
	writeParquet(t, filepath.Join(dir, "b.parquet"), "image", 12)
	local, _ := store.NewLocal(dir)
	b, err := srv.CreateBucket(ctx, "parquet")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Copy(ctx, local, store.Prefixed(b, "hf")); err != nil {
		t.Fatal(err)
	}
	cfg := oneShard(dir + "/*.parquet")
	want, err := collect2(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := faultproxy.Start(srv.Endpoint, faultproxy.Faults{ResetEvery: 4, SlowDownEvery: 5, CutEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	cfg.Shards = []string{"s3://parquet/hf/*.parquet"}
	cfg.Store.S3 = srv.S3Config()
	cfg.Store.S3.Endpoint = proxy.URL
	got, err := collect2(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || len(got) != 42 {
		t.Fatalf("got %d rows through faults, want the %d of the local run", len(got), len(want))
	}
	if inj := proxy.Injected(); inj["cut"] == 0 || inj["reset"] == 0 {
		t.Fatalf("faults not exercised: %v", inj)
	}
}

// TestS3BadInputThroughSource: a missing bucket, a missing object and bad
// credentials reach a source's caller as errors naming the shard.
func TestS3BadInputThroughSource(t *testing.T) {
	srv := needS3(t)
	if _, err := srv.CreateBucket(context.Background(), "badinput"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, shard, secret string
		want                []string
	}{
		{"missing bucket", "s3://no-such-bucket/train-000000.tar", "", []string{"s3://no-such-bucket/train-000000.tar", "does not exist"}},
		{"missing object", "s3://badinput/train-000007.tar", "", []string{"s3://badinput/train-000007.tar", "does not exist"}},
		{"bad credentials", "s3://badinput/train-000000.tar", "wrong-secret", []string{"s3://badinput/train-000000.tar", "credentials rejected"}},
	} {
		cfg := ingest.DefaultConfig()
		cfg.Shards = []string{tc.shard}
		cfg.Rank, cfg.WorldSize = 0, 1
		cfg.Store.S3 = srv.S3Config()
		cfg.Store.Retries = 2
		if tc.secret != "" {
			cfg.Store.S3.SecretAccessKey = tc.secret
		}
		_, err := collect(t, cfg, ingest.SourceOptions{World: 1, Epochs: 1}, 0)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v should contain %q", tc.name, err, w)
			}
		}
		if err != nil && tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
			t.Errorf("%s: error leaks the secret", tc.name)
		}
	}
}
