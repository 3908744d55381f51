// Package pipeline is the stage engine: a run is a chain of named stages
// connected by bounded channels. Each stage has a worker count and says
// whether it keeps order. Every goroutine belongs to a group that waits for it;
// the first error cancels the run and comes back wrapped with the stage's name.
//
// Items travel between stages as `any`. An item that holds resources
// implements Releaser: the stage that receives an item owns it and must either
// pass it on (ownership moves downstream) or Release it. Items the engine
// drops on cancellation are released by the engine.
package pipeline

import (
	"context"
	"errors"
)

// Emit hands one item to the next stage. It blocks while the next stage's
// input channel is full (backpressure) and returns ctx.Err() when the run is
// cancelled (or, for a Source, when intake stops on a graceful stop). Emit
// takes ownership of the item whatever it returns: after a nil return the item
// belongs to the next stage; on an error the engine has already released it
// (Releaser), so the caller must not release it again. Call Emit only from the
// goroutine running the stage's Run/Process/Flush call.
type Emit func(ctx context.Context, item any) error

// Source produces the items of a run. Run returns nil when the source is
// exhausted. It must stop and return promptly once ctx is cancelled.
type Source interface {
	Run(ctx context.Context, emit Emit) error
}

// Processor turns one input item into zero or more output items. With
// Workers > 1, Process is called concurrently and must be safe for that.
type Processor interface {
	Process(ctx context.Context, item any, emit Emit) error
}

// Sink consumes the items at the end of a chain. Consume is called from one
// goroutine per worker.
type Sink interface {
	Consume(ctx context.Context, item any) error
}

// Drainer is an optional hook. On a graceful stop (SIGINT/SIGTERM) the engine
// stops the source, lets items in flight reach the end of the chain, then calls
// Drain on every stage that implements it, last stage first, so that a stage
// can flush or checkpoint.
type Drainer interface {
	Drain(ctx context.Context) error
}

// Flusher is an optional hook for stages that hold items back (batchers):
// Flush is called once per stage, from one goroutine, after the stage's input
// is exhausted and every worker has returned (on a normal end and on a
// graceful stop, never after an error), before the next stage sees the end of
// its input. A Processor may emit the items it still holds; a Sink receives a
// nil emit and writes its final output.
type Flusher interface {
	Flush(ctx context.Context, emit Emit) error
}

// Closer is an optional hook called once when the run ends, whatever the
// outcome, last stage first.
type Closer interface {
	Close() error
}

// Releaser is implemented by items that hold reference-counted resources
// (Arrow batches, pooled buffers).
type Releaser interface {
	Release()
}

// Sizer is implemented by items that know their payload size in bytes; the
// engine uses it for the bytes-in/bytes-out metrics.
type Sizer interface {
	SizeBytes() int64
}

// Spec places one stage in a chain. Exactly one of Source, Processor and Sink
// is set: a chain is one Source, any number of Processors, and one Sink.
type Spec struct {
	Name      string
	Source    Source
	Processor Processor
	Sink      Sink
	// Workers is the number of goroutines running the stage (0 means 1; a
	// Source always runs on one).
	Workers int
	// Ordered keeps the output order equal to the input order when Workers > 1.
	Ordered bool
	// Buffer is the capacity of the stage's output channel (0 means Workers).
	Buffer int
	// Total, when known, is the number of items the stage will emit; it drives
	// the progress bar's ETA.
	Total int64
}

// ErrInterrupted is returned (wrapped) by a run that stopped on SIGINT or
// SIGTERM after draining. cmd/pipeline maps it to exit code 130.
var ErrInterrupted = errors.New("interrupted")
