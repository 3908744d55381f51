// Package sinktest is what tests of feature sinks share: Mem, a whole
// feature sink in memory written and read through the seam (the model of a
// new sink: registered for mem:// URLs, it is evaluated and verified by
// eval and `pipeline features` without touching them), Write (one unit
// through any registered sink) and Run, the round trip every sink passes.
package sinktest

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/swavgo/swav/sinks"
)

// Scheme is Mem's URL scheme: "mem://name" is a location of units, kept
// for the life of the process.
const Scheme = "mem"

func init() {
	sinks.Register(Scheme, sinks.Sink{
		Schemes: []string{Scheme},
		Open: func(_ context.Context, url string, _ sinks.Options) (sinks.FeatureSink, error) {
			return &memSink{loc: location(url)}, nil
		},
		OpenSource: func(_ context.Context, url string, _ sinks.ReadOptions) (sinks.FeatureSource, error) {
			return &memSource{loc: location(url)}, nil
		},
	})
}

// memLoc is one location's committed units.
type memLoc struct {
	url   string
	mu    sync.Mutex
	units map[string]*memUnit // unit name -> rows
}

type memUnit struct {
	md     sinks.Metadata
	keys   []string
	labels []int64
	feats  []float32
}

var locations sync.Map // url -> *memLoc

// Forget drops the mem:// location url and its units, so that a test run
// again in the same process (go test -count=N) starts from an empty
// location. Write and Run call it when their test ends.
func Forget(url string) { locations.Delete(strings.TrimSuffix(url, "/")) }

func location(url string) *memLoc {
	url = strings.TrimSuffix(url, "/")
	l, _ := locations.LoadOrStore(url, &memLoc{url: url, units: map[string]*memUnit{}})
	return l.(*memLoc)
}

// unitName is a shard's unit: its base name without extension.
func unitName(shard string) string {
	base := path.Base(shard)
	if i := strings.Index(base, "."); i > 0 {
		base = base[:i]
	}
	return base
}

type memSink struct{ loc *memLoc }

func (s *memSink) Done(_ context.Context, shard string, want sinks.Metadata) (bool, error) {
	s.loc.mu.Lock()
	defer s.loc.mu.Unlock()
	u, ok := s.loc.units[unitName(shard)]
	if !ok {
		return false, nil
	}
	if u.md.ConfigHash != want.ConfigHash || u.md.Checkpoint != want.Checkpoint {
		return false, fmt.Errorf("%s already holds features of config %s: use another output location", s.Where(shard), u.md.ConfigHash)
	}
	return true, nil
}

func (s *memSink) Begin(ctx context.Context, shard string, md sinks.Metadata) (sinks.ShardWriter, error) {
	s.loc.mu.Lock()
	defer s.loc.mu.Unlock()
	if err := s.taken(shard, md); err != nil {
		return nil, err
	}
	return &memWriter{sink: s, shard: shard, u: &memUnit{md: md}}, nil
}

// taken is nil when shard's unit is free, else ErrWrittenByOther or
// ErrConflict (the caller holds the lock).
func (s *memSink) taken(shard string, md sinks.Metadata) error {
	u, ok := s.loc.units[unitName(shard)]
	switch {
	case !ok:
		return nil
	case u.md.Shard == md.Shard && u.md.ConfigHash == md.ConfigHash && u.md.Checkpoint == md.Checkpoint && u.md.Layout == md.Layout:
		return fmt.Errorf("%s: %w", s.Where(shard), sinks.ErrWrittenByOther)
	default:
		return fmt.Errorf("%s: %w: it holds shard %s", s.Where(shard), sinks.ErrConflict, u.md.Shard)
	}
}

func (s *memSink) Where(shard string) string { return s.loc.url + "/" + unitName(shard) }
func (s *memSink) URL() string               { return s.loc.url }
func (s *memSink) Close() error              { return nil }

type memWriter struct {
	sink  *memSink
	shard string
	u     *memUnit
	done  bool
}

func (w *memWriter) Append(keys []string, labels []int64, feats []float32) error {
	if w.done {
		return fmt.Errorf("%s: append after commit or abort", w.Path())
	}
	if len(labels) != len(keys) || len(feats) != len(keys)*w.u.md.Layout.Dim {
		return fmt.Errorf("%s: %d keys, %d labels and %d floats do not make rows of dim %d", w.Path(), len(keys), len(labels), len(feats), w.u.md.Layout.Dim)
	}
	w.u.keys = append(w.u.keys, keys...)
	w.u.labels = append(w.u.labels, labels...)
	w.u.feats = append(w.u.feats, feats...)
	return nil
}

func (w *memWriter) Commit(context.Context) error {
	if w.done {
		return fmt.Errorf("%s: commit after commit or abort", w.Path())
	}
	w.done = true
	l := w.sink.loc
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := w.sink.taken(w.shard, w.u.md); err != nil {
		return err
	}
	w.u.md.Rows = int64(len(w.u.keys))
	l.units[unitName(w.shard)] = w.u
	return nil
}

func (w *memWriter) Abort()       { w.done = true }
func (w *memWriter) Path() string { return w.sink.Where(w.shard) }

// memSource reads a location, or the one unit a URL names.
type memSource struct{ loc *memLoc }

// resolve is the location to read and, when url names a unit of its parent
// rather than a location, that unit's name.
func (s *memSource) resolve() (*memLoc, string) {
	s.loc.mu.Lock()
	n := len(s.loc.units)
	s.loc.mu.Unlock()
	if i := strings.LastIndex(s.loc.url, "/"); n == 0 && i > len(Scheme+"://") {
		if v, ok := locations.Load(s.loc.url[:i]); ok {
			p := v.(*memLoc)
			p.mu.Lock()
			_, has := p.units[s.loc.url[i+1:]]
			p.mu.Unlock()
			if has {
				return p, s.loc.url[i+1:]
			}
		}
	}
	return s.loc, ""
}

func (s *memSource) Units(context.Context) ([]string, error) {
	loc, one := s.resolve()
	if one != "" {
		return []string{s.loc.url}, nil
	}
	loc.mu.Lock()
	defer loc.mu.Unlock()
	if len(loc.units) == 0 {
		return nil, fmt.Errorf("read features: %s holds no units: %w", loc.url, sinks.ErrNoFeatures)
	}
	var units []string
	for name := range loc.units {
		units = append(units, loc.url+"/"+name)
	}
	slices.Sort(units)
	return units, nil
}

func (s *memSource) Open(_ context.Context, unit string) (sinks.ShardReader, error) {
	loc, _ := s.resolve()
	loc.mu.Lock()
	defer loc.mu.Unlock()
	name, _ := strings.CutPrefix(unit, loc.url+"/")
	u, ok := loc.units[name]
	if !ok {
		return nil, fmt.Errorf("read features: %s does not exist", unit)
	}
	return &memReader{u: u}, nil
}

func (s *memSource) URL() string  { return s.loc.url }
func (s *memSource) Close() error { return nil }

// memReader returns its unit two rows at a time (so that readers of the
// seam meet several batches).
type memReader struct {
	u    *memUnit
	next int
	cur  sinks.Batch
}

const memBatchRows = 2

func (r *memReader) Metadata() sinks.Metadata { return r.u.md }

func (r *memReader) Next() bool {
	if r.next >= len(r.u.keys) {
		return false
	}
	lo, hi, d := r.next, min(r.next+memBatchRows, len(r.u.keys)), r.u.md.Layout.Dim
	r.cur = sinks.Batch{Keys: r.u.keys[lo:hi], Labels: r.u.labels[lo:hi], Feats: r.u.feats[lo*d : hi*d]}
	r.next = hi
	return true
}

func (r *memReader) Batch() sinks.Batch { return r.cur }
func (r *memReader) Err() error         { return nil }
func (r *memReader) Close() error       { return nil }
