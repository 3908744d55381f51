package train

import (
	"fmt"
	"sort"
	"sync"
)

// BackendFactory builds a backend for cfg. Initial weights come from
// model.Init(cfg.Model, seed), so every backend starts a run from the same
// weights for the same seed.
type BackendFactory func(cfg Config, seed int64) (Backend, error)

var (
	backendsMu sync.RWMutex
	backends   = map[string]BackendFactory{}
)

// RegisterBackend makes a backend available by name ("cpu", "xla"). Backend
// packages call it from init; it panics on a duplicate name.
func RegisterBackend(name string, f BackendFactory) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	if _, dup := backends[name]; dup {
		panic("train: backend registered twice: " + name)
	}
	backends[name] = f
}

// NewBackend builds the backend that cfg.Backend names.
func NewBackend(cfg Config, seed int64) (Backend, error) {
	backendsMu.RLock()
	f, ok := backends[cfg.Backend]
	backendsMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("train: backend %q is not built into this binary (have %v)", cfg.Backend, Backends())
	}
	return f(cfg, seed)
}

// Backends lists the registered backend names.
func Backends() []string {
	backendsMu.RLock()
	defer backendsMu.RUnlock()
	out := make([]string, 0, len(backends))
	for k := range backends {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
