package extract

import (
	"errors"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/field"
)

// Check is the extract job kind's configuration check (stages.Checker),
// run by `pipeline validate` and before a run starts: extract.output names
// where the features go, and a network feature names its
// extract.checkpoint (a URL, or "init"). It does no I/O; whether the
// checkpoint fits extract.arch is known once it is read (OpenModel, an
// error wrapping checkpoint.ErrArchitecture).
func Check(job *configs.Job) error {
	var errs []error
	if SettingsOf(job).Output == "" {
		errs = append(errs, field.Errorf("extract.output", "must name a folder or s3:// prefix"))
	}
	if SettingsOf(job).Feature != FeatureRaw && SettingsOf(job).Checkpoint == "" {
		errs = append(errs, field.Errorf("extract.checkpoint", "must name what to load for feature %q: a checkpoint or weights file (path or s3:// URL), or %q for the untrained network",
			SettingsOf(job).Feature, CheckpointInit))
	}
	return errors.Join(errs...)
}
