// Package stages wires the named stages of a job from its configuration. Each
// stage kind lives in its own subpackage (stages/source, stages/augment,
// stages/train, stages/extract, stages/demo) and registers the job kinds it
// builds a chain for. stages/all imports every subpackage.
package stages

import (
	"context"
	"fmt"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/configs/field"
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

// RunJob runs job: with its Runner when the kind has one, else as the one
// chain its ChainBuilder builds, through pipeline.Run. It blocks until the
// run is over; the error wraps pipeline.ErrInterrupted after a graceful stop.
func RunJob(ctx context.Context, job *configs.Job, opts pipeline.Options) error {
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
	if err != nil {
		return nil, fmt.Errorf("build %s chain: %w", job.Job, err)
	}
	return specs, nil
}

// Kinds lists the registered job kinds (chains and runners), sorted.
func Kinds() []string { return kinds.Names() }
