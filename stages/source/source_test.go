package source_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/stages/source"
)

func TestNewBuildsTheReadStage(t *testing.T) {
	dir := t.TempDir()
	b, _ := store.NewLocal(dir)
	w, _ := ingest.NewShardWriter(context.Background(), b, "s-%06d.tar", 5)
	for i := 0; i < 12; i++ {
		w.Write(&ingest.Sample{Key: fmt.Sprintf("k%02d", i), Ext: "png", Data: []byte{1}, Label: 1})
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	job := configs.Default()
	job.Data.Shards = []string{dir + "/"}
	job.Data.Rank, job.Data.WorldSize = 0, 1
	spec, err := source.New(context.Background(), &job, ingest.Position{Epoch: 0, Seq: 2}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name != "read" || spec.Source == nil || spec.Total != 10 {
		t.Fatalf("spec %+v", spec)
	}
	defer spec.Source.(pipeline.Closer).Close()
	n := 0
	err = spec.Source.Run(context.Background(), func(_ context.Context, item any) error {
		s := item.(*ingest.Sample)
		if s.Pos.Seq != int64(n+2) {
			t.Fatalf("sample %d at %+v", n, s.Pos)
		}
		n++
		return nil
	})
	if err != nil || n != 10 {
		t.Fatalf("read %d samples, %v", n, err)
	}
	job.Data.Shards = nil
	if _, err := source.New(context.Background(), &job, ingest.Position{}, 1, nil); err == nil {
		t.Fatal("no error for an empty shard list")
	}
}
