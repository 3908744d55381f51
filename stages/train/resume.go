package train

import (
	"fmt"
	"log/slog"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/stages"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
	"github.com/swavgo/swav/train/swav"
)

// Schedule is what sets a training run's length and its learning-rate
// curve: the train settings a resumed run compares with its checkpoint's.
type Schedule struct {
	Epochs      int     `yaml:"epochs"`
	MaxSeconds  float64 `yaml:"max_seconds"`
	MaxIters    int     `yaml:"max_iters"`
	FitToBudget bool    `yaml:"fit_to_budget"`
}

// ScheduleOf is the schedule of a train section.
func ScheduleOf(c train.Config) Schedule {
	return Schedule{Epochs: c.Epochs, MaxSeconds: c.MaxSeconds, MaxIters: c.MaxIters, FitToBudget: c.FitToBudget}
}

// checkpointSchedule reads the schedule of the job YAML a checkpoint
// stores; false when it holds none (a checkpoint written by a test or an
// older version): the resumed run then takes its own as unchanged.
func checkpointSchedule(ck *checkpoint.Checkpoint) (Schedule, bool) {
	var doc struct {
		Train Schedule `yaml:"train"`
	}
	if len(ck.Config) == 0 || yaml.Unmarshal(ck.Config, &doc) != nil || doc.Train.Epochs < 1 {
		return Schedule{}, false
	}
	return doc.Train, true
}

// scheduleChange is one setting of a Schedule that differs.
type scheduleChange struct{ field, from, to string }

func (c scheduleChange) String() string { return c.field + " " + c.from + " -> " + c.to }

// changes lists the settings of now that differ from s, in the order of
// the Schedule's fields.
func (s Schedule) changes(now Schedule) []scheduleChange {
	var out []scheduleChange
	add := func(name string, from, to any) {
		if f, t := fmt.Sprint(from), fmt.Sprint(to); f != t {
			out = append(out, scheduleChange{"train." + name, f, t})
		}
	}
	add("epochs", s.Epochs, now.Epochs)
	add("max_seconds", s.MaxSeconds, now.MaxSeconds)
	add("max_iters", s.MaxIters, now.MaxIters)
	add("fit_to_budget", s.FitToBudget, now.FitToBudget)
	return out
}

// cosineProgress is the cosine's progress q (0 at the end of the warm-up,
// 1 at the end) at iteration iter of a schedule of total iterations with
// warm warm-up ones. Bent (a fit or a resumed run with another schedule
// set it), q runs linearly from anchorProgress at anchorIter to 1 at total,
// so a new total changes the curve's slope without a jump. Iterations past
// the end count as the last one, as in swav.LRAt.
func cosineProgress(iter, warm, total int, bent bool, anchorIter int, anchorProgress float64) float64 {
	iter = min(iter, total-1)
	if iter <= warm {
		return 0
	}
	if !bent {
		return float64(iter-warm) / float64(total-warm)
	}
	return anchorProgress + float64(iter-anchorIter)*(1-anchorProgress)/float64(total-anchorIter)
}

// continueSchedule decides how a run resumed from the checkpoint ck (at
// url) goes on under cfg with ipe iterations per epoch, comparing cfg's
// Schedule with the one ck's run had:
//
//   - unchanged: the run continues where ck stopped; if ck already ends
//     that schedule (its last iteration, or max_iters), the returned error
//     wraps stages.ErrNothingLeft and says so;
//   - changed, ck mid-way through its learning-rate curve and the new
//     schedule ending after it: the run continues. A change of the curve
//     (epochs, fit_to_budget, max_seconds under a fit) bends it: from the
//     progress ck reached, the cosine runs on to final_lr at the new
//     schedule's last iteration (ck's schedule fields are set to that, as a
//     fit sets them); a change of max_iters (or of max_seconds without a
//     fit) leaves the curve as it was. What changed is logged;
//   - changed otherwise (ck's curve already ended at final_lr, or the new
//     schedule ends at or before ck): a *field.Error naming the first
//     changed setting and the ways out (another out, resume false, or
//     init_from to start a new schedule from ck's weights).
func continueSchedule(ck *checkpoint.Checkpoint, url string, cfg train.Config, ipe int, log *slog.Logger) error {
	now := ScheduleOf(cfg)
	old, known := checkpointSchedule(ck)
	if !known {
		old = now
	}
	warm := ipe * cfg.Optim.WarmupEpochs
	oldTotal := ck.ScheduleIters
	if oldTotal == 0 {
		oldTotal = old.Epochs * ipe
	}
	oldEnd := oldTotal
	if old.MaxIters > 0 {
		oldEnd = min(oldEnd, old.MaxIters)
	}
	ways := fmt.Sprintf("To train more, start a new run: another out (--set out=...), or train.checkpoint.resume: false "+
		"to start over in this one (its checkpoints are replaced); with --set train.init_from=%s the new run starts from these weights", url)
	changed := old.changes(now)
	if len(changed) == 0 {
		if ck.Iter < oldEnd {
			return nil
		}
		why := fmt.Sprintf("train.epochs %d x %d iterations", old.Epochs, ipe)
		switch {
		case old.MaxIters > 0 && old.MaxIters <= oldTotal:
			why = fmt.Sprintf("train.max_iters %d", old.MaxIters)
		case old.FitToBudget && ck.ScheduleIters > 0:
			why = fmt.Sprintf("%d iterations, fitted to train.max_seconds %g", ck.ScheduleIters, old.MaxSeconds)
		}
		return fmt.Errorf("train: %w: the checkpoint %s at iteration %d already ends this run's schedule (%s). %s",
			stages.ErrNothingLeft, url, ck.Iter, why, ways)
	}
	list := make([]string, len(changed))
	for i, c := range changed {
		list[i] = c.String()
	}
	what := strings.Join(list, ", ")
	newTotal := now.Epochs * ipe
	newEnd := newTotal
	if now.MaxIters > 0 {
		newEnd = min(newEnd, now.MaxIters)
	}
	switch {
	case ck.Iter >= newEnd:
		return field.Errorf(changed[0].field, "the run resumes from %s (%s), which is at iteration %d, but the new schedule ends at iteration %d: nothing left to train. %s",
			url, what, ck.Iter, newEnd, ways)
	case ck.Iter >= oldTotal:
		return field.Errorf(changed[0].field, "the run resumes from %s (%s), whose schedule ended at iteration %d with its learning rate at the end of its cosine (final_lr %g): "+
			"resuming cannot continue that curve into a longer run. %s", url, what, ck.Iter, cfg.Optim.FinalLR, ways)
	}
	curve := old.Epochs != now.Epochs || old.FitToBudget != now.FitToBudget ||
		(old.FitToBudget || now.FitToBudget) && old.MaxSeconds != now.MaxSeconds
	if !curve {
		log.Info("resumed with another budget; the learning-rate schedule is unchanged", "changed", what, "iter", ck.Iter, "ends_at", newEnd)
		return nil
	}
	anchor := max(ck.Iter, warm)
	p := cosineProgress(anchor, warm, oldTotal, ck.ScheduleIters > 0, ck.ScheduleAnchorIter, ck.ScheduleAnchorProgress)
	ck.ScheduleIters, ck.ScheduleAnchorIter, ck.ScheduleAnchorProgress = newTotal, anchor, p
	lr := swav.CosineLR(cfg.Optim, p)
	if ck.Iter < warm {
		lr = swav.LRAt(cfg.Optim, ipe, now.Epochs, ck.Iter)
	}
	msg := "the cosine goes on from where the checkpoint left it to final_lr at the new schedule's last iteration"
	if now.FitToBudget {
		msg += " (then fitted to train.max_seconds after the calibration steps)"
	}
	log.Info("resumed with another schedule: "+msg, "changed", what, "iter", ck.Iter, "lr", fmt.Sprintf("%.4g", lr),
		"progress", fmt.Sprintf("%.3f", p), "ends_at", newTotal, "final_lr", cfg.Optim.FinalLR)
	return nil
}
