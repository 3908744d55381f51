// Package configs holds the job configuration (typed defaults, strict YAML,
// validation naming file, line and field, --set overrides) and embeds the
// example configs of this folder.
package configs

import (
	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/train"
)

// Job is one `pipeline run` configuration. Each section is owned and
// validated by its package.
type Job struct {
	// Job is the kind of run: "train", "extract", "quickstart" or "demo".
	Job string `yaml:"job"`
	// Seed is the root of every random draw (with epoch, rank, worker, sample).
	Seed int64 `yaml:"seed"`
	// Out is the run's output folder (metrics, plots, checkpoints by default).
	Out string `yaml:"out"`
	// Progress is "auto" (bars on a terminal, log lines otherwise), "bar",
	// "log" or "off".
	Progress string `yaml:"progress"`

	Data    ingest.Config       `yaml:"data"`
	Augment augment.Config      `yaml:"augment"`
	Train   train.Config        `yaml:"train"`
	Extract sinks.ExtractConfig `yaml:"extract"`
}

// Default returns a Job with every section's typed defaults.
func Default() Job {
	return Job{
		Job: "train", Seed: 31, Out: "runs/latest", Progress: "auto",
		Data: ingest.DefaultConfig(), Augment: augment.DefaultConfig(),
		Train: train.DefaultConfig(), Extract: sinks.DefaultExtractConfig(),
	}
}
