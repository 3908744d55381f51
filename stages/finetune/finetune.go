// Package finetune registers the job kind "finetune": facebookresearch/swav's
// eval_semisup.py on our engine (stages/classify runs it). The whole network
// of finetune.checkpoint ("init": supervised from scratch) plus a fresh
// linear head is trained with cross-entropy on a labelled subset of
// data.shards (finetune.subset, or a seeded class-balanced
// finetune.label_fraction), BatchNorm in training mode, the trunk and the
// head at their own learning rates, the reference's step decay.
package finetune

import (
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/stages/classify"
	"github.com/swavgo/swav/train"
)

// JobKind is the job kind this package registers.
const JobKind = "finetune"

func init() {
	classify.Register(JobKind, DefaultConfig(), func(job *configs.Job) classify.Settings { return Settings(SettingsOf(job)) })
}

// Settings maps the finetune section to the classifier run: every
// parameter trained, the head initialised as nn.Linear is (U(±1/sqrt(d))),
// SGD without Nesterov, step decay.
func Settings(c Config) classify.Settings {
	trunk, head := c.LearningRates()
	return classify.Settings{
		Kind: JobKind, Common: c.Common, Labelled: true, LabelFraction: c.LabelFraction, Subset: c.Subset,
		Trainable: train.TrainAll, HeadInit: "uniform",
		SGD: train.SGDConfig{Momentum: c.Momentum, WeightDecay: c.WeightDecay},
		LR:  trunk, HeadLR: head, Scheduler: "step", DecayEpochs: c.DecayEpochs, Gamma: c.Gamma,
		ValEvery: c.ValEvery, Resume: c.Resume,
	}
}
