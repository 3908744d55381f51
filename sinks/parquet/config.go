package parquet

import (
	"fmt"

	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/settings"
	"github.com/swavgo/swav/sinks"
)

// Name is the sink's name: the key of its sub-section of the extract
// section (extract.parquet).
const Name = "parquet"

// Config is the Parquet sink's own settings, the extract section's
// sub-section extract.parquet (the Settings of its sinks.Register).
type Config struct {
	// RowGroupRows is the Parquet row-group length in rows.
	RowGroupRows int `yaml:"row_group_rows"`
	// Compression is the Parquet codec: "snappy", "zstd" or "none".
	Compression string `yaml:"compression"`
}

// DefaultConfig returns the defaults: row groups of 8192 rows, snappy.
func DefaultConfig() Config { return Config{RowGroupRows: 8192, Compression: "snappy"} }

// Validate checks the sub-section (fields relative to extract.parquet).
func (c *Config) Validate() error {
	return field.CheckAll([]field.Check{
		{OK: c.Compression == "snappy" || c.Compression == "zstd" || c.Compression == "none", Field: "compression",
			Msg: fmt.Sprintf("must be snappy, zstd or none, got %q", c.Compression)},
		{OK: c.RowGroupRows >= 1, Field: "row_group_rows", Msg: "must be at least 1"},
	}...)
}

// SettingsOf returns the Parquet sink's settings among the sinks' settings
// (its defaults where they hold none).
func SettingsOf(s settings.Set) Config { return settings.Get[Config](s, sinks.Section, Name) }

// Edit returns the Parquet sink's settings in s for changing them in place;
// s gets its own copy first.
func Edit(s *settings.Set) *Config { return settings.Edit[Config](s, sinks.Section, Name) }
