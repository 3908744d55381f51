package weights

import (
	"context"
	"log/slog"

	"github.com/swavgo/swav/ingest/store"
)

// Open reads the weights file at url (a path, file:// or s3:// URL) and maps
// its tensors to our layout: Read, then Import. It is what extraction's
// extract.checkpoint and training's train.init_from both do before building
// a State for their network.
func Open(ctx context.Context, url string, sc store.Config) (*File, *Imported, error) {
	f, err := Read(ctx, url, sc)
	if err != nil {
		return nil, nil, err
	}
	im, err := Import(f)
	if err != nil {
		return nil, nil, err
	}
	return f, im, nil
}

// LogLoaded logs one line msg with the file, its format and layout and the
// tensors taken (plus attrs), then each of the report's notes prefixed with
// "weights: ".
func LogLoaded(log *slog.Logger, msg string, f *File, im *Imported, rep *LoadReport, attrs ...any) {
	log.Info(msg, append([]any{"file", f.Source, "format", f.Format, "layout", im.Layout, "tensors", rep.Loaded}, attrs...)...)
	for _, note := range rep.Notes() {
		log.Info("weights: " + note)
	}
}
