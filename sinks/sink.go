package sinks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/internal/registry"
	"github.com/swavgo/swav/internal/settings"
)

// Layout describes the feature column.
type Layout struct {
	// Kind is "trunk", "projection", "scores" or "raw" (pixels).
	Kind string `json:"kind"`
	// Dim is D, the number of floats per row.
	Dim int `json:"dim"`
	// Arch is the model architecture ("small", "resnet18", ...; "" for raw).
	Arch string `json:"arch"`
}

// Metadata is what a unit of feature output records about itself.
type Metadata struct {
	Checkpoint string
	ConfigHash string
	Layout     Layout
	Shard      string
	// Rows is filled by the reader (and by the writer on commit).
	Rows int64
}

// FeatureSink is where an extraction writes its rows: one unit of output
// per input shard (a Parquet file, a collection partition, ...), which
// appears whole on Commit or not at all. Implementations register an
// Opener by URL scheme (Register) and are opened with Open; stages/extract
// sees only this interface. A FeatureSink is used by one goroutine at a
// time; the caller closes it.
type FeatureSink interface {
	// Done reports whether shard's unit is complete and was written with
	// metadata matching want (checkpoint, config hash, layout): a rerun
	// skips it. A unit with other metadata is an error naming both.
	Done(ctx context.Context, shard string, want Metadata) (bool, error)
	// Begin starts shard's unit with md; nothing of it is visible until
	// the ShardWriter commits. It fails when the unit already exists:
	// with ErrWrittenByOther when it is this shard's complete output of
	// md's configuration, else with ErrConflict.
	Begin(ctx context.Context, shard string, md Metadata) (ShardWriter, error)
	// Where names the unit shard maps to (a file URL, ...): two shards with
	// the same Where would overwrite each other.
	Where(shard string) string
	// URL is the location the sink was opened with.
	URL() string
	// Close releases the sink; units not committed are not kept.
	Close() error
}

// ErrWrittenByOther is wrapped by Begin's or Commit's error when another
// attempt (a racing process, a requeued task) has committed the shard's unit
// first and the sink has checked that unit: complete, intact, the same
// shard, checkpoint, config hash and layout. The shard is done; the caller
// counts it as written by another attempt and goes on.
var ErrWrittenByOther = errors.New("already written by another attempt")

// ErrConflict is wrapped when the unit a write would create is already
// there and is not this shard's complete output of this configuration
// (another shard's, another config's, damaged): nothing is overwritten.
var ErrConflict = errors.New("feature output conflict")

// ShardWriter writes one shard's unit. Append buffers or streams rows;
// Commit makes the unit visible atomically and only if no unit of that name
// exists (a conditional write: of racing attempts exactly one lands); the
// loser's Commit fails with ErrWrittenByOther or ErrConflict as for Begin.
// Abort drops it (also after a failed Commit). It is used by one goroutine at a time.
type ShardWriter interface {
	// Append adds len(keys) rows; feats holds len(keys)*Layout.Dim floats,
	// row-major. The slices may be reused by the caller after it returns.
	Append(keys []string, labels []int64, feats []float32) error
	Commit(ctx context.Context) error
	Abort()
	// Path is where the unit lands (the same as the sink's Where).
	Path() string
}

// Options configure a sink: the object store (for s3:// locations) and the
// sinks' own settings, by sink name (the extract section's sub-sections:
// extract.parquet is sinks/parquet's Config); each sink reads its own with
// settings.Get and ignores the others'.
type Options struct {
	Store    store.Config
	Settings settings.Set
}

// Section is the job section whose sub-sections the sinks own (the extract
// kind's section): a sink's Settings are the sub-section keyed by its name.
const Section = "extract"

// Opener opens a FeatureSink at url.
type Opener func(ctx context.Context, url string, o Options) (FeatureSink, error)

// Sink is one feature sink's registration, both ways and with its
// settings: the URL schemes it serves ("s3" for s3://..., "file", or "" for
// a plain local path), how it opens a location for writing (Open) and for
// reading (OpenSource: eval, `pipeline features` and `pipeline eval` read
// through it; nil only for a test's write-only sink), and the typed
// defaults (a struct value) of its own sub-section extract.<name>, nil when
// it has none. The loader decodes that YAML key strictly into a copy of
// Settings and runs its Validate method (on a pointer) when it has one.
type Sink struct {
	Schemes    []string
	Open       Opener
	OpenSource SourceOpener
	Settings   any
}

var (
	sinksByName = registry.New[Sink]("sinks: feature sink")
	bySchemes   = registry.New[string]("sinks: feature sink scheme") // scheme -> sink name
)

// Register makes the sink name available for its schemes, written and
// read, and registers its settings. Sink packages call it from init; it
// panics on a name or a scheme registered twice.
func Register(name string, s Sink) {
	sinksByName.Register(name, s)
	for _, scheme := range s.Schemes {
		bySchemes.Register(scheme, name)
	}
	if s.Settings != nil {
		settings.Register(Section, name, s.Settings)
	}
}

// sinkFor returns the sink registered for url's scheme.
func sinkFor(url string) (Sink, bool) { return sinkForScheme(Scheme(url)) }

// sinkForScheme returns the sink registered for scheme.
func sinkForScheme(scheme string) (Sink, bool) {
	name, ok := bySchemes.Lookup(scheme)
	if !ok {
		return Sink{}, false
	}
	return sinksByName.Lookup(name)
}

// Scheme is url's scheme ("s3" for s3://bucket/prefix), "" for a plain path.
func Scheme(url string) string {
	if i := strings.Index(url, "://"); i > 0 {
		return url[:i]
	}
	return ""
}

// Open opens the feature sink registered for url's scheme. The binary
// links the sinks it offers (stages/all); an unknown scheme is an error
// listing the known ones.
func Open(ctx context.Context, url string, o Options) (FeatureSink, error) {
	if url == "" {
		return nil, fmt.Errorf("feature output: empty location")
	}
	s, ok := sinkFor(url)
	if !ok || s.Open == nil {
		return nil, fmt.Errorf("feature output %s: no sink for scheme %q in this binary (have %q)", url, Scheme(url), bySchemes.Names())
	}
	return s.Open(ctx, url, o)
}
