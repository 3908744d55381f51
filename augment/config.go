package augment

import "github.com/swavgo/swav/pipeline"

// CropGroupConfig is one group of crops of one size (SPEC §9).
type CropGroupConfig struct {
	Size     int     `yaml:"size"`
	Count    int     `yaml:"count"`
	MinScale float64 `yaml:"min_scale"`
	MaxScale float64 `yaml:"max_scale"`
}

// Config is the augment section of a job. (Owned by the augment package; the
// fields below are the contract other packages rely on.)
type Config struct {
	Crops []CropGroupConfig `yaml:"crops"`
	// DType is "float32" (normalised crops) or "uint8" (normalise on the device).
	DType string `yaml:"dtype"`
	// Workers is the number of augmentation goroutines (0: GOMAXPROCS).
	Workers int `yaml:"workers"`
}

// DefaultConfig is the SwAV recipe 2x224 (0.14-1) + 6x96 (0.05-0.14).
func DefaultConfig() Config {
	return Config{
		Crops: []CropGroupConfig{{Size: 224, Count: 2, MinScale: 0.14, MaxScale: 1}, {Size: 96, Count: 6, MinScale: 0.05, MaxScale: 0.14}},
		DType: DTypeFloat32,
	}
}

// Validate checks the section and names the first bad field (relative to "augment").
func (c *Config) Validate() error {
	if len(c.Crops) == 0 {
		return pipeline.FieldErrorf("crops", "must list at least one crop group")
	}
	return nil
}
