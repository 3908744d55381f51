package cpu

import (
	"fmt"

	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/settings"
	"github.com/swavgo/swav/train"
)

// Config is the cpu backend's own sub-section of the train section
// (train.cpu). The backend registers it with its defaults (DefaultConfig);
// the loader decodes the YAML key strictly into it.
type Config struct {
	// Threads is the number of CPU threads (0: all cores).
	Threads int `yaml:"threads"`
	// Precision is "bf16" (convolutions on bf16 inputs, on the
	// processor's AVX512-BF16 or AMX units, accumulating in float32; the
	// activations inside each residual block and their gradients in bf16;
	// float32 master weights, BatchNorm statistics, head, loss and LARS)
	// or "float32". On a processor without native bf16, or without
	// oneDNN, bf16 runs as float32 with a warning. It applies to training
	// and extraction; empty is float32.
	Precision string `yaml:"precision"`
}

// Name is the backend's name and the key of its sub-section (train.cpu).
const Name = "cpu"

// DefaultConfig returns the sub-section's defaults: all cores, bf16.
func DefaultConfig() Config { return Config{Precision: "bf16"} }

// SettingsOf returns the cpu settings of a train section (the defaults
// where it holds none).
func SettingsOf(c *train.Config) Config { return settings.Get[Config](c.Backends, train.Section, Name) }

// Edit returns the cpu settings of c for changing them in place; c gets its
// own copy first, so a copy of c made before is left as it was.
func Edit(c *train.Config) *Config { return settings.Edit[Config](&c.Backends, train.Section, Name) }

// validate checks the settings the cpu backend owns, its sub-section
// train.cpu (train.Config.Validate runs it for backend cpu; New too), fields
// relative to the train section.
func validate(c *train.Config) error {
	s := SettingsOf(c)
	return field.CheckAll([]field.Check{
		{OK: s.Threads >= 0, Field: "cpu.threads", Msg: "must not be negative (0: all cores)"},
		{OK: s.Precision == "float32" || s.Precision == "bf16" || s.Precision == "", Field: "cpu.precision", Msg: fmt.Sprintf("must be float32 or bf16, got %q", s.Precision)},
	}...)
}
