package ingest_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/internal/field/fieldtest"
)

// tarMember is one member of a hand-made tar.
type tarMember struct {
	name string
	data string
}

func writeTar(t testing.TB, path string, members []tarMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(m.data))
	}
	tw.Close()
	if path != "" {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func oneShard(path string) ingest.Config {
	cfg := ingest.DefaultConfig()
	cfg.Shards = []string{path}
	cfg.Rank, cfg.WorldSize = 0, 1
	cfg.ShuffleBuffer = 0
	return cfg
}

func TestWebDatasetConventions(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "conv.tar")
	writeTar(t, p, []tarMember{
		{"__meta__.json", "{}"},
		{"a/x001.JPG", "jpegbytes"}, {"a/x001.cls", " 3\n"}, {"a/x001.json", `{"w":1}`},
		{"a/x002.seg.png", "pngbytes"}, {"a/x002.cls", "7"},
		{"x003.webp", "webpbytes"},
	})
	got, err := collect2(t, oneShard(p))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a/x001 jpg 3 jpegbytes {\"w\":1}", "a/x002 png 7 pngbytes ", "x003 webp -1 webpbytes "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func collect2(t *testing.T, cfg ingest.Config) ([]string, error) {
	ctx := context.Background()
	src, err := ingest.NewSource(ctx, cfg, ingest.SourceOptions{World: 1, Epochs: 1})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var out []string
	err = src.Run(ctx, func(_ context.Context, item any) error {
		s := item.(*ingest.Sample)
		out = append(out, fmt.Sprintf("%s %s %d %s %s", s.Key, s.Ext, s.Label, s.Data, s.Meta))
		return nil
	})
	return out, err
}

// TestBadInput checks that each bad input gets an error naming the shard
// (and the byte offset or row where it applies), never a panic.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	good := writeTar(t, "", []tarMember{{"k1.png", strings.Repeat("p", 3000)}, {"k1.cls", "1"}, {"k2.png", "q"}, {"k2.cls", "2"}})
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	corrupt := append([]byte(nil), good...)
	copy(corrupt[1024+3584:], bytes.Repeat([]byte{0xff}, 300)) // clobber the 2nd sample's header
	for _, tc := range []struct {
		name, path string
		budget     int
		want       []string
	}{
		{"truncated tar", write("trunc.tar", good[:2000]), 0, []string{"trunc.tar", `member "k1.png" is cut`, "byte 2000", "skip budget"}},
		{"corrupt header", write("corrupt.tar", corrupt), 0, []string{"corrupt.tar", "byte"}},
		{"escaping member", write("escape.tar", writeTar(t, "", []tarMember{{"../../etc/x.png", "p"}})), 0,
			[]string{"escape.tar", "escapes the archive", "byte 0", "skip budget"}},
		{"no image", write("noimg.tar", writeTar(t, "", []tarMember{{"k.cls", "1"}})), 0, []string{"noimg.tar", `"k"`, "no image member"}},
		{"bad label", write("badcls.tar", writeTar(t, "", []tarMember{{"k.png", "p"}, {"k.cls", "cat"}})), 0, []string{"badcls.tar", "bad .cls label"}},
		{"missing object", filepath.Join(dir, "missing.tar"), 0, []string{"missing.tar", "does not exist"}},
		{"missing folder", filepath.Join(dir, "nothing-here") + "/", 0, []string{"nothing-here", "no .parquet or .tar shard"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := oneShard(tc.path)
			cfg.SkipBudget = tc.budget
			_, err := collect2(t, cfg)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestSkipBudget(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mixed.tar")
	writeTar(t, p, []tarMember{{"a.png", "1"}, {"b.cls", "x"}, {"c.png", "3"}, {"d.png", "4"}, {"d.cls", "oops"}, {"e.png", "5"}})
	cfg := oneShard(p)
	cfg.SkipBudget = 2
	ctx := context.Background()
	src, err := ingest.NewSource(ctx, cfg, ingest.SourceOptions{World: 1, Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var seqs []string
	err = src.Run(ctx, func(_ context.Context, item any) error {
		s := item.(*ingest.Sample)
		seqs = append(seqs, fmt.Sprintf("%s@%d", s.Key, s.Pos.Seq))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seqs, " "); got != "a@0 c@2 e@4" {
		t.Fatalf("got %s; corrupt samples keep their slot", got)
	}
	if sk := src.Skipped(); len(sk) != 2 || sk[0].Key != "b" || sk[1].Key != "d" {
		t.Fatalf("skipped %v", sk)
	}
	cfg.SkipBudget = 1
	_, err = collect2(t, cfg)
	if !errors.Is(err, ingest.ErrSkipBudget) || !strings.Contains(err.Error(), `"d"`) {
		t.Fatalf("budget 1: error %v should name sample d and wrap ErrSkipBudget", err)
	}
}

// writeParquet writes a Hugging Face-style file: image struct{bytes, path}
// and an int64 label, with small row groups.
func writeParquet(t testing.TB, path, imageCol string, rows int) {
	t.Helper()
	imgType := arrow.StructOf(arrow.Field{Name: "bytes", Type: arrow.BinaryTypes.Binary, Nullable: true},
		arrow.Field{Name: "path", Type: arrow.BinaryTypes.String, Nullable: true})
	schema := arrow.NewSchema([]arrow.Field{{Name: imageCol, Type: imgType, Nullable: true},
		{Name: "label", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer rb.Release()
	sb := rb.Field(0).(*array.StructBuilder)
	for i := 0; i < rows; i++ {
		sb.Append(true)
		sb.FieldBuilder(0).(*array.BinaryBuilder).Append([]byte(fmt.Sprintf("\x89PNG\r\n\x1a\nimg%d", i)))
		sb.FieldBuilder(1).(*array.StringBuilder).Append(fmt.Sprintf("img_%03d.png", i))
		rb.Field(1).(*array.Int64Builder).Append(int64(i % 4))
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(7)), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestParquetShards(t *testing.T) {
	dir := t.TempDir()
	writeParquet(t, filepath.Join(dir, "train-00000.parquet"), "image", 20)
	writeParquet(t, filepath.Join(dir, "train-00001.parquet"), "image", 5)
	cfg := oneShard(filepath.Join(dir, "train-*.parquet"))
	got, err := collect2(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got) // the shard order is shuffled per epoch
	if len(got) != 25 || !strings.HasPrefix(got[0], "img_000 png 0 \x89PNG") || !strings.HasPrefix(got[24], "img_019 png 3") {
		t.Fatalf("got %d rows: %q ... %q", len(got), got[0], got[len(got)-1])
	}
	n, err := ingest.CountSamples(context.Background(), cfg)
	if err != nil || n != 25 {
		t.Fatalf("CountSamples = %d, %v", n, err)
	}
	t.Run("missing image column", func(t *testing.T) {
		p := filepath.Join(dir, "other.parquet")
		writeParquet(t, p, "picture", 3)
		_, err := collect2(t, oneShard(p))
		if err == nil || !strings.Contains(err.Error(), "other.parquet") || !strings.Contains(err.Error(), `no image column "image"`) {
			t.Fatalf("error %v should name the shard and the column", err)
		}
		cfg := oneShard(p)
		ingest.EditParquet(&cfg).ImageColumn = "picture"
		if got, err := collect2(t, cfg); err != nil || len(got) != 3 {
			t.Fatalf("with image_column=picture: %d rows, %v", len(got), err)
		}
	})
	t.Run("not parquet", func(t *testing.T) {
		p := filepath.Join(dir, "junk.parquet")
		os.WriteFile(p, []byte("this is not parquet"), 0o644)
		_, err := collect2(t, oneShard(p))
		if err == nil || !strings.Contains(err.Error(), "junk.parquet") {
			t.Fatalf("error %v should name the shard", err)
		}
	})
}

func TestImageFolder(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"dog/1.jpg", "cat/2.png", "cat/1.JPEG", "bird/x.webp", "cat/notes.txt"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("data:"+f), 0o644)
	}
	cfg := oneShard(dir + "/")
	cfg.Format = "folder"
	ingest.EditFolder(&cfg).ShardSize = 2
	got, err := collect2(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got) // virtual shards are shuffled per epoch
	want := "bird/x webp 0 data:bird/x.webp |cat/1 jpg 1 data:cat/1.JPEG |cat/2 png 1 data:cat/2.png |dog/1 jpg 2 data:dog/1.jpg "
	if strings.Join(got, "|") != want {
		t.Fatalf("got %q", strings.Join(got, "|"))
	}
	cfg.Format = "auto" // a prefix with images and no shards is a folder
	got2, err := collect2(t, cfg)
	slices.Sort(got2)
	if err != nil || strings.Join(got2, "|") != want {
		t.Fatalf("auto: %q, %v", got2, err)
	}
	// make --from DIR: the folder as WebDataset shards, same samples.
	out := t.TempDir()
	src, _ := store.NewLocal(dir)
	dst, _ := store.NewLocal(out)
	st, err := ingest.MakeFromFolder(context.Background(), src, dst, "pets", 3)
	if err != nil || st.Samples != 4 || len(st.Shards) != 2 {
		t.Fatalf("MakeFromFolder = %+v, %v", st, err)
	}
	got3, err := collect2(t, oneShard(out+"/pets-{000000..000001}.tar"))
	slices.Sort(got3)
	if err != nil || len(got3) != 4 || !strings.HasPrefix(got3[1], "cat_1 jpg 1 data:cat/1.JPEG") {
		t.Fatalf("shards from folder: %q, %v", got3, err)
	}
}

// TestFormatRegistry: each format registers itself, and data.format takes
// exactly the registered names and auto; an unknown one is a field error
// that lists them.
func TestFormatRegistry(t *testing.T) {
	if got := ingest.FormatNames(); !slices.Equal(got, []string{"folder", "parquet", "wds"}) {
		t.Fatalf("FormatNames() = %v", got)
	}
	for _, tc := range []struct{ format, err string }{
		{"auto", ""},
		{"wds", ""},
		{"parquet", ""},
		{"folder", ""},
		{"zip", `unknown format "zip" (known: auto, folder, parquet, wds)`},
		{"WDS", `unknown format "WDS"`},
	} {
		cfg := oneShard("x.tar")
		cfg.Format = tc.format
		err := cfg.Validate()
		if tc.err == "" {
			if err != nil {
				t.Errorf("format %q: %v", tc.format, err)
			}
			continue
		}
		fieldtest.Want(t, err, "format", tc.err)
	}
	t.Run("a format's own settings", func(t *testing.T) {
		cfg := oneShard("x.parquet")
		cfg.Format = "parquet"
		ingest.EditParquet(&cfg).ImageColumn = ""
		fieldtest.Want(t, cfg.Validate(), "parquet.image_column")
		cfg = ingest.DefaultConfig()
		cfg.Shards = []string{"x.tar"}
		ingest.EditFolder(&cfg).ShardSize = 0
		fieldtest.Want(t, cfg.Validate(), "folder.shard_size", "must be >= 1")
	})
}

func TestExpandBraces(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "a-{000..002}.tar", want: "a-000.tar a-001.tar a-002.tar"},
		{in: "s3://b/x-{8..11}.tar", want: "s3://b/x-8.tar s3://b/x-9.tar s3://b/x-10.tar s3://b/x-11.tar"},
		{in: "{a,b}-{0..1}", want: "a-0 a-1 b-0 b-1"},
		{in: "x.{tar,{parquet,pq}}", want: "x.tar x.parquet x.pq"},
		{in: "plain.tar", want: "plain.tar"},
		{in: "a-{3..1}.tar", err: "bad range"},
		{in: "a-{0..2.tar", err: "unclosed"},
	} {
		got, err := ingest.ExpandBraces(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ExpandBraces(%q) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("ExpandBraces(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// TestNamedShards reads data.shards entries as the source does: brace
// ranges of shard files are named one by one; globs, prefixes, unknown
// extensions and folders of a listing format are left to the listing.
func TestNamedShards(t *testing.T) {
	for _, tc := range []struct {
		format, entry, want string
		named              bool
	}{
		{ingest.AutoFormat, "s3://b/x-{0..2}.tar", "s3://b/x-0.tar s3://b/x-1.tar s3://b/x-2.tar", true},
		{ingest.AutoFormat, "/d/part.parquet", "/d/part.parquet", true},
		{ingest.AutoFormat, "/d/{a.tar,b.parquet}", "/d/a.tar /d/b.parquet", true},
		{ingest.AutoFormat, "/d/part-*.tar", "", false},
		{ingest.AutoFormat, "/d/{a.tar,b}", "", false},
		{ingest.AutoFormat, "s3://b/prefix/", "", false},
		{ingest.AutoFormat, "/d/readme.txt", "", false},
		{"folder", "/d/images.tar", "", false},
		{"wds", "/d/x.tar", "/d/x.tar", true},
	} {
		cfg := ingest.DefaultConfig()
		cfg.Format = tc.format
		got, named, err := ingest.NamedShards(&cfg, tc.entry)
		if err != nil || named != tc.named || strings.Join(got, " ") != tc.want {
			t.Errorf("NamedShards(%s, %q) = %v, %v, %v; want %q, %v", tc.format, tc.entry, got, named, err, tc.want, tc.named)
		}
	}
	cfg := ingest.DefaultConfig()
	if _, _, err := ingest.NamedShards(&cfg, "/d/x-{2..1}.tar"); err == nil {
		t.Error("a bad brace range is no error")
	}
}

func TestShardListForms(t *testing.T) {
	dir := t.TempDir()
	b, _ := store.NewLocal(dir)
	writeShards(t, b, "", 4, 3, true)
	for _, shards := range [][]string{
		{dir + "/part-{000000..000003}.tar"},
		{dir + "/part-*.tar"},
		{dir + "/"},
		{"file://" + dir + "/part-00000[0-1].tar", dir + "/part-00000{2,3}.tar"},
	} {
		cfg := oneShard("")
		cfg.Shards = shards
		n, err := ingest.CountSamples(context.Background(), cfg)
		if err != nil || n != 12 {
			t.Errorf("shards %v: CountSamples = %d, %v; want 12", shards, n, err)
		}
	}
}
