// Package sinks writes what a run produces. Feature output goes through the
// FeatureSink seam, picked by the output URL's scheme from the sinks that
// registered (sinks/parquet: local folders, file:// and s3://); metrics go
// to sinks/metrics.
package sinks

import "github.com/swavgo/swav/configs/field"

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
	// Quickstart configures the quickstart job (job kind "quickstart"),
	// which pre-trains, extracts and evaluates in one command.
	Quickstart QuickstartConfig `yaml:"quickstart"`
}

// QuickstartConfig is extract.quickstart: where the Fashion-MNIST shards come
// from and how the features are evaluated.
type QuickstartConfig struct {
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

// DefaultQuickstartConfig returns the typed defaults.
func DefaultQuickstartConfig() QuickstartConfig {
	return QuickstartConfig{Cache: ".cache/fmnist", ShardSize: 5000, KNN: []int{20, 10, 50}, Temperature: 0.07}
}

// Validate checks the section (fields relative to "quickstart").
func (c *QuickstartConfig) Validate() error {
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

// DefaultExtractConfig returns the typed defaults.
func DefaultExtractConfig() ExtractConfig {
	return ExtractConfig{Feature: "trunk", BatchSize: 64, RowGroupRows: 8192, Compression: "snappy",
		Quickstart: DefaultQuickstartConfig()}
}

// Validate checks the section and names the first bad field (relative to "extract").
func (c *ExtractConfig) Validate() error {
	switch c.Feature {
	case "trunk", "projection", "scores", "raw":
	default:
		return field.Errorf("feature", "must be trunk, projection, scores or raw, got %q", c.Feature)
	}
	switch c.Arch {
	case "", "small", "resnet8", "resnet18", "resnet34", "resnet50":
	default:
		return field.Errorf("arch", "must be empty, small, resnet8, resnet18, resnet34 or resnet50, got %q", c.Arch)
	}
	switch c.Compression {
	case "snappy", "zstd", "none":
	default:
		return field.Errorf("compression", "must be snappy, zstd or none, got %q", c.Compression)
	}
	if err := field.CheckAll([]field.Check{
		{c.BatchSize >= 1, "batch_size", "must be at least 1"},
		{c.Workers >= 0, "workers", "must not be negative"},
		{c.RowGroupRows >= 1, "row_group_rows", "must be at least 1"},
	}...); err != nil {
		return err
	}
	if err := c.Quickstart.Validate(); err != nil {
		if fe, ok := err.(*field.Error); ok {
			fe.Field = "quickstart." + fe.Field
		}
		return err
	}
	return nil
}
