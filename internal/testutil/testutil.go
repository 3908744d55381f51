// Package testutil holds the assertions the packages' tests share, so that
// each is written once.
package testutil

import (
	"errors"
	"strings"
	"testing"
)

// ErrorMentions fails t unless err is non-nil, its message contains every
// string of want, and, when is is non-nil, errors.Is(err, is): the shape of
// the bad-input table tests ("a clear error that names the file, field or
// sample").
func ErrorMentions(t testing.TB, err error, is error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("error %q is not %v", err, is)
	}
}
