// Package source builds the "read" stage of a chain: the ingest.Source over
// the job's data section. It registers no job kind itself; chain builders
// (train, extract, quickstart) call New.
package source

import (
	"context"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/pipeline"
)

// StageName is the name of the source stage in every chain.
const StageName = "read"

// New returns the source stage spec for job: an *ingest.Source over
// job.Data seeded with job.Seed, rank and world from the data section or the
// environment, opened at start (the zero Position starts at the beginning;
// resume at lastConsumed.Next()), reading epochs epochs (0: forever). It
// emits *ingest.Sample items. The Source is the spec's Source and
// implements pipeline.Closer (the engine closes it when the run ends).
// Total is the number of samples this rank yields in start's epoch when
// epochs is 1 and the index sidecars make that cheap, else 0.
// Listing the shards and counting them use ctx (cancel it to give up).
// shards, when not nil, is job.Data's list already resolved (and perhaps
// counted) by the caller: the source takes it over instead of listing again.
func New(ctx context.Context, job *configs.Job, start ingest.Position, epochs int, shards *ingest.ShardList) (pipeline.Spec, error) {
	src, err := ingest.NewSource(ctx, job.DataConfig(), ingest.SourceOptions{
		Seed: job.Seed, Epochs: epochs, Start: start, Shards: shards,
	})
	if err != nil {
		return pipeline.Spec{}, err
	}
	spec := pipeline.Spec{Name: StageName, Source: src, Workers: 1, Buffer: 64}
	if epochs == 1 && src.CountsKnown() {
		if n, err := src.EpochSamples(ctx, start.Epoch); err == nil {
			spec.Total = n - start.Seq
		}
	}
	return spec, nil
}
