// Package settings lets a component own the type of its config sub-section:
// a training backend (train.cpu), a job kind (demo) or any other registered
// part registers its typed defaults from its package's init, keyed by the
// section that holds it ("train") and its YAML key ("cpu"). The section keeps
// those sub-sections in a Set (an inline map of its struct); the config
// loader (package configs) asks the registry for each key's type, checks the
// YAML node strictly against it (unknown keys, types, file:line, --set) and
// decodes it into a fresh copy of the defaults. Registration runs in init,
// before any config is decoded, so the loader never needs to import the
// owner. It imports only internal/field.
package settings

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"

	"github.com/swavgo/swav/internal/field"
)

// Set holds the registered sub-sections of one config section by YAML key,
// each a pointer to its owner's type (*cpu.Config). A section embeds it as
// `yaml:",inline"`. Copies of a section share the map: change one only
// through Edit, which copies first. The zero value is empty; Get falls back
// to the registered defaults.
type Set map[string]any

// Validator is implemented by a sub-section type whose values check
// themselves (fields relative to the sub-section).
type Validator interface{ Validate() error }

type entry struct {
	typ reflect.Type // the value type (not the pointer)
	def reflect.Value
}

var (
	mu     sync.RWMutex
	groups = map[string]map[string]entry{} // section -> key -> entry
)

// Register declares that the sub-section key of section (a dotted path of
// the job: "train"; "" for a top-level section) has def's type and def as
// its defaults. def is a struct value (not a pointer). It panics on a
// duplicate key or a non-struct: a programming error caught at start-up.
func Register(section, key string, def any) {
	v := reflect.ValueOf(def)
	if !v.IsValid() || v.Kind() != reflect.Struct {
		panic(fmt.Sprintf("settings: %s.%s registered with %T, want a struct value", section, key, def))
	}
	mu.Lock()
	defer mu.Unlock()
	g := groups[section]
	if g == nil {
		g = map[string]entry{}
		groups[section] = g
	}
	if _, dup := g[key]; dup {
		panic("settings: sub-section registered twice: " + join(section, key))
	}
	g[key] = entry{typ: v.Type(), def: v}
}

func join(section, key string) string {
	if section == "" {
		return key
	}
	return section + "." + key
}

// Sections lists the sections that have registered sub-sections, sorted.
func Sections() []string {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Sorted(maps.Keys(groups))
}

// Keys lists the registered keys of section, sorted.
func Keys(section string) []string {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Sorted(maps.Keys(groups[section]))
}

// Type returns the registered type of section's key (a struct type).
func Type(section, key string) (reflect.Type, bool) {
	mu.RLock()
	defer mu.RUnlock()
	e, ok := groups[section][key]
	return e.typ, ok
}

// New returns a pointer to a fresh copy of the defaults of section's key,
// or nil when none is registered.
func New(section, key string) any {
	mu.RLock()
	e, ok := groups[section][key]
	mu.RUnlock()
	if !ok {
		return nil
	}
	p := reflect.New(e.typ)
	p.Elem().Set(e.def)
	cloneSets(p.Elem())
	return p.Interface()
}

var setType = reflect.TypeFor[Set]()

// cloneSets gives each Set field of the struct v its own copy, so that a
// copy of the registered defaults never writes into them (a decoder fills
// an inline map in place).
func cloneSets(v reflect.Value) {
	for i := range v.NumField() {
		if f := v.Field(i); f.Type() == setType && f.CanSet() {
			f.Set(reflect.ValueOf(f.Interface().(Set).Clone()))
		}
	}
}

// Defaults returns a Set of every registered sub-section of section at its
// defaults (fresh copies).
func Defaults(section string) Set {
	s := Set{}
	for _, k := range Keys(section) {
		s[k] = New(section, k)
	}
	return s
}

// Get returns a copy of the sub-section key of s as T: the value s holds,
// else the registered defaults of section's key, else T's zero value.
func Get[T any](s Set, section, key string) T {
	if p, ok := s[key].(*T); ok && p != nil {
		return *p
	}
	if p, ok := New(section, key).(*T); ok {
		return *p
	}
	var zero T
	return zero
}

// Edit returns a pointer to s's sub-section key for changing it in place:
// s first gets its own map (the other keys' values shared) holding a fresh
// copy of that value, filled from Get, so a copy of the section made before
// is left as it was. Use the pointer right away: a later Edit of the same
// key replaces it with a copy again.
func Edit[T any](s *Set, section, key string) *T {
	v := Get[T](*s, section, key)
	if *s = maps.Clone(*s); *s == nil {
		*s = Set{}
	}
	(*s)[key] = &v
	return &v
}

// Validate runs, in key order, the Validate method of each sub-section s
// holds that has one, and returns the first error with its field under the
// sub-section's key ("folder.shard_size"), relative to the section.
func (s Set) Validate() error {
	for _, key := range slices.Sorted(maps.Keys(s)) {
		if v, ok := s[key].(Validator); ok {
			if err := v.Validate(); err != nil {
				return field.Prefix(key, err)
			}
		}
	}
	return nil
}

// Clone copies the map and each value it points to (a shallow copy of each
// struct: settings are flat values).
func (s Set) Clone() Set {
	if s == nil {
		return nil
	}
	out := make(Set, len(s))
	for k, v := range s {
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer && !rv.IsNil() {
			p := reflect.New(rv.Elem().Type())
			p.Elem().Set(rv.Elem())
			if p.Elem().Kind() == reflect.Struct {
				cloneSets(p.Elem())
			}
			v = p.Interface()
		}
		out[k] = v
	}
	return out
}
