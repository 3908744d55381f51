package train

import (
	"testing"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/field/fieldtest"
)

// TestCheck: the train kind's configuration check refuses a crop index past
// augment.crops and a world size above 1, from the config or from the
// environment, unless train.independent_ranks asks for independent models.
func TestCheck(t *testing.T) {
	base := func() *configs.Job {
		j := configs.Default()
		j.Data.Rank, j.Data.WorldSize = 0, 1
		return &j
	}
	if err := Check(base()); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	j := base()
	j.Train.SwAV.CropsForAssign = []int{0, 8} // the defaults make 2 + 6 crops: 0..7
	fieldtest.Want(t, Check(j), "train.swav.crops_for_assign", "entry 1 (8) is past the last crop", "numbered 0 to 7")

	j = base()
	j.Data.Rank, j.Data.WorldSize = 1, 2
	fieldtest.Want(t, Check(j), "data.world_size", "2 processes would each train their own model", "gradients are not exchanged", ScaleOutDoc, "train.independent_ranks: true")
	j.Train.IndependentRanks = true
	if err := Check(j); err != nil {
		t.Fatalf("independent ranks: %v", err)
	}

	t.Setenv("RANK", "0")
	t.Setenv("WORLD_SIZE", "4")
	j = base()
	j.Data.Rank, j.Data.WorldSize = -1, 0
	fieldtest.Want(t, Check(j), "data.world_size", "4 processes (from the environment")
}
