package sinks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/swavgo/swav/ingest/store"
)

// The read side of the feature seam. A sink that is written through
// FeatureSink is read back through FeatureSource, opened by the same URL
// scheme (the OpenSource of its Register): eval, `pipeline features ...`,
// `pipeline eval` and the quickstart read only through it, so a new sink is
// evaluated and verified without touching them. The pair follows arrow-go's
// readers and writers: ShardWriter appends batches of rows, ShardReader
// gives them back with Next/Batch/Err.

// ErrNoFeatures is wrapped when the given locations hold no rows (no unit at
// all, or units without rows).
var ErrNoFeatures = errors.New("no features")

// ReadOptions configure a FeatureSource.
type ReadOptions struct {
	// Store configures s3:// locations (zero: the standard AWS environment).
	Store store.Config
	// Mem allocates the transient Arrow buffers of sinks built on Arrow
	// (nil: memory.DefaultAllocator; tests pass a checked allocator). What
	// the readers return is plain Go memory.
	Mem memory.Allocator
}

// FeatureSource reads the units a FeatureSink wrote at a location. It is
// used by one goroutine at a time; the caller closes it.
type FeatureSource interface {
	// Units lists the committed units at the location in name order, each
	// named as the sink's Where names it (a file URL, ...); a location that
	// names one unit lists that one. Units not committed (temp files,
	// aborted writes) are never listed. A location that holds no unit is
	// an error wrapping ErrNoFeatures that names it.
	Units(ctx context.Context) ([]string, error)
	// Open opens one unit of Units for reading. It verifies what the sink
	// can verify before the first row (checksums, metadata, the row count
	// against the metadata): a damaged unit is an error naming it, never
	// rows that differ from those written. It may read the unit whole.
	Open(ctx context.Context, unit string) (ShardReader, error)
	// URL is the location the source was opened with.
	URL() string
	// Close releases the source (readers it opened are closed first).
	Close() error
}

// ShardReader reads one unit's rows in batches, in the order they were
// appended (arrow-go's reader model): Next advances to the next batch and
// returns false at the end or on an error, which Err then reports (naming
// the unit and what is wrong: row group, column). It is used by one
// goroutine at a time; the caller closes it.
type ShardReader interface {
	// Metadata is the unit's metadata (Rows included), known from Open.
	Metadata() Metadata
	Next() bool
	// Batch is the current batch. Its Labels and Feats are valid until
	// the next call of Next or Close (copy to keep them); Keys may be kept.
	Batch() Batch
	Err() error
	Close() error
}

// Batch is a run of rows, as ShardWriter.Append takes them: Feats holds
// len(Keys)*Layout.Dim floats, row-major.
type Batch struct {
	Keys   []string
	Labels []int64
	Feats  []float32
}

// SourceOpener opens a FeatureSource at url.
type SourceOpener func(ctx context.Context, url string, o ReadOptions) (FeatureSource, error)

// OpenSource opens the feature source registered for url's scheme. An
// unknown scheme is an error listing the known ones.
func OpenSource(ctx context.Context, url string, o ReadOptions) (FeatureSource, error) {
	if url == "" {
		return nil, fmt.Errorf("read features: empty location: %w", ErrNoFeatures)
	}
	s, ok := sinkFor(url)
	if !ok || s.OpenSource == nil {
		return nil, fmt.Errorf("read features %s: no feature source for scheme %q in this binary (have %q)", url, Scheme(url), readSchemes())
	}
	return s.OpenSource(ctx, url, o)
}

// Features is a set of feature rows read from one or more units.
type Features struct {
	Keys   []string
	Labels []int64
	// Data holds len(Keys)*Dim floats, row-major.
	Data []float32
	Dim  int
	// Files lists the units read, in order (feature files for
	// sinks/parquet); Meta their metadata.
	Files []string
	Meta  []Metadata
}

// Rows is the number of rows.
func (f *Features) Rows() int { return len(f.Keys) }

// Read appends every row of r, the reader of unit, to f. Every unit of a
// set must have the same dim: an error names the first unit that differs.
// It does not close r.
func (f *Features) Read(unit string, r ShardReader) error {
	md := r.Metadata()
	dim := md.Layout.Dim
	if len(f.Files) > 0 && dim != f.Dim {
		return fmt.Errorf("%s has features of dim %d but %s has dim %d", unit, dim, f.Files[0], f.Dim)
	}
	n0 := len(f.Keys)
	for r.Next() {
		b := r.Batch()
		if len(b.Labels) != len(b.Keys) || len(b.Feats) != len(b.Keys)*dim {
			return fmt.Errorf("%s: a batch of %d keys, %d labels and %d floats is not rows of dim %d", unit, len(b.Keys), len(b.Labels), len(b.Feats), dim)
		}
		f.Keys = append(f.Keys, b.Keys...)
		f.Labels = append(f.Labels, b.Labels...)
		f.Data = append(f.Data, b.Feats...)
	}
	if err := r.Err(); err != nil {
		return err
	}
	if got := int64(len(f.Keys) - n0); got != md.Rows {
		return fmt.Errorf("%s: metadata says %d rows, read %d", unit, md.Rows, got)
	}
	f.Dim = dim
	f.Files = append(f.Files, unit)
	f.Meta = append(f.Meta, md)
	return nil
}

// ReadFeatures reads every unit at urls (a unit, or a location of units
// read in name order: for sinks/parquet a .parquet file, a folder, an s3://
// prefix), each through the source its scheme registered, and concatenates
// their rows. No rows at all is an error wrapping ErrNoFeatures. It holds
// the whole set in memory (rows x dim float32).
func ReadFeatures(ctx context.Context, o ReadOptions, urls ...string) (*Features, error) {
	if len(urls) == 0 {
		return nil, fmt.Errorf("read features: no location given: %w", ErrNoFeatures)
	}
	out := &Features{}
	err := eachUnit(ctx, o, urls, func(src FeatureSource, unit string) error {
		r, err := src.Open(ctx, unit)
		if err != nil {
			return err
		}
		defer r.Close()
		return out.Read(unit, r)
	})
	if err != nil {
		return nil, err
	}
	if out.Rows() == 0 {
		return nil, fmt.Errorf("read features %s: %w", strings.Join(urls, ", "), ErrNoFeatures)
	}
	return out, nil
}

// UnitInfo is what Inspect learns of one unit.
type UnitInfo struct {
	// Path names the unit (as Units lists it).
	Path string
	// Meta is the unit's metadata (Rows included); zero when Err is set.
	Meta Metadata
	// Err is why the unit cannot be read (damaged, not one of the sink's,
	// unreadable); the walk goes on.
	Err error
}

// Inspect opens every unit at urls (as ReadFeatures finds them), which
// verifies it (FeatureSource.Open), and returns one UnitInfo per unit in
// order without reading the rows. A location that cannot be listed is an
// error; a bad unit is reported in its UnitInfo. It opens one unit at a time.
func Inspect(ctx context.Context, o ReadOptions, urls ...string) ([]UnitInfo, error) {
	var infos []UnitInfo
	err := eachUnit(ctx, o, urls, func(src FeatureSource, unit string) error {
		info := UnitInfo{Path: unit}
		r, err := src.Open(ctx, unit)
		if err == nil {
			info.Meta = r.Metadata()
			err = r.Close()
		}
		info.Err = err
		infos = append(infos, info)
		return nil
	})
	return infos, err
}

// eachUnit opens each location's source and calls f for its units in order.
func eachUnit(ctx context.Context, o ReadOptions, urls []string, f func(FeatureSource, string) error) error {
	for _, url := range urls {
		err := func() error {
			src, err := OpenSource(ctx, url, o)
			if err != nil {
				return err
			}
			defer src.Close()
			units, err := src.Units(ctx)
			if err != nil {
				return err
			}
			for _, u := range units {
				if err := f(src, u); err != nil {
					return err
				}
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// Schemes lists, sorted, the URL schemes this binary has a FeatureSink for
// (write) and a FeatureSource for (read). Every sink is read back by the
// scheme it is written with: stages/all's test checks that the two agree.
func Schemes() (write, read []string) { return bySchemes.Names(), readSchemes() }

// readSchemes lists, sorted, the schemes whose sink can be read.
func readSchemes() []string {
	var read []string
	for _, scheme := range bySchemes.Names() {
		if s, ok := sinkForScheme(scheme); ok && s.OpenSource != nil {
			read = append(read, scheme)
		}
	}
	return read
}
