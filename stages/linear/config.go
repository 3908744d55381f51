package linear

import (
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/stages/classify"
)

// Config is the linear section: the `linear` job (stages/linear)
// trains one linear layer on the frozen, globally average-pooled trunk of a
// checkpoint (facebookresearch/swav's eval_linear.py). data.shards are the
// training shards; the defaults are the reference's (lr 0.3 at batch 256,
// weight decay 1e-6, momentum 0.9 without Nesterov, cosine per epoch to 0,
// 100 epochs). The kind registers the type with its defaults; the loader
// decodes the section strictly into it.
type Config struct {
	classify.Common `yaml:",inline"`
	// LR is the learning rate at BatchSize (the reference uses 0.3 at 256
	// and does not rescale it with the batch; neither do we).
	LR float64 `yaml:"lr"`
	// FinalLR is the cosine schedule's last value (eta_min).
	FinalLR     float64 `yaml:"final_lr"`
	WeightDecay float64 `yaml:"weight_decay"`
	Momentum    float64 `yaml:"momentum"`
	Nesterov    bool    `yaml:"nesterov"`
	// Scheduler is "cosine" (CosineAnnealingLR over the epochs) or "step"
	// (MultiStepLR: times Gamma at each of DecayEpochs).
	Scheduler   string  `yaml:"scheduler"`
	DecayEpochs []int   `yaml:"decay_epochs"`
	Gamma       float64 `yaml:"gamma"`
	// ValEvery validates after every ValEvery-th epoch (and always at the
	// end); 1 is the reference's every epoch.
	ValEvery int `yaml:"val_every"`
	// Resume continues from the newest checkpoint in <out>/checkpoints.
	Resume bool `yaml:"resume"`
}

// DefaultConfig returns eval_linear.py's defaults.
func DefaultConfig() Config {
	return Config{Common: classify.Common{Epochs: 100, BatchSize: 256}, LR: 0.3, WeightDecay: 1e-6, Momentum: 0.9,
		Scheduler: "cosine", DecayEpochs: []int{60, 80}, Gamma: 0.1, ValEvery: 1, Resume: true}
}

// Validate checks the section and names the first bad field (relative to "linear").
func (c *Config) Validate() error {
	if c.Scheduler != "cosine" && c.Scheduler != "step" {
		return field.Errorf("scheduler", "must be cosine or step, got %q", c.Scheduler)
	}
	if err := c.Common.Validate(c.ValEvery, c.DecayEpochs); err != nil {
		return err
	}
	return field.CheckAll([]field.Check{
		{c.LR > 0, "lr", "must be positive"},
		{c.FinalLR >= 0, "final_lr", "must not be negative"},
		{c.WeightDecay >= 0, "weight_decay", "must not be negative"},
		{c.Momentum >= 0 && c.Momentum < 1, "momentum", "must be in [0, 1)"},
		{c.Gamma > 0, "gamma", "must be positive"},
	}...)
}

// SettingsOf returns the linear section of job (the defaults where it
// holds none).
func SettingsOf(job *configs.Job) Config { return configs.KindSettings[Config](job, JobKind) }

// Edit returns the linear section of job for changing it in place; job gets
// its own copy first, so a copy of job made before is left as it was.
func Edit(job *configs.Job) *Config { return configs.EditKindSettings[Config](job, JobKind) }
