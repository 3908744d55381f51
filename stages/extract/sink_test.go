package extract

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/swavgo/swav/sinks"
)

// memSink is a whole feature sink in a test: the seam stages/extract writes
// through, registered for the "memtest" scheme, as a vector database's
// sink would be in its own package.
type memSink struct {
	url string
	mu  sync.Mutex
	// units maps a shard to its committed rows' keys.
	units map[string][]string
}

var memSinks sync.Map // url -> *memSink

func init() {
	sinks.Register("memtest", sinks.Sink{Schemes: []string{"memtest"}, Open: func(_ context.Context, url string, _ sinks.Options) (sinks.FeatureSink, error) {
		s, _ := memSinks.LoadOrStore(url, &memSink{url: url, units: map[string][]string{}})
		return s.(*memSink), nil
	}})
}

func (s *memSink) Done(_ context.Context, shard string, _ sinks.Metadata) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.units[shard]
	return ok, nil
}

func (s *memSink) Begin(_ context.Context, shard string, md sinks.Metadata) (sinks.ShardWriter, error) {
	return &memWriter{sink: s, shard: shard, dim: md.Layout.Dim}, nil
}

func (s *memSink) Where(shard string) string { return s.url + "/" + filepath.Base(shard) }
func (s *memSink) URL() string               { return s.url }
func (s *memSink) Close() error              { return nil }

type memWriter struct {
	sink  *memSink
	shard string
	dim   int
	keys  []string
}

func (w *memWriter) Append(keys []string, _ []int64, feats []float32) error {
	if len(feats) != len(keys)*w.dim {
		return fmt.Errorf("%d floats for %d rows of %d", len(feats), len(keys), w.dim)
	}
	w.keys = append(w.keys, keys...)
	return nil
}

func (w *memWriter) Commit(context.Context) error {
	w.sink.mu.Lock()
	defer w.sink.mu.Unlock()
	w.sink.units[w.shard] = w.keys
	return nil
}

func (w *memWriter) Abort()       {}
func (w *memWriter) Path() string { return w.sink.Where(w.shard) }

// TestExtractWritesThroughTheSinkSeam runs an extraction into a sink that
// is not Parquet: stages/extract reaches it by its URL's scheme alone, and
// a rerun asks it which shards are done.
func TestExtractWritesThroughTheSinkSeam(t *testing.T) {
	dir := t.TempDir()
	shards := makeShards(t, filepath.Join(dir, "shards"), 2, -1)
	ck := saveCheckpoint(t, filepath.Join(dir, "ck"), smallModel)
	job := testJob(shards, "memtest://"+t.Name(), ck)
	t.Cleanup(func() { memSinks.Delete("memtest://" + t.Name()) }) // for -count=N
	res, err := run(t, job)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := memSinks.Load("memtest://" + t.Name())
	s := v.(*memSink)
	if len(s.units) != 2 || res.Rows != 2*perShard {
		t.Fatalf("units %d, rows %d; want 2 units of %d rows", len(s.units), res.Rows, perShard)
	}
	for shard, keys := range s.units {
		if len(keys) != perShard {
			t.Errorf("%s: %d rows, want %d", shard, len(keys), perShard)
		}
	}
	res, err = run(t, job)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 0 || len(res.Files) != 0 {
		t.Errorf("rerun wrote %d rows to %v, want nothing (every shard done)", res.Rows, res.Files)
	}
}
