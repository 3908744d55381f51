package xla

import (
	"fmt"

	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/settings"
	"github.com/swavgo/swav/train"
)

// Config is the xla backend's own sub-section of the train section
// (train.xla). The backend registers it with its defaults (DefaultConfig);
// the loader decodes the YAML key strictly into it.
type Config struct {
	// Precision is "float32" or "bf16" (bf16 compute on float32 master weights).
	Precision string `yaml:"precision"`
	// PJRTPlugin is the path of the PJRT plugin (or the PJRT_PLUGIN
	// environment variable).
	PJRTPlugin string `yaml:"pjrt_plugin"`
	// Devices is how many devices of the PJRT plugin to train on,
	// data-parallel through XLA sharding (0: all it sees; limit them with
	// CUDA_VISIBLE_DEVICES or this). batch_size is the process's batch,
	// split across them.
	Devices int `yaml:"devices"`
}

// Name is the backend's name and the key of its sub-section (train.xla).
const Name = "xla"

// DefaultConfig returns the sub-section's defaults: float32 on every device.
func DefaultConfig() Config { return Config{Precision: "float32"} }

// SettingsOf returns the xla settings of a train section (the defaults
// where it holds none).
func SettingsOf(c *train.Config) Config { return settings.Get[Config](c.Backends, train.Section, Name) }

// Edit returns the xla settings of c for changing them in place; c gets its
// own copy first, so a copy of c made before is left as it was.
func Edit(c *train.Config) *Config { return settings.Edit[Config](&c.Backends, train.Section, Name) }

// validate checks the settings the xla backend owns, its sub-section
// train.xla (train.Config.Validate runs it for backend xla; New too), fields
// relative to the train section.
func validate(c *train.Config) error {
	s := SettingsOf(c)
	return field.CheckAll([]field.Check{
		{s.Precision == "float32" || s.Precision == "bf16", "xla.precision", fmt.Sprintf("must be float32 or bf16, got %q", s.Precision)},
		{s.Devices >= 0, "xla.devices", "must not be negative (0: every device the plugin sees)"},
	}...)
}
