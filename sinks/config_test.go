package sinks

import (
	"errors"
	"testing"

	"github.com/swavgo/swav/configs/field"
)

func TestExtractConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(c *ExtractConfig)
		field string
	}{
		{"defaults", func(c *ExtractConfig) {}, ""},
		{"feature", func(c *ExtractConfig) { c.Feature = "logits" }, "feature"},
		{"arch", func(c *ExtractConfig) { c.Arch = "vit" }, "arch"},
		{"compression", func(c *ExtractConfig) { c.Compression = "lz0" }, "compression"},
		{"batch", func(c *ExtractConfig) { c.BatchSize = 0 }, "batch_size"},
		{"row group", func(c *ExtractConfig) { c.RowGroupRows = 0 }, "row_group_rows"},
		{"workers", func(c *ExtractConfig) { c.Workers = -1 }, "workers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultExtractConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fe *field.Error
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("error %v, want a FieldError on %s", err, tc.field)
			}
		})
	}
}
