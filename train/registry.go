package train

import (
	"fmt"

	"github.com/swavgo/swav/internal/registry"
)

// BackendFactory builds a backend for cfg. Initial weights come from
// model.Init(cfg.Model, seed), so every backend starts a run from the same
// weights for the same seed.
type BackendFactory func(cfg Config, seed int64) (Backend, error)

var backends = registry.New[BackendFactory]("train: backend")

// RegisterBackend makes a backend available by name ("cpu", "xla"). Backend
// packages call it from init; it panics on a duplicate name.
func RegisterBackend(name string, f BackendFactory) { backends.Register(name, f) }

// NewBackend builds the backend that cfg.Backend names.
func NewBackend(cfg Config, seed int64) (Backend, error) {
	f, ok := backends.Lookup(cfg.Backend)
	if !ok {
		return nil, fmt.Errorf("train: backend %q is not built into this binary (have %v)", cfg.Backend, Backends())
	}
	return f(cfg, seed)
}

// Backends lists the registered backend names, sorted.
func Backends() []string { return backends.Names() }
