package classify

import (
	"slices"

	"github.com/swavgo/swav/internal/field"
)

// ValidateCommon checks the keys the linear and finetune sections share
// (fields relative to the section).
func ValidateCommon(checkpoint string, val []string, epochs int, maxSeconds float64, batch, classes, valEvery int, decay []int) error {
	if err := field.CheckAll([]field.Check{
		{checkpoint != "", "checkpoint", `must name the weights (a path or URL) or be "init"`},
		{len(val) > 0, "val_shards", "must list the validation shards"},
		{epochs >= 1, "epochs", "must be at least 1"},
		{maxSeconds >= 0, "max_seconds", "must not be negative"},
		{batch >= 1, "batch_size", "must be at least 1"},
		{classes == 0 || classes >= 2, "classes", "must be 0 (from the labels) or at least 2"},
		{valEvery >= 1, "val_every", "must be at least 1"},
	}...); err != nil {
		return err
	}
	if !slices.IsSorted(decay) || slices.ContainsFunc(decay, func(e int) bool { return e < 1 }) {
		return field.Errorf("decay_epochs", "must be positive epochs in increasing order, got %v", decay)
	}
	return nil
}
