package train

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/eval"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/sinks/metrics"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/model"
)

// Monitor is the kNN monitor of train.monitor: a labelled bank and query set
// decoded once through the evaluation transform and held in memory, and the
// kNN that classifies the queries by the trunk features of the current
// weights. It is used by the Trainer's goroutine only.
type Monitor struct {
	cfg         train.MonitorConfig
	crop        int
	bank, query monitorSet
	last        time.Time // when the previous evaluation ended
	lastIter    int       // iteration of the previous evaluation (-1: none)
	// clusters makes Evaluate also count the queries per prototype: their
	// trunk features go through the head and prototypes of the current
	// state (eval.Head, a copy of the state and a few small matrix
	// products, no forward pass). The trainer sets it when it writes
	// TensorBoard events.
	clusters bool
	model    train.ModelConfig
	log      *slog.Logger
}

// monitorSet is decoded evaluation crops (NCHW, normalised) with labels.
type monitorSet struct {
	name   string
	pixels []float32
	labels []int64
}

// monitorBatch is how many images one Embed call takes.
const monitorBatch = 256

// NewMonitor reads the first cfg.BankSamples samples of cfg.Bank and the
// first cfg.QuerySamples of cfg.Queries (the data section's format and S3
// settings, one reader, no sample shuffle) through job's evaluation
// transform. It returns nil when the monitor is off. It blocks for the
// reads and decodes (seconds for a few thousand small images); samples that
// do not decode are left out and logged. Unlabelled samples are an error.
func NewMonitor(ctx context.Context, job *configs.Job, log *slog.Logger) (*Monitor, error) {
	cfg := job.Train.Monitor
	if !cfg.Enabled() {
		return nil, nil
	}
	tf := augment.NewEvalTransform(job.Augment)
	if log == nil {
		log = slog.Default()
	}
	m := &Monitor{cfg: cfg, crop: tf.Crop, lastIter: -1, model: job.Train.Model, log: log}
	var err error
	if m.bank, err = readMonitorSet(ctx, job, tf, "train.monitor.bank", cfg.Bank, cfg.BankSamples, log); err != nil {
		return nil, err
	}
	if m.query, err = readMonitorSet(ctx, job, tf, "train.monitor.queries", cfg.Queries, cfg.QuerySamples, log); err != nil {
		return nil, err
	}
	if len(m.bank.labels) < cfg.K {
		return nil, fmt.Errorf("%s: %d usable samples, fewer than monitor.k=%d", m.bank.name, len(m.bank.labels), cfg.K)
	}
	m.last = time.Now()
	return m, nil
}

// errEnough stops a monitor set's source once it has its samples.
var errEnough = errors.New("enough samples")

func readMonitorSet(ctx context.Context, job *configs.Job, tf augment.EvalTransform, field string, shards []string, n int, log *slog.Logger) (monitorSet, error) {
	set := monitorSet{name: fmt.Sprintf("%s %v", field, shards)}
	cfg := job.DataConfig()
	cfg.Shards, cfg.ShuffleBuffer, cfg.Workers = shards, 0, 1
	src, err := ingest.NewSource(ctx, cfg, ingest.SourceOptions{Seed: job.Seed, Epochs: 1, Rank: 0, World: 1, Workers: 1})
	if err != nil {
		return set, fmt.Errorf("%s: %w", field, err)
	}
	defer src.Close()
	plane := tf.Len()
	skipped := 0
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err = src.Run(ctx, func(ctx context.Context, item any) error {
		smp, ok := item.(*ingest.Sample)
		if !ok {
			return nil
		}
		if smp.Label < 0 {
			return fmt.Errorf("%s: sample %q of %s has no label (the kNN monitor needs labelled shards)", field, smp.Key, smp.Shard)
		}
		start := len(set.pixels)
		set.pixels = slices.Grow(set.pixels, plane)[:start+plane]
		if err := tf.ApplyInto(set.pixels[start:], smp.Data, smp.Ext); err != nil {
			set.pixels = set.pixels[:start]
			skipped++
			log.Warn("kNN monitor: sample left out", "field", field, "shard", smp.Shard, "key", smp.Key, "reason", err)
			return nil
		}
		set.labels = append(set.labels, smp.Label)
		if len(set.labels) >= n {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return set, fmt.Errorf("%s: %w", field, err)
	}
	if len(set.labels) == 0 {
		return set, fmt.Errorf("%s: no usable sample (%d did not decode)", field, skipped)
	}
	return set, nil
}

// Due reports whether an evaluation is due after the step that makes iter
// iterations (last: the run's final step).
func (m *Monitor) Due(iter int, last bool) bool {
	switch {
	case m == nil || iter == m.lastIter:
		return false
	case last:
		return true
	case m.cfg.EveryIters > 0 && iter%m.cfg.EveryIters == 0:
		return true
	case m.cfg.EverySeconds > 0 && time.Since(m.last).Seconds() >= m.cfg.EverySeconds:
		return true
	}
	return false
}

// Evaluate embeds both sets with be (evaluation mode: BatchNorm running
// statistics; the training state is not changed) and runs the weighted kNN.
// It blocks for BankSamples+QuerySamples forward passes and the kNN.
func (m *Monitor) Evaluate(ctx context.Context, be train.Backend, iter int) (*metrics.KNNPoint, error) {
	began := time.Now()
	bank, err := m.embed(ctx, be, &m.bank)
	if err != nil {
		return nil, err
	}
	query, err := m.embed(ctx, be, &m.query)
	if err != nil {
		return nil, err
	}
	res, err := eval.KNN(ctx, bank, query, eval.KNNOptions{Ks: []int{m.cfg.K}, Temperature: m.cfg.Temperature})
	if err != nil {
		return nil, fmt.Errorf("train: kNN monitor at iteration %d: %w", iter, err)
	}
	p := &metrics.KNNPoint{K: m.cfg.K, Top1: res[0].Top1, Top5: res[0].Top5, Bank: bank.Rows(), Queries: query.Rows()}
	if m.clusters {
		// A failure here costs the histogram only, never the kNN monitor.
		sizes, err := m.clusterSizes(be, query)
		if err != nil {
			m.clusters = false
			m.log.Warn("kNN monitor: no cluster sizes (the TensorBoard histogram is left out from now on)", "iter", iter, "err", err)
		}
		p.ClusterSizes = sizes
	}
	m.last, m.lastIter = time.Now(), iter
	p.Seconds = time.Since(began).Seconds()
	return p, nil
}

// clusterSizes counts the queries per prototype (the highest score) from
// their trunk features and the head and prototypes of be's state.
func (m *Monitor) clusterSizes(be train.Backend, query *eval.Dataset) ([]int, error) {
	st, err := be.State()
	if err != nil {
		return nil, err
	}
	byName := st.Network()
	head, err := eval.NewHead(query.Dim, m.model.HiddenMLP, m.model.FeatDim, m.model.Prototypes, model.BNEpsilon,
		func(name string) ([]float32, bool) { t, ok := byName[name]; return t.Data, ok })
	if err != nil {
		return nil, err
	}
	scores, err := head.Scores(query, "trunk")
	if err != nil {
		return nil, err
	}
	return eval.Assign(scores).Sizes, nil
}

func (m *Monitor) embed(ctx context.Context, be train.Backend, set *monitorSet) (*eval.Dataset, error) {
	f := train.FeatureTrunk
	plane := 3 * m.crop * m.crop
	n := len(set.labels)
	ds := &eval.Dataset{Name: set.name, Labels: set.labels}
	for i := 0; i < n; i += monitorBatch {
		rows := min(monitorBatch, n-i)
		feats, dim, err := be.Embed(ctx, set.pixels[i*plane:(i+rows)*plane], rows, m.crop, f)
		if err != nil {
			return nil, fmt.Errorf("train: kNN monitor: embed %s: %w", set.name, err)
		}
		if ds.Data == nil {
			ds.Dim = dim
			ds.Data = make([]float32, 0, n*dim)
		}
		ds.Data = append(ds.Data, feats[:rows*dim]...)
	}
	return ds, nil
}
