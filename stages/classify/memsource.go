package classify

import (
	"context"
	"math/rand/v2"
	"slices"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/pipeline"
)

// memoryCap is the most encoded bytes the label pass keeps so that the
// training chain reads the samples from memory instead of the shards every
// epoch (Fashion-MNIST's 60,000 images are 21 MB; the reference's ImageNet
// 1 % is 1.4 GB and streams). A variable so that tests reach the streaming
// path.
var memoryCap int64 = 1 << 30

// memorySource is the chain's source when the training samples (or the
// labelled subset of them) are held in memory: every epoch emits them in a
// permutation drawn from (seed, epoch), each as a fresh *ingest.Sample (a
// copy of the bytes: the receiver may release it) whose Pos is (epoch,
// index in the permutation), so a run resumed at Pos.Next() continues with
// the same samples in the same order.
type memorySource struct {
	samples []entry
	seed    int64
	epochs  int
	start   ingest.Position
}

// Run implements pipeline.Source.
func (m *memorySource) Run(ctx context.Context, emit pipeline.Emit) error {
	n := len(m.samples)
	start := m.start
	if start.Seq >= int64(n) { // a cursor at an epoch's last sample: the next epoch
		start = ingest.Position{Epoch: start.Epoch + 1}
	}
	for e := start.Epoch; e < m.epochs; e++ {
		perm := rand.New(rand.NewPCG(uint64(m.seed), 0x5eed0000+uint64(e))).Perm(n)
		from := 0
		if e == start.Epoch {
			from = int(start.Seq)
		}
		for i := from; i < n; i++ {
			s := &m.samples[perm[i]]
			smp := &ingest.Sample{Key: s.key, Shard: s.shard, Ext: s.ext, Label: s.label,
				Data: slices.Clone(s.data), Pos: ingest.Position{Epoch: e, Seq: int64(i)}}
			if err := emit(ctx, smp); err != nil {
				return err
			}
		}
	}
	return nil
}
