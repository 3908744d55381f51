package sheet

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/s3local"
)

// TestWriteAssignmentsS3 writes a key/cluster/score file to a real S3
// server and reads it back.
func TestWriteAssignmentsS3(t *testing.T) {
	ctx := context.Background()
	srv := s3local.StartForTest(t)
	if _, err := srv.CreateBucket(ctx, "look"); err != nil {
		t.Fatal(err)
	}
	url := "s3://look/run1/clusters.parquet"
	if err := WriteAssignments(ctx, url, srv.StoreConfig(), []string{"a", "b"}, []int32{3, 1}, []float32{0.5, 0.25}); err != nil {
		t.Fatal(err)
	}
	if err := WriteAssignments(ctx, url, srv.StoreConfig(), []string{"a"}, nil, nil); err == nil {
		t.Fatal("columns of different lengths accepted")
	}
	b, key, err := store.Open(ctx, url, srv.StoreConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, err := b.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(r)
	r.Close()
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	fr, _ := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	tbl, err := fr.ReadTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	clusters := tbl.Column(1).Data().Chunk(0).(*array.Int32)
	if tbl.NumRows() != 2 || clusters.Value(0) != 3 || tbl.Column(0).Data().Chunk(0).(*array.String).Value(1) != "b" {
		t.Fatalf("read back %v", tbl)
	}
}
