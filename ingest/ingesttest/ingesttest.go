// Package ingesttest writes shards for the tests of the packages above
// ingest: real Fashion-MNIST images (Debian's dataset-fashion-mnist) as
// WebDataset tars, the one home of that fixture.
package ingesttest

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"testing"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
)

// FashionMNISTShards writes n WebDataset shards fm-000000.tar... of
// perShard Fashion-MNIST test images into dir: images from, from+1, ...,
// sample i keyed fmt.Sprintf(keyFormat, i), a PNG with its label, after
// edit (nil: none) had its say on it. It returns the shards' brace-range
// URL and skips t where Fashion-MNIST is not installed.
func FashionMNISTShards(t testing.TB, dir string, n, perShard, from int, keyFormat string, edit func(i int, s *ingest.Sample)) string {
	t.Helper()
	imgs, labels, err := ingest.ReadFashionMNIST("test")
	if err != nil {
		t.Skipf("Fashion-MNIST not installed: %v", err)
	}
	ctx := context.Background()
	b, err := store.OpenDir(ctx, dir+"/", store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := ingest.NewShardWriter(ctx, b, "fm-%06d.tar", perShard)
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n*perShard; i++ {
		var buf bytes.Buffer
		if err := png.Encode(&buf, imgs[i]); err != nil {
			t.Fatal(err)
		}
		s := &ingest.Sample{Key: fmt.Sprintf(keyFormat, i), Ext: "png", Data: buf.Bytes(), Label: int64(labels[i])}
		if edit != nil {
			edit(i, s)
		}
		if err := w.Write(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s/fm-{000000..%06d}.tar", dir, n-1)
}
