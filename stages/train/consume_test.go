package train

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/ingest"
)

// TestConsumeSteps feeds a Trainer (3 iterations per epoch, batch_size 4)
// a sequence of batches and checks, after the last, Consume's named steps:
// which batches stepped (step), where the data cursor is (advance,
// skipBatch) and the position of the next step (crossEpoch, moveTo).
func TestConsumeSteps(t *testing.T) {
	full := func(epoch int, seq int64) *augment.Batch {
		return testBatch(epoch, seq, 4, []int{4}, augment.DTypeFloat32)
	}
	cases := []struct {
		name    string
		batches func() []*augment.Batch
		stepped []int           // iterations the backend ran
		cursor  ingest.Position // after the last batch
		epoch   int             // of the next step
		iter    int             // of the next step
		err     string          // of the last batch
	}{
		{"one full batch steps", func() []*augment.Batch { return []*augment.Batch{full(0, 0)} },
			[]int{0}, ingest.Position{Epoch: 0, Seq: 3}, 0, 1, ""},
		{"a partial batch moves the cursor only", func() []*augment.Batch {
			return []*augment.Batch{full(0, 0), testBatch(0, 4, 3, []int{4}, augment.DTypeFloat32)}
		}, []int{0}, ingest.Position{Epoch: 0, Seq: 6}, 0, 1, ""},
		{"a batch past the epoch's iterations moves the cursor only", func() []*augment.Batch {
			return []*augment.Batch{full(0, 0), full(0, 4), full(0, 8), full(0, 12)}
		}, []int{0, 1, 2}, ingest.Position{Epoch: 0, Seq: 15}, 0, 3, ""},
		{"the next epoch starts at its first iteration", func() []*augment.Batch {
			return []*augment.Batch{full(0, 0), full(0, 4), full(0, 8), full(1, 0)}
		}, []int{0, 1, 2, 3}, ingest.Position{Epoch: 1, Seq: 3}, 1, 4, ""},
		{"a short epoch leaves its last iterations out", func() []*augment.Batch {
			return []*augment.Batch{full(0, 0), full(1, 0)}
		}, []int{0, 3}, ingest.Position{Epoch: 1, Seq: 3}, 1, 4, ""},
		{"a batch over batch_size moves nothing", func() []*augment.Batch {
			return []*augment.Batch{full(0, 0), testBatch(0, 4, 5, []int{4}, augment.DTypeFloat32)}
		}, []int{0}, ingest.Position{Epoch: 0, Seq: 3}, 0, 1, "batch of 5 rows"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			be := newFakeBackend(10)
			tr, err := NewTrainer(Options{Config: testConfig(), Out: t.TempDir(), ItersPerEpoch: 3, Backend: be, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			batches := c.batches()
			last := len(batches) - 1
			for i, b := range batches[:last] {
				if err := tr.Consume(context.Background(), b); err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
			}
			err = tr.Consume(context.Background(), batches[last])
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("last batch: err = %v, want %q", err, c.err)
			}
			if !slices.Equal(be.seen, c.stepped) || tr.cursor != c.cursor || tr.epoch != c.epoch || tr.Iter() != c.iter {
				t.Errorf("stepped %v, cursor %+v, next epoch %d iter %d; want %v, %+v, %d, %d", be.seen, tr.cursor, tr.epoch, tr.Iter(), c.stepped, c.cursor, c.epoch, c.iter)
			}
		})
	}
}
