package swav

import (
	"slices"
	"strings"
	"testing"

	"github.com/swavgo/swav/train"
)

func TestNewQueueRoundsToBatch(t *testing.T) {
	cases := []struct {
		length, batch, want int
	}{
		{3840, 64, 3840}, {3900, 64, 3840}, {20, 8, 16}, {7, 8, 0}, {0, 8, 0},
	}
	for _, tc := range cases {
		q := NewQueue[float32](2, tc.length, tc.batch, 4)
		switch {
		case tc.want == 0 && q != nil:
			t.Errorf("length %d batch %d: got a queue, want none", tc.length, tc.batch)
		case tc.want != 0 && (q == nil || q.Len() != tc.want):
			t.Errorf("length %d batch %d: got %v, want %d rows", tc.length, tc.batch, q, tc.want)
		}
	}
}

// TestQueueFillsThenIsUsed follows the reference over iterations: the queue
// is filled from the start but used only once its last row is non-zero,
// newest rows first; once in use it stays in use for the epoch.
func TestQueueFillsThenIsUsed(t *testing.T) {
	const v, b, d, k, length = 3, 2, 4, 5, 6
	assign := []int{0, 1}
	protos := unitRows(newRng(1), k, d, 1)
	q := NewQueue[float64](len(assign), length, b, d)
	for it := 0; it < 5; it++ {
		z := unitRows(newRng(uint64(10+it)), v*b, d, 1)
		scores := MulABt(z, protos, v*b, k, d)
		before := slices.Clone(q.Slot(1))
		codes := Codes(scores, z, protos, q, assign, b, k, d, 0.05, 3)
		wantUsed := it >= length/b
		if got := q.UsedLast(); got[0] != wantUsed || got[1] != wantUsed {
			t.Fatalf("iteration %d: used %v, want %v", it, got, wantUsed)
		}
		// Slot 1 now starts with crop 1's embeddings, then the old rows.
		slot := q.Slot(1)
		if !slices.Equal(slot[:b*d], z[1*b*d:2*b*d]) || !slices.Equal(slot[b*d:], before[:len(before)-b*d]) {
			t.Fatalf("iteration %d: slot 1 is not shifted and refilled", it)
		}
		// Codes of a used queue are Sinkhorn over queue rows + batch rows.
		want := Sinkhorn(scores[1*b*k:2*b*k], b, k, 0.05, 3)
		if wantUsed {
			qs := MulABt(before, protos, length, k, d)
			want = SinkhornTail(append(qs, scores[1*b*k:2*b*k]...), length+b, k, 0.05, 3, b)
		}
		if d := maxAbsDiff(codes[1], want); d != 0 {
			t.Fatalf("iteration %d: codes differ by %g", it, d)
		}
	}
	if !q.InUse() {
		t.Fatal("queue not in use after filling")
	}
	q.StartEpoch()
	if q.InUse() {
		t.Fatal("StartEpoch kept the use flag")
	}
}

func TestQueueTensorRoundTrip(t *testing.T) {
	q := NewQueue[float32](2, 4, 2, 3)
	for i := range q.Data() {
		q.Data()[i] = float32(i)
	}
	tn := q.Tensor()
	if tn.Name != QueueTensorName || !slices.Equal(tn.Shape, []int{2, 4, 3}) {
		t.Fatalf("tensor %q %v", tn.Name, tn.Shape)
	}
	r := NewQueue[float32](2, 4, 2, 3)
	if err := r.Load(&tn); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Data(), q.Data()) {
		t.Fatal("round trip changed the queue")
	}
	bad := []struct {
		name string
		t    train.Tensor
		want string
	}{
		{"shape", train.Tensor{Name: "queue", Shape: []int{2, 8, 3}, Data: make([]float32, 48)}, `queue tensor "queue" has shape [2 8 3], want [2 4 3]`},
		{"data", train.Tensor{Name: "queue", Shape: []int{2, 4, 3}, Data: make([]float32, 5)}, "has 5 values, want 24"},
	}
	for _, tc := range bad {
		if err := r.Load(&tc.t); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := r.SetData(make([]float64, 3)); err == nil {
		t.Error("SetData accepted 3 values")
	}
}
