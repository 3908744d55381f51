package parquet

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/sinks/sinktest"
)

// TestSeamRoundTrip: the Parquet sink passes the round trip of every
// feature sink, both ways through the seam, in a local folder, a file://
// URL and on S3 (versitygw), with no Arrow memory left allocated.
func TestSeamRoundTrip(t *testing.T) {
	srv := s3local.StartForTest(t)
	if _, err := srv.CreateBucket(context.Background(), "seam"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct{ name, url string }{
		{"folder", filepath.Join(dir, "out")},
		{"file URL", "file://" + filepath.Join(dir, "url")},
		{"s3", "s3://seam/run1/out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			o := sinks.Options{Store: srv.StoreConfig()}
			Edit(&o.Settings).RowGroupRows = 3 // several row groups per unit
			sinktest.Run(t, tc.url, o, sinks.ReadOptions{Store: srv.StoreConfig(), Mem: mem})
		})
	}
}
