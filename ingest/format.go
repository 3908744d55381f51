package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/internal/registry"
	"github.com/swavgo/swav/internal/settings"
)

// Record is one sample slot of a shard: a Sample, or the key of a corrupt
// sample and why it is skipped (it keeps its slot in the sample order).
type Record struct {
	// Sample is the sample read, nil for a corrupt one. The reader hands it
	// over: the receiver owns it and Releases it (its Data may come from the
	// buffer pool, bufpool.go).
	Sample *Sample
	// Key is the sample's key, also for a corrupt one.
	Key string
	// Bad says why the sample is corrupt ("" when Sample is set).
	Bad string
	// Where locates the sample in the shard: "byte 1536", "row 12",
	// "file cat/1.jpg".
	Where string
	// Shard is the shard's URL.
	Shard string
	// Class is the skip class of a Bad record ("" means
	// SkipClassUnreadable).
	Class string
}

// The skip classes of the samples a Source skips (pipeline.Skipped.Class;
// the decoders' classes are augment.SkipReason's).
const (
	// SkipClassUnreadable: a corrupt sample (a bad member, label or row).
	SkipClassUnreadable = "unreadable"
	// SkipClassCutShard: a sample an incomplete shard cost: the one cut or
	// possibly cut short, and each one its index lists but that was not
	// there to read.
	SkipClassCutShard = "cut-shard"
)

// ErrIncompleteShard is wrapped by IncompleteShardError.
var ErrIncompleteShard = errors.New("incomplete shard")

// IncompleteShardError is a ShardReader's Err when the shard stops before
// its format's end (a tar without its end-of-archive blocks), or, from a
// Source, when it holds fewer bytes than its index sidecar says. The
// records read before it are valid; those the cut may have damaged come as
// Bad records of class SkipClassCutShard. A Source records it and goes on;
// other callers treat it as the error it is.
type IncompleteShardError struct {
	// Shard is the shard's URL.
	Shard string
	// At is the byte offset where the shard stops (-1 when unknown).
	At int64
	// Reason says where and how ("ends at byte 2000 inside member ...").
	Reason string
	// Lost is false when every sample was read all the same (a cut inside
	// the end-of-archive blocks or the padding after them).
	Lost bool
}

func (e *IncompleteShardError) Error() string {
	return fmt.Sprintf("shard %s is incomplete: it %s", e.Shard, e.Reason)
}

func (e *IncompleteShardError) Unwrap() error { return ErrIncompleteShard }

// ShardReader reads the records of one shard in order, in arrow-go's
// RecordReader shape:
//
//	for rd.Next() {
//		rec := rd.Record()
//		...
//	}
//	if err := rd.Err(); err != nil { ... }
//
// A reader is used by one goroutine. Next reads the next record and reports
// false at the end of the shard or on an error. Record returns the record
// Next read; its Sample now belongs to the caller. Err is the error that
// stopped Next (nil at a clean end): fatal for the run, it names the shard
// and, where it applies, the member, byte offset or row. Close releases the
// object body or file, whatever Next returned; the caller must call it.
type ShardReader interface {
	Next() bool
	Record() Record
	Err() error
	Close() error
}

// readerState is the current record and the error of a ShardReader: the
// readers of this package embed it for Record and Err.
type readerState struct {
	rec Record
	err error
}

// Record implements ShardReader.
func (s *readerState) Record() Record { return s.rec }

// Err implements ShardReader.
func (s *readerState) Err() error { return s.err }

// Shard is one resolved shard, as its Format opens it. It does not change
// once resolved.
type Shard struct {
	// Bucket serves the shard.
	Bucket store.Bucket
	// Name is the shard's object name in Bucket; for a shard made by a
	// format's List, its id ("train/#part-000003").
	Name string
	// URL names the shard in every message about it.
	URL string
	// Size is the object's size in bytes, -1 when unknown.
	Size int64
	// Samples is the number of sample slots when the listing knows it (a
	// List-made shard), else -1.
	Samples int64
	// Parts is what the format's List attached to the shard (an image
	// folder's files and labels); nil for a shard that is one object.
	Parts any
}

// Format is one shard format: how its shards are recognised and how one is
// read. Each format registers itself (RegisterFormat) in its file's init;
// data.format validation, shard listing and the readers consult the
// registry, so a new format is one file and its registration.
type Format struct {
	// Ext is the lower-case object-name extension that marks the format's
	// shards (".tar"), matched regardless of case: data.format auto picks the
	// format by it, prefixes and globs list such objects. Empty for a format
	// whose shards List makes.
	Ext string
	// Open opens a reader on one shard; its errors name s.URL. It must not
	// read the whole shard up front: readers stream.
	Open func(ctx context.Context, s Shard, cfg *Config) (ShardReader, error)
	// List, when set, makes the format's shards from the objects under a
	// folder prefix itself (image folders: virtual shards of
	// data.folder.shard_size files with known Samples) instead of one
	// object per shard. data.format naming the format resolves every URL
	// with it.
	List func(ctx context.Context, b store.Bucket, prefix string, cfg *Config) ([]Shard, error)
	// Detect, with List, recognises an object such a folder holds (an image
	// file): with data.format auto, a prefix holding no shard of an Ext
	// format but such objects is resolved with List.
	Detect func(objectName string) bool
	// Validate, when set, checks the settings the format reads when
	// data.format names it; errors are field errors relative to data
	// (field.Errorf("parquet.image_column", ...)).
	Validate func(cfg *Config) error
	// Settings is the typed defaults of the format's own sub-section of
	// the data section, under the format's name (ingest.ParquetConfig for
	// data.parquet), a struct value; nil if it has none. The loader decodes
	// the YAML key strictly into a copy of it (Config.Formats); the data
	// section runs its Validate method (on a pointer) when it has one.
	Settings any
}

// AutoFormat is the data.format that picks each shard's format by its
// extension (Format.Ext), or a listing format (Format.Detect) for a prefix.
const AutoFormat = "auto"

var formats = registry.New[Format]("shard format")

// RegisterFormat adds a shard format under name (data.format's value). It
// panics on a taken name or a Format with neither Ext nor List, or without
// Open: registration happens in init, so the binary fails at start.
func RegisterFormat(name string, f Format) {
	if name == AutoFormat || f.Open == nil || (f.Ext == "") == (f.List == nil) {
		panic(fmt.Sprintf("shard format %q: want a name other than %q, Open, and either Ext or List", name, AutoFormat))
	}
	formats.Register(name, f)
	if f.Settings != nil {
		settings.Register(Section, name, f.Settings)
	}
}

// FormatNames lists the registered shard formats, sorted (data.format takes
// them, and "auto").
func FormatNames() []string { return formats.Names() }

// knownFormats is the list an unknown format's error shows.
func knownFormats() string { return strings.Join(append([]string{AutoFormat}, FormatNames()...), ", ") }

// openShard opens a reader on one shard with its format's Open.
func openShard(ctx context.Context, s *shardRef, cfg *Config) (ShardReader, error) {
	f, ok := formats.Lookup(s.format)
	if !ok {
		return nil, fmt.Errorf("shard %s: unknown format %q (known: %s)", s.URL, s.format, knownFormats())
	}
	return f.Open(ctx, s.Shard, cfg)
}

// formatSet is a snapshot of the registry for one shard-list resolution:
// the formats recognised by extension and those that list folders, each in
// name order.
type formatSet struct {
	byExt   []namedFormat
	listers []namedFormat
}

type namedFormat struct {
	name string
	Format
}

func currentFormats() formatSet {
	var fs formatSet
	for _, name := range formats.Names() {
		f, _ := formats.Lookup(name)
		if f.Ext != "" {
			fs.byExt = append(fs.byExt, namedFormat{name, f})
		}
		if f.List != nil {
			fs.listers = append(fs.listers, namedFormat{name, f})
		}
	}
	return fs
}

// ofName returns the format of an object name from its extension ("" if it
// is no shard).
func (fs formatSet) ofName(name string) string {
	l := strings.ToLower(name)
	for _, f := range fs.byExt {
		if strings.HasSuffix(l, f.Ext) {
			return f.name
		}
	}
	return ""
}

// exts is the shard extensions for messages (".parquet or .tar").
func (fs formatSet) exts() string {
	e := make([]string, len(fs.byExt))
	for i, f := range fs.byExt {
		e[i] = f.Ext
	}
	if len(e) < 2 {
		return strings.Join(e, "")
	}
	return strings.Join(e[:len(e)-1], ", ") + " or " + e[len(e)-1]
}
