// Package torchtest runs the repository's PyTorch scripts from tests. PyTorch
// is Debian's python3-torch (make deps installs it), imported by
// /usr/bin/python3; $SWAV_TORCH_PYTHON names another interpreter. Tests that
// need it call Require, which skips them where PyTorch is missing.
package torchtest

import (
	"os"
	"os/exec"
	"sync"
	"testing"
)

// Python is the interpreter holding PyTorch.
var Python = func() string {
	if p := os.Getenv("SWAV_TORCH_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}()

var (
	probeOnce sync.Once
	probeErr  error
)

// Require skips the test when Python cannot import torch (checked once per
// test binary: the import costs seconds).
func Require(t testing.TB) {
	t.Helper()
	probeOnce.Do(func() { probeErr = exec.Command(Python, "-c", "import torch, torchvision").Run() })
	if probeErr != nil {
		t.Skipf("PyTorch not available (%s -c 'import torch, torchvision': %v)", Python, probeErr)
	}
}

// Run runs script with args under Python (after Require) and returns its
// standard output; a failure ends the test with the script's output.
func Run(t testing.TB, script string, args ...string) []byte {
	t.Helper()
	Require(t)
	cmd := exec.Command(Python, append([]string{script}, args...)...)
	var stderr []byte
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	if err != nil {
		t.Fatalf("%s %v: %v\n%s%s", script, args, err, out, stderr)
	}
	return out
}
