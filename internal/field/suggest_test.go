package field_test

import (
	"testing"

	"github.com/swavgo/swav/internal/field"
)

func TestClosest(t *testing.T) {
	kinds := []string{"demo", "extract", "quickstart", "train"}
	for _, tc := range []struct {
		s, want, tail string
	}{
		{"trian", "train", `; did you mean "train"?`},
		{"extrct", "extract", `; did you mean "extract"?`},
		{"train", "train", `; did you mean "train"?`},
		{"gpu", "", ""},
		{"", "", ""},
		{"quick", "", ""},
	} {
		if got := field.Closest(tc.s, kinds); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.s, got, tc.want)
		}
		if got := field.DidYouMean(tc.s, kinds); got != tc.tail {
			t.Errorf("DidYouMean(%q) = %q, want %q", tc.s, got, tc.tail)
		}
	}
}
