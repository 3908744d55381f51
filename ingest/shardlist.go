package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/swavgo/swav/ingest/store"
)

// IndexName is the sidecar `shards make` writes next to its shards: sample
// counts and sizes per shard, so that counting and resuming need no reads.
const IndexName = "index.json"

// ShardIndex is the content of an index sidecar.
type ShardIndex struct {
	Version int                   `json:"version"`
	Shards  map[string]IndexEntry `json:"shards"` // by base name
}

// IndexEntry describes one shard in an index sidecar.
type IndexEntry struct {
	Samples int64 `json:"samples"`
	Bytes   int64 `json:"bytes"`
}

// shardRef is one resolved shard in a shard list.
type shardRef struct {
	Shard
	format string // its registered Format's name
	listed bool   // made by the format's List: no object of its own
	count  int64  // sample slots, -1 until known (Source.countMu guards it)
	// indexBytes is the size the index sidecar records, -1 without one.
	indexBytes int64
}

// shardSet is the resolved shard list of a Config and the buckets it opened.
type shardSet struct {
	shards  []*shardRef
	buckets []store.Bucket
}

func (s *shardSet) Close() error {
	var errs []error
	for _, b := range s.buckets {
		errs = append(errs, b.Close())
	}
	return errors.Join(errs...)
}

// ExpandBraces expands brace ranges and lists: "a-{000..002}.tar" gives
// a-000.tar, a-001.tar, a-002.tar (zero-padded to the width of the bounds);
// "x.{tar,parquet}" gives x.tar, x.parquet. Braces nest and repeat.
func ExpandBraces(s string) ([]string, error) {
	open := strings.IndexByte(s, '{')
	if open < 0 {
		return []string{s}, nil
	}
	depth, closeAt := 0, -1
	for i := open; i < len(s) && closeAt < 0; i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 {
				closeAt = i
			}
		}
	}
	if closeAt < 0 {
		return nil, fmt.Errorf("shard pattern %q: unclosed '{' at byte %d", s, open)
	}
	head, body, tail := s[:open], s[open+1:closeAt], s[closeAt+1:]
	var alts []string
	if lo, hi, ok := strings.Cut(body, ".."); ok && !strings.ContainsAny(body, "{,") {
		a, errA := strconv.Atoi(lo)
		b, errB := strconv.Atoi(hi)
		if errA != nil || errB != nil || a > b || a < 0 {
			return nil, fmt.Errorf("shard pattern %q: bad range {%s}", s, body)
		}
		if b-a > 10_000_000 {
			return nil, fmt.Errorf("shard pattern %q: range {%s} too large", s, body)
		}
		width := 0
		if len(lo) > 1 && lo[0] == '0' || len(lo) == len(hi) {
			width = len(lo)
		}
		for i := a; i <= b; i++ {
			alts = append(alts, fmt.Sprintf("%0*d", width, i))
		}
	} else {
		alts = splitTopLevel(body)
	}
	var out []string
	for _, alt := range alts {
		exp, err := ExpandBraces(head + alt + tail)
		if err != nil {
			return nil, err
		}
		out = append(out, exp...)
	}
	return out, nil
}

// splitTopLevel splits on commas outside nested braces.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func hasGlobMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// resolveShards expands cfg.Shards into the shard list, in the order given
// (a pattern's matches sorted by name). It opens one store.Bucket per distinct
// store and reads the index sidecars of the folders involved.
func resolveShards(ctx context.Context, cfg *Config) (*shardSet, error) {
	set := &shardSet{}
	buckets := map[string]store.Bucket{}
	open := func(u string) (store.Bucket, string, error) {
		b, prefix, err := store.Open(ctx, u, cfg.Store)
		if err != nil {
			return nil, "", err
		}
		if old, ok := buckets[b.Name()]; ok {
			b.Close()
			return old, prefix, nil
		}
		buckets[b.Name()] = b
		set.buckets = append(set.buckets, b)
		return b, prefix, nil
	}
	fail := func(err error) (*shardSet, error) {
		set.Close()
		return nil, err
	}
	for i, entry := range cfg.Shards {
		urls, err := ExpandBraces(entry)
		if err != nil {
			return fail(fmt.Errorf("data.shards[%d]: %w", i, err))
		}
		for _, u := range urls {
			b, key, err := open(u)
			if err != nil {
				return fail(fmt.Errorf("data.shards[%d]: %w", i, err))
			}
			refs, err := resolveOne(ctx, cfg, b, key)
			if err != nil {
				return fail(fmt.Errorf("data.shards[%d] %q: %w", i, u, err))
			}
			set.shards = append(set.shards, refs...)
		}
	}
	if len(set.shards) == 0 {
		return fail(fmt.Errorf("data.shards %v: no shard found", cfg.Shards))
	}
	if err := applyIndexes(ctx, set.shards); err != nil {
		return fail(err)
	}
	return set, nil
}

// resolveOne resolves one expanded URL: a glob, a folder, a prefix or one
// explicit shard.
func resolveOne(ctx context.Context, cfg *Config, b store.Bucket, key string) ([]*shardRef, error) {
	ref := func(name string, size int64, format string) *shardRef {
		return &shardRef{Shard: Shard{Bucket: b, Name: name, URL: store.ObjectURL(b, name), Size: size, Samples: -1}, format: format, count: -1, indexBytes: -1}
	}
	fs := currentFormats()
	if f, ok := formats.Lookup(cfg.Format); ok && f.List != nil {
		return listShards(ctx, cfg, cfg.Format, f, b, key)
	}
	want := func(name string) string {
		f := fs.ofName(name)
		if cfg.Format != AutoFormat && f != "" {
			return cfg.Format
		}
		return f
	}
	if hasGlobMeta(key) {
		pat := key
		listPrefix := key[:strings.IndexAny(key, "*?[")]
		if _, err := path.Match(pat, ""); err != nil {
			return nil, fmt.Errorf("bad glob: %w", err)
		}
		var out []*shardRef
		err := b.Iter(ctx, listPrefix, func(o store.ObjectInfo) error {
			if ok, _ := path.Match(pat, o.Name); ok && path.Base(o.Name) != IndexName {
				out = append(out, ref(o.Name, o.Size, orDefault(want(o.Name), cfg.Format)))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("glob matches no object under %s", store.ObjectURL(b, listPrefix))
		}
		return out, nil
	}
	if fs.namesOne(cfg, key) {
		return []*shardRef{ref(key, -1, want(key))}, nil // explicit shard: errors surface when read
	}
	// A prefix: every shard under it; when there is none, a folder of the
	// first listing format that recognises an object under it (images).
	var out []*shardRef
	lister := -1
	err := b.Iter(ctx, key, func(o store.ObjectInfo) error {
		if f := want(o.Name); f != "" {
			out = append(out, ref(o.Name, o.Size, f))
			return nil
		}
		for i, l := range fs.listers {
			if (lister < 0 || i < lister) && l.Detect != nil && l.Detect(o.Name) {
				lister = i
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 && lister >= 0 && cfg.Format == AutoFormat {
		l := fs.listers[lister]
		return listShards(ctx, cfg, l.name, l.Format, b, key)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no %s shard under %s: %w", fs.exts(), store.ObjectURL(b, key), store.ErrNotExist)
	}
	return out, nil
}

// namesOne reports whether key (after brace expansion) names one shard
// file, as resolveOne reads it: no glob, a name with a shard format's
// extension, and no listing format (a folder of images) configured.
func (fs formatSet) namesOne(cfg *Config, key string) bool {
	if f, ok := formats.Lookup(cfg.Format); ok && f.List != nil {
		return false
	}
	return !hasGlobMeta(key) && fs.ofName(key) != ""
}

// NamedShards expands one data.shards entry into the shard URLs it names
// file by file (brace ranges expanded), with the same reading as the
// source: named is false when any part is a glob, a folder or prefix, or a
// folder of a listing format, which only a listing resolves. It does no I/O.
func NamedShards(cfg *Config, entry string) (urls []string, named bool, err error) {
	urls, err = ExpandBraces(entry)
	if err != nil {
		return nil, false, err
	}
	fs := currentFormats()
	for _, u := range urls {
		if !fs.namesOne(cfg, u) {
			return nil, false, nil
		}
	}
	return urls, true, nil
}

// listShards resolves a folder with its format's List.
func listShards(ctx context.Context, cfg *Config, name string, f Format, b store.Bucket, prefix string) ([]*shardRef, error) {
	shards, err := f.List(ctx, b, prefix, cfg)
	if err != nil {
		return nil, err
	}
	out := make([]*shardRef, len(shards))
	for i, s := range shards {
		out[i] = &shardRef{Shard: s, format: name, listed: true, count: s.Samples, indexBytes: -1}
	}
	return out, nil
}

func orDefault(f, d string) string {
	if f == "" {
		return d
	}
	return f
}

// applyIndexes fills counts and sizes from the index sidecars of the
// shards' folders. An entry that records fewer bytes than the listed size is
// stale (the shard was rewritten) and ignored; one that records more is kept:
// the shard is short, and its reader (checkedReader) reports it incomplete
// and accounts for the samples it lacks.
func applyIndexes(ctx context.Context, shards []*shardRef) error {
	type dirKey struct{ bucket, dir string }
	cache := map[dirKey]*ShardIndex{}
	for _, s := range shards {
		if s.listed {
			continue
		}
		dir := path.Dir(s.Name)
		k := dirKey{s.Bucket.Name(), dir}
		idx, seen := cache[k]
		if !seen {
			var err error
			idx, err = readIndex(ctx, s.Bucket, path.Join(dir, IndexName))
			if err != nil {
				return fmt.Errorf("shard %s: %w", s.URL, err)
			}
			cache[k] = idx
		}
		if idx == nil {
			continue
		}
		if e, ok := idx.Shards[path.Base(s.Name)]; ok && (s.Size < 0 || s.Size <= e.Bytes) {
			s.count, s.indexBytes = e.Samples, e.Bytes
		}
	}
	return nil
}

// readIndex reads an index sidecar; a missing one gives nil, nil.
func readIndex(ctx context.Context, b store.Bucket, name string) (*ShardIndex, error) {
	rc, err := b.Get(ctx, name)
	if store.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", store.ObjectURL(b, name), err)
	}
	var idx ShardIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("index sidecar %s: %w", store.ObjectURL(b, name), err)
	}
	return &idx, nil
}

// WriteIndex merges entries into the index sidecar of folder dir in b
// (written atomically), keeping the entries of other shards.
func WriteIndex(ctx context.Context, b store.Bucket, dir string, entries map[string]IndexEntry) error {
	name := path.Join(dir, IndexName)
	idx, err := readIndex(ctx, b, name)
	if err != nil {
		return err
	}
	if idx == nil {
		idx = &ShardIndex{Version: 1, Shards: map[string]IndexEntry{}}
	}
	for k, v := range entries {
		idx.Shards[k] = v
	}
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return b.Upload(ctx, name, strings.NewReader(string(data)+"\n"))
}
