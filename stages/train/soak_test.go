package train

import (
	"context"
	"fmt"
	"github.com/swavgo/swav/train/cpu"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/faultproxy"
	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/train"
)

// The soak's data: the whole Fashion-MNIST train split in shards of
// soakShardSize images, so that one epoch makes hundreds of GETs for the
// fault proxy to break.
const (
	soakShardSize = 100
	soakBatch     = 250 // 240 iterations per epoch
	soakKeysFile  = "keys.log"
)

// TestSoak (make soak; skipped unless SWAV_SOAK=1, about 7 minutes on 2
// cores): one epoch of the 60,000 Fashion-MNIST training images from a local
// S3 server through the fault proxy (connection resets, 503 SlowDown and
// bodies cut mid-shard: about 5% of GETs), killed with SIGKILL twice at
// random moments and resumed, against a clean run straight from the server.
// Every training image is stepped on exactly once (counted by key), every
// iteration sees the same keys and has the same loss as the clean run, and
// the final weights are equal bit for bit.
func TestSoak(t *testing.T) {
	if os.Getenv("SWAV_SOAK_CHILD") != "" {
		runSoakChild(t)
		return
	}
	if os.Getenv("SWAV_SOAK") == "" {
		t.Skip("the soak runs with make soak (SWAV_SOAK=1)")
	}
	ctx := t.Context()
	srv, err := s3local.Start(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	b, err := srv.CreateBucket(ctx, "soak")
	if err != nil {
		t.Fatal(err)
	}
	stats, err := ingest.MakeFashionMNIST(ctx, "train", store.Prefixed(b, "fmnist"), soakShardSize)
	if err != nil {
		t.Skipf("Fashion-MNIST not installed: %v", err)
	}
	t.Logf("%d images in %d shards of %d", stats.Samples, len(stats.Shards), soakShardSize)
	images := int(stats.Samples)
	proxy, err := faultproxy.Start(srv.Endpoint, faultproxy.Faults{ResetEvery: 53, SlowDownEvery: 59, CutEvery: 61})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()

	child := func(endpoint, out string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSoak$", "-test.timeout=0")
		cmd.Env = append(os.Environ(), "SWAV_SOAK_CHILD=1", "SWAV_SOAK_ENDPOINT="+endpoint, "SWAV_SOAK_OUT="+out,
			"SWAV_SOAK_KEY="+srv.AccessKey, "SWAV_SOAK_SECRET="+srv.SecretKey)
		return cmd
	}
	began := time.Now()
	clean := t.TempDir()
	if msg, err := child(srv.Endpoint, clean).CombinedOutput(); err != nil {
		t.Fatalf("clean run: %v\n%s", err, msg)
	}
	t.Logf("clean run: %.0f s", time.Since(began).Seconds())

	began = time.Now()
	out := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for kill := range 2 {
		// After a random 20-80 further steps, plus up to 300 ms, so that the
		// kill lands in a step, a checkpoint or a read.
		n := testutil.KillAfter(t, child(proxy.URL, out), metricLines(out), 20+rng.IntN(60), time.Duration(rng.IntN(300))*time.Millisecond, 10*time.Minute)
		t.Logf("kill %d: SIGKILL with %d metric lines on disk", kill+1, n)
	}
	if msg, err := child(proxy.URL, out).CombinedOutput(); err != nil {
		t.Fatalf("final resume: %v\n%s", err, msg)
	}
	inj := proxy.Injected()
	t.Logf("faulty run with two kills: %.0f s; faults injected %v", time.Since(began).Seconds(), inj)
	for _, k := range []string{"reset", "slowdown", "cut"} {
		if inj[k] == 0 {
			t.Errorf("no %s fault was injected (%v)", k, inj)
		}
	}

	want, got := readMetrics(t, clean), readMetrics(t, out)
	if len(got) != len(want) || len(want) != images/soakBatch {
		t.Fatalf("%d metric records after the faults and kills, %d in the clean run, want %d", len(got), len(want), images/soakBatch)
	}
	for i := range want {
		if got[i].Iter != want[i].Iter || math.Float64bits(got[i].Loss) != math.Float64bits(want[i].Loss) {
			t.Fatalf("record %d: iter %d loss %v, clean run iter %d loss %v", i, got[i].Iter, got[i].Loss, want[i].Iter, want[i].Loss)
		}
	}
	wantKeys, gotKeys := stepKeys(t, clean), stepKeys(t, out)
	seen := map[string]int{}
	for it := range want {
		if !slices.Equal(gotKeys[it], wantKeys[it]) {
			t.Fatalf("iteration %d stepped on other images than the clean run's", it)
		}
		for _, k := range gotKeys[it] {
			seen[k]++
		}
	}
	if len(seen) != images {
		t.Errorf("%d distinct images stepped on, want all %d", len(seen), images)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("image %s stepped on %d times", k, n)
		}
	}
	wantCk, gotCk := checkpointLosses(t, clean), checkpointLosses(t, out)
	for i := range wantCk.State.Params {
		if !testutil.BitEqual(gotCk.State.Params[i].Data, wantCk.State.Params[i].Data) {
			t.Fatalf("parameter %s differs from the clean run's", gotCk.State.Params[i].Name)
		}
	}
}

// soakJob is the soak's training: one epoch of a small network on 12-px
// crops, so that the data path, not the maths, is what the soak exercises.
func soakJob(endpoint, out string) *configs.Job {
	job := configs.Default()
	job.Job, job.Out, job.Seed, job.Progress = JobKind, out, 7, "off"
	job.Data.Shards = []string{"s3://soak/fmnist/fmnist-train-{000000..000599}.tar"}
	job.Data.Format, job.Data.ShuffleBuffer, job.Data.Workers, job.Data.Prefetch = "wds", 1000, 2, 2
	job.Store.S3 = store.S3Config{Endpoint: endpoint, Region: "us-east-1", AccessKeyID: os.Getenv("SWAV_SOAK_KEY"), SecretAccessKey: os.Getenv("SWAV_SOAK_SECRET")}
	job.Augment.Crops = []augment.CropGroupConfig{{Size: 12, Count: 2, MinScale: 0.3, MaxScale: 1}}
	job.Augment.Workers = 2
	c := &job.Train
	c.Backend, c.BatchSize, c.Epochs, cpu.Edit(c).Threads = "cpu", soakBatch, 1, 2
	c.Model = train.ModelConfig{Arch: "small", SmallStem: true, FeatDim: 8, Prototypes: 10}
	c.SwAV.QueueLength, c.SwAV.FreezePrototypesIters = 0, 3
	c.Optim.BaseLR, c.Optim.FinalLR, c.Optim.WarmupEpochs = 0.3, 0.003, 0
	c.Checkpoint.EveryIters, c.Checkpoint.Keep, c.Checkpoint.Resume = 20, 2, true
	return &job
}

// runSoakChild trains soakJob and appends each step's image keys to
// <out>/keys.log ("iter key,key,...": a step redone after a kill appears
// again, and the last line of an iteration is the one that counts).
func runSoakChild(t *testing.T) {
	job := soakJob(os.Getenv("SWAV_SOAK_ENDPOINT"), os.Getenv("SWAV_SOAK_OUT"))
	if err := job.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	specs, err := Build(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(job.Out, soakKeysFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	last := &specs[len(specs)-1]
	last.Sink = &keyLogSink{Trainer: last.Sink.(*Trainer), log: f}
	if _, err := pipeline.Run(ctx, specs, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
}

// keyLogSink logs the keys of every batch the Trainer stepped on.
type keyLogSink struct {
	*Trainer
	log *os.File
}

func (s *keyLogSink) Consume(ctx context.Context, item any) error {
	var keys []string
	if b, ok := item.(*augment.Batch); ok && b.Record != nil {
		col := b.Record.Column(int(b.Record.Schema().FieldIndices(augment.ColKey)[0])).(*array.String)
		for i := range col.Len() {
			keys = append(keys, col.Value(i))
		}
	}
	iter := s.Trainer.Iter()
	if err := s.Trainer.Consume(ctx, item); err != nil {
		return err
	}
	if s.Trainer.Iter() == iter+1 {
		if _, err := fmt.Fprintf(s.log, "%d %s\n", iter, strings.Join(keys, ",")); err != nil {
			return err
		}
	}
	return nil
}

// stepKeys reads keys.log: iteration -> the keys of its last logged step.
// A torn last line (a kill during the write) is ignored.
func stepKeys(t *testing.T, out string) map[int][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, soakKeysFile))
	if err != nil {
		t.Fatal(err)
	}
	steps := map[int][]string{}
	for line := range strings.Lines(string(data)) {
		if !strings.HasSuffix(line, "\n") {
			break
		}
		iter, keys, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		it, err := strconv.Atoi(iter)
		if err != nil {
			t.Fatalf("%s: bad line %q", soakKeysFile, line)
		}
		steps[it] = strings.Split(keys, ",")
	}
	return steps
}
