package ingestbench

import (
	"io"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/s3local"
)

func TestProf(t *testing.T) {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "x")
	defer os.RemoveAll(dir)
	srv, err := s3local.Start(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	b, _ := srv.CreateBucket(ctx, "bench")
	stats, _ := writeShards(ctx, b, "tp/shard-%06d.tar", 24, 100, 110000)
	cfg := ingest.DefaultConfig()
	cfg.Shards = []string{"s3://bench/tp/shard-{000000..000023}.tar"}
	cfg.S3 = srv.S3Config()
	cfg.Rank, cfg.WorldSize = 0, 1
	for round := 0; round < 2; round++ {
		t0 := time.Now()
		n, _ := rawLoop(ctx, b, stats.Shards)
		fmt.Printf("raw %.0f MB/s\n", float64(n)/time.Since(t0).Seconds()/1e6)
		t0 = time.Now()
		var tot int64
		for _, name := range stats.Shards {
			out, _ := b.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: ptr("bench"), Key: ptr(name)})
			for {
				buf := make([]byte, 110000)
				k, err := io.ReadFull(out.Body, buf)
				tot += int64(k)
				if err != nil {
					break
				}
			}
			out.Body.Close()
		}
		fmt.Printf("raw-alloc %.0f MB/s\n", float64(tot)/time.Since(t0).Seconds()/1e6)
		for _, v := range []struct{ pf, sb int }{{0, 0}, {2, 0}, {0, 1000}, {2, 1000}} {
			c := cfg
			c.Prefetch, c.ShuffleBuffer = v.pf, v.sb
			t0 := time.Now()
			_, _, err := stream(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Printf("prefetch %d shuffle %d: %.0f MB/s\n", v.pf, v.sb, float64(stats.Bytes)/time.Since(t0).Seconds()/1e6)
		}
	}
}
