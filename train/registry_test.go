package train_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/field/fieldtest"
	"github.com/swavgo/swav/train"
	_ "github.com/swavgo/swav/train/model" // the architecture names train.Config.Validate checks
)

// Two stand-in backends: "alpha" owns a setting (batch_size must be even, a
// restriction on a shared key), "beta" owns none.
func init() {
	none := func(train.Config, int64) (train.Backend, error) { return nil, errors.New("stand-in") }
	train.RegisterBackend("beta", train.BackendSpec{New: none})
	train.RegisterBackend("alpha", train.BackendSpec{New: none, Validate: func(c *train.Config) error {
		return field.CheckAll(field.Check{OK: c.BatchSize%2 == 0, Field: "batch_size", Msg: "must be even on alpha"})
	}})
}

func TestValidateAsksTheBackend(t *testing.T) {
	for _, tc := range []struct {
		name, backend string
		batch         int
		field, msg    string // field "": valid
	}{
		{"backend without settings", "beta", 3, "", ""},
		{"its validator passes", "alpha", 4, "", ""},
		{"its validator fails", "alpha", 3, "batch_size", "must be even on alpha"},
		{"unknown lists the backends", "gamma", 4, "backend", `unknown backend "gamma" (built into this binary: alpha, beta)`},
		{"close to one", "alpah", 4, "backend", `did you mean "alpha"?`},
		{"far from all", "tpu", 4, "backend", "(built into this binary: alpha, beta)"},
		{"empty", "", 4, "backend", "must name the training backend (built into this binary: alpha, beta)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := train.DefaultConfig()
			cfg.Backend, cfg.BatchSize = tc.backend, tc.batch
			err := cfg.Validate()
			fe := fieldtest.Want(t, err, tc.field, tc.msg)
			if tc.msg == "(built into this binary: alpha, beta)" && strings.Contains(fe.Msg, "did you mean") {
				t.Errorf("suggested a name far from %q: %v", tc.backend, err)
			}
		})
	}
}

// TestBackendErrorJoinsTheOthers: the backend's error and the shared keys'
// range errors are reported together.
func TestBackendErrorJoinsTheOthers(t *testing.T) {
	cfg := train.DefaultConfig()
	cfg.Backend, cfg.BatchSize, cfg.Epochs = "alpha", 3, 0
	err := cfg.Validate()
	for _, want := range []string{"batch_size: must be even on alpha", "epochs: must be at least 1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want %q among the errors", err, want)
		}
	}
}

func TestRegisterBackendWithoutNewPanics(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), "without New") {
			t.Errorf("panic %v", p)
		}
	}()
	train.RegisterBackend("delta", train.BackendSpec{})
}
