package parquet

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	pgo "github.com/parquet-go/parquet-go"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/sinks/sinktest"
)

// readFileInto reads the feature file in data through the sink's reader
// into out, as sinks.ReadFeatures does for each file.
func readFileInto(ctx context.Context, mem memory.Allocator, path string, data []byte, out *sinks.Features) error {
	r, err := openReader(ctx, mem, path, data)
	if err != nil {
		return err
	}
	defer r.Close()
	return out.Read(path, r)
}

// readFeatures reads the feature files at urls through the read seam.
func readFeatures(ctx context.Context, urls ...string) (keys []string, labels []int64, feats []float32, dim int, err error) {
	f, err := sinks.ReadFeatures(ctx, sinks.ReadOptions{}, urls...)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	return f.Keys, f.Labels, f.Data, f.Dim, nil
}

func testMeta(dim int, shard string) Metadata {
	return Metadata{Checkpoint: "ck/ckpt-000010.swav", ConfigHash: "abc123", Shard: shard,
		Layout: Layout{Kind: "trunk", Dim: dim, Arch: "small"}}
}

// writeFile writes one feature file through the sink, appending in uneven
// chunks so that rows straddle row groups.
func writeFile(t testing.TB, mem memory.Allocator, out *Output, name string, md Metadata, n int, opts WriterOptions) ([]string, []int64, []float32) {
	t.Helper()
	ctx := context.Background()
	opts.Mem = mem
	w, err := Create(ctx, out, name, md, opts)
	if err != nil {
		t.Fatal(err)
	}
	keys, labels, feats := sinktest.Rows(md.Shard, n, md.Layout.Dim)
	dim := md.Layout.Dim
	for lo := 0; lo < n; {
		hi := min(n, lo+7+lo%5)
		if err := w.Append(keys[lo:hi], labels[lo:hi], feats[lo*dim:hi*dim]); err != nil {
			t.Fatal(err)
		}
		lo = hi
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return keys, labels, feats
}

func TestWriteReadRoundTrip(t *testing.T) {
	cases := []struct {
		name        string
		rows, dim   int
		rowGroup    int
		compression string
	}{
		{"one row group", 50, 4, 0, ""},
		{"many row groups", 103, 16, 10, "snappy"},
		{"zstd", 40, 3, 8, "zstd"},
		{"uncompressed", 9, 1, 4, "none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			ctx := context.Background()
			out, err := OpenOutput(ctx, t.TempDir(), store.Config{})
			if err != nil {
				t.Fatal(err)
			}
			md := testMeta(tc.dim, "s3://b/train-000001.tar")
			keys, labels, feats := writeFile(t, mem, out, "train-000001.parquet", md, tc.rows,
				WriterOptions{RowGroupRows: tc.rowGroup, Compression: tc.compression})

			got, err := sinks.ReadFeatures(ctx, sinks.ReadOptions{Mem: mem}, out.Path("train-000001.parquet"))
			if err != nil {
				t.Fatal(err)
			}
			if got.Dim != tc.dim || got.Rows() != tc.rows {
				t.Fatalf("read %d rows of dim %d, want %d of %d", got.Rows(), got.Dim, tc.rows, tc.dim)
			}
			for i := range keys {
				if got.Keys[i] != keys[i] || got.Labels[i] != labels[i] {
					t.Fatalf("row %d: got %q/%d want %q/%d", i, got.Keys[i], got.Labels[i], keys[i], labels[i])
				}
			}
			for i := range feats {
				if got.Data[i] != feats[i] {
					t.Fatalf("float %d: got %v want %v", i, got.Data[i], feats[i])
				}
			}
			wantMD := md
			wantMD.Rows = int64(tc.rows)
			if got.Meta[0] != wantMD {
				t.Fatalf("metadata %+v, want %+v", got.Meta[0], wantMD)
			}
			if tc.rowGroup > 0 {
				f, err := os.Open(out.Path("train-000001.parquet"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				st, _ := f.Stat()
				pf, err := pgo.OpenFile(f, st.Size())
				if err != nil {
					t.Fatal(err)
				}
				if want := (tc.rows + tc.rowGroup - 1) / tc.rowGroup; len(pf.RowGroups()) != want {
					t.Fatalf("%d row groups, want %d", len(pf.RowGroups()), want)
				}
			}
		})
	}
}

// featureRow is how an independent reader sees a feature file.
type featureRow struct {
	Key     string    `parquet:"key"`
	Label   int64     `parquet:"label"`
	Feature []float32 `parquet:"feature,list"`
}

// TestInteropParquetGo reads our files with github.com/parquet-go/parquet-go,
// an implementation that shares no code with arrow-go.
func TestInteropParquetGo(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	out, err := OpenOutput(ctx, t.TempDir(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	md := testMeta(8, "fmnist-test-000000.tar")
	keys, labels, feats := writeFile(t, mem, out, "fmnist-test-000000.parquet", md, 77, WriterOptions{RowGroupRows: 20})

	f, err := os.Open(out.Path("fmnist-test-000000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := pgo.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		MetaCheckpoint: md.Checkpoint, MetaConfigHash: md.ConfigHash, MetaShard: md.Shard,
		MetaLayout: `{"kind":"trunk","dim":8,"arch":"small"}`, MetaRows: "77",
	} {
		if got, ok := pf.Lookup(k); !ok || got != want {
			t.Errorf("metadata %s = %q (present %v), want %q", k, got, ok, want)
		}
	}
	rows, err := pgo.Read[featureRow](f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(keys) {
		t.Fatalf("parquet-go read %d rows, want %d", len(rows), len(keys))
	}
	for i, r := range rows {
		if r.Key != keys[i] || r.Label != labels[i] || len(r.Feature) != 8 {
			t.Fatalf("row %d: %q/%d/%d floats", i, r.Key, r.Label, len(r.Feature))
		}
		for j, v := range r.Feature {
			if v != feats[i*8+j] {
				t.Fatalf("row %d float %d: %v want %v", i, j, v, feats[i*8+j])
			}
		}
	}
}

func TestReadFolderConcatenatesInNameOrder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	out, err := OpenOutput(ctx, dir, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	k1, _, _ := writeFile(t, memory.DefaultAllocator, out, "b.parquet", testMeta(2, "b"), 5, WriterOptions{})
	k0, _, _ := writeFile(t, memory.DefaultAllocator, out, "a.parquet", testMeta(2, "a"), 3, WriterOptions{})
	// A stale temp file of a killed run is not read.
	if err := os.WriteFile(filepath.Join(dir, ".c.parquet.tmp-1"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys, labels, feats, dim, err := readFeatures(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := append(k0, k1...)
	if dim != 2 || len(keys) != 8 || len(labels) != 8 || len(feats) != 16 || strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Fatalf("got dim %d keys %v", dim, keys)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	out, err := OpenOutput(ctx, dir, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, memory.DefaultAllocator, out, "d4.parquet", testMeta(4, "x"), 3, WriterOptions{})
	writeFile(t, memory.DefaultAllocator, out, "d5.parquet", testMeta(5, "y"), 3, WriterOptions{})
	if err := os.WriteFile(filepath.Join(dir, "junk.parquet"), []byte("not parquet at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	readOnly := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		run  func() error
		want []string
		is   error
	}{
		{"dims differ", func() error {
			_, _, _, _, err := readFeatures(ctx, out.Path("d4.parquet"), out.Path("d5.parquet"))
			return err
		}, []string{"d5.parquet has features of dim 5", "d4.parquet has dim 4"}, nil},
		{"corrupt file", func() error {
			_, _, _, _, err := readFeatures(ctx, filepath.Join(dir, "junk.parquet"))
			return err
		}, []string{"junk.parquet", "not a readable Parquet file"}, nil},
		{"missing file", func() error {
			_, _, _, _, err := readFeatures(ctx, filepath.Join(dir, "nope.parquet"))
			return err
		}, []string{"nope.parquet does not exist"}, nil},
		{"empty folder", func() error {
			_, _, _, _, err := readFeatures(ctx, empty)
			return err
		}, []string{empty, "no .parquet files"}, sinks.ErrNoFeatures},
		{"no location", func() error {
			_, _, _, _, err := readFeatures(ctx)
			return err
		}, []string{"no location"}, sinks.ErrNoFeatures},
		{"existing file not overwritten", func() error {
			_, err := Create(ctx, out, "d4.parquet", testMeta(4, "x"), WriterOptions{})
			return err
		}, []string{"d4.parquet"}, ErrExists},
		{"unwritable output", func() error {
			_, err := OpenOutput(ctx, readOnly, store.Config{})
			return err
		}, []string{readOnly, "cannot write"}, nil},
		{"rows do not match dim", func() error {
			w, err := Create(ctx, out, "bad.parquet", testMeta(4, "z"), WriterOptions{})
			if err != nil {
				return err
			}
			defer w.Abort()
			return w.Append([]string{"a"}, []int64{1}, []float32{1, 2, 3})
		}, []string{"bad.parquet", "dim 4"}, nil},
		{"done from other checkpoint", func() error {
			md := testMeta(4, "x")
			md.Checkpoint = "other.swav"
			_, err := out.Done(ctx, "d4.parquet", md)
			return err
		}, []string{"d4.parquet already holds features", "use another output location"}, nil},
		{"done on corrupt file", func() error {
			_, err := out.Done(ctx, "junk.parquet", testMeta(4, "x"))
			return err
		}, []string{"junk.parquet", "not a valid feature file"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unwritable output" && os.Geteuid() == 0 {
				t.Skip("root writes into read-only folders; see TestUnwritableOutputFile")
			}
			testutil.ErrorMentions(t, tc.run(), tc.is, tc.want...)
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.parquet")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("aborted file left behind: %v", err)
	}
}

func TestDoneSkipsMatchingFile(t *testing.T) {
	ctx := context.Background()
	out, err := OpenOutput(ctx, t.TempDir(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	md := testMeta(4, "x")
	if ok, err := out.Done(ctx, "x.parquet", md); ok || err != nil {
		t.Fatalf("Done before writing = %v, %v", ok, err)
	}
	writeFile(t, memory.DefaultAllocator, out, "x.parquet", md, 3, WriterOptions{})
	md.Layout.Dim = 0 // the extractor may not know D before the first batch
	if ok, err := out.Done(ctx, "x.parquet", md); !ok || err != nil {
		t.Fatalf("Done after writing = %v, %v", ok, err)
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"s3://b/p/fmnist-train-000003.tar": "fmnist-train-000003.parquet",
		"/data/x.tar.gz":                   "x.parquet",
		"shard":                            "shard.parquet",
		"s3://b/":                          "features.parquet",
	} {
		if got := FileName(in); got != want {
			t.Errorf("FileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUnwritableOutputFile: an output location under a regular file cannot be
// created, even by root.
func TestUnwritableOutputFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenOutput(context.Background(), filepath.Join(f, "features"), store.Config{})
	if err == nil || !strings.Contains(err.Error(), "a-file/features") || !strings.Contains(err.Error(), "cannot create") {
		t.Fatalf("error %v", err)
	}
}

// TestEveryFlippedByteIsAnError flips each byte of a feature file in turn:
// every damaged copy fails to read with an error naming the file (a chunk's
// row group and column when the byte is in one), never silently different
// features.
func TestEveryFlippedByteIsAnError(t *testing.T) {
	ctx := context.Background()
	out, err := OpenOutput(ctx, t.TempDir(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, memory.DefaultAllocator, out, "f.parquet", testMeta(4, "s.tar"), 30, WriterOptions{RowGroupRows: 10})
	good, err := os.ReadFile(out.Path("f.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if err := readFileInto(ctx, memory.DefaultAllocator, "f.parquet", good, &sinks.Features{}); err != nil {
		t.Fatal(err)
	}
	inChunk := 0
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x10
		err := readFileInto(ctx, memory.DefaultAllocator, "f.parquet", bad, &sinks.Features{})
		if err == nil {
			t.Fatalf("byte %d of %d flipped: read without error", i, len(good))
		}
		if !strings.Contains(err.Error(), "f.parquet") {
			t.Fatalf("byte %d: error does not name the file: %v", i, err)
		}
		if strings.Contains(err.Error(), "row group") && strings.Contains(err.Error(), "column chunk") {
			inChunk++
		}
	}
	if inChunk == 0 {
		t.Error("no error named a row group and column chunk")
	}
	t.Logf("%d bytes flipped one at a time: all errors, %d naming the column chunk", len(good), inChunk)
}
