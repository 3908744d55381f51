package classify

import (
	"slices"

	"github.com/swavgo/swav/internal/field"
)

// Common is the head of the linear and finetune sections, the keys they
// share, inline in each (`yaml:",inline"`).
type Common struct {
	// Checkpoint is the weights: a path or URL of any file we read (our
	// checkpoint or a folder of them, torch.save, safetensors), or "init"
	// for the untrained network of train.model (finetune's
	// supervised-from-scratch baseline).
	Checkpoint string `yaml:"checkpoint"`
	// ValShards are the validation shards (evaluated with augment.eval's
	// Resize + CenterCrop after every epoch).
	ValShards []string `yaml:"val_shards"`
	// Epochs is the number of passes over the training shards.
	Epochs int `yaml:"epochs"`
	// MaxSeconds ends training early once spent (0: no limit); the last
	// evaluation still runs.
	MaxSeconds float64 `yaml:"max_seconds"`
	// BatchSize is the images per step (the reference: 32 x 8 GPUs = 256).
	BatchSize int `yaml:"batch_size"`
	// Classes is the classifier's width (0: the largest training label + 1).
	Classes int `yaml:"classes"`
}

// Validate checks the shared keys, and the section's own val_every and
// decay_epochs, which both sections have further down (fields relative to
// the section).
func (c *Common) Validate(valEvery int, decay []int) error {
	if err := field.CheckAll([]field.Check{
		{c.Checkpoint != "", "checkpoint", `must name the weights (a path or URL) or be "init"`},
		{len(c.ValShards) > 0, "val_shards", "must list the validation shards"},
		{c.Epochs >= 1, "epochs", "must be at least 1"},
		{c.MaxSeconds >= 0, "max_seconds", "must not be negative"},
		{c.BatchSize >= 1, "batch_size", "must be at least 1"},
		{c.Classes == 0 || c.Classes >= 2, "classes", "must be 0 (from the labels) or at least 2"},
		{valEvery >= 1, "val_every", "must be at least 1"},
	}...); err != nil {
		return err
	}
	if !slices.IsSorted(decay) || slices.ContainsFunc(decay, func(e int) bool { return e < 1 }) {
		return field.Errorf("decay_epochs", "must be positive epochs in increasing order, got %v", decay)
	}
	return nil
}
