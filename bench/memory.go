package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc"
)

// Peak resident memory of the benchmarks' two sides, both whole processes:
// ours is this process's high-water mark since ResetPeakRSS (Linux: writing
// 5 to /proc/self/clear_refs resets VmHWM), the anchor's is its child's
// VmHWM (RunPeakRSS). Both include their runtime (Go's, or Python's with
// torch).

// ResetPeakRSS starts a new high-water mark for this process (best effort:
// without it the mark covers the process's whole life).
func ResetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// PeakRSS is this process's peak resident set since ResetPeakRSS, in bytes
// (0 when /proc is not there).
func PeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return vmHWM(b)
}

// vmHWM reads the VmHWM line of a /proc/<pid>/status file, in bytes.
func vmHWM(b []byte) int64 {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, _ := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// RunPeakRSS runs cmd to its end like CombinedOutput and returns, with its
// output, the child's peak resident set in bytes: the largest VmHWM read
// from /proc/<pid>/status every 20 ms while it runs. (The child's
// ru_maxrss will not do: Linux carries the parent's high-water mark over
// exec, so it reports at least this process's peak.)
func RunPeakRSS(cmd *exec.Cmd) ([]byte, int64, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	done := make(chan struct{})
	var peak atomic.Int64
	var wg conc.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if b, err := os.ReadFile(status); err == nil {
				if v := vmHWM(b); v > peak.Load() {
					peak.Store(v)
				}
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	err := cmd.Wait()
	close(done)
	wg.Wait()
	return out.Bytes(), peak.Load(), err
}

// MiB is a byte count in mebibytes, for reports.
func MiB[T int64 | uint64](b T) float64 { return float64(b) / (1 << 20) }
