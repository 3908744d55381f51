package train

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/train"
)

// fakeBackend is a small deterministic stand-in for a real backend: a few
// float32 parameters updated from the batch's mean pixel, a BN-like buffer,
// momentum and a queue, so that a resumed run only matches an uninterrupted
// one when every piece of state and every batch is restored exactly.
type fakeBackend struct {
	k        int
	w, mom   []float32
	steps    float32
	queue    []float32
	nanAt    int // iteration whose loss is NaN (-1: none)
	flatLoss bool
	delay    time.Duration // what a step takes on clock
	slowFrom int           // from this iteration on (when > 0), a step takes twice as long
	clock    *fakeClock    // advanced by delay per step (needed with a delay)
	closed   bool
	seen     []int     // iterations stepped
	lrs      []float64 // their learning rates
}

// fakeClock is a clock the test controls (Options.Now): time passes only
// when a step of the fake backend advances it, so a test of max_seconds and
// fit_to_budget sees the same times on an idle and on a loaded machine.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

// Now is the clock's time.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newFakeBackend(k int) *fakeBackend {
	return &fakeBackend{k: k, w: []float32{0.5, -0.25, 0.125}, mom: make([]float32, 3), nanAt: -1}
}

func (f *fakeBackend) Name() string   { return "fake" }
func (f *fakeBackend) Engine() string { return "fake engine" }

func (f *fakeBackend) Step(_ context.Context, in *train.StepInput) (train.StepResult, error) {
	var sum float64
	var n int
	for _, g := range in.Groups {
		for _, v := range g.Data {
			sum += float64(v)
		}
		n += len(g.Data)
		if len(g.Data) != g.Count*in.Batch*3*g.Size*g.Size {
			return train.StepResult{}, fmt.Errorf("group %d: %d values", g.Size, len(g.Data))
		}
	}
	m := float32(sum / float64(n))
	if f.delay > 0 {
		d := f.delay
		if f.slowFrom > 0 && in.Iter >= f.slowFrom {
			d *= 2
		}
		f.clock.Advance(d)
	}
	if in.Iter == f.nanAt {
		return train.StepResult{}, fmt.Errorf("fake: %w", train.ErrNonFinite)
	}
	loss := math.Log(float64(f.k))
	if !f.flatLoss {
		for i, w := range f.w {
			loss += float64(w * m * float32(i+1))
		}
		if in.UseQueue {
			for _, q := range f.queue {
				loss += float64(q) * 1e-3
			}
		}
	}
	for i := range f.w {
		g := f.w[i]*0.1 - m
		f.mom[i] = 0.9*f.mom[i] + g
		f.w[i] -= float32(in.LR) * f.mom[i]
	}
	f.steps++
	if in.UseQueue {
		f.queue = append([]float32{m}, f.queue...)[:min(len(f.queue)+1, 4)]
	}
	f.seen, f.lrs = append(f.seen, in.Iter), append(f.lrs, in.LR)
	return train.StepResult{Loss: loss}, nil
}

func (f *fakeBackend) Embed(context.Context, []float32, int, int, train.Feature) ([]float32, int, error) {
	return nil, 0, fmt.Errorf("fake: no embed")
}

func (f *fakeBackend) State() (*train.State, error) {
	st := &train.State{
		Params:   []train.Tensor{{Name: "w", Shape: []int{3}, Data: append([]float32(nil), f.w...)}},
		Buffers:  []train.Tensor{{Name: "steps", Shape: []int{1}, Data: []float32{f.steps}}},
		Momentum: []train.Tensor{{Name: "w", Shape: []int{3}, Data: append([]float32(nil), f.mom...)}},
	}
	if f.queue != nil {
		st.Queue = &train.Tensor{Name: "queue", Shape: []int{len(f.queue)}, Data: append([]float32(nil), f.queue...)}
	}
	return st, nil
}

func (f *fakeBackend) Load(st *train.State) error {
	if len(st.Params) != 1 || st.Params[0].Name != "w" {
		return fmt.Errorf("fake: state mismatch")
	}
	f.w = append([]float32(nil), st.Params[0].Data...)
	f.mom = append([]float32(nil), st.Momentum[0].Data...)
	f.steps = st.Buffers[0].Data[0]
	f.queue = nil
	if st.Queue != nil {
		f.queue = append([]float32(nil), st.Queue.Data...)
	}
	return nil
}

func (f *fakeBackend) Close() error { f.closed = true; return nil }

// testBatch builds a batch of rows samples starting at (epoch, seq) with one
// crop column per size; pixel values derive from (epoch, sample, crop).
func testBatch(epoch int, seq int64, rows int, sizes []int, dtype string) *augment.Batch {
	mem := memory.NewGoAllocator()
	fields := []arrow.Field{{Name: augment.ColKey, Type: arrow.BinaryTypes.String}, {Name: augment.ColLabel, Type: arrow.PrimitiveTypes.Int64}}
	keys := array.NewStringBuilder(mem)
	labels := array.NewInt64Builder(mem)
	for r := range rows {
		keys.Append("s" + strconv.FormatInt(seq+int64(r), 10))
		labels.Append(int64(r % 10))
	}
	cols := []arrow.Array{keys.NewArray(), labels.NewArray()}
	elem := arrow.DataType(arrow.PrimitiveTypes.Float32)
	if dtype == augment.DTypeUint8 {
		elem = arrow.PrimitiveTypes.Uint8
	}
	for c, s := range sizes {
		n := 3 * s * s
		lb := array.NewFixedSizeListBuilder(mem, int32(n), elem)
		for r := range rows {
			lb.Append(true)
			base := int(seq)*7 + r*13 + c*31 + epoch*101
			switch vb := lb.ValueBuilder().(type) {
			case *array.Float32Builder:
				for i := range n {
					vb.Append(float32((base+i)%255)/255 - 0.5)
				}
			case *array.Uint8Builder:
				for i := range n {
					vb.Append(uint8((base + i) % 256))
				}
			}
		}
		md := arrow.NewMetadata([]string{"shape", "group"}, []string{fmt.Sprintf("[3,%d,%d]", s, s), "0"})
		fields = append(fields, arrow.Field{Name: augment.CropColumn(c), Type: arrow.FixedSizeListOf(int32(n), elem), Metadata: md})
		cols = append(cols, lb.NewArray())
		lb.Release()
	}
	md := arrow.NewMetadata([]string{"dtype", "mean", "std"}, []string{dtype, "[0.485,0.456,0.406]", "[0.228,0.224,0.225]"})
	rec := array.NewRecordBatch(arrow.NewSchema(fields, &md), cols, int64(rows))
	for _, c := range cols {
		c.Release()
	}
	keys.Release()
	labels.Release()
	return &augment.Batch{Record: rec, Epoch: epoch, Last: ingest.Position{Epoch: epoch, Seq: seq + int64(rows) - 1}}
}

// batchStream yields the batches of a fake dataset of perEpoch samples in
// order, from the sample after cursor (nil: the start), like a resumed source.
func batchStream(epochs, perEpoch, rows int, sizes []int, cursor *ingest.Position) []*augment.Batch {
	var out []*augment.Batch
	for e := range epochs {
		for seq := int64(0); seq < int64(perEpoch); seq += int64(rows) {
			if cursor != nil && (e < cursor.Epoch || e == cursor.Epoch && seq <= cursor.Seq) {
				continue
			}
			out = append(out, testBatch(e, seq, min(rows, perEpoch-int(seq)), sizes, augment.DTypeFloat32))
		}
	}
	return out
}
