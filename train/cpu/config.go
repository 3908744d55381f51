package cpu

import (
	"fmt"

	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/train"
)

// validate checks the settings the cpu backend owns, its sub-section
// train.cpu (train.Config.Validate runs it for backend cpu; New too), fields
// relative to the train section.
func validate(c *train.Config) error {
	return field.CheckAll([]field.Check{
		{OK: c.CPU.Threads >= 0, Field: "cpu.threads", Msg: "must not be negative (0: all cores)"},
		{OK: c.CPU.Precision == "float32" || c.CPU.Precision == "bf16" || c.CPU.Precision == "", Field: "cpu.precision", Msg: fmt.Sprintf("must be float32 or bf16, got %q", c.CPU.Precision)},
	}...)
}
