package repo_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/swavgo/swav/internal/repo"
)

func TestRootAndShared(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Errorf("root %s has no go.mod: %v", root, err)
	}
	if shared, _ := repo.Shared(); shared != filepath.Join(root, "..", "shared") {
		t.Errorf("Shared() = %s", shared)
	}
	t.Chdir(t.TempDir())
	if _, err := repo.Root(); !errors.Is(err, repo.ErrNotInRepo) {
		t.Errorf("Root() outside the repository = %v, want ErrNotInRepo", err)
	}
}
