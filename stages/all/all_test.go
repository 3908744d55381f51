package all

import (
	"slices"
	"testing"

	"github.com/swavgo/swav/sinks"
)

// TestEverySinkIsReadBack: every feature sink linked into the binary is
// read by the scheme it is written with (eval, `pipeline features` and
// `pipeline eval` read through sinks.FeatureSource only).
func TestEverySinkIsReadBack(t *testing.T) {
	write, read := sinks.Schemes()
	if len(write) == 0 || !slices.Equal(write, read) {
		t.Fatalf("schemes written %q, read %q: every sink is read back (sinks.Sink.OpenSource)", write, read)
	}
}
