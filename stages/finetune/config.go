package finetune

import (
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/stages/classify"
)

// Config is the finetune section: the `finetune` job
// (stages/finetune) trains the whole network plus a fresh linear head with
// cross-entropy on a labelled subset of data.shards
// (facebookresearch/swav's eval_semisup.py: SGD momentum 0.9, no weight
// decay, separate trunk and head learning rates, times Gamma at each of
// DecayEpochs, BatchNorm in training mode).
type Config struct {
	classify.Common `yaml:",inline"`
	// LabelFraction is the share of the training images whose labels are
	// used (0.01, 0.1, 1.0, or any value in (0, 1]).
	LabelFraction float64 `yaml:"label_fraction"`
	// Subset is a file or URL listing the labelled images one per line
	// (the reference's ImageNet lists, e.g.
	// https://raw.githubusercontent.com/google-research/simclr/master/imagenet_subsets/1percent.txt:
	// "n01440764_10026.JPEG" matches the sample key "n01440764_10026" or
	// ".../n01440764_10026"). Empty: a class-balanced subset of
	// LabelFraction drawn from the job's seed, written to
	// <out>/subset.txt and recorded in report.json.
	Subset string `yaml:"subset"`
	// LR and LRLastLayer are the trunk's and the head's learning rates
	// (0: the reference's, 0.02 and 5 at 1 % of the labels, else 0.01 and
	// 0.2).
	LR          float64 `yaml:"lr"`
	LRLastLayer float64 `yaml:"lr_last_layer"`
	DecayEpochs []int   `yaml:"decay_epochs"`
	Gamma       float64 `yaml:"gamma"`
	WeightDecay float64 `yaml:"weight_decay"`
	Momentum    float64 `yaml:"momentum"`
	ValEvery    int     `yaml:"val_every"`
	Resume      bool    `yaml:"resume"`
}

// DefaultConfig returns eval_semisup.py's defaults.
func DefaultConfig() Config {
	return Config{Common: classify.Common{Epochs: 20, BatchSize: 256}, LabelFraction: 0.1, DecayEpochs: []int{12, 16}, Gamma: 0.2,
		Momentum: 0.9, ValEvery: 1, Resume: true}
}

// LearningRates returns the trunk's and the head's learning rates: LR and
// LRLastLayer, or the reference's for the label fraction where they are 0.
func (c *Config) LearningRates() (trunk, head float64) {
	trunk, head = 0.01, 0.2
	if c.LabelFraction <= 0.01 {
		trunk, head = 0.02, 5
	}
	if c.LR > 0 {
		trunk = c.LR
	}
	if c.LRLastLayer > 0 {
		head = c.LRLastLayer
	}
	return trunk, head
}

// Validate checks the section and names the first bad field (relative to "finetune").
func (c *Config) Validate() error {
	if err := c.Common.Validate(c.ValEvery, c.DecayEpochs); err != nil {
		return err
	}
	return field.CheckAll([]field.Check{
		{c.LabelFraction > 0 && c.LabelFraction <= 1, "label_fraction", "must be in (0, 1]"},
		{c.BatchSize >= 2, "batch_size", "must be at least 2 (BatchNorm in training mode)"},
		{c.LR >= 0, "lr", "must not be negative (0: the reference's)"},
		{c.LRLastLayer >= 0, "lr_last_layer", "must not be negative (0: the reference's)"},
		{c.WeightDecay >= 0, "weight_decay", "must not be negative"},
		{c.Momentum >= 0 && c.Momentum < 1, "momentum", "must be in [0, 1)"},
		{c.Gamma > 0, "gamma", "must be positive"},
	}...)
}

// SettingsOf returns the finetune section of job (the defaults where it
// holds none).
func SettingsOf(job *configs.Job) Config { return configs.KindSettings[Config](job, JobKind) }

// Edit returns the finetune section of job for changing it in place; job gets
// its own copy first, so a copy of job made before is left as it was.
func Edit(job *configs.Job) *Config { return configs.EditKindSettings[Config](job, JobKind) }
