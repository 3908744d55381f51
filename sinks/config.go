// Package sinks writes what a run produces. Feature output goes through the
// FeatureSink seam, picked by the output URL's scheme from the sinks that
// registered (sinks/parquet: local folders, file:// and s3://); metrics go
// to sinks/metrics.
package sinks

import "github.com/swavgo/swav/internal/field"

// Special values of ExtractConfig.Checkpoint.
const (
	// CheckpointInit extracts with the untrained network: model.Init of
	// train.model with the job's seed (the random-init baseline).
	CheckpointInit = "init"
)

// ExtractConfig is the extract section of a job. (Owned by the sinks
// package; the fields below are the contract other packages rely on.)
type ExtractConfig struct {
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
	// RowGroupRows is the Parquet row-group length in rows.
	RowGroupRows int `yaml:"row_group_rows"`
	// Compression is the Parquet codec: "snappy", "zstd" or "none".
	Compression string `yaml:"compression"`
}

// DefaultExtractConfig returns the typed defaults.
func DefaultExtractConfig() ExtractConfig {
	return ExtractConfig{Feature: "trunk", BatchSize: 64, RowGroupRows: 8192, Compression: "snappy"}
}

// Validate checks the section and names the first bad field (relative to "extract").
func (c *ExtractConfig) Validate() error {
	switch c.Feature {
	case "trunk", "projection", "scores", "raw":
	default:
		return field.Errorf("feature", "must be trunk, projection, scores or raw, got %q", c.Feature)
	}
	// Arch is checked against train/model's names by configs (Job.Validate):
	// sinks sits below train and cannot ask it.
	switch c.Compression {
	case "snappy", "zstd", "none":
	default:
		return field.Errorf("compression", "must be snappy, zstd or none, got %q", c.Compression)
	}
	return field.CheckAll([]field.Check{
		{c.BatchSize >= 1, "batch_size", "must be at least 1"},
		{c.Workers >= 0, "workers", "must not be negative"},
		{c.RowGroupRows >= 1, "row_group_rows", "must be at least 1"},
	}...)
}
