package bench

import (
	"os/exec"
	"runtime"
	"testing"
)

// TestRunPeakRSSMeasuresTheChild: a small child of a big parent reports
// its own peak, not the parent's high-water mark that ru_maxrss would carry
// over exec.
func TestRunPeakRSSMeasuresTheChild(t *testing.T) {
	big := make([]byte, 256<<20)
	for i := range big {
		big[i] = 1 // resident
	}
	_, peak, err := RunPeakRSS(exec.Command("/bin/sh", "-c", "sleep 0.3"))
	runtime.KeepAlive(big)
	if err != nil {
		t.Fatal(err)
	}
	if peak <= 0 || peak > 64<<20 {
		t.Fatalf("peak RSS of sh -c sleep: %.1f MiB, want a few MiB (the parent holds 256)", MiB(peak))
	}
}
