// Package classify runs the paper's evaluations of a trunk as training jobs
// of a classifier: the `linear` job (facebookresearch/swav's
// eval_linear.py: the trunk frozen in evaluation mode, global average
// pooling, one linear layer) and the `finetune` job (eval_semisup.py: the
// whole network plus a fresh linear head on a labelled subset, BatchNorm in
// training mode). stages/linear and stages/finetune register the kinds and
// map their sections to Settings; this package holds what they share.
//
// A run is one chain over the training shards,
//
//	read -> [subset] -> augment (RandomResizedCrop + flip) -> batch -> fit
//
// whose sink (fit) takes one SGD step per batch on a train.Classifier
// backend, validates on the validation shards (Resize + CenterCrop, the
// augment section's eval transform) after every epoch, checkpoints at every
// epoch end and on a graceful stop (resumed exactly: same batches, same
// crops), and writes metrics.jsonl, loss.png and report.json.
package classify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/sourcegraph/conc"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/stages"
	stagesaugment "github.com/swavgo/swav/stages/augment"
	"github.com/swavgo/swav/stages/extract"
	"github.com/swavgo/swav/stages/source"
	stagestrain "github.com/swavgo/swav/stages/train"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
	"github.com/swavgo/swav/train/model"
)

// Register registers a classifier job kind: the sections its jobs read,
// defaults (its section's type with its defaults, which the loader decodes
// the section into) and settings, which maps a job to what Run runs.
func Register(kind string, defaults any, settings func(*configs.Job) Settings) {
	stages.Register(kind, stages.Kind{
		Run: func(ctx context.Context, job *configs.Job, opts pipeline.Options) error {
			_, err := Run(ctx, job, settings(job), opts)
			return err
		},
		Sections: []string{configs.SectionData, configs.SectionStore, configs.SectionAugment, configs.SectionTrain, configs.SectionMetrics},
		Settings: defaults,
	})
}

// Settings is what a classification job runs with, taken from the linear
// or the finetune section (see linear.Config, finetune.Config).
type Settings struct {
	// Kind is "linear" or "finetune": the report's job and errors' prefix.
	Kind string
	// Common is the sections' shared head, as the section holds it.
	Common
	// Labelled draws a labelled subset of the training images (finetune):
	// LabelFraction of them, or those Subset lists, written to
	// <out>/subset.txt. Without it (linear) every image is used, and the
	// labels are scanned only when Classes is 0.
	Labelled      bool
	LabelFraction float64
	Subset        string
	// Trainable is train.TrainHead (linear) or train.TrainAll (finetune);
	// HeadInit "normal" (RegLog) or "uniform" (nn.Linear's default).
	Trainable train.Trainable
	HeadInit  string
	SGD       train.SGDConfig
	// LR is the trunk's learning rate (finetune) and HeadLR the head's.
	LR, HeadLR float64
	// Scheduler is "cosine" (to FinalLR over Epochs) or "step" (times
	// Gamma at each of DecayEpochs), per epoch as the reference steps it.
	Scheduler   string
	FinalLR     float64
	DecayEpochs []int
	Gamma       float64
	// ValEvery validates after every ValEvery-th epoch (always at the end).
	ValEvery int
	Resume   bool
}

// LRAt returns the trunk's and the head's learning rates of epoch e
// (CosineAnnealingLR's closed form, or MultiStepLR).
func (s *Settings) LRAt(e int) (trunk, head float64) {
	f := func(base float64) float64 {
		if s.Scheduler == "cosine" {
			return s.FinalLR + (base-s.FinalLR)*(1+math.Cos(math.Pi*float64(e)/float64(s.Epochs)))/2
		}
		for _, d := range s.DecayEpochs {
			if e >= d {
				base *= s.Gamma
			}
		}
		return base
	}
	return f(s.LR), f(s.HeadLR)
}

// Report is what a run writes to <out>/report.json. Accuracies are percent.
type Report struct {
	Job string `json:"job"`
	// Top1 and Top5 are the best validation epoch's (by top-1), the number
	// the reference reports; FinalTop1 and FinalTop5 the last evaluation's.
	Top1          float64 `json:"top1"`
	Top5          float64 `json:"top5"`
	BestEpoch     int     `json:"best_epoch"`
	FinalTop1     float64 `json:"final_top1"`
	FinalTop5     float64 `json:"final_top5"`
	LabelFraction float64 `json:"label_fraction"`
	// Subset is the labelled share of a finetune run (nil: every image).
	Subset      *Subset `json:"subset,omitempty"`
	Checkpoint  string  `json:"checkpoint"`
	Arch        string  `json:"arch"`
	Classes     int     `json:"classes"`
	TrainImages int     `json:"train_images,omitempty"`
	ValImages   int     `json:"val_images"`
	// Epochs is how many epochs were trained in full, Steps the SGD steps.
	Epochs int `json:"epochs"`
	Steps  int `json:"steps"`
	// Seconds is the whole run's wall time (this process), of which
	// ValSeconds went to validation.
	Seconds    float64     `json:"seconds"`
	ValSeconds float64     `json:"val_seconds"`
	Seed       int64       `json:"seed"`
	History    []EpochEval `json:"history"`
}

// EpochEval is one validation: after Epoch (0-based) or, when the budget
// ended the run mid-epoch, after Steps steps of it.
type EpochEval struct {
	Epoch int     `json:"epoch"`
	Step  int     `json:"step"`
	Top1  float64 `json:"top1"`
	Top5  float64 `json:"top5"`
	Loss  float64 `json:"loss"`
}

// Run runs the job with s: it opens the weights (extract.OpenModel's rules:
// our checkpoints, torch.save, safetensors, or "init"), reads the training
// labels once when it needs them (finetune's subset, or classes 0), builds
// and runs the chain, validates and writes report.json. An interrupted run
// checkpoints and returns an error wrapping pipeline.ErrInterrupted; run it
// again to continue.
func Run(ctx context.Context, job *configs.Job, s Settings, opts pipeline.Options) (*Report, error) {
	began := time.Now()
	if err := os.MkdirAll(job.Out, 0o755); err != nil {
		return nil, fmt.Errorf("%s: output folder: %w", s.Kind, err)
	}
	log := slog.Default()
	rep := &Report{Job: s.Kind, LabelFraction: s.LabelFraction, Seed: job.Seed}

	// The network.
	ex := *job
	exs := extract.Edit(&ex)
	exs.Checkpoint, exs.Feature, exs.Arch = s.Checkpoint, string(train.FeatureTrunk), ""
	m, err := extract.OpenModel(ctx, &ex)
	if err != nil {
		return nil, fmt.Errorf("%s.checkpoint: %w", s.Kind, err)
	}
	defer m.Close()
	be, ok := m.Backend.(train.Classifier)
	if !ok {
		return nil, fmt.Errorf("%s: backend %s: %w", s.Kind, m.Backend.Name(), train.ErrNoClassifier)
	}
	rep.Checkpoint, rep.Arch = m.Checkpoint, m.Layout.Arch

	// Labels: the class count and finetune's subset.
	var (
		subset *Subset
		memory []entry // the training samples when they fit in memory
	)
	classes := s.Classes
	if s.Labelled || classes == 0 {
		entries, kept, err := scanLabels(ctx, job)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Kind, err)
		}
		if classes, err = classCount(entries, s.Classes, s.Kind); err != nil {
			return nil, err
		}
		rep.TrainImages = len(entries)
		if s.Labelled {
			if s.Subset != "" {
				subset, err = fileSubset(ctx, s.Subset, entries, s.LabelFraction, job.Store)
			} else {
				subset = seededSubset(entries, s.LabelFraction, job.Seed)
			}
			if err != nil {
				return nil, err
			}
			if err := subset.checkClasses(entries); err != nil {
				return nil, err
			}
			if err := subset.write(job.Out); err != nil {
				return nil, err
			}
			rep.Subset, rep.TrainImages = subset, subset.Images
			log.Info("labelled subset", "source", subset.Source, "images", subset.Images, "of", subset.Total, "file", subset.File)
		}
		if kept {
			for _, e := range entries {
				if subset.Keep(e.key) {
					memory = append(memory, e)
				}
			}
		}
	}
	rep.Classes = classes
	obj := train.Objective{Loss: train.LossCrossEntropy, Trainable: s.Trainable, Classes: classes,
		HeadInit: s.HeadInit, Seed: job.Seed, SGD: s.SGD}
	if err := be.SetObjective(obj); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Kind, err)
	}

	// Resume.
	f := &fitter{s: s, job: job, be: be, rep: rep, log: log, began: began, ckptDir: filepath.Join(job.Out, "checkpoints"),
		store: checkpoint.Store{Config: job.Store}, val: newValidator(job, s, classes), lastEval: -1}
	if a, ok := m.Backend.(interface{ Arch() *model.Arch }); ok {
		f.model = a.Arch().Config
	}
	var start ingest.Position
	if s.Resume {
		if start, err = f.resume(ctx); err != nil {
			return nil, err
		}
	}
	if f.metrics, err = openMetrics(job.Out, f.steps); err != nil {
		return nil, err
	}
	defer f.metrics.Close()

	if f.epoch < s.Epochs && !f.budgetSpent() {
		if err := f.runChain(ctx, start, subset, memory, opts); err != nil {
			f.writePlot()
			return nil, err
		}
	}
	if err := f.finalEval(ctx); err != nil {
		return nil, err
	}
	rep.Seconds = time.Since(began).Seconds()
	f.writePlot()
	if err := writeJSON(filepath.Join(job.Out, "report.json"), rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// runChain builds and runs read -> [subset] -> augment -> batch -> fit from
// start. With memory (the training samples, or the subset of them, held by
// the label pass) the read stage emits them from memory in a permutation
// of (seed, epoch); otherwise it reads data.shards (ingest.Source) and the
// subset stage drops the unlabelled samples.
func (f *fitter) runChain(ctx context.Context, start ingest.Position, subset *Subset, memory []entry, opts pipeline.Options) error {
	job, s := f.job, f.s
	var src pipeline.Spec
	if memory != nil {
		src = pipeline.Spec{Name: source.StageName, Source: &memorySource{samples: memory, seed: job.Seed, epochs: s.Epochs, start: start},
			Workers: 1, Buffer: 64}
		subset = nil
	} else {
		shards, err := ingest.ResolveShards(ctx, job.DataConfig())
		if err != nil {
			return err
		}
		if src, err = source.New(ctx, job, start, s.Epochs, shards); err != nil {
			shards.Close()
			return err
		}
	}
	src.Source, f.stop = stagestrain.Stoppable(src.Source)
	specs := []pipeline.Spec{src}
	if subset != nil && subset.Images < subset.Total {
		specs = append(specs, pipeline.Spec{Name: "subset", Processor: subsetFilter{subset}, Workers: 1, Buffer: 64})
	}
	crops, batches, err := stagesaugment.NewStages(stagesaugment.Options{Config: TrainAugment(job.Augment), Seed: job.Seed, BatchSize: s.BatchSize})
	if err != nil {
		if c, ok := src.Source.(pipeline.Closer); ok {
			c.Close()
		}
		return err
	}
	specs = append(specs, crops, batches, pipeline.Spec{Name: "fit", Sink: f, Workers: 1})
	if orig := opts.Stop; orig != nil {
		// The fitter must know a graceful stop from the end of the data: the
		// batch stage's flush then emits a partial batch that an
		// uninterrupted run would not have, and the epoch is not over.
		stop, done := make(chan struct{}), make(chan struct{})
		var wg conc.WaitGroup
		wg.Go(func() {
			select {
			case <-orig:
				f.interrupted.Store(true)
				close(stop)
			case <-done:
			}
		})
		defer wg.Wait()
		defer close(done)
		opts.Stop = stop
	}
	_, err = pipeline.Run(ctx, specs, opts)
	return err
}

// TrainAugment is the evaluation jobs' training transform from an augment
// section: one RandomResizedCrop of eval.crop px at scale (0.08, 1) and the
// section's ratio, a horizontal flip at flip_p, no colour jitter, grey or
// blur (eval_linear.py and eval_semisup.py: RandomResizedCrop(224) +
// RandomHorizontalFlip), normalised with the section's mean and std; every
// partial batch is kept (the reference's DataLoader keeps it).
func TrainAugment(a augment.Config) augment.Config {
	a.Crops = []augment.CropGroupConfig{{Size: a.Eval.Crop, Count: 1, MinScale: 0.08, MaxScale: 1}}
	a.Jitter.P, a.GrayscaleP, a.Blur.P = 0, 0, 0
	a.DType = augment.DTypeFloat32
	a.DropLast = false
	return a
}

// subsetFilter passes the samples of a subset and releases the others.
type subsetFilter struct{ s *Subset }

func (p subsetFilter) Process(ctx context.Context, item any, emit pipeline.Emit) error {
	smp, ok := item.(*ingest.Sample)
	if ok && !p.s.Keep(smp.Key) {
		smp.Release()
		return nil
	}
	return emit(ctx, item)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
