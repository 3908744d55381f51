package classify

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/sourcegraph/conc/iter"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/sinks/metrics"
	"github.com/swavgo/swav/train"
)

// validator measures a classifier on the validation shards: every sample
// through the augment section's evaluation transform (Resize +
// CenterCrop), batch_size images per Classify call, decoded on GOMAXPROCS
// goroutines per batch. It streams: memory is one batch of images.
type validator struct {
	job     *configs.Job
	shards  []string
	tf      augment.EvalTransform
	batch   int
	classes int
	field   string
}

func newValidator(job *configs.Job, s Settings, classes int) *validator {
	return &validator{job: job, shards: s.ValShards, tf: augment.NewEvalTransform(job.Augment), batch: s.BatchSize,
		classes: classes, field: s.Kind + ".val_shards"}
}

// run classifies every validation sample once. A sample without a label,
// or with one outside the classes, is an error naming its shard and key; a
// sample that does not decode is left out within augment.skip_budget.
func (v *validator) run(ctx context.Context, be train.Classifier) (metrics.ValPoint, error) {
	cfg := v.job.DataConfig()
	cfg.Shards, cfg.ShuffleBuffer, cfg.Workers = v.shards, 0, 1
	src, err := ingest.NewSource(ctx, cfg, ingest.SourceOptions{Seed: v.job.Seed, Epochs: 1, Rank: 0, World: 1, Workers: 1})
	if err != nil {
		return metrics.ValPoint{}, fmt.Errorf("%s: %w", v.field, err)
	}
	defer src.Close()
	var (
		out     metrics.ValPoint
		pending []*ingest.Sample
		skipped int
		lossSum float64
		top1    int
		top5    int
		plane   = v.tf.Len()
		pixels  = make([]float32, v.batch*plane)
	)
	release := func() {
		for _, s := range pending {
			s.Release()
		}
		pending = pending[:0]
	}
	defer release()
	flush := func() error {
		errs := make([]error, len(pending))
		iter.Iterator[*ingest.Sample]{MaxGoroutines: runtime.GOMAXPROCS(0)}.ForEachIdx(pending, func(i int, s **ingest.Sample) {
			errs[i] = v.tf.ApplyInto(pixels[i*plane:(i+1)*plane], (*s).Data, (*s).Ext)
		})
		var labels []int64
		n := 0
		for i, s := range pending {
			if errs[i] != nil {
				skipped++
				if b := v.job.Augment.SkipBudget; b >= 0 && skipped > b {
					return fmt.Errorf("%s: %s: sample %q: %w (augment.skip_budget %d): %w", v.field, s.Shard, s.Key, ingest.ErrSkipBudget, b, errs[i])
				}
				continue
			}
			if n != i {
				copy(pixels[n*plane:(n+1)*plane], pixels[i*plane:(i+1)*plane])
			}
			labels = append(labels, s.Label)
			n++
		}
		release()
		if n == 0 {
			return nil
		}
		logits, err := be.Classify(ctx, pixels[:n*plane], n, v.tf.Crop)
		if err != nil {
			return fmt.Errorf("%s: %w", v.field, err)
		}
		lossSum += float64(n) * train.CrossEntropy(logits, labels, nil, n, v.classes)
		c1, c5 := train.TopK(logits, labels, v.classes)
		top1, top5, out.Images = top1+c1, top5+c5, out.Images+n
		return nil
	}
	err = src.Run(ctx, func(ctx context.Context, item any) error {
		smp, ok := item.(*ingest.Sample)
		if !ok {
			return nil
		}
		if smp.Label < 0 {
			smp.Release()
			return fmt.Errorf("%s: %s: sample %q: %w", v.field, smp.Shard, smp.Key, ErrNoLabel)
		}
		if smp.Label >= int64(v.classes) {
			smp.Release()
			return fmt.Errorf("%s: %s: sample %q has label %d, the classifier has %d classes: %w", v.field, smp.Shard, smp.Key, smp.Label, v.classes, ErrLabelRange)
		}
		pending = append(pending, smp)
		if len(pending) == v.batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return out, err
	}
	if out.Images == 0 {
		return out, errors.New(v.field + ": no usable validation sample")
	}
	out.Top1, out.Top5 = float64(top1)/float64(out.Images), float64(top5)/float64(out.Images)
	out.Loss = lossSum / float64(out.Images)
	return out, nil
}
