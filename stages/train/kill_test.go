package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/sinks/metrics"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
)

// killIters is the length of the kill -9 test's run (tinyJob's 3 epochs of
// 5 iterations), checkpointed every 2 iterations.
const killIters = 15

// TestKill9ResumesExactly kills a training process with SIGKILL at random
// moments (after a random number of metric lines, so during a step, a
// checkpoint write or a metrics append), three times in one run, and then
// lets it finish: every iteration's loss is in metrics.jsonl exactly once,
// equal bit for bit to an uninterrupted run's, and so are the final
// checkpoint's weights.
func TestKill9ResumesExactly(t *testing.T) {
	if os.Getenv("SWAV_KILL_CHILD") != "" {
		job := tinyJob(os.Getenv("SWAV_KILL_SHARDS"), os.Getenv("SWAV_KILL_OUT"))
		job.Train.MaxIters, job.Train.Checkpoint.EveryIters = killIters, 2
		if err := runJob(t, job); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := train.NewBackend(train.Config{Backend: "cpu"}, 0); err != nil && strings.Contains(err.Error(), "not built") {
		t.Skip(err)
	}
	shards := fashionShards(t, t.TempDir(), 40, 10)
	ref := tinyJob(shards, t.TempDir())
	ref.Train.MaxIters, ref.Train.Checkpoint.EveryIters = killIters, 2
	if err := runJob(t, ref); err != nil {
		t.Fatal(err)
	}
	want := readMetrics(t, ref.Out)
	wantCk := checkpointLosses(t, ref.Out)

	out := t.TempDir()
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9ResumesExactly$")
		cmd.Env = append(os.Environ(), "SWAV_KILL_CHILD=1", "SWAV_KILL_SHARDS="+shards, "SWAV_KILL_OUT="+out)
		return cmd
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	done := 0
	for kill := range 3 {
		// A random few new metric lines, plus a few milliseconds: the kill
		// lands anywhere in a step.
		done = testutil.KillAfter(t, child(), metricLines(out), 1+rng.IntN(4), time.Duration(rng.IntN(40))*time.Millisecond, time.Minute)
		t.Logf("kill %d: SIGKILL with %d metric lines on disk", kill+1, done)
		if done >= killIters {
			break
		}
	}
	// The last kill may land after the run's final checkpoint (metric line
	// 15 is written before it): the run is then complete, and a resume
	// rightly refuses with "nothing left to do".
	final := filepath.Join(out, "checkpoints", checkpoint.FileName(killIters))
	if _, err := os.Stat(final); err == nil {
		t.Logf("the run ended before the last kill: nothing to resume")
	} else if msg, err := child().CombinedOutput(); err != nil {
		t.Fatalf("final resume: %v\n%s", err, msg)
	}
	got := readMetrics(t, out)
	if len(got) != len(want) {
		t.Fatalf("%d metric records after the kills, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Iter != want[i].Iter || math.Float64bits(got[i].Loss) != math.Float64bits(want[i].Loss) {
			t.Fatalf("record %d: iter %d loss %v, want iter %d loss %v", i, got[i].Iter, got[i].Loss, want[i].Iter, want[i].Loss)
		}
	}
	gotCk := checkpointLosses(t, out)
	for i := range wantCk.State.Params {
		if !testutil.BitEqual(gotCk.State.Params[i].Data, wantCk.State.Params[i].Data) {
			t.Fatalf("parameter %s differs from the uninterrupted run's", gotCk.State.Params[i].Name)
		}
	}
}

func readMetrics(t *testing.T, out string) []metrics.Record {
	t.Helper()
	recs, err := metrics.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// metricLines is the progress of a training run writing to out: the
// complete lines of its metrics.jsonl.
func metricLines(out string) func() int {
	return func() int { return countLines(filepath.Join(out, "metrics.jsonl")) }
}

// countLines counts the complete lines of a file (0 when absent).
func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}

// TestShortEpochKeepsTheSchedule: a corrupt image (counted in the sample
// count, skipped by the augmentation) leaves each epoch one full batch short
// of the schedule's iterations per epoch. The missing iteration is the last
// of each epoch: every epoch starts at its scheduled iteration, the epoch end
// is checkpointed, and a resumed run continues the same way.
func TestShortEpochKeepsTheSchedule(t *testing.T) {
	dir := t.TempDir()
	good := fashionShards(t, filepath.Join(dir, "good"), 39, 10)
	ctx := context.Background()
	b, err := store.OpenDir(ctx, filepath.Join(dir, "bad")+"/", store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := ingest.NewShardWriter(ctx, b, "bad-%06d.tar", 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&ingest.Sample{Key: "corrupt", Ext: "png", Data: []byte("\x89PNG\r\n\x1a\nbroken"), Label: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	job := tinyJob(good, t.TempDir())
	job.Data.Shards = append(job.Data.Shards, filepath.Join(dir, "bad", "bad-000000.tar"))
	if err := runJob(t, job); err != nil {
		t.Fatal(err)
	}
	recs := readMetrics(t, job.Out)
	var iters []int
	for _, r := range recs {
		iters = append(iters, r.Iter)
	}
	want := []int{0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13} // 40 counted, 39 decode: 4 of 5 batches per epoch
	if fmt.Sprint(iters) != fmt.Sprint(want) {
		t.Fatalf("iterations %v, want %v", iters, want)
	}
	// The end of epoch 1 (after iteration 8) is checkpointed; keep: 2 has
	// removed the one of epoch 0.
	if _, err := os.Stat(filepath.Join(job.Out, "checkpoints", fmt.Sprintf("ckpt-%010d.swck", 9))); err != nil {
		t.Errorf("no checkpoint at the end of the short epoch 1: %v", err)
	}
}
