package eval

import (
	"context"
	"fmt"
	"strings"

	"github.com/swavgo/swav/sinks"
)

// Load reads the feature units at urls through the feature seam
// (sinks.ReadFeatures: each location by the source its scheme registered;
// for sinks/parquet .parquet files, folders or s3:// prefixes) into one
// Dataset named after its units, so that errors (dims that differ between
// train and test) name them.
func Load(ctx context.Context, opts sinks.ReadOptions, urls ...string) (*Dataset, error) {
	f, err := sinks.ReadFeatures(ctx, opts, urls...)
	if err != nil {
		return nil, err
	}
	name := f.Files[0]
	if len(f.Files) > 1 {
		name = fmt.Sprintf("%s (%d files: %s ... %s)", strings.Join(urls, ","), len(f.Files), f.Files[0], f.Files[len(f.Files)-1])
	}
	return &Dataset{Name: name, Data: f.Data, Labels: f.Labels, Dim: f.Dim}, nil
}
