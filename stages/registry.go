// Package stages wires the named stages of a job from its configuration. Each
// stage kind lives in its own subpackage (stages/source, stages/augment,
// stages/train, stages/extract, stages/demo) and registers the job kinds it
// builds a chain for. stages/all imports every subpackage.
package stages

import (
	"context"
	"errors"
	"fmt"
	"sync"

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

// kinds holds every job kind, chain or runner, so that one name cannot be
// both.
var kinds = registry.New[kind]("stages: job kind")

// kind is a registered job kind: exactly one of the two is set.
type kind struct {
	build ChainBuilder
	run   Runner
}

// Register makes a job kind available to `pipeline run`. It panics on a
// duplicate name (a programming error caught at start-up).
func Register(name string, b ChainBuilder) { kinds.Register(name, kind{build: b}) }

// RegisterRunner makes a job kind that runs several chains available to
// `pipeline run`. It panics on a duplicate name.
func RegisterRunner(name string, r Runner) { kinds.Register(name, kind{run: r}) }

// Checker checks what a job kind needs of its configuration beyond each
// section's own ranges: the fields the kind requires (extract.output), rules
// across sections (crops_for_assign against augment.crops), settings it
// refuses (a training world size above 1). It does no I/O and starts
// nothing. Its errors are *field.Error with the full dotted field path
// ("extract.output"); Check adds the file and line.
type Checker func(job *configs.Job) error

var (
	checksMu sync.RWMutex
	checks   = map[string]Checker{}
)

// RegisterCheck sets the Checker of a job kind (replacing an earlier one).
// Call it from the init function that registers the kind.
func RegisterCheck(kind string, c Checker) {
	checksMu.Lock()
	defer checksMu.Unlock()
	checks[kind] = c
}

// Check runs every configuration check that RunJob runs before it starts
// work: the job kind is registered, and the kind's Checker passes. `pipeline
// validate` calls it too, so a config it accepts is not refused by `run` for
// its configuration. Each problem is a *field.Error located in the file the
// job was loaded from (errors.Join of them all).
func Check(job *configs.Job) error {
	if _, ok := kinds.Lookup(job.Job); !ok {
		return locate(job, field.Errorf("job", "unknown job kind %q (known: %v)%s", job.Job, Kinds(), field.DidYouMean(job.Job, Kinds())))
	}
	checksMu.RLock()
	c := checks[job.Job]
	checksMu.RUnlock()
	if c == nil {
		return nil
	}
	return locate(job, c(job))
}

// locate fills the file and line of each *field.Error of err (an
// errors.Join tree) from where job was loaded.
func locate(job *configs.Job, err error) error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, locate(job, e))
		}
		return errors.Join(out...)
	}
	if fe, ok := err.(*field.Error); ok && fe.File == "" {
		located := *fe
		located.File, located.Line = job.Position(fe.Field)
		return &located
	}
	return err
}

// RunJob runs job: after Check, with its Runner when the kind has one, else
// as the one chain its ChainBuilder builds, through pipeline.Run. It blocks
// until the run is over; the error wraps pipeline.ErrInterrupted after a
// graceful stop.
func RunJob(ctx context.Context, job *configs.Job, opts pipeline.Options) error {
	if err := Check(job); err != nil {
		return err
	}
	if k, _ := kinds.Lookup(job.Job); k.run != nil {
		return k.run(ctx, job, opts)
	}
	specs, err := Build(ctx, job)
	if err != nil {
		return err
	}
	_, err = pipeline.Run(ctx, specs, opts)
	return err
}

// Build returns the chain for job.Job (a kind registered with Register).
func Build(ctx context.Context, job *configs.Job) ([]pipeline.Spec, error) {
	k, _ := kinds.Lookup(job.Job)
	if k.build == nil {
		return nil, field.Errorf("job", "unknown job kind %q (known: %v)", job.Job, Kinds())
	}
	specs, err := k.build(ctx, job)
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
