package eval

import (
	"context"
	"strings"

	"github.com/swavgo/swav/sinks/parquet"
)

// Load reads the feature files at urls (files, folders or s3:// prefixes;
// see parquet.ReadFeatureSet) into one Dataset named after the urls.
func Load(ctx context.Context, opts parquet.ReadOptions, urls ...string) (*Dataset, error) {
	f, err := parquet.ReadFeatureSet(ctx, opts, urls...)
	if err != nil {
		return nil, err
	}
	return &Dataset{Name: strings.Join(urls, ","), Data: f.Data, Labels: f.Labels, Dim: f.Dim}, nil
}
