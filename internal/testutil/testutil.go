// Package testutil holds the assertions the packages' tests share, so that
// each is written once.
package testutil

import (
	"errors"
	"math"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ErrorMentions fails t unless err is non-nil, its message contains every
// string of want, and, when is is non-nil, errors.Is(err, is): the shape of
// the bad-input table tests ("a clear error that names the file, field or
// sample").
func ErrorMentions(t testing.TB, err error, is error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("error %q is not %v", err, is)
	}
}

// BitEqual reports whether a and b hold the same float32 values bit for
// bit (NaN equals a NaN of the same bits; -0 differs from +0): the check of
// tests that demand the exact same result, such as a resumed run's weights.
func BitEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// KillAfter starts cmd, waits until progress() has grown by more (at most
// for limit, and no longer than cmd runs), waits jitter more, SIGKILLs cmd
// and returns progress() then: the kill -9 tests' way to land a kill at a
// random moment of a run. A cmd that ends on its own first (its run was
// shorter than the wait) is not waited for further.
func KillAfter(t testing.TB, cmd *exec.Cmd, progress func() int, more int, jitter, limit time.Duration) int {
	t.Helper()
	target := progress() + more
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { // owned here: it ends when cmd does, which the kill below ensures
		cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(limit)
	for progress() < target && time.Now().Before(deadline) {
		select {
		case <-exited:
			return progress()
		case <-time.After(2 * time.Millisecond):
		}
	}
	time.Sleep(jitter)
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	return progress()
}
