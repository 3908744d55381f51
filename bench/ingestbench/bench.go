// Package ingestbench measures the ingest stage against its anchor: a plain
// aws-sdk-go-v2 GetObject read loop over the same objects of a local
// versitygw, in the same run, plus the memory of long shard lists.
package ingestbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/sourcegraph/conc"
	"github.com/swavgo/swav/bench"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/s3local"
)

// Options size the benchmark.
type Options struct {
	Shards          int // shards in the throughput set
	SamplesPerShard int
	SampleBytes     int // encoded image size (random, incompressible)
	Rounds          int // alternating rounds of raw and ours; the median counts
	ListShards      int // the simulated ImageNet list (1,282)
}

// Default is the `pipeline bench ingest` setting: 24 shards of 100 x 110 KB
// (ImageNet-sized JPEGs), 7 rounds, a 1,282-shard list.
func Default() Options {
	return Options{Shards: 24, SamplesPerShard: 100, SampleBytes: 110_000, Rounds: 7, ListShards: 1282}
}

// Result holds the figures of one run.
type Result struct {
	RawMBps, OursMBps           float64
	RawSamplesPS, OursSamplesPS float64
	Ratio                       float64 // median over rounds of ours / raw (bytes per second)
	PeakHeapSmall, PeakHeapAll  uint64  // peak heap streaming a third of the shards / all of them
	ListHeap, ListPeakHeap      uint64  // heap held by the resolved 1,282-shard source, peak while streaming it
	ListSamplesPS               float64
	ShuffledMBps                float64 // with the default shuffle buffer, over ShuffledPasses epochs
	ShuffledRatio               float64 // median over rounds of shuffled / raw over the same passes
}

// ShuffledPasses is how many epochs over the throughput set the shuffled
// measurement streams (the raw loop reads the objects as many times): the
// default 1,000-sample shuffle buffer is 42% of the 2,400-sample set, so a
// single pass would time mostly the buffer's first fill and last drain,
// which a training epoch of a real data set (1.28 M ImageNet samples) does
// not see; four passes time the steady state the readers run at.
const ShuffledPasses = 4

// Run starts versitygw in a temporary folder, writes the shards, measures and
// prints a report to w. The last two lines it prints are "RATIO
// ingest-shuffled <ours/raw>" (the default shuffle buffer, ShuffledPasses
// epochs against as many raw passes) and "RATIO ingest <ours/raw>" (one
// pass, no sample shuffle).
func Run(ctx context.Context, w io.Writer, o Options) (Result, error) {
	var res Result
	dir, err := os.MkdirTemp("", "bench-ingest-*")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	srv, err := s3local.Start(ctx, dir)
	if err != nil {
		return res, err
	}
	defer srv.Stop()
	b, err := srv.CreateBucket(ctx, "bench")
	if err != nil {
		return res, err
	}
	fmt.Fprintf(w, "versitygw at %s; writing %d shards x %d samples x %d bytes\n", srv.Endpoint, o.Shards, o.SamplesPerShard, o.SampleBytes)
	stats, err := writeShards(ctx, b, "tp/shard-%06d.tar", o.Shards, o.SamplesPerShard, o.SampleBytes)
	if err != nil {
		return res, err
	}
	cfg := ingest.DefaultConfig()
	cfg.Shards = []string{fmt.Sprintf("s3://bench/tp/shard-{000000..%06d}.tar", o.Shards-1)}
	cfg.Store.S3 = srv.S3Config()
	cfg.Rank, cfg.WorldSize = 0, 1

	// The streaming path (RATIO): default prefetch, no sample shuffle.
	cfg.ShuffleBuffer = 0
	shuffled := cfg
	shuffled.ShuffleBuffer = ingest.DefaultConfig().ShuffleBuffer
	var raws, ours, shuf, shufRatios []float64
	var rawSPS, oursSPS []float64
	for round := 0; round < o.Rounds; round++ {
		t0 := time.Now()
		n, err := rawLoop(ctx, b, stats.Shards)
		if err != nil {
			return res, err
		}
		dt := time.Since(t0).Seconds()
		raws = append(raws, float64(n)/dt/1e6)
		rawSPS = append(rawSPS, float64(stats.Samples)/dt)

		t0 = time.Now()
		cnt, _, err := streamEpochs(ctx, cfg, 1)
		if err != nil {
			return res, err
		}
		dt = time.Since(t0).Seconds()
		if cnt != stats.Samples {
			return res, fmt.Errorf("ingest yielded %d samples, want %d", cnt, stats.Samples)
		}
		ours = append(ours, float64(stats.Bytes)/dt/1e6)
		oursSPS = append(oursSPS, float64(cnt)/dt)

		t0 = time.Now()
		var rawPasses int64
		for range ShuffledPasses {
			n, err := rawLoop(ctx, b, stats.Shards)
			if err != nil {
				return res, err
			}
			rawPasses += n
		}
		rawMBps := float64(rawPasses) / time.Since(t0).Seconds() / 1e6
		t0 = time.Now()
		cnt, _, err = streamEpochs(ctx, shuffled, ShuffledPasses)
		if err != nil {
			return res, err
		}
		if cnt != int64(ShuffledPasses)*stats.Samples {
			return res, fmt.Errorf("shuffled ingest yielded %d samples over %d epochs, want %d", cnt, ShuffledPasses, int64(ShuffledPasses)*stats.Samples)
		}
		shuf = append(shuf, float64(ShuffledPasses)*float64(stats.Bytes)/time.Since(t0).Seconds()/1e6)
		shufRatios = append(shufRatios, shuf[round]/rawMBps)
		fmt.Fprintf(w, "round %d: raw GetObject loop %.1f MB/s (%.0f samples/s), ingest %.1f MB/s (%.0f samples/s); %d passes: raw %.1f MB/s, ingest+shuffle(%d) %.1f MB/s\n",
			round, raws[round], rawSPS[round], ours[round], oursSPS[round], ShuffledPasses, rawMBps, shuffled.ShuffleBuffer, shuf[round])
	}
	res.ShuffledMBps, res.ShuffledRatio = bench.Median(shuf), bench.Median(shufRatios)
	res.RawMBps, res.OursMBps = bench.Median(raws), bench.Median(ours)
	res.RawSamplesPS, res.OursSamplesPS = bench.Median(rawSPS), bench.Median(oursSPS)
	// The ratio is the median of the per-round ratios: each round pairs the
	// two loops back to back, which cancels most of the drift of a shared box.
	ratios := make([]float64, len(raws))
	for i := range raws {
		ratios[i] = ours[i] / raws[i]
	}
	res.Ratio = bench.Median(ratios)

	// Memory against shard count: a third of the shards, then all of them,
	// with a shuffle buffer that fills in both.
	cfg.ShuffleBuffer = 256
	small := cfg
	small.Shards = []string{fmt.Sprintf("s3://bench/tp/shard-{000000..%06d}.tar", max(o.Shards/3, 1)-1)}
	if _, res.PeakHeapSmall, err = stream(ctx, small); err != nil {
		return res, err
	}
	if _, res.PeakHeapAll, err = stream(ctx, cfg); err != nil {
		return res, err
	}
	fmt.Fprintf(w, "memory: peak heap %.1f MiB streaming %d shards, %.1f MiB streaming %d shards (shuffle buffer %d, prefetch %d)\n",
		bench.MiB(res.PeakHeapSmall), max(o.Shards/3, 1), bench.MiB(res.PeakHeapAll), o.Shards, cfg.ShuffleBuffer, cfg.Prefetch)

	// A simulated ImageNet shard list: 1,282 small real shards.
	if o.ListShards > 0 {
		fmt.Fprintf(w, "writing the simulated ImageNet list: %d shards x 2 samples\n", o.ListShards)
		if _, err := writeShards(ctx, b, "imagenet/train-%06d.tar", o.ListShards, 2, 1000); err != nil {
			return res, err
		}
		list := cfg
		list.Shards = []string{fmt.Sprintf("s3://bench/imagenet/train-{000000..%06d}.tar", o.ListShards-1)}
		runtime.GC()
		before := heap()
		src, err := ingest.NewSource(ctx, list, ingest.SourceOptions{Seed: 1, World: 1, Epochs: 1})
		if err != nil {
			return res, err
		}
		if _, err := src.EpochSamples(ctx, 0); err != nil {
			return res, err
		}
		runtime.GC()
		res.ListHeap = heap() - min(before, heap())
		src.Close()
		t0 := time.Now()
		cnt, peak, err := stream(ctx, list)
		if err != nil {
			return res, err
		}
		res.ListPeakHeap = peak
		res.ListSamplesPS = float64(cnt) / time.Since(t0).Seconds()
		fmt.Fprintf(w, "imagenet list: %d shards resolved in %.2f MiB of heap; streaming them peaks at %.1f MiB (%.0f samples/s, one GET per shard)\n",
			o.ListShards, bench.MiB(res.ListHeap), bench.MiB(res.ListPeakHeap), res.ListSamplesPS)
	}
	fmt.Fprintf(w, "throughput (median of %d): raw %.1f MB/s %.0f samples/s; ingest %.1f MB/s %.0f samples/s (prefetch %d, no shuffle); with the default shuffle buffer over %d epochs %.1f MB/s (%.2fx the raw loop's %d passes)\n",
		o.Rounds, res.RawMBps, res.RawSamplesPS, res.OursMBps, res.OursSamplesPS, cfg.Prefetch, ShuffledPasses, res.ShuffledMBps, res.ShuffledRatio, ShuffledPasses)
	bench.Ratio(w, "ingest-shuffled", res.ShuffledRatio)
	bench.Ratio(w, "ingest", res.Ratio)
	return res, nil
}

func heap() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// writeShards uploads n shards of per samples of size random bytes.
func writeShards(ctx context.Context, b store.Bucket, pattern string, n, per, size int) (ingest.MakeStats, error) {
	w, err := ingest.NewShardWriter(ctx, b, pattern, per)
	if err != nil {
		return ingest.MakeStats{}, err
	}
	rng := rand.NewChaCha8([32]byte{1})
	data := make([]byte, size)
	for i := 0; i < n*per; i++ {
		rng.Read(data)
		if err := w.Write(&ingest.Sample{Key: fmt.Sprintf("%08d", i), Ext: "jpg", Data: append([]byte(nil), data...), Label: int64(i % 1000)}); err != nil {
			w.Abort()
			return ingest.MakeStats{}, err
		}
	}
	return w.Close()
}

// rawLoop is the anchor: GetObject and read each object to the end, in turn.
func rawLoop(ctx context.Context, b *store.S3, names []string) (int64, error) {
	var total int64
	buf := make([]byte, 256<<10)
	for _, name := range names {
		out, err := b.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: ptr(b.Bucket()), Key: ptr(name)})
		if err != nil {
			return total, err
		}
		n, err := io.CopyBuffer(io.Discard, out.Body, buf)
		out.Body.Close()
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

func ptr(s string) *string { return &s }

// stream runs a Source over cfg to the end and returns the sample count and
// the peak heap sampled every 10 ms, from a collected heap (pooled sample
// buffers dropped first, so the peak counts them all).
func stream(ctx context.Context, cfg ingest.Config) (int64, uint64, error) {
	runtime.GC() // twice: pooled buffers survive one collection
	runtime.GC()
	return streamEpochs(ctx, cfg, 1)
}

// streamEpochs runs a Source over cfg for several epochs (a new shard order
// and shuffle each) as a long run does, from whatever the sample-buffer pool
// holds (the throughput rounds: the raw loop keeps its buffer and
// connections between rounds too), and returns the sample count and the
// peak heap sampled every 10 ms.
func streamEpochs(ctx context.Context, cfg ingest.Config, epochs int) (int64, uint64, error) {
	src, err := ingest.NewSource(ctx, cfg, ingest.SourceOptions{Seed: 1, World: 1, Epochs: epochs})
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg conc.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if h := heap(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	var n int64
	err = src.Run(ctx, func(_ context.Context, item any) error {
		s := item.(*ingest.Sample)
		if s.Data == nil {
			return errors.New("sample without data")
		}
		n++
		s.Release() // as the decoding stage does once the image is decoded
		return nil
	})
	close(stop)
	wg.Wait()
	return n, peak.Load(), err
}
