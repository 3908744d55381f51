package tensorboard

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swavgo/swav/sinks/tensorboard/tbtest"
	"time"
)

// TestCRC32CKnownAnswers checks the CRC against the vectors of RFC 3720
// B.4, which TensorFlow's crc32c_test.cc (StandardResults) asserts, and the
// mask against the TFRecord format description: masked_crc = ((crc >> 15) |
// (crc << 17)) + 0xa282ead8.
func TestCRC32CKnownAnswers(t *testing.T) {
	seq := func(f func(i int) byte) []byte {
		b := make([]byte, 32)
		for i := range b {
			b[i] = f(i)
		}
		return b
	}
	iscsi := []byte{
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	}
	for _, tc := range []struct {
		name string
		data []byte
		crc  uint32
	}{
		{"32 zeros", seq(func(int) byte { return 0 }), 0x8a9136aa},
		{"32 0xff", seq(func(int) byte { return 0xff }), 0x62a8ab43},
		{"0..31", seq(func(i int) byte { return byte(i) }), 0x46dd794e},
		{"31..0", seq(func(i int) byte { return byte(31 - i) }), 0x113fdb5c},
		{"iSCSI read", iscsi, 0xd9963a56},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tbtest.CRC32C(tc.data); got != tc.crc {
				t.Fatalf("bitwise CRC-32C %#08x, want %#08x", got, tc.crc)
			}
			want := (tc.crc>>15 | tc.crc<<17) + 0xa282ead8
			if got := MaskedCRC(tc.data); got != want {
				t.Fatalf("MaskedCRC %#08x, want %#08x", got, want)
			}
		})
	}
	// The mask's worked value: Mask(0) is the delta itself.
	if got := MaskedCRC(nil); got != 0xa282ead8 {
		t.Fatalf("MaskedCRC(empty) = %#08x, want 0xa282ead8", got)
	}
}

func TestWriterLocalReadsBack(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "tensorboard")
	start := time.Unix(1765000000, 250_000_000)
	w, err := Open(ctx, dir, Options{Now: start, Host: "node1"})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "events.out.tfevents.1765000000.node1")
	if w.Path() != want {
		t.Fatalf("path %s, want %s", w.Path(), want)
	}
	sizes := []float64{0, 0, 3, 5, 5, 7, 40}
	for step := range int64(5) {
		sc := []Scalar{{"train/loss", 3 - 0.1*float64(step)}, {"train/lr", 0.5}}
		var hs []Histogram
		if step == 4 {
			hs = append(hs, NewHistogram("monitor/cluster_sizes", sizes, 30))
		}
		if err := w.Write(ctx, step, start.Add(time.Duration(step)*time.Second), sc, hs); err != nil {
			t.Fatal(err)
		}
		// Every write is whole frames already on disk (kill -9 safe):
		// read the file as it is now, before Close.
		b, err := os.ReadFile(want)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(tbtest.Frames(t, b)); n != int(step)+2 {
			t.Fatalf("after step %d the file holds %d frames, want %d", step, n, step+2)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal("second Close:", err)
	}
	b, _ := os.ReadFile(want)
	evs := tbtest.Decode(t, b)
	if evs[0].FileVersion != "brain.Event:2" || evs[0].Wall != 1765000000.25 {
		t.Fatalf("first event %+v, want file_version brain.Event:2 at 1765000000.25", evs[0])
	}
	for i, ev := range evs[1:] {
		if ev.Step != int64(i) || ev.Scalars["train/loss"] != float32(3-0.1*float64(i)) || ev.Scalars["train/lr"] != 0.5 {
			t.Fatalf("event %d: %+v", i+1, ev)
		}
	}
	h := evs[5].Hists["monitor/cluster_sizes"]
	if h.Num != 7 || h.Min != 0 || h.Max != 40 || h.Sum != 60 || h.SumSquares != 9+50+49+1600 {
		t.Fatalf("histogram %+v", h)
	}
	var total float64
	for _, c := range h.Counts {
		total += c
	}
	if total != 7 || len(h.Limits) != len(h.Counts) || h.Limits[len(h.Limits)-1] != 40 {
		t.Fatalf("histogram buckets %v limits %v", h.Counts, h.Limits)
	}
}

func TestNewHistogram(t *testing.T) {
	for _, tc := range []struct {
		name           string
		vals           []float64
		limits, counts []float64
	}{
		{"integers one bucket each", []float64{1, 1, 3}, []float64{1, 2, 3}, []float64{2, 0, 1}},
		{"one value", []float64{5, 5}, []float64{5}, []float64{2}},
		{"wide range", []float64{0, 10, 100}, []float64{50, 100}, []float64{2, 1}},
		{"empty", nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHistogram("x", tc.vals, 2+boolInt(tc.name == "integers one bucket each"))
			if fmt.Sprint(h.Limits) != fmt.Sprint(tc.limits) || fmt.Sprint(h.Counts) != fmt.Sprint(tc.counts) {
				t.Fatalf("limits %v counts %v, want %v %v", h.Limits, h.Counts, tc.limits, tc.counts)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestFileName(t *testing.T) {
	got := FileName(time.Unix(42, 0), "h")
	if got != "events.out.tfevents.0000000042.h" {
		t.Fatal(got)
	}
	if d := Dir("", "runs/x"); d != "runs/x/tensorboard" {
		t.Fatal(d)
	}
	if d := Dir("", "s3://b/run/"); d != "s3://b/run/tensorboard" {
		t.Fatal(d)
	}
	if d := Dir("s3://b/tb", "runs/x"); d != "s3://b/tb" {
		t.Fatal(d)
	}
}

// TestScalarIsFloat32 pins simple_value's width: TensorBoard's field is a
// float, so a value is rounded to float32.
func TestScalarIsFloat32(t *testing.T) {
	b := AppendRecord(nil, summaryEvent(1, 7, []Scalar{{"a", math.Pi}}, nil))
	ev := tbtest.Decode(t, b)[0]
	if ev.Scalars["a"] != float32(math.Pi) || ev.Step != 7 {
		t.Fatalf("%+v", ev)
	}
	if !bytes.Contains(b, []byte("a")) || strings.Count(string(b), "a") < 1 {
		t.Fatal("tag missing")
	}
}

// TestOpenNeverReusesAFile: a second writer of the same host and second
// (a run resumed at once) gets the next second's name.
func TestOpenNeverReusesAFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	at := time.Unix(500, 0)
	var paths []string
	for range 3 {
		w, err := Open(ctx, dir, Options{Now: at, Host: "h"})
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, filepath.Base(w.Path()))
		w.Close(ctx)
	}
	want := []string{"events.out.tfevents.0000000500.h", "events.out.tfevents.0000000501.h", "events.out.tfevents.0000000502.h"}
	if fmt.Sprint(paths) != fmt.Sprint(want) {
		t.Fatalf("%v, want %v", paths, want)
	}
}
