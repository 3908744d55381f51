// Package stages wires the named stages of a job from its configuration. Each
// stage kind lives in its own subpackage (stages/source, stages/augment,
// stages/train, stages/extract, stages/demo) and registers the job kinds it
// builds a chain for. stages/all imports every subpackage.
package stages

import (
	"context"
	"errors"
	"fmt"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/registry"
	"github.com/swavgo/swav/pipeline"
)

// ChainBuilder builds the chain of stages for one job. The returned stages
// may hold resources; they release them in their Close hooks.
type ChainBuilder func(ctx context.Context, job *configs.Job) ([]pipeline.Spec, error)

// Runner runs a whole job kind that is an orchestration rather than one
// chain (the quickstart: make shards, train, extract, evaluate). It runs its
// chains with pipeline.Run (or RunJob for sub-jobs), passing opts on so that
// they share the graceful stop, the progress output and the summary.
type Runner func(ctx context.Context, job *configs.Job, opts pipeline.Options) error

// Kind is everything a job kind registers, once, from its package's init:
// what it builds or runs, the sections of the job it reads, its own
// section's typed defaults and its check across sections.
type Kind struct {
	// Build builds the kind's one chain; Run runs an orchestration of
	// several. Exactly one is set.
	Build ChainBuilder
	Run   Runner
	// Sections are the sections of the job the kind reads besides its own
	// (configs.SectionData, ...; another kind's own section by that kind's
	// name, as the quickstart reads extract): `pipeline validate` and
	// RunJob check exactly those.
	Sections []string
	// Settings is the typed defaults of the kind's own section (YAML key:
	// the kind's name), a struct value, or nil. The loader decodes the
	// section strictly into a copy of it and runs its Validate method (on
	// a pointer) when it has one; the kind reads it with
	// configs.KindSettings.
	Settings any
	// Check checks what the kind needs across sections (nil: nothing).
	Check Checker
}

// kinds holds every job kind, chain or runner, so that one name cannot be
// both.
var kinds = registry.New[Kind]("stages: job kind")

// Register makes a job kind available to `pipeline run` and `pipeline
// validate`, and tells the loader (configs.RegisterKind) which sections it
// reads and its own section's type. It panics on a duplicate name or
// unless exactly one of Build and Run is set (programming errors caught at
// start-up).
func Register(name string, k Kind) {
	if (k.Build == nil) == (k.Run == nil) {
		panic("stages: job kind " + name + " must set exactly one of Build and Run")
	}
	kinds.Register(name, k)
	configs.RegisterKind(name, configs.KindSpec{Sections: k.Sections, Settings: k.Settings})
}

// Checker checks what a job kind needs of its configuration beyond each
// section's own ranges: the fields the kind requires (extract.output), rules
// across sections (crops_for_assign against augment.crops), settings it
// refuses (a training world size above 1). It does no I/O and starts
// nothing. Its errors are *field.Error with the full dotted field path
// ("extract.output"); Check adds the file and line.
type Checker func(job *configs.Job) error

// Check runs every configuration check that RunJob runs before it starts
// work: the job kind is registered, and the kind's Checker passes. `pipeline
// validate` calls it too, so a config it accepts is not refused by `run` for
// its configuration. Each problem is a *field.Error located in the file the
// job was loaded from (errors.Join of them all).
func Check(job *configs.Job) error {
	k, ok := kinds.Lookup(job.Job)
	if !ok {
		return job.Locate(field.Errorf("job", "unknown job kind %q (known: %v)%s", job.Job, Kinds(), field.DidYouMean(job.Job, Kinds())))
	}
	if k.Check == nil {
		return nil
	}
	return job.Locate(k.Check(job))
}

// RunJob runs job: after Check, with its Runner when the kind has one, else
// as the one chain its ChainBuilder builds, through pipeline.Run. It blocks
// until the run is over; the error wraps pipeline.ErrInterrupted after a
// graceful stop.
func RunJob(ctx context.Context, job *configs.Job, opts pipeline.Options) error {
	if err := Check(job); err != nil {
		return err
	}
	if k, _ := kinds.Lookup(job.Job); k.Run != nil {
		return k.Run(ctx, job, opts)
	}
	specs, err := Build(ctx, job)
	if err != nil {
		return err
	}
	_, err = pipeline.Run(ctx, specs, opts)
	return err
}

// Build returns the chain for job.Job (a kind registered with a Build).
func Build(ctx context.Context, job *configs.Job) ([]pipeline.Spec, error) {
	k, _ := kinds.Lookup(job.Job)
	if k.Build == nil {
		return nil, field.Errorf("job", "unknown job kind %q (known: %v)", job.Job, Kinds())
	}
	specs, err := k.Build(ctx, job)
	if errors.Is(err, ErrNothingLeft) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("build %s chain: %w", job.Job, err)
	}
	return specs, nil
}

// ErrNothingLeft is wrapped by the error of a job that has nothing left to
// do, such as a resumed training run whose checkpoint already ends its
// schedule. Build returns it unwrapped; RunJob's callers report its message
// as the run's last line and succeed.
var ErrNothingLeft = errors.New("nothing left to do")

// Kinds lists the registered job kinds (chains and runners), sorted.
func Kinds() []string { return kinds.Names() }
