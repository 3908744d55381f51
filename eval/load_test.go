package eval

import (
	"context"
	"strings"
	"testing"

	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/sinks/sinktest"
)

// TestLoadReadsAnySink: Load reads through the feature seam, so a sink eval
// has never heard of (sinktest's in-memory one, mem://) is evaluated as
// Parquet files are: its units concatenated in name order and the set named
// after them.
func TestLoadReadsAnySink(t *testing.T) {
	ctx := context.Background()
	md := sinks.Metadata{Layout: sinks.Layout{Kind: "trunk", Dim: 4}}
	for _, shard := range []string{"b.tar", "a.tar"} {
		keys, labels, feats := sinktest.Rows(shard, 5, 4)
		sinktest.Write(t, "mem://eval/train", sinks.Options{}, shard, md, keys, labels, feats)
	}
	keys, labels, feats := sinktest.Rows("t.tar", 5, 4)
	sinktest.Write(t, "mem://eval/test", sinks.Options{}, "t.tar", md, keys, labels, feats)

	train, err := Load(ctx, sinks.ReadOptions{}, "mem://eval/train")
	if err != nil {
		t.Fatal(err)
	}
	test, err := Load(ctx, sinks.ReadOptions{}, "mem://eval/test")
	if err != nil {
		t.Fatal(err)
	}
	if train.Rows() != 10 || test.Rows() != 5 || train.Dim != 4 || !strings.Contains(train.Name, "mem://eval/train/a ... mem://eval/train/b") {
		t.Fatalf("train %d rows of dim %d (%s), test %d rows", train.Rows(), train.Dim, train.Name, test.Rows())
	}
	res, err := KNN(ctx, train, test, KNNOptions{Ks: []int{1}, Temperature: 0.07})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Top1 != 1 {
		t.Errorf("kNN top-1 %v, want 1 (the test rows are train rows)", res[0].Top1)
	}
}
