package ingest

import (
	"math/bits"
	"sync"
)

// Sample data buffers come from size-classed pools (powers of two from 4 KiB
// to 64 MiB) so that a consumer that calls Sample.Release after decoding lets
// the next sample reuse warm memory instead of faulting in fresh pages. A
// consumer that never calls Release is also correct: the GC frees the buffer.
const (
	minPoolShift = 12
	maxPoolShift = 26
)

var dataPools [maxPoolShift - minPoolShift + 1]sync.Pool

func poolClass(n int) int {
	if n <= 1<<minPoolShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minPoolShift
}

// getData returns a buffer of length n, pooled when n is within the classes.
func getData(n int) []byte {
	c := poolClass(n)
	if c >= len(dataPools) {
		return make([]byte, n)
	}
	if p, ok := dataPools[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<(c+minPoolShift))
}

// putData returns a buffer obtained from getData to its pool.
func putData(b []byte) {
	c := cap(b)
	if c < 1<<minPoolShift || c&(c-1) != 0 {
		return
	}
	class := bits.Len(uint(c)) - 1 - minPoolShift
	if class >= len(dataPools) {
		return
	}
	b = b[:0]
	dataPools[class].Put(&b)
}
