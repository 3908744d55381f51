package xla

import (
	"strconv"

	"github.com/swavgo/swav/configs/field"
	"github.com/swavgo/swav/train"
)

// validate checks the settings the xla backend owns (train.Config.Validate
// runs it for backend xla), fields relative to the train section.
func validate(c *train.Config) error {
	return field.CheckAll([]field.Check{
		{c.Precision == "float32" || c.Precision == "bf16", "precision", "must be float32 or bf16, got " + strconv.Quote(c.Precision)},
		{c.Devices >= 0, "devices", "must not be negative (0: every device the plugin sees)"},
	}...)
}
