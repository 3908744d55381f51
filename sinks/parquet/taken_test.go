package parquet

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/sinks/sinktest"
)

// TestCommitOntoATakenName: two attempts at one shard's file, the second
// creating its writer before the first commits. The second Commit (and a
// later Create) is refused, and the file there decides how: the same
// shard and config is sinks.ErrWrittenByOther; another config, another
// shard or a file that is not a complete feature file is sinks.ErrConflict
// naming what is there. The file that landed is never replaced. Locally and
// on S3.
func TestCommitOntoATakenName(t *testing.T) {
	ctx := context.Background()
	srv := s3local.StartForTest(t)
	if _, err := srv.CreateBucket(ctx, "taken"); err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{filepath.Join(t.TempDir(), "out"), "s3://taken/out"} {
		out, err := OpenOutput(ctx, url, srv.StoreConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		md := testMeta(4, "s3://data/train-000000.tar")
		name := "train-000000.parquet"
		keys, labels, feats := sinktest.Rows(md.Shard, 5, 4)
		other := md
		other.ConfigHash = "def456"
		wrongShard := md
		wrongShard.Shard = "s3://data/elsewhere/train-000000.tar"
		for _, tc := range []struct {
			name  string
			first Metadata
			want  error
			says  string
		}{
			{"same shard and config", md, sinks.ErrWrittenByOther, ""},
			{"another config", other, sinks.ErrConflict, "config def456"},
			{"another shard", wrongShard, sinks.ErrConflict, "elsewhere"},
		} {
			second, err := Create(ctx, out, name, md, WriterOptions{Mem: mem})
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, mem, out, name, tc.first, 5, WriterOptions{})
			if err := second.Append(keys, labels, feats); err != nil {
				t.Fatal(err)
			}
			err = second.Commit(ctx)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), out.Path(name)) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("%s, %s: Commit: %v; want %v naming %s and %q", url, tc.name, err, tc.want, out.Path(name), tc.says)
			}
			if _, err := Create(ctx, out, name, md, WriterOptions{}); !errors.Is(err, tc.want) {
				t.Fatalf("%s, %s: Create after: %v; want %v", url, tc.name, err, tc.want)
			}
			ok, _ := out.Done(ctx, name, tc.first)
			if !ok {
				t.Fatalf("%s, %s: the first file was damaged or replaced", url, tc.name)
			}
			removeFile(t, ctx, out, name)
		}
		// Something that is not a feature file.
		if err := out.b.Upload(ctx, name, strings.NewReader("PAR1 but not really")); err != nil {
			t.Fatal(err)
		}
		if _, err := Create(ctx, out, name, md, WriterOptions{}); !errors.Is(err, sinks.ErrConflict) || !strings.Contains(err.Error(), "not a complete feature file") {
			t.Fatalf("%s: Create over junk: %v", url, err)
		}
		mem.AssertSize(t, 0)
	}
}

func removeFile(t *testing.T, ctx context.Context, out *Output, name string) {
	t.Helper()
	if err := out.b.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
}
