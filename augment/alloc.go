package augment

import (
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// RecyclingAllocator is a memory.Allocator that keeps freed buffers for
// reuse, one sync.Pool per allocation size. Training batches have the same
// few sizes batch after batch, so after the first batches no fresh memory is
// faulted in or zeroed (a float32 2x224+6x96 batch of 64 is 120 MB).
// Contents of a reused buffer are not zeroed: the batch builder writes every
// byte it exposes. Safe for concurrent use. The pools let the GC drop unused
// buffers.
type RecyclingAllocator struct {
	mu    sync.Mutex
	pools map[int]*sync.Pool
}

// NewRecyclingAllocator returns an empty allocator.
func NewRecyclingAllocator() *RecyclingAllocator {
	return &RecyclingAllocator{pools: map[int]*sync.Pool{}}
}

const allocAlign = 64

func (a *RecyclingAllocator) pool(size int) *sync.Pool {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pools[size]
	if p == nil {
		p = &sync.Pool{}
		a.pools[size] = p
	}
	return p
}

// Allocate implements memory.Allocator.
func (a *RecyclingAllocator) Allocate(size int) []byte {
	if size <= 0 {
		return make([]byte, 0, allocAlign)
	}
	c := (size + allocAlign - 1) &^ (allocAlign - 1)
	if b, ok := a.pool(c).Get().(*[]byte); ok {
		return (*b)[:size]
	}
	return make([]byte, size, c)
}

// Reallocate implements memory.Allocator.
func (a *RecyclingAllocator) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := a.Allocate(size)
	copy(nb, b)
	a.Free(b)
	return nb
}

// Free implements memory.Allocator.
func (a *RecyclingAllocator) Free(b []byte) {
	c := cap(b)
	if c == 0 || c%allocAlign != 0 {
		return
	}
	b = b[:c]
	a.pool(c).Put(&b)
}

var _ memory.Allocator = (*RecyclingAllocator)(nil)
