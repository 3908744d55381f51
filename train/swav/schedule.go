package swav

import (
	"math"
	"strings"

	"github.com/swavgo/swav/train"
)

// LRAt is the learning rate of global iteration iter (epoch*itersPerEpoch +
// it) of the reference's per-iteration schedule (SPEC §4), without building
// the table: a warmup of np.linspace(start_warmup, base_lr,
// itersPerEpoch*warmup_epochs) (both ends included, computed as numpy does:
// i*step + start, last value = base_lr) followed by, for t = 0 .. T-1 with
// T = itersPerEpoch*(epochs-warmup_epochs),
// final_lr + 0.5*(base_lr-final_lr)*(1+cos(pi*t/T)). Iterations past the end
// of the table get its last value. Cost O(1).
func LRAt(cfg train.OptimConfig, itersPerEpoch, epochs, iter int) float64 {
	warm := itersPerEpoch * cfg.WarmupEpochs
	total := itersPerEpoch * epochs
	if iter >= total && total > 0 {
		iter = total - 1
	}
	if iter < 0 {
		iter = 0
	}
	if iter < warm {
		if warm == 1 {
			return cfg.StartWarmup
		}
		if iter == warm-1 {
			return cfg.BaseLR
		}
		step := (cfg.BaseLR - cfg.StartWarmup) / float64(warm-1)
		// The explicit conversion forbids fusing into an FMA, so the result
		// rounds as numpy's arange*step + start does.
		return float64(float64(iter)*step) + cfg.StartWarmup
	}
	t := iter - warm
	cosT := float64(total - warm)
	return cosineAt(cfg, math.Pi*float64(t)/cosT)
}

// CosineLR is the cosine part of the schedule at progress q in [0, 1]:
// final_lr + 0.5*(base_lr-final_lr)*(1+cos(pi*q)). A schedule fitted to a
// time budget (train.fit_to_budget) gives its own progress, which need not
// be a whole number of epochs.
func CosineLR(cfg train.OptimConfig, q float64) float64 { return cosineAt(cfg, math.Pi*q) }

// cosineAt is final_lr + 0.5*(base_lr-final_lr)*(1+cos(angle)), each
// product rounded as Python does (no fused multiply-add). The caller forms
// the angle: LRAt as numpy does, pi*t/T.
func cosineAt(cfg train.OptimConfig, angle float64) float64 {
	return cfg.FinalLR + float64(float64(0.5*(cfg.BaseLR-cfg.FinalLR))*(1+math.Cos(angle)))
}

// LRSchedule is the whole per-iteration table of LRAt, itersPerEpoch*epochs
// values (249,600 float64 for the 800-epoch bs4096 recipe: 2 MB; prefer LRAt
// in a training loop).
func LRSchedule(cfg train.OptimConfig, itersPerEpoch, epochs int) []float64 {
	out := make([]float64, itersPerEpoch*epochs)
	for i := range out {
		out[i] = LRAt(cfg, itersPerEpoch, epochs, i)
	}
	return out
}

// PrototypesFrozen reports whether the parameter name is frozen at global
// iteration iter: the reference sets grad = None for every parameter whose
// name contains "prototypes" while iter < freeze_prototypes_niters (SPEC
// §1.7), so the optimiser skips it entirely.
func PrototypesFrozen(name string, iter, freezeIters int) bool {
	return iter < freezeIters && strings.Contains(name, "prototypes")
}
