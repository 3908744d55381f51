package checkpoint

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swavgo/swav/ingest/store/s3local"
)

// TestSaveTwiceIsTaken: a second Save of one iteration into one folder
// (another trainer got there first) fails with ErrTaken naming the folder
// and the iteration, and the first file stays the one that loads. Locally
// and on S3.
func TestSaveTwiceIsTaken(t *testing.T) {
	ctx := context.Background()
	srv := s3local.StartForTest(t)
	if _, err := srv.CreateBucket(ctx, "taken"); err != nil {
		t.Fatal(err)
	}
	st := Store{Config: srv.StoreConfig()}
	for _, dir := range []string{filepath.Join(t.TempDir(), "checkpoints"), "s3://taken/run1/checkpoints"} {
		first := sampleCheckpoint(10)
		first.Losses = []float64{1, 2, 3}
		if _, err := st.Save(ctx, dir, first, 0); err != nil {
			t.Fatal(err)
		}
		_, err := st.Save(ctx, dir, sampleCheckpoint(10), 0)
		if !errors.Is(err, ErrTaken) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "iteration 10") {
			t.Fatalf("%s: second save: %v; want ErrTaken naming the folder and iteration 10", dir, err)
		}
		got, err := st.Load(ctx, dir+"/"+FileName(10))
		if err != nil || len(got.Losses) != 3 {
			t.Fatalf("%s: the first checkpoint was replaced or damaged: %v", dir, err)
		}
	}
}
