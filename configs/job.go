// Package configs holds the job configuration (typed defaults, strict YAML,
// validation naming file, line and field, --set overrides) and embeds the
// example configs of this folder.
package configs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/registry"
	"github.com/swavgo/swav/internal/settings"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/pipeline/prom"
	"github.com/swavgo/swav/train"
)

// Job is one `pipeline run` configuration. Each section is owned and
// validated by its package.
type Job struct {
	// Job is the kind of run, one registered by a package of stages/:
	// "train", "extract", "quickstart", "demo", "linear" or "finetune".
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

	Data ingest.Config `yaml:"data"`
	// Store is how every bucket of the run is reached (store.s3,
	// store.retries): the shards, checkpoints, weights, feature outputs
	// and TensorBoard all read it.
	Store   store.Config   `yaml:"store"`
	Augment augment.Config `yaml:"augment"`
	Train   train.Config   `yaml:"train"`
	// Kinds holds the job kinds' own sections by the kind's name (demo,
	// extract, quickstart, linear, finetune): each kind registers its section's
	// type and defaults with its one registration (stages.Register, which
	// calls RegisterKind), the loader decodes the YAML key strictly into
	// it, and the kind reads it back (demo.SettingsOf).
	Kinds settings.Set `yaml:",inline"`
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
		Data: ingest.DefaultConfig(), Store: store.DefaultConfig(), Augment: augment.DefaultConfig(),
		Train: train.DefaultConfig(), Metrics: prom.DefaultConfig(),
		Kinds: settings.Defaults(SectionKinds),
	}
}

// Sections of a Job, by YAML key. A job kind's own section has the kind's
// name as its key.
const (
	SectionData    = "data"
	SectionStore   = store.Section
	SectionAugment = "augment"
	SectionTrain   = "train"
	// SectionExtract is the extract kind's own section (stages/extract),
	// which the quickstart reads too.
	SectionExtract = "extract"
	SectionMetrics = "metrics"
	// SectionKinds is where the kinds' own sections are registered in
	// package settings: at the top level of the job.
	SectionKinds = ""
)

// KindSpec is what the loader knows of a job kind: the sections it reads
// and its own section. Package stages fills it from the kind's one
// registration (stages.Register); configs sits below stages and never asks
// it.
type KindSpec struct {
	// Sections are the sections of the job the kind reads besides its own
	// (SectionData, ...; another kind's own section by that kind's name).
	// Validate checks exactly those.
	Sections []string
	// Settings is the typed defaults of the kind's own section, a struct
	// value, under the kind's name; nil when it has none. Validate runs its
	// Validate method (on a pointer) when it has one.
	Settings any
}

var kindRegistry = registry.New[KindSpec]("configs: job kind")

// RegisterKind makes a job kind known to the loader: the sections it reads
// and its own section's type. stages.Register calls it; it panics on a
// duplicate name.
func RegisterKind(name string, k KindSpec) {
	kindRegistry.Register(name, k)
	if k.Settings != nil {
		settings.Register(SectionKinds, name, k.Settings)
	}
}

// Kinds lists the job kinds registered, sorted.
func Kinds() []string { return kindRegistry.Names() }

// KindSettings returns a copy of a kind's own section of j as T (the
// registered defaults where j holds none).
func KindSettings[T any](j *Job, kind string) T { return settings.Get[T](j.Kinds, SectionKinds, kind) }

// EditKindSettings returns a kind's own section of j for changing it in
// place; j gets its own copy first, so a copy of j made before is left as
// it was.
func EditKindSettings[T any](j *Job, kind string) *T {
	return settings.Edit[T](&j.Kinds, SectionKinds, kind)
}

// sections returns the validators of the sections kind reads: the shared
// ones by name, and the kinds' own sections that validate themselves.
func (j *Job) sections(kind string, spec KindSpec) []section {
	shared := map[string]func() error{
		SectionData:    j.Data.Validate,
		SectionStore:   j.Store.Validate,
		SectionAugment: j.Augment.Validate,
		SectionTrain:   j.Train.Validate,
		SectionMetrics: j.Metrics.Validate,
	}
	names := slices.Clone(spec.Sections)
	if spec.Settings != nil && !slices.Contains(names, kind) {
		names = append(names, kind)
	}
	var out []section
	for _, name := range names {
		if v, ok := shared[name]; ok {
			out = append(out, section{name, v})
			continue
		}
		if v, ok := j.Kinds[name].(settings.Validator); ok {
			out = append(out, section{name, v.Validate})
		}
	}
	return out
}

// DataConfig returns the data section with the store section it is read
// with (ingest.Config.Store): what ingest.NewSource and ingest.ResolveShards
// take.
func (j *Job) DataConfig() ingest.Config {
	d := j.Data
	d.Store = j.Store
	return d
}

type section struct {
	name     string
	validate func() error
}

// Validate checks the top-level fields and every section the job kind reads
// (see KindSpec). It returns every problem found (errors.Join), each a
// *field.Error whose Field is the full dotted path ("train.optim.base_lr")
// and, for a loaded Job, whose File and Line locate it.
func (j *Job) Validate() error {
	var errs []error
	kinds := Kinds()
	spec, known := kindRegistry.Lookup(j.Job)
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
	for _, s := range j.sections(j.Job, spec) {
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

// Locate fills the file and line of each *field.Error of err (an
// errors.Join tree included) that has none from where j was loaded; other
// errors pass as they are, nil stays nil. Checks outside configs (a job
// kind's, a resumed run's) report through it.
func (j *Job) Locate(err error) error { return j.locate("", err) }

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
