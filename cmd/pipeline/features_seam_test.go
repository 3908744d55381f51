package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/sinks/sinktest"
)

// TestFeatureCommandsReadAnySink: `features verify`, `features digest` and
// `eval knn` read through the feature seam only: units of a sink they have
// never heard of (sinktest's in-memory one, mem://) are verified against
// their input shards, digested and evaluated as Parquet files are.
func TestFeatureCommandsReadAnySink(t *testing.T) {
	shards := toyShards(t, 30, 5)
	md := sinks.Metadata{Checkpoint: "init", ConfigHash: "h1", Layout: sinks.Layout{Kind: "trunk", Dim: 4, Arch: "small"}}
	out := "mem://cmd/verify"
	for i := range 2 {
		shard := filepath.Join(shards, fmt.Sprintf("toy-%06d.tar", i))
		keys, labels, feats := sinktest.Rows(shard, 3, 4)
		sinktest.Write(t, out, sinks.Options{}, shard, md, keys, labels, feats)
	}

	msg, err := runFeatures(t, "verify", out, "--data", shards+"/")
	if err != nil || !strings.Contains(msg, "verified 2 feature files (6 rows) against 2 input shards: 0 problems") {
		t.Fatalf("verify: %v\n%s", err, msg)
	}
	msg, err = runFeatures(t, "digest", out)
	if err != nil || !strings.HasPrefix(msg, "rows 6 sha256 ") {
		t.Fatalf("digest: %v\n%s", err, msg)
	}

	// A unit with a row too few is a problem naming it.
	short := "mem://cmd/short"
	shard := filepath.Join(shards, "toy-000000.tar")
	keys, labels, feats := sinktest.Rows(shard, 2, 4)
	sinktest.Write(t, short, sinks.Options{}, shard, md, keys, labels, feats)
	msg, err = runFeatures(t, "verify", short, "--data", shards+"/toy-000000.tar")
	if err == nil || !strings.Contains(msg, "PROBLEM "+short+"/toy-000000: 2 rows, shard "+shard+" has 3 samples") {
		t.Fatalf("verify a short unit: %v\n%s", err, msg)
	}

	msg, err = execute(t, "eval", "knn", "--train", out, "--test", out, "--k", "1")
	if err != nil || !strings.Contains(msg, "read 6 train and 6 test rows of dim 4") || !strings.Contains(msg, "100.00%") {
		t.Fatalf("eval knn: %v\n%s", err, msg)
	}
}
