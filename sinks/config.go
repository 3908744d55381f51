// Package sinks writes what a run produces: features to Parquet, checkpoints
// and metrics.
package sinks

import "github.com/swavgo/swav/pipeline"

// ExtractConfig is the extract section of a job. (Owned by the sinks
// package; the fields below are the contract other packages rely on.)
type ExtractConfig struct {
	// Checkpoint is the checkpoint file (or s3:// URL) to load.
	Checkpoint string `yaml:"checkpoint"`
	// Output is a local folder or s3:// prefix; one Parquet file per input shard.
	Output string `yaml:"output"`
	// Feature is "trunk", "projection" or "scores".
	Feature string `yaml:"feature"`
}

// DefaultExtractConfig returns the typed defaults.
func DefaultExtractConfig() ExtractConfig { return ExtractConfig{Feature: "trunk"} }

// Validate checks the section and names the first bad field (relative to "extract").
func (c *ExtractConfig) Validate() error {
	switch c.Feature {
	case "trunk", "projection", "scores":
	default:
		return pipeline.FieldErrorf("feature", "must be trunk, projection or scores, got %q", c.Feature)
	}
	return nil
}
