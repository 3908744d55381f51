package trainbench

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/swavgo/swav/bench"
)

func TestParseCrops(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want [][2]int
		ok   bool
	}{
		{"96x2", [][2]int{{96, 2}}, true},
		{"224x2, 96x6", [][2]int{{224, 2}, {96, 6}}, true},
		{"96", nil, false},
		{"0x2", nil, false},
		{"96x", nil, false},
		{"axb", nil, false},
	} {
		got, err := ParseCrops(tc.in)
		if tc.ok != (err == nil) || !slices.Equal(got, tc.want) {
			t.Errorf("ParseCrops(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, bench.ErrUsage) {
			t.Errorf("ParseCrops(%q): %v is not a usage error", tc.in, err)
		}
	}
}

// TestRunRefusesBadSettings checks the settings are refused as usage
// errors before anything runs.
func TestRunRefusesBadSettings(t *testing.T) {
	for _, edit := range []func(*Options){
		func(o *Options) { o.Steps = 0 },
		func(o *Options) { o.Rounds = 0 },
	} {
		o := Default()
		edit(&o)
		if err := Run(context.Background(), io.Discard, o, StandardCases); !errors.Is(err, bench.ErrUsage) {
			t.Errorf("Run(%+v) = %v, want a usage error", o, err)
		}
	}
}

func TestCaseName(t *testing.T) {
	if got := (Case{Model: "small", Crops: "28x2,16x4", Batch: 128}).name(); got != "small-b128-28x2,16x4" {
		t.Errorf("name = %q", got)
	}
}
