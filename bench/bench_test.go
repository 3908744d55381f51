package bench_test

import (
	"os"
	"testing"
	"time"

	"github.com/swavgo/swav/bench"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 3}, // the upper of the two middle values
	} {
		in := append([]float64(nil), tc.in...)
		if got := bench.Median(in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Fatalf("Median reordered its input: %v", in)
			}
		}
	}
	if got := bench.MedianDuration([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("MedianDuration = %v, want 2", got)
	}
}

func ExampleRatio() {
	bench.Ratio(os.Stdout, "ingest-shuffled", 0.97312)
	// Output: RATIO ingest-shuffled 0.973
}
