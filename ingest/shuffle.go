package ingest

import "math/rand/v2"

// Random streams are derived from (seed, epoch, rank, worker) by hashing, so
// that each worker of each rank has its own reproducible stream per epoch.
const (
	streamShardOrder  = 0x5348415244 // "SHARD"
	streamSampleOrder = 0x53414d50   // "SAMP"
)

// mix is SplitMix64's finaliser: a bijective 64-bit hash.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// deriveSeed folds the parts into one 64-bit seed.
func deriveSeed(parts ...int64) uint64 {
	h := uint64(0x243f6a8885a308d3)
	for _, p := range parts {
		h = mix(h ^ uint64(p))
	}
	return h
}

// newPCG returns a PCG generator for (seed, parts...).
func newPCG(seed int64, parts ...int64) *rand.PCG {
	a := deriveSeed(append([]int64{seed}, parts...)...)
	return rand.NewPCG(a, mix(a))
}

// epochShardOrder returns the shard order of an epoch: a permutation of
// 0..n-1 drawn from (seed, epoch) only, so every rank agrees on it.
func epochShardOrder(seed int64, epoch, n int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	r := rand.New(newPCG(seed, streamShardOrder, int64(epoch)))
	r.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	return order
}

// splitShards returns the shard indices of (rank, worker): the epoch order
// strided by rank over world, then by worker over workers.
func splitShards(order []int, rank, world, worker, workers int) []int {
	var out []int
	for i := rank; i < len(order); i += world {
		if ((i-rank)/world)%workers == worker {
			out = append(out, order[i])
		}
	}
	return out
}

// shuffler is the bounded sample shuffle buffer. Once the buffer holds size
// items, each pushed item replaces a uniformly drawn one, which is emitted;
// at the end the rest is drained in random order. The same code runs on
// sample indices (to compute a resume state) and on records, so both consume
// the random stream identically.
type shuffler[T any] struct {
	size int
	buf  []T
	pcg  rand.PCG
	rng  *rand.Rand
}

func newShuffler[T any](size int, pcg *rand.PCG) *shuffler[T] {
	s := &shuffler[T]{size: size, pcg: *pcg}
	s.rng = rand.New(&s.pcg)
	return s
}

// push adds x and returns the item it displaces, if the buffer was full.
func (s *shuffler[T]) push(x T) (out T, ok bool) {
	if s.size <= 1 {
		return x, true
	}
	if len(s.buf) < s.size {
		s.buf = append(s.buf, x)
		return out, false
	}
	j := s.rng.IntN(s.size)
	out, s.buf[j] = s.buf[j], x
	return out, true
}

// pop removes a random buffered item (the drain at the end of the input).
func (s *shuffler[T]) pop() (out T, ok bool) {
	n := len(s.buf)
	if n == 0 {
		return out, false
	}
	j := s.rng.IntN(n)
	out = s.buf[j]
	s.buf[j] = s.buf[n-1]
	var zero T
	s.buf[n-1] = zero
	s.buf = s.buf[:n-1]
	return out, true
}
