package demo

import (
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/field"
)

// Config is the demo section (the demo kind's own section, registered with the kind): the `demo` job walks a folder of images,
// reads, hashes and decodes them in parallel and writes a summary JSON to
// <out>/demo_summary.json. It exercises the engine on local files.
type Config struct {
	// Dir is the folder walked (recursively) for files.
	Dir string `yaml:"dir"`
	// Workers is the number of decode goroutines (0: GOMAXPROCS).
	Workers int `yaml:"workers"`
	// Passes is how many times the folder is read (a longer run).
	Passes int `yaml:"passes"`
	// Decode decodes every image fully (false: only its header).
	Decode bool `yaml:"decode"`
}

// DefaultConfig reads the benchmark JPEGs of the shared folder once.
func DefaultConfig() Config {
	return Config{Dir: "../shared/bench/images", Passes: 1, Decode: true}
}

// Validate checks the section and names the first bad field (relative to "demo").
func (c *Config) Validate() error {
	switch {
	case c.Dir == "":
		return field.Errorf("dir", "must name a folder")
	case c.Workers < 0:
		return field.Errorf("workers", "must not be negative, got %d", c.Workers)
	case c.Passes < 1:
		return field.Errorf("passes", "must be at least 1, got %d", c.Passes)
	}
	return nil
}

// SettingsOf returns the demo section of job (the defaults where it holds
// none).
func SettingsOf(job *configs.Job) Config { return configs.KindSettings[Config](job, JobKind) }
