package augment

import (
	"math"
	"math/bits"
)

// cropRNG is the random stream of one crop: a xoshiro256** generator seeded
// from (seed, epoch, sample key, crop index) through splitmix64. The same
// sample in the same epoch therefore gets the same crops whatever the worker
// count or the order samples arrive in. It is a value type: no allocation.
type cropRNG struct{ s [4]uint64 }

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// keyHash is FNV-1a 64 of a sample key.
func keyHash(key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return h
}

// newCropRNG derives the stream of crop `crop` of sample `key` in `epoch`.
func newCropRNG(seed int64, epoch int, key string, crop int) cropRNG {
	h := splitmix64(uint64(seed))
	h = splitmix64(h ^ uint64(epoch)*0x9e3779b97f4a7c15)
	h = splitmix64(h ^ keyHash(key))
	h = splitmix64(h ^ uint64(crop+1)*0xd1b54a32d192ed03)
	var r cropRNG
	for i := range r.s {
		h = splitmix64(h)
		r.s[i] = h
	}
	return r
}

func (r *cropRNG) next() uint64 {
	s := &r.s
	result := rotl64(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = rotl64(s[3], 45)
	return result
}

func rotl64(x uint64, k int) uint64 { return bits.RotateLeft64(x, k) }

// float64 is uniform in [0, 1) with 53 bits.
func (r *cropRNG) float64() float64 { return float64(r.next()>>11) * (1.0 / (1 << 53)) }

// uniform32 draws as torch's float32 uniform_(lo, hi): a 24-bit uniform
// scaled in float32 arithmetic.
func (r *cropRNG) uniform32(lo, hi float32) float32 {
	u := float32(r.next()>>40) * (1.0 / (1 << 24))
	return float32(u*(hi-lo)) + lo
}

// intn is uniform in [0, n) (n > 0), unbiased (Lemire's method).
func (r *cropRNG) intn(n int) int {
	if n <= 1 {
		return 0
	}
	un := uint64(n)
	for {
		hi, lo := mul64(r.next(), un)
		if lo >= un || lo >= (-un)%un {
			return int(hi)
		}
	}
}

func mul64(a, b uint64) (hi, lo uint64) { return bits.Mul64(a, b) }

// perm4 is a uniformly random permutation of 0..3 (Fisher-Yates).
func (r *cropRNG) perm4() [4]int {
	p := [4]int{0, 1, 2, 3}
	for i := 3; i > 0; i-- {
		j := r.intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// roundHalfEven is Python 3's round() to an int.
func roundHalfEven(x float64) int { return int(math.RoundToEven(x)) }
