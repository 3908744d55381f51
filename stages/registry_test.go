package stages_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/field/fieldtest"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/stages"
)

type nums struct{ n int }

func (s nums) Run(ctx context.Context, emit pipeline.Emit) error {
	for i := range s.n {
		if err := emit(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

type count struct{ got *int }

func (c count) Consume(context.Context, any) error { *c.got++; return nil }

// kindName is name made unique for one run of a test: the registry lives
// as long as the process (go test -count=N runs a test again in it).
func kindName(name string) string { return fmt.Sprintf("%s-%d", name, kindNames.Add(1)) }

var kindNames atomic.Int64

func TestRunJobDispatchesChainsAndRunners(t *testing.T) {
	var consumed int
	chain, orchestration := kindName("test-chain"), kindName("test-orchestration")
	stages.Register(chain, stages.Kind{Build: func(_ context.Context, job *configs.Job) ([]pipeline.Spec, error) {
		return []pipeline.Spec{{Name: "nums", Source: nums{int(job.Seed)}}, {Name: "count", Sink: count{&consumed}}}, nil
	}})
	errRunner := errors.New("runner ran")
	var sawStop bool
	stop := make(chan struct{})
	stages.Register(orchestration, stages.Kind{Run: func(ctx context.Context, job *configs.Job, opts pipeline.Options) error {
		sawStop = opts.Stop == (<-chan struct{})(stop)
		// An orchestration runs sub-jobs through RunJob.
		sub := *job
		sub.Job, sub.Seed = chain, 7
		if err := stages.RunJob(ctx, &sub, opts); err != nil {
			return err
		}
		return errRunner
	}})
	if kinds := stages.Kinds(); !slices.Contains(kinds, chain) || !slices.Contains(kinds, orchestration) {
		t.Fatalf("kinds %v", kinds)
	}
	job := configs.Default()
	job.Job = orchestration
	if err := stages.RunJob(t.Context(), &job, pipeline.Options{Stop: stop}); !errors.Is(err, errRunner) {
		t.Fatalf("err %v", err)
	}
	if consumed != 7 || !sawStop {
		t.Fatalf("sub-job consumed %d, runner saw the stop channel: %v", consumed, sawStop)
	}
}

func TestDuplicateKindPanics(t *testing.T) {
	build := func(context.Context, *configs.Job) ([]pipeline.Spec, error) { return nil, nil }
	run := func(context.Context, *configs.Job, pipeline.Options) error { return nil }
	dup := kindName("test-dup")
	stages.Register(dup, stages.Kind{Build: build})
	for name, register := range map[string]func(){
		"chain":   func() { stages.Register(dup, stages.Kind{Build: build}) },
		"runner":  func() { stages.Register(dup, stages.Kind{Run: run}) },
		"neither": func() { stages.Register(kindName("test-none"), stages.Kind{}) },
		"both":    func() { stages.Register(kindName("test-both"), stages.Kind{Build: build, Run: run}) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic on a duplicate kind")
				}
			}()
			register()
		})
	}
}

func TestBuildErrors(t *testing.T) {
	errBuild := errors.New("no such folder")
	broken := kindName("test-broken")
	stages.Register(broken, stages.Kind{Build: func(context.Context, *configs.Job) ([]pipeline.Spec, error) { return nil, errBuild }})
	job := configs.Default()
	job.Job = broken
	if _, err := stages.Build(t.Context(), &job); !errors.Is(err, errBuild) {
		t.Fatalf("err %v", err)
	}
	job.Job = "test-missing"
	_, err := stages.Build(t.Context(), &job)
	fieldtest.Want(t, err, "job")
}
