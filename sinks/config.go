// Package sinks writes what a run produces: features to Parquet, checkpoints
// and metrics.
package sinks

import "github.com/swavgo/swav/pipeline"

// Special values of ExtractConfig.Checkpoint.
const (
	// CheckpointInit extracts with the untrained network: model.Init of
	// train.model with the job's seed (the random-init baseline).
	CheckpointInit = "init"
)

// ExtractConfig is the extract section of a job. (Owned by the sinks
// package; the fields below are the contract other packages rely on.)
type ExtractConfig struct {
	// Checkpoint is the checkpoint file (or s3:// URL) to load; the
	// architecture is taken from it. "init" uses the untrained network of
	// train.model; feature "raw" needs none.
	Checkpoint string `yaml:"checkpoint"`
	// Output is a local folder or s3:// prefix; one Parquet file per input shard.
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
		return pipeline.FieldErrorf("feature", "must be trunk, projection, scores or raw, got %q", c.Feature)
	}
	switch c.Arch {
	case "", "small", "resnet18", "resnet34", "resnet50":
	default:
		return pipeline.FieldErrorf("arch", "must be empty, small, resnet18, resnet34 or resnet50, got %q", c.Arch)
	}
	switch c.Compression {
	case "snappy", "zstd", "none":
	default:
		return pipeline.FieldErrorf("compression", "must be snappy, zstd or none, got %q", c.Compression)
	}
	checks := []struct {
		ok    bool
		field string
		msg   string
	}{
		{c.BatchSize >= 1, "batch_size", "must be at least 1"},
		{c.Workers >= 0, "workers", "must not be negative"},
		{c.RowGroupRows >= 1, "row_group_rows", "must be at least 1"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return pipeline.FieldErrorf(ch.field, "%s", ch.msg)
		}
	}
	return nil
}
