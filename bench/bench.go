// Package bench is the home of the benchmarks that compare us with an
// anchor (PyTorch, torchvision, a plain loop) measured in the same run on
// the same inputs: `pipeline bench ingest|augment|train|extract|weights`.
// Its subpackages hold the benchmarks, one each (bench/ingestbench,
// bench/augmentbench, bench/trainbench, bench/extractbench,
// bench/weightsbench), each an Options with Default and a Run that
// cmd/pipeline's flags fill and call; this package holds what every
// benchmark shares: the median, the RATIO line (the one figure a benchmark
// is quoted by), peak memory, the shared folder and the usage error. Domain
// packages keep only Go Benchmark functions.
package bench

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/swavgo/swav/internal/repo"
)

// ErrUsage marks a benchmark error that is the caller's settings (a flag
// out of range), not the run: the command exits 2 on it.
var ErrUsage = errors.New("usage")

// ScratchDir is dir when set, else a new temporary folder named after
// pattern (os.MkdirTemp); done removes the temporary folder and nothing
// else. The benchmarks that write files call it once.
func ScratchDir(dir, pattern string) (path string, done func(), err error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", nil, err
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}

// SharedDir is flag when set, else ../shared beside the repository root
// (the anchors' scripts and the test images).
func SharedDir(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	shared, err := repo.Shared()
	if err != nil {
		return "", fmt.Errorf("bench: %w; pass --shared", err)
	}
	return shared, nil
}

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

// Precisions are the precisions a benchmark's --precision flag asks for
// ("float32", "bf16", or "best": both), ours and the PyTorch anchor's
// names for them ("fp32" for float32); a benchmark times each and compares
// our fastest with PyTorch's fastest.
func Precisions(flag string) (ours, torch []string, err error) {
	switch flag {
	case "float32":
		return []string{"float32"}, []string{"fp32"}, nil
	case "bf16":
		return []string{"bf16"}, []string{"bf16"}, nil
	case "best", "":
		return []string{"float32", "bf16"}, []string{"fp32", "bf16"}, nil
	}
	return nil, nil, fmt.Errorf("%w: --precision must be float32, bf16 or best, got %q", ErrUsage, flag)
}

// Timing is one side's figure in one precision: images per second and the
// peak resident set of the process that ran it.
type Timing struct {
	Precision  string
	ImgsPerSec float64
	PeakRSS    int64
}

// Fastest is the timing with the most images per second.
func Fastest(ts []Timing) Timing {
	var best Timing
	for _, t := range ts {
		if t.ImgsPerSec > best.ImgsPerSec {
			best = t
		}
	}
	return best
}

// Describe is "float32 30.1 img/s (812 MiB), bf16 55.2 img/s (640 MiB)".
func Describe(ts []Timing) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s %.1f img/s (%.0f MiB)", t.Precision, t.ImgsPerSec, MiB(t.PeakRSS))
	}
	return strings.Join(parts, ", ")
}
