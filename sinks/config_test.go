package sinks

import (
	"testing"

	"github.com/swavgo/swav/internal/field/fieldtest"
)

func TestExtractConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(c *ExtractConfig)
		field string
	}{
		{"defaults", func(c *ExtractConfig) {}, ""},
		{"feature", func(c *ExtractConfig) { c.Feature = "logits" }, "feature"},
		{"compression", func(c *ExtractConfig) { c.Compression = "lz0" }, "compression"},
		{"batch", func(c *ExtractConfig) { c.BatchSize = 0 }, "batch_size"},
		{"row group", func(c *ExtractConfig) { c.RowGroupRows = 0 }, "row_group_rows"},
		{"workers", func(c *ExtractConfig) { c.Workers = -1 }, "workers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultExtractConfig()
			tc.edit(&c)
			fieldtest.Want(t, c.Validate(), tc.field)
		})
	}
}
