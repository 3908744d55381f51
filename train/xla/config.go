package xla

import (
	"fmt"

	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/train"
)

// validate checks the settings the xla backend owns, its sub-section
// train.xla (train.Config.Validate runs it for backend xla; New too), fields
// relative to the train section.
func validate(c *train.Config) error {
	return field.CheckAll([]field.Check{
		{c.XLA.Precision == "float32" || c.XLA.Precision == "bf16", "xla.precision", fmt.Sprintf("must be float32 or bf16, got %q", c.XLA.Precision)},
		{c.XLA.Devices >= 0, "xla.devices", "must not be negative (0: every device the plugin sees)"},
	}...)
}
