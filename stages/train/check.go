package train

import (
	"errors"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/field"
)

// ScaleOutDoc is the page that says what runs across processes today.
const ScaleOutDoc = "docs/scale-out.md"

// Check is the train job kind's configuration check (stages.Checker), run
// by `pipeline validate` and before a run starts: every entry of
// train.swav.crops_for_assign names one of the crops augment.crops makes,
// and a world size above 1 (data.world_size or the environment's) is
// refused unless train.independent_ranks asks for one model per rank. The
// quickstart runs it too. It does no I/O.
func Check(job *configs.Job) error {
	var errs []error
	crops := 0
	for _, c := range job.Augment.Crops {
		crops += c.Count
	}
	for i, a := range job.Train.SwAV.CropsForAssign {
		if a >= crops {
			errs = append(errs, field.Errorf("train.swav.crops_for_assign",
				"entry %d (%d) is past the last crop: augment.crops makes %d crops, numbered 0 to %d", i, a, crops, crops-1))
		}
	}
	if _, world, err := job.Data.RankWorld(); err != nil {
		errs = append(errs, field.Errorf("data.world_size", "%v", err))
	} else if world > 1 && !job.Train.IndependentRanks {
		from := ""
		if job.Data.WorldSize == 0 {
			from = " (from the environment: WORLD_SIZE, SLURM_NTASKS or SLURM_ARRAY_TASK_COUNT)"
		}
		errs = append(errs, field.Errorf("data.world_size",
			"%d processes%s would each train their own model: gradients are not exchanged between processes (%s). "+
				"Train in one process on all its devices (the xla backend's train.xla.devices; train.batch_size is the whole batch), "+
				"or set train.independent_ranks: true to train one independent model per rank", world, from, ScaleOutDoc))
	}
	return errors.Join(errs...)
}
