package ingest

import "github.com/swavgo/swav/pipeline"

// Config is the data section of a job. (Owned by the ingest package; the
// fields below are the contract other packages rely on.)
type Config struct {
	// Shards lists shard URLs: plain paths, file://, s3://bucket/prefix, with
	// brace ranges ({000000..001281}), globs and prefixes.
	Shards []string `yaml:"shards"`
	// Format is "wds", "parquet", "folder" or "auto" (from the extension).
	Format string `yaml:"format"`
}

// DefaultConfig returns the typed defaults.
func DefaultConfig() Config { return Config{Format: "auto"} }

// Validate checks the section and names the first bad field (relative to "data").
func (c *Config) Validate() error {
	if len(c.Shards) == 0 {
		return pipeline.FieldErrorf("shards", "must list at least one shard")
	}
	return nil
}
