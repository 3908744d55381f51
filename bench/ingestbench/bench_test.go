package ingestbench_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/swavgo/swav/bench/ingestbench"
	"github.com/swavgo/swav/ingest/store/s3local"
)

// TestRunSmall runs the benchmark code on a tiny setting (figures are not
// checked: performance is the bench command's business).
func TestRunSmall(t *testing.T) {
	var out bytes.Buffer
	_, err := ingestbench.Run(context.Background(), &out, ingestbench.Options{Shards: 3, SamplesPerShard: 4, SampleBytes: 5000, Rounds: 1, ListShards: 5})
	if errors.Is(err, s3local.ErrNoBinary) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "RATIO ingest ") {
		t.Fatalf("last line %q", last)
	}
}
