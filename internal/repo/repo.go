// Package repo finds the repository checkout the process runs in: the
// root, and the shared reference folder beside it (../shared: the PyTorch
// anchors, the golden values, the benchmark images).
package repo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
)

// ErrNotInRepo is returned when no folder at or above the working directory
// holds this module's go.mod.
var ErrNotInRepo = errors.New("not inside the swav repository (no go.mod of github.com/swavgo/swav at or above the working directory)")

// Root returns the nearest folder at or above the working directory whose
// go.mod declares module github.com/swavgo/swav.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/swavgo/swav")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNotInRepo
		}
		dir = parent
	}
}

// Shared returns the shared reference folder, ../shared beside Root.
func Shared() (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "..", "shared"), nil
}
