package ingest

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"testing"

	"github.com/swavgo/swav/ingest/store"
)

func TestMakeFashionMNISTShards(t *testing.T) {
	if _, err := os.Stat(FashionMNISTDir); err != nil && os.Getenv("FASHION_MNIST_DIR") == "" {
		t.Skip("dataset-fashion-mnist not installed (make deps installs it)")
	}
	ctx := context.Background()
	b, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := MakeFashionMNISTFirst(ctx, "test", store.Prefixed(b, "fm"), 40, 100)
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"fmnist-test-000000.tar", "fmnist-test-000001.tar", "fmnist-test-000002.tar"}
	if st.Samples != 100 || len(st.Shards) != 3 || st.Shards[2] != wantNames[2] {
		t.Fatalf("stats %+v", st)
	}
	idx, err := readIndex(ctx, b, "fm/"+IndexName)
	if err != nil || idx.Shards["fmnist-test-000002.tar"].Samples != 20 {
		t.Fatalf("index %+v, %v", idx, err)
	}
	// The first image decodes to 28x28 grey with the IDX label.
	imgs, labels, err := ReadFashionMNIST("test")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := b.Get(ctx, "fm/"+wantNames[0])
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rd := newWDSReader(rc, wantNames[0])
	rd.Next()
	rec := rd.Record()
	if rd.Err() != nil || rec.Sample == nil {
		t.Fatalf("first record %+v, %v", rec, rd.Err())
	}
	img, err := png.Decode(bytes.NewReader(rec.Sample.Data))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 28 || rec.Sample.Label != int64(labels[0]) || rec.Sample.Key != "test_000000" {
		t.Fatalf("sample %s label %d bounds %v", rec.Sample.Key, rec.Sample.Label, img.Bounds())
	}
	for y := 0; y < 28; y++ {
		for x := 0; x < 28; x++ {
			r, _, _, _ := img.At(x, y).RGBA()
			if uint8(r>>8) != imgs[0].GrayAt(x, y).Y {
				t.Fatalf("pixel (%d,%d) differs", x, y)
			}
		}
	}
	n := 1
	for rd.Next() {
		n++
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 40 {
		t.Fatalf("first shard holds %d samples, want 40", n)
	}
	if _, _, err := ReadFashionMNIST("validation"); err == nil {
		t.Fatal("unknown split accepted")
	}
}

func TestBufferPoolClasses(t *testing.T) {
	for _, tc := range []struct{ n, class int }{{1, 0}, {4096, 0}, {4097, 1}, {110_000, 5}, {1 << 26, 14}} {
		if c := poolClass(tc.n); c != tc.class {
			t.Errorf("poolClass(%d) = %d, want %d", tc.n, c, tc.class)
		}
		b := getData(tc.n)
		if len(b) != tc.n {
			t.Fatalf("getData(%d) has length %d", tc.n, len(b))
		}
		putData(b)
	}
}
