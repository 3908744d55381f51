// Package linear registers the job kind "linear": facebookresearch/swav's
// eval_linear.py on our engine (stages/classify runs it). The trunk of
// linear.checkpoint is frozen in evaluation mode (BatchNorm running
// statistics, no gradient); one linear layer on its global average pool is
// trained with SGD on data.shards and validated on linear.val_shards.
package linear

import (
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/stages/classify"
	"github.com/swavgo/swav/train"
)

// JobKind is the job kind this package registers.
const JobKind = "linear"

func init() {
	classify.Register(JobKind, DefaultConfig(), func(job *configs.Job) classify.Settings { return Settings(SettingsOf(job)) })
}

// Settings maps the linear section to the classifier run: the head only
// (RegLog's N(0, 0.01) weights, zero bias), SGD with the section's
// momentum, weight decay and Nesterov, its schedule at lr.
func Settings(c Config) classify.Settings {
	return classify.Settings{
		Kind: JobKind, Common: c.Common, LabelFraction: 1,
		Trainable: train.TrainHead, HeadInit: "normal",
		SGD: train.SGDConfig{Momentum: c.Momentum, WeightDecay: c.WeightDecay, Nesterov: c.Nesterov},
		LR:  c.LR, HeadLR: c.LR, Scheduler: c.Scheduler, FinalLR: c.FinalLR, DecayEpochs: c.DecayEpochs, Gamma: c.Gamma,
		ValEvery: c.ValEvery, Resume: c.Resume,
	}
}
