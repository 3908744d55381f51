package parquet

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/sinks"
)

// TestS3RoundTrip writes feature files to a real S3 server (versitygw) and
// reads them back: the temp file is uploaded whole on Commit, an aborted file
// never appears, Done sees the finished one.
func TestS3RoundTrip(t *testing.T) {
	ctx := context.Background()
	srv := s3local.StartForTest(t)
	if _, err := srv.CreateBucket(ctx, "feats"); err != nil {
		t.Fatal(err)
	}
	out, err := OpenOutput(ctx, "s3://feats/run1/train", srv.StoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	md := testMeta(6, "s3://data/train-000000.tar")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	keys, labels, feats := writeFile(t, mem, out, "train-000000.parquet", md, 50, WriterOptions{RowGroupRows: 16})

	aborted, err := Create(ctx, out, "train-000001.parquet", md, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := aborted.Append(keys[:2], labels[:2], feats[:12]); err != nil {
		t.Fatal(err)
	}
	aborted.Abort()

	if ok, err := out.Done(ctx, "train-000000.parquet", md); !ok || err != nil {
		t.Fatalf("Done = %v, %v", ok, err)
	}
	if ok, err := out.Done(ctx, "train-000001.parquet", md); ok || err != nil {
		t.Fatalf("aborted file: Done = %v, %v", ok, err)
	}
	got, err := sinks.ReadFeatures(ctx, sinks.ReadOptions{Mem: mem, Store: srv.StoreConfig()}, "s3://feats/run1/train")
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows() != 50 || got.Dim != 6 || got.Keys[49] != keys[49] || got.Data[299] != feats[299] {
		t.Fatalf("read back %d rows of dim %d", got.Rows(), got.Dim)
	}
	if got.Files[0] != "s3://feats/run1/train/train-000000.parquet" {
		t.Errorf("file named %s", got.Files[0])
	}
	mem.AssertSize(t, 0)
}
