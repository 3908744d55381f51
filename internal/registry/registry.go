// Package registry is the house's one name-to-value registry: training
// backends, feature sinks and job kinds register into one from their
// package's init and are found by name.
package registry

import (
	"maps"
	"slices"
	"sync"
)

// Registry maps names to values of T. It is safe for concurrent use; the
// zero value is not usable (New).
type Registry[T any] struct {
	what string
	mu   sync.RWMutex
	m    map[string]T
}

// New returns an empty registry; what names its entries in panics ("training
// backend", "job kind", ...).
func New[T any](what string) *Registry[T] { return &Registry[T]{what: what, m: map[string]T{}} }

// Register adds name. It panics when name is taken: two packages claiming
// one name is a programming error, caught when the binary starts.
func (r *Registry[T]) Register(name string, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		panic(r.what + " registered twice: " + name)
	}
	r.m[name] = v
}

// Lookup returns name's value and whether it is registered.
func (r *Registry[T]) Lookup(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[name]
	return v, ok
}

// Names lists the registered names, sorted.
func (r *Registry[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.m))
}
