package cpu

import (
	"strings"
	"testing"

	"github.com/swavgo/swav/internal/field/fieldtest"
	"github.com/swavgo/swav/train"
)

// TestValidate: train.Config.Validate runs this package's validator for
// backend cpu (registered by this package), and New refuses the same.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*train.Config)
		field string // "": valid
		msg   string
	}{
		{"defaults", func(*train.Config) {}, "", ""},
		{"threads", func(c *train.Config) { Edit(c).Threads = 3 }, "", ""},
		{"negative threads", func(c *train.Config) { Edit(c).Threads = -1 }, "cpu.threads", "must not be negative"},
		{"float32", func(c *train.Config) { Edit(c).Precision = "float32" }, "", ""},
		{"fp16 is not a precision of ours", func(c *train.Config) { Edit(c).Precision = "fp16" }, "cpu.precision", `must be float32 or bf16, got "fp16"`},
		{"the xla sub-section is not ours", func(c *train.Config) { c.Backends["xla"] = &struct{ Devices int }{-8} }, "", ""},
		{"unknown backend lists what is linked", func(c *train.Config) { c.Backend = "cpuu" }, "backend", `built into this binary: cpu); did you mean "cpu"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := train.DefaultConfig()
			tc.edit(&cfg)
			fieldtest.Want(t, cfg.Validate(), tc.field, tc.msg)
		})
	}
	cfg := tinyConfig()
	Edit(&cfg).Threads = -1
	if _, err := New(cfg, 1); err == nil || !strings.Contains(err.Error(), "cpu: train.cpu.threads: must not be negative") {
		t.Errorf("New with threads -1: %v", err)
	}
}
