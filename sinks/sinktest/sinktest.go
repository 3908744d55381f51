package sinktest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/swavgo/swav/sinks"
)

// Rows makes n deterministic rows of dim floats for shard.
func Rows(shard string, n, dim int) ([]string, []int64, []float32) {
	keys := make([]string, n)
	labels := make([]int64, n)
	feats := make([]float32, n*dim)
	for i := range n {
		keys[i] = fmt.Sprintf("%s/%06d", shard, i)
		labels[i] = int64(i % 10)
		for j := range dim {
			feats[i*dim+j] = float32(i)*0.5 - float32(j)*0.25
		}
	}
	return keys, labels, feats
}

// Write writes one unit, shard's rows, through the sink that url's scheme
// opens (Begin, Append in uneven batches, Commit) and returns where it
// landed (FeatureSink.Where).
func Write(t testing.TB, url string, o sinks.Options, shard string, md sinks.Metadata, keys []string, labels []int64, feats []float32) string {
	t.Helper()
	forgetAtEnd(t, url)
	ctx := context.Background()
	s, err := sinks.Open(ctx, url, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	md.Shard = shard
	w, err := s.Begin(ctx, shard, md)
	if err != nil {
		t.Fatal(err)
	}
	dim := md.Layout.Dim
	for lo := 0; lo < len(keys); {
		hi := min(len(keys), lo+1+lo%3)
		if err := w.Append(keys[lo:hi], labels[lo:hi], feats[lo*dim:hi*dim]); err != nil {
			w.Abort()
			t.Fatal(err)
		}
		lo = hi
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return s.Where(shard)
}

// Run is the round trip every feature sink passes, both ways, at url (an
// empty location of the sink; o and ro configure its writes and reads):
// units written through the FeatureSink are listed in name order by the
// FeatureSource, read back with the same rows and metadata (each on its own
// and all together), inspected without error; an aborted unit is never
// listed; a written unit is Done and a second Begin of it is
// ErrWrittenByOther.
func Run(t *testing.T, url string, o sinks.Options, ro sinks.ReadOptions) {
	forgetAtEnd(t, url)
	ctx := context.Background()
	md := sinks.Metadata{Checkpoint: "ck/ckpt-10.swck", ConfigHash: "abc123", Layout: sinks.Layout{Kind: "trunk", Dim: 3, Arch: "small"}}
	type unit struct {
		shard string
		rows  int
	}
	// Written out of name order: the source lists them sorted.
	written := []unit{{"s3://data/b-000001.tar", 7}, {"s3://data/a-000000.tar", 4}}
	where := map[string]string{}
	for _, u := range written {
		keys, labels, feats := Rows(u.shard, u.rows, md.Layout.Dim)
		where[u.shard] = Write(t, url, o, u.shard, md, keys, labels, feats)
	}
	s, err := sinks.Open(ctx, url, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	aborted, err := s.Begin(ctx, "s3://data/c-000002.tar", md)
	if err != nil {
		t.Fatal(err)
	}
	keys, labels, feats := Rows("c", 2, md.Layout.Dim)
	if err := aborted.Append(keys, labels, feats); err != nil {
		t.Fatal(err)
	}
	aborted.Abort()

	want := &sinks.Features{Dim: md.Layout.Dim}
	for _, u := range []unit{written[1], written[0]} {
		keys, labels, feats := Rows(u.shard, u.rows, md.Layout.Dim)
		want.Keys, want.Labels, want.Data = append(want.Keys, keys...), append(want.Labels, labels...), append(want.Data, feats...)
		m := md
		m.Shard, m.Rows = u.shard, int64(u.rows)
		want.Files, want.Meta = append(want.Files, where[u.shard]), append(want.Meta, m)
	}
	check := func(what string, got *sinks.Features, want *sinks.Features) {
		t.Helper()
		if got.Dim != want.Dim || !slices.Equal(got.Keys, want.Keys) || !slices.Equal(got.Labels, want.Labels) || !slices.Equal(got.Data, want.Data) {
			t.Fatalf("%s: read %d rows of dim %d, want %d of %d (or other rows)", what, got.Rows(), got.Dim, want.Rows(), want.Dim)
		}
		if !slices.Equal(got.Files, want.Files) || !slices.Equal(got.Meta, want.Meta) {
			t.Fatalf("%s: units %v with %+v, want %v with %+v", what, got.Files, got.Meta, want.Files, want.Meta)
		}
	}
	got, err := sinks.ReadFeatures(ctx, ro, url)
	if err != nil {
		t.Fatal(err)
	}
	check(url, got, want)
	lo := 0
	for i, unit := range want.Files {
		one, err := sinks.ReadFeatures(ctx, ro, unit)
		if err != nil {
			t.Fatal(err)
		}
		n := int(want.Meta[i].Rows)
		check(unit, one, &sinks.Features{Dim: want.Dim, Keys: want.Keys[lo : lo+n], Labels: want.Labels[lo : lo+n],
			Data: want.Data[lo*want.Dim : (lo+n)*want.Dim], Files: want.Files[i : i+1], Meta: want.Meta[i : i+1]})
		lo += n
	}
	infos, err := sinks.Inspect(ctx, ro, url)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != len(want.Files) {
		t.Fatalf("Inspect found %d units, want %d", len(infos), len(want.Files))
	}
	for i, in := range infos {
		if in.Err != nil || in.Path != want.Files[i] || in.Meta != want.Meta[i] {
			t.Fatalf("Inspect unit %d: %+v, want %s with %+v", i, in, want.Files[i], want.Meta[i])
		}
	}
	m := md
	m.Shard = written[0].shard
	if ok, err := s.Done(ctx, written[0].shard, m); !ok || err != nil {
		t.Fatalf("Done of a written unit = %v, %v", ok, err)
	}
	if _, err := s.Begin(ctx, written[0].shard, m); !errors.Is(err, sinks.ErrWrittenByOther) {
		t.Fatalf("Begin of a written unit: %v, want ErrWrittenByOther", err)
	}
}

// forgetAtEnd drops a mem:// location when the test ends (Forget).
func forgetAtEnd(t testing.TB, url string) {
	if sinks.Scheme(url) == Scheme {
		t.Cleanup(func() { Forget(url) })
	}
}
