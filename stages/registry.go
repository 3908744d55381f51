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
	"github.com/swavgo/swav/pipeline"
)

// ChainBuilder builds the chain of stages for one job. The returned stages
// may hold resources; they release them in their Close hooks.
type ChainBuilder func(ctx context.Context, job *configs.Job) ([]pipeline.Spec, error)

var (
	mu       sync.RWMutex
	builders = map[string]ChainBuilder{}
)

// Register makes a job kind available to `pipeline run`. It panics on a
// duplicate name (a programming error caught at start-up).
func Register(kind string, b ChainBuilder) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := builders[kind]; dup {
		panic("stages: job kind registered twice: " + kind)
	}
	builders[kind] = b
}

// Build returns the chain for job.Job.
func Build(ctx context.Context, job *configs.Job) ([]pipeline.Spec, error) {
	mu.RLock()
	b, ok := builders[job.Job]
	mu.RUnlock()
	if !ok {
		return nil, pipeline.FieldErrorf("job", "unknown job kind %q (known: %v)", job.Job, Kinds())
	}
	specs, err := b(ctx, job)
	if err != nil {
		return nil, fmt.Errorf("build %s chain: %w", job.Job, err)
	}
	return specs, nil
}

// Kinds lists the registered job kinds.
func Kinds() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(builders))
	for k := range builders {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
