package configs_test

// Job kinds, their own sections and the backends' sub-sections are
// registered by the packages that own them: link them all, as the binary
// does (the embedded examples use every kind, and train on cpu and xla).
import (
	_ "github.com/swavgo/swav/stages/all"
)
