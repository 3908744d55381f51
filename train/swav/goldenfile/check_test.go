package goldenfile

import (
	"math"
	"testing"
)

// TestReportWithin: a NaN or infinite deviation (ours non-finite) never
// passes, whatever the tolerance.
func TestReportWithin(t *testing.T) {
	cases := []struct {
		name string
		devs []float64
		tol  float64
		want bool
	}{
		{"all small", []float64{1e-16, 0, 3e-7}, 1e-6, true},
		{"one large", []float64{1e-16, 2e-6}, 1e-6, false},
		{"nan", []float64{0, math.NaN(), 0}, 1, false},
		{"inf", []float64{math.Inf(1)}, 1e300, false},
		{"empty", nil, 0, true},
	}
	for _, tc := range cases {
		var r Report
		for _, d := range tc.devs {
			r.Items = append(r.Items, Item{What: "x", MaxAbs: d})
		}
		if got := r.Within(tc.tol); got != tc.want {
			t.Errorf("%s: Within(%g) = %v", tc.name, tc.tol, got)
		}
	}
}

func TestMaxAbs(t *testing.T) {
	cases := []struct {
		name   string
		ours   []float64
		golden []float64
		want   float64
	}{
		{"equal", []float64{1, 2}, []float64{1, 2}, 0},
		{"off", []float64{1, 2.5}, []float64{1, 2}, 0.5},
		{"length", []float64{1}, []float64{1, 2}, math.Inf(1)},
		{"nan", []float64{math.NaN(), 1}, []float64{0, 100}, math.NaN()},
	}
	for _, tc := range cases {
		got := maxAbs(tc.ours, tc.golden)
		if got != tc.want && !(math.IsNaN(got) && math.IsNaN(tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
