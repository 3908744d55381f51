package train

import (
	"errors"

	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/settings"
)

// Section is the train section's key in a job; backends' sub-sections are
// registered under it (settings.Register(Section, "cpu", ...)).
const Section = "train"

// ModelConfig describes the network: a ResNet trunk, the projection head and
// the prototypes (SPEC §6).
type ModelConfig struct {
	// Arch is "small" (the benchmark's small network), "resnet8" (a
	// CIFAR-style ResNet-8, 32-64-128 wide, for 28-32 px images),
	// "resnet18", "resnet34", "resnet50", or the wide "resnet50w2",
	// "resnet50w4", "resnet50w5" (train/model's list, model.Names).
	Arch string `yaml:"arch"`
	// SmallStem replaces the 7x7/2 stem and max-pool by a 3x3/1 conv without
	// max-pool, for 28-32 px data.
	SmallStem bool `yaml:"small_stem"`
	// HiddenMLP is the projection head's hidden width; 0 means a single
	// linear layer.
	HiddenMLP int `yaml:"hidden_mlp"`
	// FeatDim is the embedding size D.
	FeatDim int `yaml:"feat_dim"`
	// Prototypes is K.
	Prototypes int `yaml:"prototypes"`
}

// SwAVConfig holds the SwAV loss settings (SPEC §1-3).
type SwAVConfig struct {
	Temperature           float64 `yaml:"temperature"`
	Epsilon               float64 `yaml:"epsilon"`
	SinkhornIterations    int     `yaml:"sinkhorn_iterations"`
	CropsForAssign        []int   `yaml:"crops_for_assign"`
	QueueLength           int     `yaml:"queue_length"`
	EpochQueueStarts      int     `yaml:"epoch_queue_starts"`
	FreezePrototypesIters int     `yaml:"freeze_prototypes_iters"`
}

// OptimConfig holds the LR schedule and LARS settings (SPEC §4-5).
type OptimConfig struct {
	BaseLR           float64 `yaml:"base_lr"`
	FinalLR          float64 `yaml:"final_lr"`
	WarmupEpochs     int     `yaml:"warmup_epochs"`
	StartWarmup      float64 `yaml:"start_warmup"`
	WeightDecay      float64 `yaml:"weight_decay"`
	Momentum         float64 `yaml:"momentum"`
	TrustCoefficient float64 `yaml:"trust_coefficient"`
}

// CheckpointConfig says where and how often the training stage checkpoints.
type CheckpointConfig struct {
	// Dir is a local folder or an s3:// prefix; empty means <out>/checkpoints.
	Dir string `yaml:"dir"`
	// EveryIters checkpoints every N iterations (0: only at epoch ends and on stop).
	EveryIters int `yaml:"every_iters"`
	// Keep is how many checkpoints to keep (the latest ones).
	Keep int `yaml:"keep"`
	// Resume continues from the latest checkpoint in Dir when there is one.
	Resume bool `yaml:"resume"`
}

// Config is the train section of a job.
type Config struct {
	// Backend is "cpu" (our NHWC engine on oneDNN and OpenBLAS) or "xla"
	// (GoMLX through a PJRT plugin), the backends built into this binary;
	// each owns and validates its sub-section (cpu, xla).
	Backend string `yaml:"backend"`
	// BatchSize is B, images per step.
	BatchSize int `yaml:"batch_size"`
	// Epochs is the schedule's length in epochs.
	Epochs int `yaml:"epochs"`
	// ItersPerEpoch overrides the number of iterations per epoch (0: derived
	// from the data's sample count).
	ItersPerEpoch int `yaml:"iters_per_epoch"`
	// MaxSeconds stops training after this wall time (0: no limit),
	// checkpointing first.
	MaxSeconds float64 `yaml:"max_seconds"`
	// MaxIters stops training after this many iterations (0: no limit).
	MaxIters int `yaml:"max_iters"`
	// FitToBudget, with MaxSeconds, fits the learning-rate schedule to the
	// time budget, so the cosine ends (and the weights settle) when the
	// budget does instead of being cut mid-way or ending early. After 100
	// steps the trainer times a step and a kNN monitor evaluation and sets
	// the schedule's total iterations, then sets it again after each
	// evaluation until 80% of the way; checkpoints store it and a resumed
	// run keeps it. Epochs is then the most passes over the data. The
	// schedule then depends on the machine's pace (the learning rate of
	// every step is in metrics.jsonl); turn the fit off for a schedule that
	// is the same on every machine.
	FitToBudget bool `yaml:"fit_to_budget"`
	// InitFrom is a weights file (path or s3:// URL: torch.save .pth /
	// .pth.tar, safetensors, or one of our .swck checkpoints) the run starts
	// from instead of the seed's initialisation: the trunk, and the head and
	// prototypes where the file has them with model's shapes; the optimiser
	// and the queue start fresh. A resumed run ignores it (the checkpoint
	// wins).
	InitFrom string `yaml:"init_from"`
	// IndependentRanks lets a training job run with a world size above 1
	// (data.world_size, or the environment's WORLD_SIZE, SLURM_NTASKS...):
	// each rank then trains its own, independent model on its share of the
	// shards, since nothing exchanges gradients between processes yet
	// (docs/scale-out.md). Without it such a job is a configuration error.
	IndependentRanks bool `yaml:"independent_ranks,omitempty"`
	// Tensorboard is the folder (a path or s3:// prefix) of the run's
	// TensorBoard event file events.out.tfevents.<time>.<host>: loss,
	// learning rate, images/s, data-wait share per step, the kNN monitor's
	// accuracy and cluster-size histogram; empty means <out>/tensorboard,
	// "off" writes none.
	Tensorboard string `yaml:"tensorboard,omitempty"`

	// Backends holds each registered backend's own sub-section by its name
	// (train.cpu is train/cpu's Config, train.xla train/xla's): the
	// backend registers its type and defaults with RegisterBackend, the
	// loader decodes the YAML key strictly into it, the backend reads it
	// back (cpu.SettingsOf). Only the chosen backend's is validated.
	Backends settings.Set `yaml:",inline"`

	Model      ModelConfig      `yaml:"model"`
	SwAV       SwAVConfig       `yaml:"swav"`
	Optim      OptimConfig      `yaml:"optim"`
	Checkpoint CheckpointConfig `yaml:"checkpoint"`
	// Monitor is the kNN monitor (off unless monitor.bank names shards).
	Monitor MonitorConfig `yaml:"monitor"`
}

// DefaultConfig is the swav_800ep ImageNet recipe per GPU (SPEC §8).
func DefaultConfig() Config {
	return Config{
		Backend:   "cpu",
		BatchSize: 64,
		Epochs:    100,
		Backends:  settings.Defaults(Section),
		Model:     ModelConfig{Arch: "resnet50", HiddenMLP: 2048, FeatDim: 128, Prototypes: 3000},
		SwAV: SwAVConfig{
			Temperature: 0.1, Epsilon: 0.05, SinkhornIterations: 3, CropsForAssign: []int{0, 1},
			EpochQueueStarts: 15, FreezePrototypesIters: 313,
		},
		Optim: OptimConfig{
			BaseLR: 4.8, FinalLR: 0.0048, WarmupEpochs: 10, StartWarmup: 0.3,
			WeightDecay: 1e-6, Momentum: 0.9, TrustCoefficient: 0.001,
		},
		Checkpoint: CheckpointConfig{Keep: 3, Resume: true},
		Monitor:    DefaultMonitorConfig(),
	}
}

// Validate checks ranges and names the bad fields (relative to "train"): an
// unknown backend, then the settings the backend owns (its BackendSpec's
// Validate), joined with the shared keys' range errors.
func (c *Config) Validate() error {
	spec, err := c.backendSpec()
	if err != nil {
		return err
	}
	var backendErr error // the backend's own settings
	if spec.Validate != nil {
		backendErr = spec.Validate(c)
	}
	if ok, list := ArchKnown(c.Model.Arch); !ok {
		return errors.Join(backendErr, field.Errorf("model.arch", "must be %s, got %q", list, c.Model.Arch))
	}
	if err := errors.Join(backendErr, field.CheckAll([]field.Check{
		{c.BatchSize >= 1, "batch_size", "must be at least 1"},
		{c.Epochs >= 1, "epochs", "must be at least 1"},
		{c.ItersPerEpoch >= 0, "iters_per_epoch", "must not be negative"},
		{c.MaxSeconds >= 0, "max_seconds", "must not be negative"},
		{c.MaxIters >= 0, "max_iters", "must not be negative"},
		{!c.FitToBudget || c.MaxSeconds > 0, "fit_to_budget", "needs max_seconds, the budget to fit the schedule to (or set it false to train the epochs in full)"},
		{c.Model.HiddenMLP >= 0, "model.hidden_mlp", "must not be negative"},
		{c.Model.FeatDim >= 1, "model.feat_dim", "must be at least 1"},
		{c.Model.Prototypes >= 2, "model.prototypes", "must be at least 2"},
		{c.SwAV.Temperature > 0, "swav.temperature", "must be positive"},
		{c.SwAV.Epsilon > 0, "swav.epsilon", "must be positive"},
		{c.SwAV.SinkhornIterations >= 1, "swav.sinkhorn_iterations", "must be at least 1"},
		{len(c.SwAV.CropsForAssign) >= 1, "swav.crops_for_assign", "must name at least one crop"},
		{c.SwAV.QueueLength >= 0, "swav.queue_length", "must not be negative"},
		{c.SwAV.EpochQueueStarts >= 0, "swav.epoch_queue_starts", "must not be negative"},
		{c.SwAV.FreezePrototypesIters >= 0, "swav.freeze_prototypes_iters", "must not be negative"},
		{c.Optim.BaseLR > 0, "optim.base_lr", "must be positive"},
		{c.Optim.FinalLR >= 0, "optim.final_lr", "must not be negative"},
		{c.Optim.WarmupEpochs >= 0 && c.Optim.WarmupEpochs < c.Epochs, "optim.warmup_epochs", "must be in [0, epochs)"},
		{c.Optim.StartWarmup >= 0, "optim.start_warmup", "must not be negative"},
		{c.Optim.WeightDecay >= 0, "optim.weight_decay", "must not be negative"},
		{c.Optim.Momentum >= 0 && c.Optim.Momentum < 1, "optim.momentum", "must be in [0, 1)"},
		{c.Optim.TrustCoefficient > 0, "optim.trust_coefficient", "must be positive"},
		{c.Checkpoint.EveryIters >= 0, "checkpoint.every_iters", "must not be negative"},
		{c.Checkpoint.Keep >= 1, "checkpoint.keep", "must be at least 1"},
	}...)); err != nil {
		return err
	}
	if err := c.Monitor.validate(); err != nil {
		return err
	}
	seen := map[int]bool{}
	for i, c := range c.SwAV.CropsForAssign {
		if c < 0 || seen[c] {
			return field.Errorf("swav.crops_for_assign", "entry %d (%d) is negative or repeated", i, c)
		}
		seen[c] = true
	}
	return nil
}
