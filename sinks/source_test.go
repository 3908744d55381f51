package sinks_test

import (
	"context"
	"errors"
	"testing"

	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/sinks/sinktest"
)

// TestMemSinkRoundTrip: the in-memory sink of sinktest passes the round
// trip every sink passes (sinks/parquet runs it too).
func TestMemSinkRoundTrip(t *testing.T) {
	sinktest.Run(t, "mem://roundtrip", sinks.Options{}, sinks.ReadOptions{})
}

// badSource is a sink whose units lie: "badtest://batch" returns a batch
// whose columns disagree, "badtest://rows" fewer rows than its metadata,
// "badtest://err" stops with an error, "badtest://open" cannot open its unit.
type badSource struct{ url string }

func init() {
	sinks.Register("badtest", sinks.Sink{Schemes: []string{"badtest"}, OpenSource: func(_ context.Context, url string, _ sinks.ReadOptions) (sinks.FeatureSource, error) {
		return badSource{url}, nil
	}})
}

func (s badSource) Units(context.Context) ([]string, error) { return []string{s.url + "/u0"}, nil }
func (s badSource) URL() string                             { return s.url }
func (s badSource) Close() error                            { return nil }
func (s badSource) Open(_ context.Context, unit string) (sinks.ShardReader, error) {
	if s.url == "badtest://open" {
		return nil, errors.New(unit + ": checksum mismatch")
	}
	return &badReader{url: s.url}, nil
}

type badReader struct {
	url  string
	done bool
}

func (r *badReader) Metadata() sinks.Metadata {
	return sinks.Metadata{Rows: 2, Layout: sinks.Layout{Kind: "trunk", Dim: 2}}
}
func (r *badReader) Next() bool {
	if r.done || r.url == "badtest://err" {
		return false
	}
	r.done = true
	return true
}
func (r *badReader) Batch() sinks.Batch {
	if r.url == "badtest://batch" {
		return sinks.Batch{Keys: []string{"a", "b"}, Labels: []int64{0, 1}, Feats: []float32{1, 2, 3}}
	}
	return sinks.Batch{Keys: []string{"a"}, Labels: []int64{0}, Feats: []float32{1, 2}}
}
func (r *badReader) Err() error {
	if r.url == "badtest://err" {
		return errors.New(r.url + "/u0: row group 0, column feature: corrupt page")
	}
	return nil
}
func (r *badReader) Close() error { return nil }

// TestReadFeaturesBadInput: every way a read goes wrong is an error naming
// the location or the unit (and what is wrong), never rows.
func TestReadFeaturesBadInput(t *testing.T) {
	ctx := context.Background()
	d3, d4 := "mem://bad/dim3", "mem://bad/dim4"
	for url, dim := range map[string]int{d3: 3, d4: 4} {
		keys, labels, feats := sinktest.Rows("s", 2, dim)
		sinktest.Write(t, url, sinks.Options{}, "s.tar", sinks.Metadata{Layout: sinks.Layout{Kind: "trunk", Dim: dim}}, keys, labels, feats)
	}
	for _, tc := range []struct {
		name string
		urls []string
		is   error
		want []string
	}{
		{"no location", nil, sinks.ErrNoFeatures, []string{"no location"}},
		{"empty location", []string{""}, sinks.ErrNoFeatures, []string{"empty location"}},
		{"unknown scheme", []string{"nosuch://x/y"}, nil, []string{"nosuch://x/y", `"nosuch"`, "mem"}},
		{"no units", []string{"mem://bad/nothing"}, sinks.ErrNoFeatures, []string{"mem://bad/nothing"}},
		{"dims differ", []string{d3, d4}, nil, []string{d4 + "/s has features of dim 4", d3 + "/s has dim 3"}},
		{"batch columns disagree", []string{"badtest://batch"}, nil, []string{"badtest://batch/u0", "2 keys, 2 labels and 3 floats", "dim 2"}},
		{"fewer rows than the metadata", []string{"badtest://rows"}, nil, []string{"badtest://rows/u0", "metadata says 2 rows, read 1"}},
		{"reader error", []string{"badtest://err"}, nil, []string{"badtest://err/u0", "row group 0, column feature"}},
		{"unit does not open", []string{"badtest://open"}, nil, []string{"badtest://open/u0", "checksum mismatch"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := sinks.ReadFeatures(ctx, sinks.ReadOptions{}, tc.urls...)
			if f != nil {
				t.Fatalf("read %d rows", f.Rows())
			}
			testutil.ErrorMentions(t, err, tc.is, tc.want...)
		})
	}
}

// TestInspectReportsBadUnits: Inspect goes on past a unit that does not
// open and reports it; a location it cannot list is its error.
func TestInspectReportsBadUnits(t *testing.T) {
	ctx := context.Background()
	infos, err := sinks.Inspect(ctx, sinks.ReadOptions{}, "badtest://open", "badtest://rows")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].Err == nil || infos[0].Path != "badtest://open/u0" || infos[1].Err != nil || infos[1].Meta.Rows != 2 {
		t.Fatalf("infos %+v", infos)
	}
	_, err = sinks.Inspect(ctx, sinks.ReadOptions{}, "mem://inspect/none")
	testutil.ErrorMentions(t, err, sinks.ErrNoFeatures, "mem://inspect/none")
}
