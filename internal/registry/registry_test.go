package registry_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/swavgo/swav/internal/registry"
)

func TestRegisterLookupNames(t *testing.T) {
	r := registry.New[int]("widget")
	r.Register("b", 2)
	r.Register("a", 1)
	if v, ok := r.Lookup("a"); !ok || v != 1 {
		t.Errorf("Lookup(a) = %v, %v", v, ok)
	}
	if _, ok := r.Lookup("c"); ok {
		t.Error("Lookup(c) found an unregistered name")
	}
	if got := r.Names(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Names() = %v", got)
	}
	defer func() {
		if p := recover(); p != "widget registered twice: a" {
			t.Errorf("a duplicate name panicked with %v", p)
		}
	}()
	r.Register("a", 3)
}

func Example() {
	codecs := registry.New[func(string) string]("codec")
	codecs.Register("upper", func(s string) string { return s + "!" })
	f, _ := codecs.Lookup("upper")
	fmt.Println(f("hi"), codecs.Names())
	// Output: hi! [upper]
}
