package ingest_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swavgo/swav/ingest"
)

// FuzzShard reads arbitrary bytes as a WebDataset tar shard or as a Hugging
// Face-style Parquet shard through the public Source, as training does.
// Nothing may panic (a panic in a worker comes back as an error saying
// "panic": a finding), and a run either ends or fails naming the shard.
func FuzzShard(f *testing.F) {
	dir := f.TempDir()
	f.Add(writeTar(f, "", []tarMember{{"k1.png", "\x89PNG\r\n\x1a\npixels"}, {"k1.cls", "1"}, {"a/k2.jpg", "jpeg"}, {"a/k2.cls", "2"}}), false)
	cut := writeTar(f, "", cutSamples)
	f.Add(cut[:len(cut)/2], false)   // inside a member
	f.Add(cut[:len(cut)-700], false) // inside the end-of-archive blocks
	pq := filepath.Join(dir, "seed.parquet")
	writeParquet(f, pq, "image", 9)
	seed, err := os.ReadFile(pq)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed, true)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte, parquet bool) {
		name := fmt.Sprintf("shard-%d.tar", n.Add(1))
		if parquet {
			name = strings.TrimSuffix(name, ".tar") + ".parquet"
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(p)
		cfg := oneShard(p)
		cfg.SkipBudget = -1
		type result struct {
			got []string
			err error
		}
		done := make(chan result, 1)
		go func() { g, e := collect2(t, cfg); done <- result{g, e} }()
		var r result
		select {
		case r = <-done:
		case <-time.After(5 * time.Second):
			os.WriteFile(filepath.Join(os.TempDir(), "hang-"+name), data, 0o644)
			t.Fatalf("reading %d bytes as %s hangs", len(data), name)
		}
		got, err := r.got, r.err
		if err != nil {
			if strings.Contains(err.Error(), "panic") {
				t.Fatalf("reader panicked: %v", err)
			}
			if !strings.Contains(err.Error(), name) && !errors.Is(err, ingest.ErrSkipBudget) {
				t.Fatalf("error does not name the shard %s: %v", name, err)
			}
			return
		}
		for _, s := range got {
			if len(s) > len(data)+64 && !bytes.Contains(data, []byte(s[:8])) {
				t.Fatalf("sample larger than the shard: %.60q", s)
			}
		}
	})
}
