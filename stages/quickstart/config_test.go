package quickstart

import (
	"github.com/swavgo/swav/configs"
	"testing"

	"github.com/swavgo/swav/internal/field/fieldtest"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(c *Config)
		field string
	}{
		{"defaults", func(c *Config) {}, ""},
		{"knn entry", func(c *Config) { c.KNN = []int{20, 0} }, "knn"},
		{"no knn", func(c *Config) { c.KNN = nil }, "knn"},
		{"cache", func(c *Config) { c.Cache = "" }, "cache"},
		{"shard size", func(c *Config) { c.ShardSize = 0 }, "shard_size"},
		{"images", func(c *Config) { c.TestImages = -1 }, "train_images"},
		{"temperature", func(c *Config) { c.Temperature = 0 }, "temperature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			fieldtest.Want(t, c.Validate(), tc.field)
		})
	}
}

// TestQuickstartSectionNamed checks that a quickstart job's bad setting is
// reported under the top-level quickstart section, with file and line.
func TestQuickstartSectionNamed(t *testing.T) {
	_, err := configs.LoadBytes("q.yaml", []byte("job: quickstart\nquickstart:\n  knn: [0]\n"), nil)
	if fe := fieldtest.Want(t, err, "quickstart.knn"); fe.Line != 3 {
		t.Fatalf("error %v, want quickstart.knn at line 3", err)
	}
}
