package swav

import (
	"fmt"

	"github.com/swavgo/swav/train"
)

// QueueTensorName is the name Queue.Tensor gives the queue in a train.State.
const QueueTensorName = "queue"

// Queue is the reference's queue of stored embeddings (SPEC §3): a
// [len(crops_for_assign)][L][D] tensor, zero-initialised, where slot i holds
// the detached embeddings of crop assign[i] from previous iterations, newest
// first. It is owned by one goroutine (the backend's step).
type Queue[T Float] struct {
	slots, length, dim int
	data               []T
	inUse              bool
	usedLast           []bool
}

// QueueRows is the queue length the reference uses for a configured
// queue_length and batch: rounded down to a multiple of the batch
// (queue_length -= queue_length % (batch_size * world_size), world size 1
// here); 0 means no queue. Both backends size their queues with it.
func QueueRows(length, batch int) int {
	if batch <= 0 || length <= 0 {
		return 0
	}
	return length - length%batch
}

// NewQueue returns a zero queue of nAssign slots of QueueRows(length,
// batch) rows of dim values. It returns nil (no queue) when that is 0.
// Cost: nAssign*length*dim values of T.
func NewQueue[T Float](nAssign, length, batch, dim int) *Queue[T] {
	if nAssign <= 0 || dim <= 0 {
		return nil
	}
	length = QueueRows(length, batch)
	if length <= 0 {
		return nil
	}
	return &Queue[T]{
		slots: nAssign, length: length, dim: dim,
		data:     make([]T, nAssign*length*dim),
		usedLast: make([]bool, nAssign),
	}
}

// Slots is len(crops_for_assign).
func (q *Queue[T]) Slots() int { return q.slots }

// Len is L, the rows per slot.
func (q *Queue[T]) Len() int { return q.length }

// Dim is D.
func (q *Queue[T]) Dim() int { return q.dim }

// Slot returns slot i's L x D rows (aliasing the queue's storage).
func (q *Queue[T]) Slot(i int) []T {
	n := q.length * q.dim
	return q.data[i*n : (i+1)*n]
}

// Data is the whole [slots][L][D] storage (aliased, not copied).
func (q *Queue[T]) Data() []T { return q.data }

// InUse is the reference's use_the_queue flag: set once a slot was used
// during this epoch, so that every later slot and iteration uses it too.
func (q *Queue[T]) InUse() bool { return q.inUse }

// UsedLast reports, per slot, whether the last Codes call prepended that
// slot's stored embeddings (golden: queue_used).
func (q *Queue[T]) UsedLast() []bool { return append([]bool(nil), q.usedLast...) }

// StartEpoch clears the use_the_queue flag, as the reference does at the
// start of every epoch (a full queue is used again right away because its
// last row is non-zero). The training stage calls it at each epoch start.
func (q *Queue[T]) StartEpoch() { q.inUse = false }

// lastRowNonZero reports whether slot i's last row has a non-zero entry,
// the reference's "completely filled at least once" test.
func (q *Queue[T]) lastRowNonZero(i int) bool {
	s := q.Slot(i)
	for _, v := range s[(q.length-1)*q.dim:] {
		if v != 0 {
			return true
		}
	}
	return false
}

// push shifts slot i down by len(rows)/D rows (the oldest fall off the end)
// and writes rows at the front.
func (q *Queue[T]) push(i int, rows []T) {
	s := q.Slot(i)
	copy(s[len(rows):], s[:len(s)-len(rows)])
	copy(s, rows)
}

// Tensor returns a float32 copy of the queue named QueueTensorName with shape
// [slots, L, D], for train.State.
func (q *Queue[T]) Tensor() train.Tensor {
	d := make([]float32, len(q.data))
	for i, v := range q.data {
		d[i] = float32(v)
	}
	return train.Tensor{Name: QueueTensorName, Shape: []int{q.slots, q.length, q.dim}, Data: d}
}

// Load replaces the queue's contents by t, which must have shape
// [slots, L, D] equal to this queue's and matching data; the use flag is
// cleared (the reference recomputes it from the contents).
func (q *Queue[T]) Load(t *train.Tensor) error {
	want := []int{q.slots, q.length, q.dim}
	if len(t.Shape) != 3 || t.Shape[0] != want[0] || t.Shape[1] != want[1] || t.Shape[2] != want[2] {
		return fmt.Errorf("swav: queue tensor %q has shape %v, want %v", t.Name, t.Shape, want)
	}
	if len(t.Data) != len(q.data) {
		return fmt.Errorf("swav: queue tensor %q has %d values, want %d", t.Name, len(t.Data), len(q.data))
	}
	for i, v := range t.Data {
		q.data[i] = T(v)
	}
	q.inUse = false
	return nil
}

// SetData replaces the queue's contents by data ([slots][L][D] values, as
// float64 in golden files); it returns an error naming the length mismatch.
func (q *Queue[T]) SetData(data []float64) error {
	if len(data) != len(q.data) {
		return fmt.Errorf("swav: queue data has %d values, want %d (%d x %d x %d)", len(data), len(q.data), q.slots, q.length, q.dim)
	}
	for i, v := range data {
		q.data[i] = T(v)
	}
	return nil
}

// Codes computes the Sinkhorn codes (B x K each) of the crops in assign, as
// the reference does under no gradient (SPEC §1.5): s = scores of crop
// assign[i]; when a queue is given and it is in use or slot i's last row is
// non-zero, the slot's stored embeddings are scored with the current
// prototypes (queue[i] C^T) and prepended; then, used or not, the slot is
// shifted down by B rows and crop assign[i]'s embeddings are written in front;
// the codes are Sinkhorn(s)[-B:]. q may be nil (no queue); embeddings are
// only read when q is not nil. scores is (V*B) x K, embeddings (V*B) x D,
// prototypes K x D (normalised).
//
// Cost per crop: Sinkhorn on (L+B) x K plus L*K*D multiply-adds for the queue
// scores. It panics on mismatched lengths or a queue of another D or slot count.
func Codes[T Float](scores, embeddings, prototypes []T, q *Queue[T], assign []int, b, k, d int, eps float64, iters int) [][]T {
	if len(scores)%(b*k) != 0 {
		panic(fmt.Sprintf("swav.Codes: scores has %d elements, not a multiple of B*K = %d", len(scores), b*k))
	}
	v := len(scores) / (b * k)
	checkLen("Codes", "prototypes", prototypes, k*d)
	if q != nil {
		checkLen("Codes", "embeddings", embeddings, v*b*d)
		if q.slots != len(assign) || q.dim != d {
			panic(fmt.Sprintf("swav.Codes: queue has %d slots of dim %d, want %d of dim %d", q.slots, q.dim, len(assign), d))
		}
	}
	codes := make([][]T, len(assign))
	for i, c := range assign {
		if c < 0 || c >= v {
			panic(fmt.Sprintf("swav.Codes: assign[%d] = %d outside [0, %d)", i, c, v))
		}
		s := scores[c*b*k : (c+1)*b*k]
		n := b
		if q != nil {
			q.usedLast[i] = false
			if q.inUse || q.lastRowNonZero(i) {
				q.inUse = true
				q.usedLast[i] = true
				qs := MulABt(q.Slot(i), prototypes, q.length, k, d)
				s = append(qs, s...)
				n += q.length
			}
			q.push(i, embeddings[c*b*d:(c+1)*b*d])
		}
		codes[i] = sinkhornTail(s, n, k, eps, iters, b)
	}
	return codes
}
