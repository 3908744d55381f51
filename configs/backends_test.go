package configs_test

// The train section's backend is checked against the backends registered in
// the binary (and by each backend's own validator): link both, since the
// embedded ImageNet examples train on xla and the others on cpu.
import (
	_ "github.com/swavgo/swav/train/cpu"
	_ "github.com/swavgo/swav/train/xla"
)
