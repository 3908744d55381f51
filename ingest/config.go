package ingest

import (
	"fmt"
	"os"
	"strconv"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/settings"
)

// Section is the data section's key in a job; the formats' sub-sections are
// registered under it (settings.Register(Section, "parquet", ...)).
const Section = "data"

// Config is the data section of a job. (Owned by the ingest package; the
// fields below are the contract other packages rely on.)
type Config struct {
	// Shards lists shard URLs: plain paths, file://, s3://bucket/prefix, with
	// brace ranges ({000000..001281}), globs and prefixes.
	Shards []string `yaml:"shards"`
	// Format is a registered shard format ("wds", "parquet", "folder") or
	// "auto" (from the extension).
	Format string `yaml:"format"`
	// Prefetch is the number of shards each worker opens and reads ahead
	// concurrently with the one being consumed (0: none).
	Prefetch int `yaml:"prefetch"`
	// ShuffleBuffer is the per-worker sample shuffle buffer size in samples
	// (0 or 1: no sample shuffle). Memory is about ShuffleBuffer x sample size
	// per worker.
	ShuffleBuffer int `yaml:"shuffle_buffer"`
	// Workers is the number of shard readers per process (the order depends on
	// it; a resumed run must use the same value).
	Workers int `yaml:"workers"`
	// SkipBudget is how many corrupt or missing samples a run skips (a bad
	// member or label, a cut tar member, each sample a cut shard's index.json
	// lists that is not there; counting each, with its key and reason) before
	// it fails; -1 means unlimited.
	SkipBudget int `yaml:"skip_budget"`
	// Rank and WorldSize split the shards across processes. Rank -1 and
	// WorldSize 0 take them from the environment (RANK/WORLD_SIZE,
	// JOB_COMPLETION_INDEX, SLURM_PROCID/SLURM_NTASKS), else 0 and 1.
	Rank      int `yaml:"rank"`
	WorldSize int `yaml:"world_size"`
	// Formats holds each registered shard format's own sub-section by its
	// name (data.parquet is ParquetConfig, data.folder FolderConfig): the
	// format registers its type and defaults with RegisterFormat, the loader
	// decodes the YAML key strictly into it.
	Formats settings.Set `yaml:",inline"`
	// Store is how the shards are reached: a job's store section (the job
	// fills it, configs.Job.DataConfig), not a key of the data section.
	Store store.Config `yaml:"-"`
}

// DefaultConfig returns the typed defaults.
func DefaultConfig() Config {
	return Config{
		Format: "auto", Prefetch: 2, ShuffleBuffer: 1000, Workers: 1, SkipBudget: 0,
		Rank: -1, WorldSize: 0, Formats: settings.Defaults(Section), Store: store.DefaultConfig(),
	}
}

// Validate checks the section and names the first bad field (relative to "data").
func (c *Config) Validate() error {
	if len(c.Shards) == 0 {
		return field.Errorf("shards", "must list at least one shard")
	}
	for i, s := range c.Shards {
		if s == "" {
			return field.Errorf(fmt.Sprintf("shards[%d]", i), "empty shard URL")
		}
	}
	format, known := formats.Lookup(c.Format)
	if !known && c.Format != AutoFormat {
		return field.Errorf("format", "unknown format %q (known: %s)", c.Format, knownFormats())
	}
	switch {
	case c.Prefetch < 0:
		return field.Errorf("prefetch", "must be >= 0, got %d", c.Prefetch)
	case c.ShuffleBuffer < 0:
		return field.Errorf("shuffle_buffer", "must be >= 0, got %d", c.ShuffleBuffer)
	case c.Workers < 1:
		return field.Errorf("workers", "must be >= 1, got %d", c.Workers)
	case c.SkipBudget < -1:
		return field.Errorf("skip_budget", "must be >= -1 (-1: unlimited), got %d", c.SkipBudget)
	case c.Rank < -1:
		return field.Errorf("rank", "must be >= 0 (or -1: from the environment), got %d", c.Rank)
	case c.WorldSize < 0:
		return field.Errorf("world_size", "must be >= 1 (or 0: from the environment), got %d", c.WorldSize)
	case c.WorldSize > 0 && c.Rank >= c.WorldSize:
		return field.Errorf("rank", "rank %d is not below world_size %d", c.Rank, c.WorldSize)
	}
	// Every format's own sub-section that checks itself (data.format auto
	// may pick any), then the restrictions of the format named.
	if err := c.Formats.Validate(); err != nil {
		return err
	}
	if format.Validate != nil {
		if err := format.Validate(c); err != nil {
			return err
		}
	}
	return nil
}

// RankWorld returns this process's rank and the world size: from the config
// when set, else from the environment (RANK/WORLD_SIZE,
// JOB_COMPLETION_INDEX with WORLD_SIZE, SLURM_PROCID/SLURM_NTASKS), else 0, 1.
func (c *Config) RankWorld() (rank, world int, err error) {
	return rankWorld(c.Rank, c.WorldSize, os.Getenv)
}

func rankWorld(rank, world int, env func(string) string) (int, int, error) {
	num := func(key string) (int, bool, error) {
		v := env(key)
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, false, fmt.Errorf("environment %s=%q: not a non-negative integer", key, v)
		}
		return n, true, nil
	}
	// The first rank variable found decides; its own world-size variable
	// (or any other) gives the world size. A Slurm array task (sbatch
	// --array) is a job of one task: its index in the array comes before
	// SLURM_PROCID, counted from SLURM_ARRAY_TASK_MIN.
	pairs := [][2]string{{"RANK", "WORLD_SIZE"}, {"JOB_COMPLETION_INDEX", "WORLD_SIZE"},
		{"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"}, {"SLURM_PROCID", "SLURM_NTASKS"}}
	if id, min := env("SLURM_ARRAY_TASK_ID"), env("SLURM_ARRAY_TASK_MIN"); id != "" && min != "" {
		i, err1 := strconv.Atoi(id)
		m, err2 := strconv.Atoi(min)
		if err1 == nil && err2 == nil && i >= m {
			base := env
			env = func(key string) string {
				if key == "SLURM_ARRAY_TASK_ID" {
					return strconv.Itoa(i - m)
				}
				return base(key)
			}
		}
	}
	if rank < 0 || world == 0 {
		envRank, envWorld, found := -1, 0, false
		for _, p := range pairs {
			r, okR, err := num(p[0])
			if err != nil {
				return 0, 0, err
			}
			w, okW, err := num(p[1])
			if err != nil {
				return 0, 0, err
			}
			if okW && envWorld == 0 {
				envWorld = w
			}
			if okR && !found {
				envRank, found = r, true
				if okW {
					envWorld = w
				}
			}
		}
		if rank < 0 {
			rank = envRank
		}
		if world == 0 {
			world = envWorld
		}
	}
	if rank < 0 {
		rank = 0
	}
	if world == 0 {
		world = 1
	}
	if rank >= world {
		return 0, 0, field.Errorf("rank", "rank %d is not below world size %d", rank, world)
	}
	return rank, world, nil
}
