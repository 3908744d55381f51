package extract

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/sinks"
)

// summaryRE matches SummaryLine in a run's summary table.
var summaryRE = regexp.MustCompile(`(?m)^wrote (\d+) shard files; (\d+) already written by another attempt$`)

// TestRacingExtractionsWriteEachShardOnce starts several extraction
// processes at once over the same shard list and output, to a local folder
// and to S3 (versitygw as s3local starts it, with metadata): every shard's
// file lands exactly once, every process exits 0 and its summary line says
// how many it wrote and how many it found written by another attempt; the
// written counts add up to the number of shards, and the rows are those of
// a single run.
func TestRacingExtractionsWriteEachShardOnce(t *testing.T) {
	if os.Getenv("SWAV_RACE_CHILD") != "" {
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(2 * time.Millisecond) {
			if _, err := os.Stat(os.Getenv("SWAV_RACE_GO")); err == nil || time.Now().After(deadline) {
				break
			}
		}
		job := testJob(os.Getenv("SWAV_RACE_SHARDS"), os.Getenv("SWAV_RACE_OUT"), os.Getenv("SWAV_RACE_CK"))
		Edit(job).BatchSize = 4
		m, err := OpenModel(context.Background(), job)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Run(context.Background(), job, m, pipeline.Options{Summary: os.Stdout}); err != nil {
			t.Fatal(err)
		}
		return
	}
	dir := t.TempDir()
	const nShards, procs = 6, 3
	shards, ck, want := reference(t, dir, nShards)
	srv := s3local.StartForTest(t)
	if _, err := srv.CreateBucket(context.Background(), "race"); err != nil {
		t.Fatal(err)
	}
	for i, out := range []string{filepath.Join(dir, "raced"), "s3://race/raced"} {
		start := filepath.Join(dir, fmt.Sprintf("go-%d", i))
		env := append(os.Environ(), "SWAV_RACE_CHILD=1", "SWAV_RACE_GO="+start, "SWAV_RACE_SHARDS="+shards, "SWAV_RACE_OUT="+out, "SWAV_RACE_CK="+ck,
			"AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey, "AWS_REGION="+s3local.Region, "AWS_ENDPOINT_URL="+srv.Endpoint)
		var cmds []*exec.Cmd
		var outs []*bytes.Buffer
		for range procs {
			cmd := exec.Command(os.Args[0], "-test.run=^TestRacingExtractionsWriteEachShardOnce$", "-test.v")
			cmd.Env = env
			var buf bytes.Buffer
			cmd.Stdout, cmd.Stderr = &buf, &buf
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds, outs = append(cmds, cmd), append(outs, &buf)
		}
		os.WriteFile(start, nil, 0o644) // all at once
		wrote, others := 0, 0
		for p, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("%s: process %d: %v\n%s", out, p, err, outs[p])
			}
			m := summaryRE.FindStringSubmatch(outs[p].String())
			if m == nil {
				t.Fatalf("%s: process %d printed no summary line:\n%s", out, p, outs[p])
			}
			w, _ := strconv.Atoi(m[1])
			o, _ := strconv.Atoi(m[2])
			t.Logf("%s: process %d: %s", out, p, m[0])
			if w+o != nShards {
				t.Errorf("%s: process %d wrote %d and found %d written by others; want %d in all", out, p, w, o, nShards)
			}
			wrote += w
			others += o
		}
		if wrote != nShards {
			t.Fatalf("%s: the processes wrote %d shard files together, want %d", out, wrote, nShards)
		}
		if n := countFeatureFiles(t, out, srv.StoreConfig()); n != nShards {
			t.Fatalf("%s: %d feature files, want %d", out, n, nShards)
		}
		got, err := sinks.ReadFeatures(context.Background(), sinks.ReadOptions{Store: srv.StoreConfig()}, out)
		if err != nil {
			t.Fatal(err)
		}
		if got.Rows() != want.Rows() {
			t.Fatalf("%s: %d rows, want %d (every sample once)", out, got.Rows(), want.Rows())
		}
		for r := range want.Keys {
			if got.Keys[r] != want.Keys[r] {
				t.Fatalf("%s: row %d is %s, want %s", out, r, got.Keys[r], want.Keys[r])
			}
		}
		if !filepath.IsAbs(out) {
			continue
		}
		entries, _ := os.ReadDir(out)
		for _, e := range entries {
			if filepath.Ext(e.Name()) != ".parquet" {
				t.Errorf("%s: left behind %s", out, e.Name())
			}
		}
	}
}
