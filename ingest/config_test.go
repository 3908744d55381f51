package ingest

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"ok", func(c *Config) {}, ""},
		{"no shards", func(c *Config) { c.Shards = nil }, "shards"},
		{"empty shard", func(c *Config) { c.Shards = []string{"a", ""} }, "shards[1]"},
		{"format", func(c *Config) { c.Format = "zip" }, "format"},
		{"prefetch", func(c *Config) { c.Prefetch = -1 }, "prefetch"},
		{"shuffle", func(c *Config) { c.ShuffleBuffer = -2 }, "shuffle_buffer"},
		{"workers", func(c *Config) { c.Workers = 0 }, "workers"},
		{"skip budget", func(c *Config) { c.SkipBudget = -2 }, "skip_budget"},
		{"rank", func(c *Config) { c.Rank, c.WorldSize = 2, 2 }, "rank"},
		{"world", func(c *Config) { c.WorldSize = -1 }, "world_size"},
	} {
		c := DefaultConfig()
		c.Shards = []string{"x.tar"}
		tc.edit(&c)
		err := c.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.field+":") {
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.field)
		}
	}
}

func TestRankWorldFromEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name                string
		rank, world         int
		env                 map[string]string
		wantRank, wantWorld int
		err                 string
	}{
		{name: "defaults", rank: -1, wantRank: 0, wantWorld: 1},
		{name: "config wins", rank: 1, world: 4, env: map[string]string{"RANK": "3", "WORLD_SIZE": "8"}, wantRank: 1, wantWorld: 4},
		{name: "torchrun", rank: -1, env: map[string]string{"RANK": "3", "WORLD_SIZE": "8"}, wantRank: 3, wantWorld: 8},
		{name: "indexed job", rank: -1, env: map[string]string{"JOB_COMPLETION_INDEX": "2", "WORLD_SIZE": "4"}, wantRank: 2, wantWorld: 4},
		{name: "slurm", rank: -1, env: map[string]string{"SLURM_PROCID": "5", "SLURM_NTASKS": "6"}, wantRank: 5, wantWorld: 6},
		{name: "slurm array", rank: -1, env: map[string]string{"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0",
			"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}, wantRank: 2, wantWorld: 4},
		{name: "slurm array from 1", rank: -1, env: map[string]string{"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "1",
			"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}, wantRank: 3, wantWorld: 4},
		{name: "bad value", rank: -1, env: map[string]string{"RANK": "x"}, err: "RANK"},
		{name: "rank too big", rank: -1, env: map[string]string{"SLURM_PROCID": "6", "SLURM_NTASKS": "6"}, err: "not below"},
	} {
		r, w, err := rankWorld(tc.rank, tc.world, func(k string) string { return tc.env[k] })
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || r != tc.wantRank || w != tc.wantWorld {
			t.Errorf("%s: got %d/%d %v, want %d/%d", tc.name, r, w, err, tc.wantRank, tc.wantWorld)
		}
	}
}
