// Package bench is the home of the benchmarks that compare us with an
// anchor (PyTorch, torchvision, a plain loop) measured in the same run on
// the same inputs: `pipeline bench ingest|augment|train|extract|weights`.
// Its subpackages hold the benchmarks that need more than a command
// (bench/ingestbench, bench/augmentbench); this package holds what every
// benchmark shares: the median and the RATIO line, the one figure a
// benchmark is quoted by. Domain packages keep only Go Benchmark functions.
package bench

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// Ratio prints the benchmark's RATIO line, "RATIO <name> <value>" with
// three decimals: ours over the anchor's throughput (above 1: faster).
func Ratio(w io.Writer, name string, value float64) {
	fmt.Fprintf(w, "RATIO %s %.3f\n", name, value)
}

// Median is the median of v (the upper one for an even count); v is not
// modified. 0 for an empty slice.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// MedianDuration is Median for durations.
func MedianDuration(v []time.Duration) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
