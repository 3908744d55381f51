package cpu

import "github.com/sourcegraph/conc"

// parallelFor splits [0, n) into at most workers contiguous ranges and calls
// fn(worker, lo, hi) for each on its own goroutine, blocking until all have
// returned. With one range it runs fn on the calling goroutine (no spawn).
// Cost: one goroutine per extra range; it allocates only the WaitGroup.
func parallelFor(n, workers int, fn func(worker, lo, hi int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	var wg conc.WaitGroup
	for w := 1; w < workers; w++ {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Go(func() { fn(w, lo, hi) })
	}
	fn(0, 0, n/workers)
	wg.Wait()
}

// growFloats returns buf resized to n values, reallocating only when its
// capacity is too small; the contents are unspecified.
func growFloats(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}
