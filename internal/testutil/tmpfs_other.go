//go:build !linux

package testutil

import "testing"

// Tmpfs skips: size-limited tmpfs mounts are Linux-only.
func Tmpfs(t testing.TB, size int64) string {
	t.Skip("size-limited tmpfs: Linux only")
	return ""
}

// Remount is not reached off Linux (Tmpfs skips).
func Remount(t testing.TB, dir string, size int64, ro bool) { t.Skip("Linux only") }
