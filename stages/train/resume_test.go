package train

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/stages"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
)

// TestContinueScheduleFitted: the quickstart's case, a schedule fitted to
// max_seconds (3,137 iterations of 10 epochs x 937). Rerun as it was at
// its end, nothing is left; with a longer budget it is refused naming
// train.max_seconds; interrupted mid-way, a longer budget continues the
// cosine from where it was.
func TestContinueScheduleFitted(t *testing.T) {
	const ipe = 937
	cfg := func(maxSeconds float64) train.Config {
		c := train.DefaultConfig()
		c.Epochs, c.MaxSeconds, c.FitToBudget, c.Optim.WarmupEpochs = 10, maxSeconds, true, 0
		return c
	}
	ck := func(iter int) *checkpoint.Checkpoint {
		return &checkpoint.Checkpoint{Iter: iter, ItersPerEpoch: ipe, ScheduleIters: 3137, ScheduleAnchorIter: 2000, ScheduleAnchorProgress: 0.3,
			Config: []byte("job: quickstart\ntrain:\n  epochs: 10\n  max_seconds: 600\n  fit_to_budget: true\n")}
	}
	quiet := slog.New(slog.DiscardHandler)
	err := continueSchedule(ck(3137), "ck.swck", cfg(600), ipe, quiet)
	testutil.ErrorMentions(t, err, stages.ErrNothingLeft, "3137 iterations, fitted to train.max_seconds 600", "another out")

	err = continueSchedule(ck(3137), "ck.swck", cfg(1800), ipe, quiet)
	var fe *field.Error
	if !errors.As(err, &fe) || fe.Field != "train.max_seconds" {
		t.Fatalf("err = %v, want a configuration error on train.max_seconds", err)
	}
	testutil.ErrorMentions(t, err, nil, "train.max_seconds 600 -> 1800", "train.checkpoint.resume: false", "train.init_from=ck.swck")

	mid := ck(2500)
	want := 0.3 + float64(2500-2000)*(1-0.3)/float64(3137-2000)
	if err := continueSchedule(mid, "ck.swck", cfg(1800), ipe, quiet); err != nil {
		t.Fatal(err)
	}
	if mid.ScheduleIters != 10*ipe || mid.ScheduleAnchorIter != 2500 || mid.ScheduleAnchorProgress != want {
		t.Fatalf("schedule %d from %d at %g, want %d from 2500 at %g", mid.ScheduleIters, mid.ScheduleAnchorIter, mid.ScheduleAnchorProgress, 10*ipe, want)
	}
	// The same settings mid-way: the checkpoint's fit stands.
	same := ck(2500)
	if err := continueSchedule(same, "ck.swck", cfg(600), ipe, quiet); err != nil || same.ScheduleIters != 3137 || same.ScheduleAnchorIter != 2000 {
		t.Fatalf("err %v, schedule %d from %d", err, same.ScheduleIters, same.ScheduleAnchorIter)
	}
}
