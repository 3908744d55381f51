package augment

import (
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestDecodeMutatedInputs decodes thousands of randomly damaged copies of
// the seeds (bytes overwritten, bits flipped, cuts, zero runs inserted): no
// panic, no hang (a 3 s watchdog per input), every error has a skip reason.
// FuzzDecode explores further with coverage guidance.
func TestDecodeMutatedInputs(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 500
	}
	var seeds [][]byte
	for _, name := range []string{"dec_color.jpg", "dec_gray.jpg", "dec_cmyk.jpg", "dec_gray.png", "dec_pal.png", "dec_lossless.webp"} {
		seeds = append(seeds, readTestdata(t, name))
	}
	rng := rand.New(rand.NewSource(1))
	for range n {
		b := append([]byte(nil), seeds[rng.Intn(len(seeds))]...)
		for m := rng.Intn(6) + 1; m > 0; m-- {
			switch rng.Intn(4) {
			case 0:
				b[rng.Intn(len(b))] = byte(rng.Intn(256))
			case 1:
				b = b[:rng.Intn(len(b))+1]
			case 2:
				i := rng.Intn(len(b))
				b[i] ^= 1 << rng.Intn(8)
			case 3:
				i := rng.Intn(len(b))
				b = append(b[:i], append(make([]byte, rng.Intn(64)), b[i:]...)...)
			}
		}
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				panic(fmt.Sprintf("decode hung on %d bytes starting % x", len(b), b[:min(len(b), 16)]))
			}
		}()
		_, err := Decode(nil, b, 1<<20)
		close(done)
		if err != nil && SkipReason(err) == "error" {
			t.Fatalf("error without a skip reason: %v", err)
		}
	}
}

// TestDecodeErrorStable decodes the same bit-flipped and truncated JPEGs
// many times from many goroutines (so calls land on different OS threads):
// each input gets one identical error every time, never "No error" (issue
// 16: the libjpeg-turbo message was read twice, the second time from the
// calling thread's global slot).
func TestDecodeErrorStable(t *testing.T) {
	seed := readTestdata(t, "dec_color.jpg")
	var bad [][]byte
	rng := rand.New(rand.NewSource(7))
	for len(bad) < 12 {
		b := append([]byte(nil), seed...)
		if len(bad)%2 == 0 {
			for k := 0; k < 4; k++ {
				i := len(b)/4 + rng.Intn(len(b)*3/4-2)
				b[i] ^= 1 << rng.Intn(8)
			}
		} else {
			b = b[:len(b)/3+rng.Intn(len(b)/2)]
		}
		if _, err := Decode(nil, b, 1<<20); err != nil {
			bad = append(bad, b)
		}
	}
	want := make([]string, len(bad))
	for i, b := range bad {
		_, err := Decode(nil, b, 1<<20)
		want[i] = err.Error()
	}
	const workers, rounds = 8, 30
	errc := make(chan error, workers)
	for w := range workers {
		go func() {
			for r := range rounds {
				i := (w + r) % len(bad)
				_, err := Decode(nil, bad[i], 1<<20)
				if err == nil || err.Error() != want[i] || strings.Contains(err.Error(), "No error") {
					errc <- fmt.Errorf("input %d round %d: got %v, want %q", i, r, err, want[i])
					return
				}
				runtime.Gosched()
			}
			errc <- nil
		}()
	}
	for range workers {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}
