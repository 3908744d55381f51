package extract

import (
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/settings"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/train"
)

// CheckpointInit is the extract.checkpoint that extracts with the
// untrained network: model.Init of train.model with the job's seed (the
// random-init baseline).
const CheckpointInit = "init"

// Config is the extract section: the extract kind's own section,
// registered with the kind (the quickstart reads it too). The feature
// sinks' own settings are its sub-sections (extract.parquet), registered
// by each sink (the Settings of its sinks.Register).
type Config struct {
	// Checkpoint is what to load (a path or s3:// URL): one of our .swck
	// checkpoints or a checkpoint folder (its newest), or a weights file of
	// other tools (torch.save .pth / .pth.tar, zip or legacy; safetensors),
	// e.g. facebookresearch/swav's swav_800ep_pretrain.pth.tar. The
	// architecture is taken from it. "init" uses the untrained network of
	// train.model; feature "raw" needs none.
	Checkpoint string `yaml:"checkpoint"`
	// Output is a local folder or s3:// prefix (one Parquet file per input shard), or the URL of another registered feature sink.
	Output string `yaml:"output"`
	// Feature is "trunk", "projection", "scores" (the network's outputs) or
	// "raw" (the evaluation crop's pixels, averaged over the channels: the
	// raw-pixel baseline).
	Feature string `yaml:"feature"`
	// Arch, when set, is the architecture the checkpoint must have
	// (train.model.arch values); a checkpoint of another one is refused.
	Arch string `yaml:"arch"`
	// BatchSize is the number of images per forward pass.
	BatchSize int `yaml:"batch_size"`
	// Workers is the number of decode/transform goroutines (0: GOMAXPROCS).
	Workers int `yaml:"workers"`
	// Sinks holds each registered feature sink's own sub-section by the
	// sink's name (extract.parquet: sinks/parquet's Config); sinks.Open
	// hands them to the sink that opens the output.
	Sinks settings.Set `yaml:",inline"`
}

// DefaultConfig returns the typed defaults.
func DefaultConfig() Config {
	return Config{Feature: "trunk", BatchSize: 64, Sinks: settings.Defaults(sinks.Section)}
}

// Validate checks the section, and each sink's sub-section that checks
// itself, naming the bad fields (relative to "extract").
func (c *Config) Validate() error {
	switch c.Feature {
	case "trunk", "projection", "scores", "raw":
	default:
		return field.Errorf("feature", "must be trunk, projection, scores or raw, got %q", c.Feature)
	}
	if c.Arch != "" {
		if ok, list := train.ArchKnown(c.Arch); !ok {
			return field.Errorf("arch", "must be empty, %s, got %q", list, c.Arch)
		}
	}
	if err := field.CheckAll([]field.Check{
		{OK: c.BatchSize >= 1, Field: "batch_size", Msg: "must be at least 1"},
		{OK: c.Workers >= 0, Field: "workers", Msg: "must not be negative"},
	}...); err != nil {
		return err
	}
	return c.Sinks.Validate()
}

// SettingsOf returns the extract section of job (the defaults where it
// holds none).
func SettingsOf(job *configs.Job) Config { return configs.KindSettings[Config](job, JobKind) }

// Edit returns the extract section of job for changing it in place; job
// gets its own copy first, so a copy of job made before is left as it was.
func Edit(job *configs.Job) *Config { return configs.EditKindSettings[Config](job, JobKind) }
