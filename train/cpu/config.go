package cpu

import (
	"github.com/swavgo/swav/configs/field"
	"github.com/swavgo/swav/train"
)

// validate checks the settings the cpu backend owns (train.Config.Validate
// runs it for backend cpu), fields relative to the train section.
func validate(c *train.Config) error {
	return field.CheckAll([]field.Check{
		{c.Threads >= 0, "threads", "must not be negative"},
		{c.Precision == "float32", "precision", "must be float32 on backend cpu (bf16 needs backend xla)"},
		{c.Devices >= 0, "devices", "must not be negative (0: every device the plugin sees)"},
		{c.Devices <= 1, "devices", "more than one device needs backend xla"},
	}...)
}
