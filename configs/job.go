// Package configs holds the job configuration (typed defaults, strict YAML,
// validation naming file, line and field, --set overrides) and embeds the
// example configs of this folder.
package configs

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/pipeline/prom"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/train"
)

// Job is one `pipeline run` configuration. Each section is owned and
// validated by its package.
type Job struct {
	// Job is the kind of run: "train", "extract", "quickstart", "demo",
	// "linear" or "finetune".
	Job string `yaml:"job"`
	// Seed is the root of every random draw (with epoch, rank, worker, sample).
	Seed int64 `yaml:"seed"`
	// Out is the run's output folder (metrics, plots, checkpoints by default).
	Out string `yaml:"out"`
	// Progress is "auto" (bars on a terminal, log lines otherwise), "bar",
	// "log" or "off".
	Progress string `yaml:"progress"`
	// ProgressInterval is how often progress is refreshed (bars) or logged
	// (log lines), e.g. "2s" or "1m".
	ProgressInterval time.Duration `yaml:"progress_interval"`

	Data    ingest.Config       `yaml:"data"`
	Augment augment.Config      `yaml:"augment"`
	Train   train.Config        `yaml:"train"`
	Extract sinks.ExtractConfig `yaml:"extract"`
	// Quickstart holds the quickstart job's own settings.
	Quickstart QuickstartConfig `yaml:"quickstart"`
	Demo       DemoConfig       `yaml:"demo"`
	// Linear and Finetune hold the evaluation jobs' settings (linear
	// classifier on the frozen trunk; semi-supervised fine-tuning).
	Linear   LinearConfig   `yaml:"linear"`
	Finetune FinetuneConfig `yaml:"finetune"`
	// Metrics configures the Prometheus metrics of the run (a Pushgateway).
	Metrics prom.Config `yaml:"metrics"`

	// src locates the fields of the file and --set overrides the job was
	// loaded from (nil for a Job built in code).
	src *sourceMap
}

// Default returns a Job with every section's typed defaults.
func Default() Job {
	return Job{
		Job: "train", Seed: 31, Out: "runs/latest", Progress: "auto", ProgressInterval: 10 * time.Second,
		Data: ingest.DefaultConfig(), Augment: augment.DefaultConfig(),
		Train: train.DefaultConfig(), Extract: sinks.DefaultExtractConfig(), Metrics: prom.DefaultConfig(),
		Quickstart: DefaultQuickstartConfig(), Demo: DefaultDemoConfig(),
		Linear: DefaultLinearConfig(), Finetune: DefaultFinetuneConfig(),
	}
}

// Sections of a Job, by YAML key.
const (
	SectionData    = "data"
	SectionAugment = "augment"
	SectionTrain   = "train"
	SectionExtract = "extract"
	// SectionQuickstart is the quickstart job's own settings.
	SectionQuickstart = "quickstart"
	SectionDemo       = "demo"
	SectionMetrics    = "metrics"
	SectionLinear     = "linear"
	SectionFinetune   = "finetune"
)

var (
	kindsMu sync.RWMutex
	// kindSections says which sections a job kind reads; Validate checks only
	// those (a demo job has no shards). Kinds not listed validate every section.
	kindSections = map[string][]string{
		"train":      {SectionData, SectionAugment, SectionTrain, SectionMetrics},
		"extract":    {SectionData, SectionAugment, SectionTrain, SectionExtract, SectionMetrics},
		"quickstart": {SectionAugment, SectionTrain, SectionExtract, SectionQuickstart, SectionMetrics},
		"demo":       {SectionDemo, SectionMetrics},
		"linear":     {SectionData, SectionAugment, SectionTrain, SectionLinear, SectionMetrics},
		"finetune":   {SectionData, SectionAugment, SectionTrain, SectionFinetune, SectionMetrics},
	}
)

// DeclareKind says which sections a job kind reads, so that Validate checks
// exactly those (replacing any earlier declaration). Call it from the init
// function that registers the kind.
func DeclareKind(kind string, sections ...string) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	kindSections[kind] = slices.Clone(sections)
}

// sections returns the validators of the sections kind reads.
func (j *Job) sections() []section {
	all := []section{
		{SectionData, j.Data.Validate},
		{SectionAugment, j.Augment.Validate},
		{SectionTrain, j.Train.Validate},
		{SectionExtract, j.validateExtract},
		{SectionQuickstart, j.Quickstart.Validate},
		{SectionDemo, j.Demo.Validate},
		{SectionMetrics, j.Metrics.Validate},
		{SectionLinear, j.Linear.Validate},
		{SectionFinetune, j.Finetune.Validate},
	}
	kindsMu.RLock()
	names, ok := kindSections[j.Job]
	kindsMu.RUnlock()
	if !ok {
		return all
	}
	return slices.DeleteFunc(all, func(s section) bool { return !slices.Contains(names, s.name) })
}

// validateExtract is the extract section's own checks plus extract.arch
// against train/model's architecture names.
func (j *Job) validateExtract() error {
	if err := j.Extract.Validate(); err != nil {
		return err
	}
	if a := j.Extract.Arch; a != "" {
		if ok, list := train.ArchKnown(a); !ok {
			return field.Errorf("arch", "must be empty, %s, got %q", list, a)
		}
	}
	return nil
}

type section struct {
	name     string
	validate func() error
}

// Validate checks the top-level fields and every section the job kind reads
// (see DeclareKind). It returns every problem found (errors.Join), each a
// *field.Error whose Field is the full dotted path ("train.optim.base_lr")
// and, for a loaded Job, whose File and Line locate it.
func (j *Job) Validate() error {
	var errs []error
	kindsMu.RLock()
	kinds := slices.Sorted(maps.Keys(kindSections))
	_, known := kindSections[j.Job]
	kindsMu.RUnlock()
	switch {
	case j.Job == "":
		errs = append(errs, field.Errorf("job", "must name the job kind (%s)", strings.Join(kinds, ", ")))
	case !known:
		errs = append(errs, field.Errorf("job", "unknown job kind %q (known: %s)%s",
			j.Job, strings.Join(kinds, ", "), field.DidYouMean(j.Job, kinds)))
	case j.Out == "":
		errs = append(errs, field.Errorf("out", "must name the output folder"))
	}
	switch j.Progress {
	case pipeline.ProgressAuto, pipeline.ProgressBar, pipeline.ProgressLog, pipeline.ProgressOff:
	default:
		errs = append(errs, field.Errorf("progress", "must be auto, bar, log or off, got %q", j.Progress))
	}
	if j.ProgressInterval <= 0 {
		errs = append(errs, field.Errorf("progress_interval", "must be positive, got %s", j.ProgressInterval))
	}
	for i, err := range errs {
		errs[i] = j.locate("", err)
	}
	if !known {
		return errors.Join(errs...) // which sections matter depends on the kind
	}
	for _, s := range j.sections() {
		if err := s.validate(); err != nil {
			errs = append(errs, j.locate(s.name, err))
		}
	}
	return errors.Join(errs...)
}

// locate prefixes the section to the field of a FieldError (also of each
// error of an errors.Join) and fills File and Line from the loaded source.
// Other errors are wrapped with the section name.
func (j *Job) locate(prefix string, err error) error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, j.locate(prefix, e))
		}
		return errors.Join(out...)
	}
	fe, ok := err.(*field.Error)
	if !ok {
		if prefix == "" {
			return err
		}
		return fmt.Errorf("%s: %w", prefix, err)
	}
	located := *fe
	if prefix != "" {
		located.Field = joinPath(prefix, fe.Field)
	}
	if located.File == "" && j.src != nil {
		located.File, located.Line = j.src.lookup(located.Field)
	}
	return &located
}

// joinPath appends a field path to a prefix ("train" + "optim.lr").
func joinPath(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case field[0] == '[':
		return prefix + field
	default:
		return prefix + "." + field
	}
}

// Position returns the file and line a field (dotted path, "train.optim.base_lr")
// of a loaded Job came from: the line of the field or of its closest ancestor
// in the file, "--set" with line 0 for an override, and "" for a Job
// built in code.
func (j *Job) Position(field string) (file string, line int) {
	if j.src == nil {
		return "", 0
	}
	return j.src.lookup(field)
}

// KindDeclared reports whether kind was declared (DeclareKind or built in:
// train, extract, quickstart, demo).
func KindDeclared(kind string) bool {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	_, ok := kindSections[kind]
	return ok
}
