package field_test

import (
	"errors"
	"testing"

	"github.com/swavgo/swav/internal/field"
)

func TestPrefix(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"field error", field.Errorf("shard_size", "must be >= 1"), "folder.shard_size: must be >= 1"},
		{"joined", errors.Join(field.Errorf("a", "x"), field.Errorf("b", "y")), "folder.a: x\nfolder.b: y"},
		{"other error", errors.New("boom"), "folder: boom"},
	} {
		got := field.Prefix("folder", tc.err)
		if (got == nil) != (tc.err == nil) || (got != nil && got.Error() != tc.want) {
			t.Errorf("%s: Prefix = %v, want %q", tc.name, got, tc.want)
		}
	}
	var fe *field.Error
	if !errors.As(field.Prefix("folder", field.Errorf("shard_size", "m")), &fe) || fe.Field != "folder.shard_size" {
		t.Errorf("the prefixed error is no *field.Error of folder.shard_size: %v", fe)
	}
}
