//go:build !linux

package s3local

import "os/exec"

// setParentDeathSignal is Linux only; elsewhere the server outlives a
// parent killed without a chance to Stop it.
func setParentDeathSignal(cmd *exec.Cmd) {}
