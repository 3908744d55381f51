package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/s3local"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/train"
)

func sampleCheckpoint(iter int) *Checkpoint {
	return &Checkpoint{
		Iter: iter, Epoch: 1, ItersPerEpoch: 7, Seed: 31, Backend: "cpu",
		Cursor:  ingest.Position{Epoch: 1, Seq: 40},
		Model:   train.ModelConfig{Arch: "small", SmallStem: true, FeatDim: 8, Prototypes: 10},
		Config:  []byte("job: train\nseed: 31\n"),
		RNG:     map[string]uint64{"augment": 42},
		Losses:  []float64{2.3, 2.2, math.Log(10)},
		Created: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC),
		State: &train.State{
			Params:   []train.Tensor{{Name: "a.weight", Shape: []int{2, 3}, Data: []float32{1, -2, 3, 4.5, 5, float32(math.SmallestNonzeroFloat32)}}, {Name: "b.bias", Shape: []int{0}, Data: []float32{}}},
			Buffers:  []train.Tensor{{Name: "bn.running_mean", Shape: []int{2}, Data: []float32{0.25, -0.5}}},
			Momentum: []train.Tensor{{Name: "a.weight", Shape: []int{2, 3}, Data: []float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.6}}},
			Queue:    &train.Tensor{Name: "queue", Shape: []int{2, 4, 1}, Data: []float32{1, 2, 3, 4, 5, 6, 7, 8}},
		},
	}
}

func encoded(t *testing.T, ck *Checkpoint) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, ck); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSaveLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	want := sampleCheckpoint(12)
	url, err := Save(ctx, dir, want, 3)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(url) != "ckpt-0000000012.swck" {
		t.Fatalf("url %s", url)
	}
	got, err := Load(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if got.ConfigHash != HashConfig(want.Config) || got.Version != FormatVersion {
		t.Fatalf("hash/version: %+v", got)
	}
	// Empty tensors come back as empty slices.
	want.State.Params[1].Data = make([]float32, 0)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, want)
	}
}

func TestNilStateRoundTrip(t *testing.T) {
	ck := sampleCheckpoint(0)
	ck.State = nil
	got, err := Decode(bytes.NewReader(encoded(t, ck)), "mem")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != nil || got.Iter != 0 {
		t.Fatalf("got %+v", got)
	}
}

func TestDecodeBadInput(t *testing.T) {
	good := encoded(t, sampleCheckpoint(5))
	hlen := int(binary.LittleEndian.Uint32(good[12:]))
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name    string
		data    []byte
		wantErr error
		wantMsg string
	}{
		{"empty", nil, ErrCorrupt, "truncated in the preamble"},
		{"not a checkpoint", []byte("PK\x03\x04 this is a zip file, not ours"), ErrCorrupt, "magic"},
		{"future version", mutate(func(b []byte) []byte { b[8] = 2; return b }), ErrVersion, "version 2"},
		{"huge header length", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 1<<31); return b }), ErrCorrupt, "header length"},
		{"truncated header", good[:16+hlen/2], ErrCorrupt, "truncated in the header"},
		{"header bit flip", mutate(func(b []byte) []byte { b[16+hlen/2] ^= 1; return b }), ErrCorrupt, "header checksum"},
		{"truncated data", good[:len(good)-10], ErrCorrupt, "truncated"},
		{"data bit flip", mutate(func(b []byte) []byte { b[len(b)-8] ^= 0x40; return b }), ErrCorrupt, "data checksum"},
		{"missing data checksum", good[:len(good)-4], ErrCorrupt, "truncated in the data checksum"},
		{"trailing bytes", append(append([]byte(nil), good...), 0), ErrCorrupt, "trailing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(c.data), "runs/x/ckpt.swck")
			if !errors.Is(err, c.wantErr) || !strings.Contains(err.Error(), c.wantMsg) || !strings.Contains(err.Error(), "runs/x/ckpt.swck") {
				t.Fatalf("err = %v, want %v containing %q and the file name", err, c.wantErr, c.wantMsg)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(context.Background(), filepath.Join(t.TempDir(), "nope.swck"))
	if !store.IsNotExist(err) || !strings.Contains(err.Error(), "nope.swck") {
		t.Fatalf("err = %v", err)
	}
}

func TestSaveRefusesNonFinite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Save(ctx, dir, sampleCheckpoint(1), 3); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		ck := sampleCheckpoint(2)
		ck.State.Momentum[0].Data[4] = bad
		_, err := Save(ctx, dir, ck, 1)
		if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "momentum a.weight[4]") {
			t.Fatalf("err = %v", err)
		}
	}
	url, found, err := Latest(ctx, dir)
	if err != nil || !found || filepath.Base(url) != FileName(1) {
		t.Fatalf("latest = %s %v %v, want the good checkpoint 1 kept", url, found, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left %d files, want 1 (no temporary files)", len(ents))
	}
}

func TestSaveShapeMismatch(t *testing.T) {
	ck := sampleCheckpoint(1)
	ck.State.Params[0].Shape = []int{7}
	if err := Encode(&bytes.Buffer{}, ck); err == nil || !strings.Contains(err.Error(), "a.weight") {
		t.Fatalf("err = %v", err)
	}
}

func TestKeepAndLatest(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "nested", "ckpts")
	if _, found, err := Latest(ctx, dir); found || err != nil {
		t.Fatalf("empty dir: found=%v err=%v", found, err)
	}
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644) // foreign files are left alone
	for _, it := range []int{3, 10, 7, 20, 15} {
		if _, err := Save(ctx, dir, sampleCheckpoint(it), 2); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{FileName(15), FileName(20), "notes.txt"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	url, found, err := Latest(ctx, "file://"+dir)
	if err != nil || !found || filepath.Base(url) != FileName(20) {
		t.Fatalf("latest %s %v %v", url, found, err)
	}
}

func TestCheckModel(t *testing.T) {
	ck := sampleCheckpoint(1)
	if err := ck.CheckModel(ck.Model); err != nil {
		t.Fatal(err)
	}
	other := ck.Model
	other.Arch, other.Prototypes = "resnet18", 3000
	err := ck.CheckModel(other)
	if !errors.Is(err, ErrArchitecture) || !strings.Contains(err.Error(), "model.arch: checkpoint small, config resnet18") || !strings.Contains(err.Error(), "model.prototypes") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnsupportedScheme(t *testing.T) {
	if _, err := Save(context.Background(), "gs://bucket/x", sampleCheckpoint(1), 1); err == nil {
		t.Fatal("want an error")
	}
}

// TestS3 saves, prunes, finds and loads checkpoints on a real S3 server
// (versitygw), and reads a corrupted object back as a clear error.
func TestS3(t *testing.T) {
	ctx := context.Background()
	srv := s3local.StartForTest(t)
	b, err := srv.CreateBucket(ctx, "ckpts")
	if err != nil {
		t.Fatal(err)
	}
	st := Store{Config: srv.StoreConfig()}
	dir := "s3://ckpts/run1/checkpoints"
	for _, it := range []int{5, 10, 15} {
		if _, err := st.Save(ctx, dir, sampleCheckpoint(it), 2); err != nil {
			t.Fatal(err)
		}
	}
	url, found, err := st.Latest(ctx, dir+"/")
	if err != nil || !found || url != dir+"/"+FileName(15) {
		t.Fatalf("latest %q %v %v", url, found, err)
	}
	objs, err := store.List(ctx, b, "run1/")
	if err != nil || len(objs) != 2 {
		t.Fatalf("objects %v %v, want 2 after pruning", objs, err)
	}
	got, err := st.Load(ctx, url)
	if err != nil || got.Iter != 15 || got.State.Queue.Data[7] != 8 {
		t.Fatalf("load: %v %+v", err, got)
	}
	data := encoded(t, sampleCheckpoint(20))
	if err := b.Upload(ctx, "run1/checkpoints/"+FileName(20), bytes.NewReader(data[:len(data)/2])); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, dir+"/"+FileName(20)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "s3://ckpts/run1/checkpoints/"+FileName(20)) {
		t.Fatalf("truncated object: err = %v", err)
	}
	if _, err := st.Load(ctx, dir+"/"+FileName(99)); !store.IsNotExist(err) {
		t.Fatalf("missing object: err = %v", err)
	}
}
