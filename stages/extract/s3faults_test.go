package extract

import (
	"context"
	"strings"
	"testing"

	"github.com/swavgo/swav/ingest/store/faultproxy"
	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/sinks"
)

// TestExtractThroughS3WriteFaults writes the feature files to S3 through
// the fault proxy. Faults the retries absorb (resets mid-upload, SlowDown,
// 500s, lost replies, 409 conflicts) leave the run's output equal to a
// clean run's. Faults that outlast the retries end the run with an error
// naming the feature file and the fault, nothing of the failed file is
// visible, and a rerun without faults finishes with every shard once.
func TestExtractThroughS3WriteFaults(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const nShards = 4
	shards, ck, want := reference(t, dir, nShards)
	srv := s3local.StartForTest(t)
	if _, err := srv.CreateBucket(ctx, "feats"); err != nil {
		t.Fatal(err)
	}
	through := func(out string, f faultproxy.Faults, retries int) error {
		proxy, err := faultproxy.Start(srv.Endpoint, f)
		if err != nil {
			t.Fatal(err)
		}
		defer proxy.Close()
		job := testJob(shards, out, ck)
		job.Store.S3 = srv.S3Config()
		job.Store.S3.Endpoint = proxy.URL
		job.Store.Retries = retries
		_, err = run(t, job)
		return err
	}
	check := func(out string) {
		t.Helper()
		got, err := sinks.ReadFeatures(ctx, sinks.ReadOptions{Store: srv.StoreConfig()}, out)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Files) != nShards || got.Rows() != want.Rows() {
			t.Fatalf("%s: %d files, %d rows; want %d, %d", out, len(got.Files), got.Rows(), nShards, want.Rows())
		}
		for i := range want.Keys {
			if got.Keys[i] != want.Keys[i] {
				t.Fatalf("%s: row %d is %s, want %s", out, i, got.Keys[i], want.Keys[i])
			}
		}
	}

	absorbed := faultproxy.Faults{WriteOnly: "PutObject", WriteResetEvery: 2, WriteSlowDownEvery: 3, WriteErrorEvery: 5, WriteLostReplyEvery: 7, WriteConflictEvery: 4}
	if err := through("s3://feats/absorbed", absorbed, 10); err != nil {
		t.Fatalf("faults within the retries: %v", err)
	}
	check("s3://feats/absorbed")

	err := through("s3://feats/failed", faultproxy.Faults{WriteOnly: "PutObject", WriteErrorEvery: 2}, 1) // one attempt: the second file fails
	if err == nil || !strings.Contains(err.Error(), "s3://feats/failed/fm-") || !strings.Contains(err.Error(), "InternalError") {
		t.Fatalf("faults beyond the retries: %v; want an error naming the feature file and the fault", err)
	}
	t.Logf("beyond the retries: %v", err)
	done := countFeatureFiles(t, "s3://feats/failed", srv.StoreConfig())
	if done != 1 {
		t.Fatalf("%d files landed, want the first one only", done)
	}
	if _, err := sinks.ReadFeatures(ctx, sinks.ReadOptions{Store: srv.StoreConfig()}, "s3://feats/failed"); err != nil && done > 0 {
		t.Fatalf("a landed file is not complete: %v", err)
	}
	job := testJob(shards, "s3://feats/failed", ck)
	job.Store.S3 = srv.S3Config()
	res, err := run(t, job)
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if len(res.Files)+res.WrittenByOthers != nShards || res.WrittenByOthers != done {
		t.Fatalf("rerun wrote %d and found %d written; want %d and %d", len(res.Files), res.WrittenByOthers, nShards-done, done)
	}
	check("s3://feats/failed")
}
