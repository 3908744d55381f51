package train

import (
	"fmt"
	"strings"

	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/registry"
	"github.com/swavgo/swav/internal/settings"
)

// BackendFactory builds a backend for cfg. Initial weights come from
// model.Init(cfg.Model, seed), so every backend starts a run from the same
// weights for the same seed.
type BackendFactory func(cfg Config, seed int64) (Backend, error)

// BackendSpec is what a backend registers: how to build it and how to check
// the settings it owns.
type BackendSpec struct {
	// New builds the backend (required).
	New BackendFactory
	// Validate checks the settings the backend owns (its sub-section of the
	// train section and any restriction it puts on shared keys), naming the
	// field relative to the train section (field.Errorf("xla.precision",
	// ...)). Config.Validate runs it when Backend names this backend; nil
	// means the backend owns no settings.
	Validate func(*Config) error
	// Settings is the typed defaults of the backend's own sub-section of
	// the train section, under the backend's name (cpu.Config{...} for
	// train.cpu), a struct value; nil if it has none. The loader decodes
	// the YAML key strictly into a copy of it (Config.Backends).
	Settings any
}

var backends = registry.New[BackendSpec]("train: backend")

// RegisterBackend makes a backend available by name ("cpu", "xla"). Backend
// packages call it from init; it panics on a duplicate name or a nil New.
func RegisterBackend(name string, spec BackendSpec) {
	if spec.New == nil {
		panic("train: backend " + name + " registered without New")
	}
	backends.Register(name, spec)
	if spec.Settings != nil {
		settings.Register(Section, name, spec.Settings)
	}
}

// NewBackend builds the backend that cfg.Backend names.
func NewBackend(cfg Config, seed int64) (Backend, error) {
	spec, ok := backends.Lookup(cfg.Backend)
	if !ok {
		return nil, fmt.Errorf("train: backend %q is not built into this binary (have %v)", cfg.Backend, Backends())
	}
	return spec.New(cfg, seed)
}

// Backends lists the registered backend names, sorted.
func Backends() []string { return backends.Names() }

// backendSpec returns the spec of c.Backend, or an error on field "backend"
// that lists the backends built into this binary (with a suggestion when
// one is close).
func (c *Config) backendSpec() (BackendSpec, error) {
	spec, ok := backends.Lookup(c.Backend)
	if ok {
		return spec, nil
	}
	names := Backends()
	have := strings.Join(names, ", ")
	if have == "" {
		have = "none"
	}
	if c.Backend == "" {
		return spec, field.Errorf("backend", "must name the training backend (built into this binary: %s)", have)
	}
	return spec, field.Errorf("backend", "unknown backend %q (built into this binary: %s)%s",
		c.Backend, have, field.DidYouMean(c.Backend, names))
}
