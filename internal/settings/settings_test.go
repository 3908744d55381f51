package settings_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/swavgo/swav/internal/settings"
)

type engine struct {
	Threads int
	Mode    string
}

func init() {
	settings.Register("test", "engine", engine{Mode: "fast"})
	settings.Register("test", "other", engine{})
}

func TestRegistry(t *testing.T) {
	if got := settings.Keys("test"); !slices.Equal(got, []string{"engine", "other", "with-subs"}) {
		t.Errorf("Keys = %v", got)
	}
	if typ, ok := settings.Type("test", "engine"); !ok || typ != reflect.TypeFor[engine]() {
		t.Errorf("Type = %v, %v", typ, ok)
	}
	if settings.New("test", "none") != nil {
		t.Error("New of an unregistered key is not nil")
	}
	for name, tc := range map[string]struct {
		set  settings.Set
		want engine
	}{
		"defaults when absent":  {nil, engine{Mode: "fast"}},
		"the value held":        {settings.Set{"engine": &engine{Threads: 2}}, engine{Threads: 2}},
		"defaults when foreign": {settings.Set{"engine": map[string]any{"threads": 2}}, engine{Mode: "fast"}},
	} {
		if got := settings.Get[engine](tc.set, "test", "engine"); got != tc.want {
			t.Errorf("%s: Get = %+v, want %+v", name, got, tc.want)
		}
	}
}

func TestEditCopiesFirst(t *testing.T) {
	a := settings.Defaults("test")
	b := a // a copy of the section shares the map
	settings.Edit[engine](&b, "test", "engine").Threads = 4
	if got := settings.Get[engine](a, "test", "engine"); got.Threads != 0 {
		t.Errorf("Edit of a copy changed the original: %+v", got)
	}
	if got := settings.Get[engine](b, "test", "engine"); got.Threads != 4 || got.Mode != "fast" {
		t.Errorf("edited = %+v", got)
	}
	// Edits of two keys, one after the other, both land.
	c := settings.Defaults("test")
	e, o := settings.Edit[engine](&c, "test", "engine"), settings.Edit[engine](&c, "test", "other")
	e.Threads, o.Threads = 1, 2
	if settings.Get[engine](c, "test", "engine").Threads != 1 || settings.Get[engine](c, "test", "other").Threads != 2 {
		t.Errorf("two Edits: %+v", c)
	}
	var empty settings.Set
	settings.Edit[engine](&empty, "test", "engine").Mode = "slow"
	if got := settings.Get[engine](empty, "test", "engine"); got.Mode != "slow" {
		t.Errorf("Edit of a nil Set = %+v", got)
	}
}

func TestRegisterRefuses(t *testing.T) {
	for name, f := range map[string]func(){
		"duplicate":  func() { settings.Register("test", "engine", engine{}) },
		"pointer":    func() { settings.Register("test", "ptr", &engine{}) },
		"not struct": func() { settings.Register("test", "int", 3) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

type withSubs struct {
	Name string
	Subs settings.Set `yaml:",inline"`
}

func init() { settings.Register("test", "with-subs", withSubs{Subs: settings.Set{"a": &engine{}}}) }

// TestNewCopiesNestedSets: a value from New has its own Set, so that a
// decoder filling it (in place) never changes the registered defaults.
func TestNewCopiesNestedSets(t *testing.T) {
	v := settings.New("test", "with-subs").(*withSubs)
	v.Subs["b"] = map[string]any{"x": 1}
	if again := settings.New("test", "with-subs").(*withSubs); len(again.Subs) != 1 {
		t.Errorf("the registered defaults changed: %+v", again.Subs)
	}
}
