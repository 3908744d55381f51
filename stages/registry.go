// Package stages wires the named stages of a job from its configuration. Each
// stage kind lives in its own subpackage (stages/source, stages/augment,
// stages/train, stages/extract, stages/demo) and registers the job kinds it
// builds a chain for. stages/all imports every subpackage.
package stages

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/configs/field"
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

var (
	mu       sync.RWMutex
	builders = map[string]ChainBuilder{}
	runners  = map[string]Runner{}
)

// Register makes a job kind available to `pipeline run`. It panics on a
// duplicate name (a programming error caught at start-up).
func Register(kind string, b ChainBuilder) {
	mu.Lock()
	defer mu.Unlock()
	mustBeNew(kind)
	builders[kind] = b
}

// RegisterRunner makes a job kind that runs several chains available to
// `pipeline run`. It panics on a duplicate name.
func RegisterRunner(kind string, r Runner) {
	mu.Lock()
	defer mu.Unlock()
	mustBeNew(kind)
	runners[kind] = r
}

// mustBeNew panics when kind is taken (mu held).
func mustBeNew(kind string) {
	_, dupBuilder := builders[kind]
	_, dupRunner := runners[kind]
	if dupBuilder || dupRunner {
		panic("stages: job kind registered twice: " + kind)
	}
}

// RunJob runs job: with its Runner when the kind has one, else as the one
// chain its ChainBuilder builds, through pipeline.Run. It blocks until the
// run is over; the error wraps pipeline.ErrInterrupted after a graceful stop.
func RunJob(ctx context.Context, job *configs.Job, opts pipeline.Options) error {
	mu.RLock()
	r, ok := runners[job.Job]
	mu.RUnlock()
	if ok {
		return r(ctx, job, opts)
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
	mu.RLock()
	b, ok := builders[job.Job]
	mu.RUnlock()
	if !ok {
		return nil, field.Errorf("job", "unknown job kind %q (known: %v)", job.Job, Kinds())
	}
	specs, err := b(ctx, job)
	if err != nil {
		return nil, fmt.Errorf("build %s chain: %w", job.Job, err)
	}
	return specs, nil
}

// Kinds lists the registered job kinds (chains and runners).
func Kinds() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(builders))
	for k := range builders {
		out = append(out, k)
	}
	for k := range runners {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
