package configs

import (
	"testing"

	"github.com/swavgo/swav/internal/field/fieldtest"
)

func TestQuickstartConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(c *QuickstartConfig)
		field string
	}{
		{"defaults", func(c *QuickstartConfig) {}, ""},
		{"knn entry", func(c *QuickstartConfig) { c.KNN = []int{20, 0} }, "knn"},
		{"no knn", func(c *QuickstartConfig) { c.KNN = nil }, "knn"},
		{"cache", func(c *QuickstartConfig) { c.Cache = "" }, "cache"},
		{"shard size", func(c *QuickstartConfig) { c.ShardSize = 0 }, "shard_size"},
		{"images", func(c *QuickstartConfig) { c.TestImages = -1 }, "train_images"},
		{"temperature", func(c *QuickstartConfig) { c.Temperature = 0 }, "temperature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultQuickstartConfig()
			tc.edit(&c)
			fieldtest.Want(t, c.Validate(), tc.field)
		})
	}
}

// TestQuickstartSectionNamed checks that a quickstart job's bad setting is
// reported under the top-level quickstart section, with file and line.
func TestQuickstartSectionNamed(t *testing.T) {
	_, err := LoadBytes("q.yaml", []byte("job: quickstart\nquickstart:\n  knn: [0]\n"), nil)
	if fe := fieldtest.Want(t, err, "quickstart.knn"); fe.Line != 3 {
		t.Fatalf("error %v, want quickstart.knn at line 3", err)
	}
}
