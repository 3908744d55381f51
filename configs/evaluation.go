package configs

import (
	"slices"

	"github.com/swavgo/swav/internal/field"
)

// LinearConfig is the linear section: the `linear` job (stages/linear)
// trains one linear layer on the frozen, globally average-pooled trunk of a
// checkpoint (facebookresearch/swav's eval_linear.py). data.shards are the
// training shards; the defaults are the reference's (lr 0.3 at batch 256,
// weight decay 1e-6, momentum 0.9 without Nesterov, cosine per epoch to 0,
// 100 epochs). Like the other kinds' sections it lives here because the
// loader decodes every section strictly at load time.
type LinearConfig struct {
	// Checkpoint is the weights: a path or URL of any file we read (our
	// checkpoint or a folder of them, torch.save, safetensors), or "init"
	// for the untrained network of train.model.
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

// DefaultLinearConfig returns eval_linear.py's defaults.
func DefaultLinearConfig() LinearConfig {
	return LinearConfig{Epochs: 100, BatchSize: 256, LR: 0.3, WeightDecay: 1e-6, Momentum: 0.9,
		Scheduler: "cosine", DecayEpochs: []int{60, 80}, Gamma: 0.1, ValEvery: 1, Resume: true}
}

// Validate checks the section and names the first bad field (relative to "linear").
func (c *LinearConfig) Validate() error {
	if c.Scheduler != "cosine" && c.Scheduler != "step" {
		return field.Errorf("scheduler", "must be cosine or step, got %q", c.Scheduler)
	}
	if err := validateClassifier(c.Checkpoint, c.ValShards, c.Epochs, c.MaxSeconds, c.BatchSize, c.Classes, c.ValEvery, c.DecayEpochs); err != nil {
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

// FinetuneConfig is the finetune section: the `finetune` job
// (stages/finetune) trains the whole network plus a fresh linear head with
// cross-entropy on a labelled subset of data.shards
// (facebookresearch/swav's eval_semisup.py: SGD momentum 0.9, no weight
// decay, separate trunk and head learning rates, times Gamma at each of
// DecayEpochs, BatchNorm in training mode).
type FinetuneConfig struct {
	// Checkpoint: as linear.checkpoint ("init" is the
	// supervised-from-scratch baseline).
	Checkpoint string   `yaml:"checkpoint"`
	ValShards  []string `yaml:"val_shards"`
	Epochs     int      `yaml:"epochs"`
	MaxSeconds float64  `yaml:"max_seconds"`
	BatchSize  int      `yaml:"batch_size"`
	Classes    int      `yaml:"classes"`
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

// DefaultFinetuneConfig returns eval_semisup.py's defaults.
func DefaultFinetuneConfig() FinetuneConfig {
	return FinetuneConfig{Epochs: 20, BatchSize: 256, LabelFraction: 0.1, DecayEpochs: []int{12, 16}, Gamma: 0.2,
		Momentum: 0.9, ValEvery: 1, Resume: true}
}

// LearningRates returns the trunk's and the head's learning rates: LR and
// LRLastLayer, or the reference's for the label fraction where they are 0.
func (c *FinetuneConfig) LearningRates() (trunk, head float64) {
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
func (c *FinetuneConfig) Validate() error {
	if err := validateClassifier(c.Checkpoint, c.ValShards, c.Epochs, c.MaxSeconds, c.BatchSize, c.Classes, c.ValEvery, c.DecayEpochs); err != nil {
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

// validateClassifier checks the keys linear and finetune share.
func validateClassifier(checkpoint string, val []string, epochs int, maxSeconds float64, batch, classes, valEvery int, decay []int) error {
	if err := field.CheckAll([]field.Check{
		{checkpoint != "", "checkpoint", `must name the weights (a path or URL) or be "init"`},
		{len(val) > 0, "val_shards", "must list the validation shards"},
		{epochs >= 1, "epochs", "must be at least 1"},
		{maxSeconds >= 0, "max_seconds", "must not be negative"},
		{batch >= 1, "batch_size", "must be at least 1"},
		{classes == 0 || classes >= 2, "classes", "must be 0 (from the labels) or at least 2"},
		{valEvery >= 1, "val_every", "must be at least 1"},
	}...); err != nil {
		return err
	}
	if !slices.IsSorted(decay) || slices.ContainsFunc(decay, func(e int) bool { return e < 1 }) {
		return field.Errorf("decay_epochs", "must be positive epochs in increasing order, got %v", decay)
	}
	return nil
}
