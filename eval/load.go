package eval

import (
	"context"
	"fmt"
	"strings"

	"github.com/swavgo/swav/sinks/parquet"
)

// Load reads the feature files at urls (files, folders or s3:// prefixes;
// see parquet.ReadFeatureSet) into one Dataset named after its files, so
// that errors (dims that differ between train and test) name them.
func Load(ctx context.Context, opts parquet.ReadOptions, urls ...string) (*Dataset, error) {
	f, err := parquet.ReadFeatureSet(ctx, opts, urls...)
	if err != nil {
		return nil, err
	}
	name := f.Files[0]
	if len(f.Files) > 1 {
		name = fmt.Sprintf("%s (%d files: %s ... %s)", strings.Join(urls, ","), len(f.Files), f.Files[0], f.Files[len(f.Files)-1])
	}
	return &Dataset{Name: name, Data: f.Data, Labels: f.Labels, Dim: f.Dim}, nil
}
