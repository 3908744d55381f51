package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
)

// writeShards writes nShards WebDataset shards of perShard samples under
// prefix ("<prefix>part-%06d.tar"); sample keys are "s<global index>".
func writeShards(t testing.TB, b store.Bucket, prefix string, nShards, perShard int, index bool) {
	t.Helper()
	ctx := context.Background()
	w, err := ingest.NewShardWriter(ctx, b, prefix+"part-%06d.tar", perShard)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < nShards*perShard; i++ {
		s := &ingest.Sample{Key: fmt.Sprintf("s%05d", i), Ext: "png", Data: []byte(fmt.Sprintf("image-%d", i)), Label: int64(i % 10)}
		if err := w.Write(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !index {
		if err := b.Delete(ctx, prefix+ingest.IndexName); err != nil {
			t.Fatal(err)
		}
	}
}

type got struct {
	key string
	pos ingest.Position
}

// collect runs a source to the end (or max samples) and returns what it emitted.
func collect(t testing.TB, cfg ingest.Config, opts ingest.SourceOptions, max int) ([]got, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := ingest.NewSource(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var out []got
	errStop := errors.New("stop")
	err = src.Run(ctx, func(_ context.Context, item any) error {
		s := item.(*ingest.Sample)
		var n int
		fmt.Sscanf(s.Key, "s%d", &n)
		if string(s.Data) != fmt.Sprintf("image-%d", n) || s.Label != int64(n%10) || s.Ext != "png" {
			t.Fatalf("sample %s carries %q", s.Key, s.Data)
		}
		out = append(out, got{s.Key, s.Pos})
		if max > 0 && len(out) == max {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return out, err
}

func localConfig(t testing.TB, dir string) ingest.Config {
	cfg := ingest.DefaultConfig()
	cfg.Shards = []string{dir + "/part-{000000..000009}.tar"}
	cfg.Rank, cfg.WorldSize = 0, 1
	return cfg
}

func TestSourceEpochCoversEverySampleOnce(t *testing.T) {
	dir := t.TempDir()
	b, _ := store.NewLocal(dir)
	writeShards(t, b, "", 10, 13, true)
	for _, tc := range []struct {
		name                              string
		world, workers, shuffle, prefetch int
	}{
		{"plain", 1, 1, 0, 0},
		{"shuffled", 1, 1, 20, 2},
		{"workers", 1, 3, 7, 1},
		{"ranks", 3, 2, 5, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := localConfig(t, dir)
			cfg.ShuffleBuffer, cfg.Prefetch = tc.shuffle, tc.prefetch
			seen := map[string]int{}
			for rank := 0; rank < tc.world; rank++ {
				opts := ingest.SourceOptions{Seed: 7, Rank: rank, World: tc.world, Workers: tc.workers, Epochs: 1}
				a, err := collect(t, cfg, opts, 0)
				if err != nil {
					t.Fatal(err)
				}
				b, err := collect(t, cfg, opts, 0)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(a, b) {
					t.Fatalf("rank %d: two runs differ", rank)
				}
				for i, g := range a {
					seen[g.key]++
					if g.pos != (ingest.Position{Epoch: 0, Seq: int64(i)}) {
						t.Fatalf("rank %d sample %d has position %+v", rank, i, g.pos)
					}
				}
			}
			if len(seen) != 130 {
				t.Fatalf("saw %d distinct samples, want 130", len(seen))
			}
			for k, n := range seen {
				if n != 1 {
					t.Fatalf("sample %s seen %d times", k, n)
				}
			}
		})
	}
}

func TestSourceOrderChangesWithSeedAndEpoch(t *testing.T) {
	dir := t.TempDir()
	b, _ := store.NewLocal(dir)
	writeShards(t, b, "", 10, 5, true)
	cfg := localConfig(t, dir)
	cfg.ShuffleBuffer = 10
	run := func(seed int64) []got {
		out, err := collect(t, cfg, ingest.SourceOptions{Seed: seed, World: 1, Epochs: 2}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b2 := run(1), run(2)
	keys := func(g []got) (out []string) {
		for _, x := range g {
			out = append(out, x.key)
		}
		return out
	}
	if slices.Equal(keys(a), keys(b2)) {
		t.Fatal("seeds 1 and 2 give the same order")
	}
	if slices.Equal(keys(a[:50]), keys(a[50:])) {
		t.Fatal("epochs 0 and 1 give the same order")
	}
}

// TestSourceResumeExact opens the source at many positions and checks that it
// yields exactly the rest of the uninterrupted run, with shuffle buffer,
// several workers, prefetch, and with and without the index sidecar.
func TestSourceResumeExact(t *testing.T) {
	for _, index := range []bool{true, false} {
		t.Run(fmt.Sprintf("index=%v", index), func(t *testing.T) {
			dir := t.TempDir()
			b, _ := store.NewLocal(dir)
			writeShards(t, b, "", 10, 11, index)
			cfg := localConfig(t, dir)
			cfg.ShuffleBuffer, cfg.Prefetch = 9, 2
			for _, workers := range []int{1, 3} {
				opts := ingest.SourceOptions{Seed: 3, Rank: 1, World: 2, Workers: workers, Epochs: 2}
				full, err := collect(t, cfg, opts, 0)
				if err != nil {
					t.Fatal(err)
				}
				perEpoch := 0
				for _, g := range full {
					if g.pos.Epoch == 0 {
						perEpoch++
					}
				}
				starts := []int{0, 1, 8, 9, 10, 11, 23, perEpoch / 2, perEpoch - 9, perEpoch - 1, perEpoch, perEpoch + 5, len(full) - 1}
				for _, at := range starts {
					start := full[at].pos
					rest, err := collect(t, cfg, ingest.SourceOptions{Seed: 3, Rank: 1, World: 2, Workers: workers, Epochs: 2, Start: start}, 0)
					if err != nil {
						t.Fatalf("workers=%d start=%+v: %v", workers, start, err)
					}
					if !slices.Equal(rest, full[at:]) {
						t.Fatalf("workers=%d start=%+v: resumed run yields %d samples %v..., want %d %v...",
							workers, start, len(rest), head(rest), len(full[at:]), head(full[at:]))
					}
				}
				// Resuming at the end of an epoch goes on with the next one.
				rest, err := collect(t, cfg, ingest.SourceOptions{Seed: 3, Rank: 1, World: 2, Workers: workers, Epochs: 2, Start: ingest.Position{Epoch: 0, Seq: int64(perEpoch)}}, 0)
				if err != nil || !slices.Equal(rest, full[perEpoch:]) {
					t.Fatalf("resume at epoch end: %v", err)
				}
			}
		})
	}
}

func head(g []got) []got { return g[:min(4, len(g))] }

func TestCountSamples(t *testing.T) {
	for _, index := range []bool{true, false} {
		dir := t.TempDir()
		b, _ := store.NewLocal(dir)
		writeShards(t, b, "", 10, 7, index)
		n, err := ingest.CountSamples(context.Background(), localConfig(t, dir))
		if err != nil || n != 70 {
			t.Fatalf("index=%v: CountSamples = %d, %v; want 70", index, n, err)
		}
	}
}

// TestShardListResolvedOnceKeepsCounts: a list counted before the Source is
// built (a train job's iterations per epoch) hands the Source its counts,
// so the Source reads no shard to count again; a list of another config is
// refused; Close is idempotent.
func TestShardListResolvedOnceKeepsCounts(t *testing.T) {
	dir := t.TempDir()
	b, _ := store.NewLocal(dir)
	writeShards(t, b, "", 10, 5, false) // no index sidecars: counting reads the shards
	cfg := localConfig(t, dir)
	ctx := context.Background()
	list, err := ingest.ResolveShards(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := list.CountSamples(ctx); err != nil || n != 50 || list.Len() != 10 {
		t.Fatalf("CountSamples = %d, %v over %d shards; want 50 over 10", n, err, list.Len())
	}
	src, err := ingest.NewSource(ctx, cfg, ingest.SourceOptions{Seed: 1, World: 1, Shards: list})
	if err != nil {
		t.Fatal(err)
	}
	if !src.CountsKnown() {
		t.Error("the Source built on a counted list does not know the counts")
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := list.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}

	other, err := ingest.ResolveShards(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wrong := cfg
	wrong.Shards = []string{cfg.Shards[0] + "-elsewhere"}
	if _, err := ingest.NewSource(ctx, wrong, ingest.SourceOptions{Seed: 1, World: 1, Shards: other}); err == nil || !strings.Contains(err.Error(), "resolved from") {
		t.Errorf("a list of another config = %v, want an error naming both", err)
	}
}

func TestRankEpochSamples(t *testing.T) {
	dir := t.TempDir()
	b, _ := store.NewLocal(dir)
	writeShards(t, b, "", 10, 7, true)
	cfg := localConfig(t, dir)
	for epoch := 0; epoch < 2; epoch++ {
		var counts []int64
		for rank := 0; rank < 3; rank++ {
			src, err := ingest.NewSource(context.Background(), cfg, ingest.SourceOptions{Seed: 9, Rank: rank, World: 3, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			all, err := src.RankEpochSamples(context.Background(), epoch)
			if err != nil {
				t.Fatal(err)
			}
			mine, _ := src.EpochSamples(context.Background(), epoch)
			src.Close()
			if all[rank] != mine {
				t.Fatalf("epoch %d rank %d: RankEpochSamples says %d, EpochSamples %d", epoch, rank, all[rank], mine)
			}
			counts = all
		}
		if counts[0]+counts[1]+counts[2] != 70 {
			t.Fatalf("counts %v do not add up to 70", counts)
		}
	}
}

// TestSourceStopsCleanly stops consuming early (an emit error, then a
// cancelled context) with several workers and prefetching readers still
// busy: Run must return promptly with the error and leave no goroutine.
func TestSourceStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	b, _ := store.NewLocal(dir)
	writeShards(t, b, "", 10, 50, true)
	cfg := localConfig(t, dir)
	cfg.Prefetch, cfg.ShuffleBuffer = 3, 5
	before := runtime.NumGoroutine()
	boom := errors.New("boom")
	for _, stop := range []string{"emit error", "cancel"} {
		ctx, cancel := context.WithCancel(context.Background())
		src, err := ingest.NewSource(ctx, cfg, ingest.SourceOptions{Seed: 1, World: 1, Workers: 3})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		err = src.Run(ctx, func(_ context.Context, item any) error {
			if n++; n == 20 {
				if stop == "cancel" {
					cancel()
					return ctx.Err()
				}
				return boom
			}
			return nil
		})
		cancel()
		src.Close()
		if err == nil || (stop == "emit error" && !errors.Is(err, boom)) || (stop == "cancel" && !errors.Is(err, context.Canceled)) {
			t.Fatalf("%s: Run returned %v", stop, err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Fatalf("%d goroutines left running (had %d)", g, before)
	}
}
