package extract

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/sinks"
)

// TestKill9ExtractionFinishesExactly kills extraction processes with SIGKILL
// at random moments (after a random number of finished shards, plus a few
// milliseconds) twice, then lets a last run finish; to a local folder and to
// S3. The output must equal an uninterrupted run's: every sample once, the
// same features, no partial or temporary file left.
func TestKill9ExtractionFinishesExactly(t *testing.T) {
	if os.Getenv("SWAV_KILL_CHILD") != "" {
		job := testJob(os.Getenv("SWAV_KILL_SHARDS"), os.Getenv("SWAV_KILL_OUT"), os.Getenv("SWAV_KILL_CK"))
		Edit(job).BatchSize = 4
		if _, err := run(t, job); err != nil {
			t.Fatal(err)
		}
		return
	}
	dir := t.TempDir()
	const nShards = 6
	shards, ck, want := reference(t, dir, nShards)
	srv := s3local.StartForTest(t)
	if _, err := srv.CreateBucket(context.Background(), "feats"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	for _, out := range []string{filepath.Join(dir, "killed"), "s3://feats/killed"} {
		env := append(os.Environ(), "SWAV_KILL_CHILD=1", "SWAV_KILL_SHARDS="+shards, "SWAV_KILL_OUT="+out, "SWAV_KILL_CK="+ck,
			"AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey, "AWS_REGION="+s3local.Region, "AWS_ENDPOINT_URL="+srv.Endpoint)
		child := func() *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^TestKill9ExtractionFinishesExactly$")
			cmd.Env = env
			return cmd
		}
		count := func() int { return countFeatureFiles(t, out, srv.StoreConfig()) }
		for kill := range 2 {
			done := testutil.KillAfter(t, child(), count, 1+rng.IntN(2), time.Duration(rng.IntN(30))*time.Millisecond, time.Minute)
			t.Logf("%s: kill %d with %d of %d shards done", out, kill+1, done, nShards)
		}
		if msg, err := child().CombinedOutput(); err != nil {
			t.Fatalf("%s: final run: %v\n%s", out, err, msg)
		}
		got, err := sinks.ReadFeatures(context.Background(), sinks.ReadOptions{Store: srv.StoreConfig()}, out)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Files) != nShards || got.Rows() != want.Rows() {
			t.Fatalf("%s: %d files, %d rows; want %d files, %d rows", out, len(got.Files), got.Rows(), nShards, want.Rows())
		}
		for i := range want.Keys {
			if got.Keys[i] != want.Keys[i] || !testutil.BitEqual(got.Data[i*want.Dim:(i+1)*want.Dim], want.Data[i*want.Dim:(i+1)*want.Dim]) {
				t.Fatalf("%s: row %d (%s) differs from the uninterrupted run's (%s)", out, i, got.Keys[i], want.Keys[i])
			}
		}
		if !strings.HasPrefix(out, "s3://") {
			entries, _ := os.ReadDir(out)
			for _, e := range entries {
				if !strings.HasSuffix(e.Name(), ".parquet") {
					t.Errorf("%s: left %s behind", out, e.Name())
				}
			}
		}
	}
}

// countFeatureFiles counts the committed .parquet files at out.
func countFeatureFiles(t *testing.T, out string, sc store.Config) int {
	b, err := store.OpenDir(context.Background(), out+"/", sc)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	objs, err := store.List(context.Background(), b, "")
	if err != nil {
		return 0
	}
	n := 0
	for _, o := range objs {
		if strings.HasSuffix(o.Name, ".parquet") {
			n++
		}
	}
	return n
}

// TestSlurmArrayTasksSplitTheShards runs the extraction as four Slurm array
// tasks (SLURM_ARRAY_TASK_ID 0..3 of 4), each into its own folder: together
// they hold every sample exactly once; a task re-run, or re-run after one of
// its files was lost, keeps that true.
func TestSlurmArrayTasksSplitTheShards(t *testing.T) {
	dir := t.TempDir()
	shards := makeShards(t, filepath.Join(dir, "shards"), 8, -1)
	ck := saveCheckpoint(t, filepath.Join(dir, "ck"), smallModel)
	t.Setenv("SLURM_ARRAY_TASK_COUNT", "4")
	t.Setenv("SLURM_ARRAY_TASK_MIN", "0")
	task := func(id int) string {
		t.Setenv("SLURM_ARRAY_TASK_ID", fmt.Sprint(id))
		out := filepath.Join(dir, fmt.Sprintf("task-%d", id))
		job := testJob(shards, out, ck)
		job.Data.Rank, job.Data.WorldSize = -1, 0
		if _, err := run(t, job); err != nil {
			t.Fatalf("task %d: %v", id, err)
		}
		return out
	}
	keysOf := func() map[string]int {
		seen := map[string]int{}
		for id := range 4 {
			fs, err := sinks.ReadFeatures(context.Background(), sinks.ReadOptions{}, filepath.Join(dir, fmt.Sprintf("task-%d", id)))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range fs.Keys {
				seen[k]++
			}
		}
		return seen
	}
	check := func(when string) {
		seen := keysOf()
		if len(seen) != 8*perShard {
			t.Fatalf("%s: %d distinct keys, want %d", when, len(seen), 8*perShard)
		}
		for k, n := range seen {
			if n != 1 {
				t.Fatalf("%s: key %s written %d times", when, k, n)
			}
		}
	}
	var outs []string
	for id := range 4 {
		outs = append(outs, task(id))
	}
	check("four tasks")
	task(2)
	check("task 2 re-run")
	files, _ := filepath.Glob(filepath.Join(outs[1], "*.parquet"))
	if len(files) == 0 {
		t.Fatal("task 1 wrote nothing")
	}
	os.Remove(files[0])
	task(1)
	check("task 1 re-run after losing a file")
}
