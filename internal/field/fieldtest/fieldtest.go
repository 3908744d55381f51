// Package fieldtest is the one assertion the config tests share: an error
// is the *field.Error that names the expected field (as httptest serves
// net/http's tests).
package fieldtest

import (
	"errors"
	"strings"
	"testing"

	"github.com/swavgo/swav/internal/field"
)

// Want fails t unless err is what a validation should return: nil when
// wantField is "", else a *field.Error (possibly wrapped or joined) whose
// Field is wantField and whose message contains every one of msgs. It
// returns the field error (nil when none was wanted).
func Want(t testing.TB, err error, wantField string, msgs ...string) *field.Error {
	t.Helper()
	if wantField == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return nil
	}
	var fe *field.Error
	if !errors.As(err, &fe) || fe.Field != wantField {
		t.Fatalf("error %v, want a field error on %s", err, wantField)
	}
	for _, m := range msgs {
		if !strings.Contains(fe.Msg, m) {
			t.Fatalf("error %v on %s does not say %q", err, wantField, m)
		}
	}
	return fe
}
