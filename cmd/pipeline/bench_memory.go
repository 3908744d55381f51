package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// Peak resident memory of the benchmarks' two sides, both whole processes:
// ours is this process's high-water mark since resetPeakRSS (Linux: writing
// 5 to /proc/self/clear_refs resets VmHWM), the anchor's is its child's
// ru_maxrss. Both include their runtime (Go's, or Python's with torch).

// resetPeakRSS starts a new high-water mark for this process (best effort:
// without it the mark covers the process's whole life).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is this process's peak resident set since resetPeakRSS, in bytes
// (0 when /proc is not there).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, _ := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// childPeakRSS is a finished child's peak resident set in bytes.
func childPeakRSS(cmd *exec.Cmd) int64 {
	if cmd.ProcessState == nil {
		return 0
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10 // kilobytes on Linux
	}
	return 0
}

func mebibytes(b int64) float64 { return float64(b) / (1 << 20) }
