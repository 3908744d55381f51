package quickstart

import (
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/field"
)

// Config is the quickstart section: the `quickstart` job
// (stages/quickstart) makes Fashion-MNIST shards, pre-trains (train), extracts
// (extract) and evaluates in one command; these are its own settings: where
// the shards come from and how the features are evaluated. The kind
// registers the type with its defaults; the loader decodes the section
// strictly into it.
type Config struct {
	// Local reads the shards from the local cache folder instead of serving
	// them from a local S3 server (versitygw).
	Local bool `yaml:"local"`
	// Cache is the folder the shards are written to once and reused from.
	Cache string `yaml:"cache"`
	// ShardSize is the number of images per shard.
	ShardSize int `yaml:"shard_size"`
	// TrainImages and TestImages limit the images used (0: all 60,000 and
	// 10,000); a smaller set makes a smoke test.
	TrainImages int `yaml:"train_images"`
	TestImages  int `yaml:"test_images"`
	// KNN lists the k of the kNN evaluation; the first one is the headline.
	KNN []int `yaml:"knn"`
	// Temperature of the kNN vote weights.
	Temperature float64 `yaml:"temperature"`
	// Monitor runs the kNN monitor during pre-training (learning curve in
	// metrics.jsonl and loss.png) with the train split as its bank and the
	// test split as its held-out queries, unless train.monitor.bank is set;
	// train.monitor sets the sizes and the period.
	Monitor bool `yaml:"monitor"`
}

// DefaultConfig returns the typed defaults.
func DefaultConfig() Config {
	return Config{Cache: ".cache/fmnist", ShardSize: 5000, KNN: []int{20, 10, 50}, Temperature: 0.07}
}

// Validate checks the section and names the first bad field (relative to "quickstart").
func (c *Config) Validate() error {
	switch {
	case c.Cache == "":
		return field.Errorf("cache", "must name a folder")
	case c.ShardSize < 1:
		return field.Errorf("shard_size", "must be at least 1")
	case c.TrainImages < 0 || c.TestImages < 0:
		return field.Errorf("train_images", "must not be negative")
	case len(c.KNN) == 0:
		return field.Errorf("knn", "must list at least one k")
	case c.Temperature <= 0:
		return field.Errorf("temperature", "must be positive")
	}
	for i, k := range c.KNN {
		if k < 1 {
			return field.Errorf("knn", "entry %d (%d) must be at least 1", i, k)
		}
	}
	return nil
}

// SettingsOf returns the quickstart section of job (the defaults where it
// holds none).
func SettingsOf(job *configs.Job) Config { return configs.KindSettings[Config](job, JobKind) }

// Edit returns the quickstart section of job for changing it in place; job gets
// its own copy first, so a copy of job made before is left as it was.
func Edit(job *configs.Job) *Config { return configs.EditKindSettings[Config](job, JobKind) }
