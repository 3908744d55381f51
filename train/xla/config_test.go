package xla

import (
	"strings"
	"testing"

	"github.com/swavgo/swav/internal/field/fieldtest"
	"github.com/swavgo/swav/train"
)

// TestValidate: train.Config.Validate runs this package's validator for
// backend xla (registered by this package), and New refuses the same.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*train.Config)
		field string // "": valid
		msg   string
	}{
		{"defaults", func(*train.Config) {}, "", ""},
		{"bf16 on four devices", func(c *train.Config) { x := Edit(c); x.Precision, x.Devices = "bf16", 4 }, "", ""},
		{"bad precision", func(c *train.Config) { Edit(c).Precision = "fp16" }, "xla.precision", `must be float32 or bf16, got "fp16"`},
		{"empty precision", func(c *train.Config) { Edit(c).Precision = "" }, "xla.precision", `must be float32 or bf16, got ""`},
		{"negative devices", func(c *train.Config) { Edit(c).Devices = -1 }, "xla.devices", "must not be negative"},
		{"the cpu sub-section is not ours", func(c *train.Config) { c.Backends["cpu"] = &struct{ Threads int }{-1} }, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := train.DefaultConfig()
			cfg.Backend = "xla"
			tc.edit(&cfg)
			fieldtest.Want(t, cfg.Validate(), tc.field, tc.msg)
		})
	}
	cfg := tinyConfig()
	Edit(&cfg).Precision = "fp8"
	if b, err := New(cfg, 1); err == nil || !strings.Contains(err.Error(), `xla: train.xla.precision: must be float32 or bf16, got "fp8"`) {
		if b != nil {
			b.Close()
		}
		t.Errorf("New with precision fp8: %v", err)
	}
}
