package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
	"github.com/swavgo/swav/train/model"
	"github.com/swavgo/swav/train/weights"
)

// writeSwAVLayout writes st as facebookresearch/swav would name it
// (projection_head.*, module. prefix), as safetensors, without the parts
// drop names.
func writeSwAVLayout(t *testing.T, path string, st *train.State, drop string) {
	t.Helper()
	var ts []weights.Tensor
	for _, p := range append(st.Params, st.Buffers...) {
		if drop != "" && strings.HasPrefix(p.Name, drop) {
			continue
		}
		name := strings.TrimPrefix(p.Name, "trunk.")
		if rest, ok := strings.CutPrefix(p.Name, "head"); ok {
			name = "projection_head" + rest
		}
		ts = append(ts, weights.Tensor{Name: "module." + name, Shape: p.Shape, DType: weights.F32, Float: p.Data})
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := weights.WriteSafetensors(f, ts, nil); err != nil {
		t.Fatal(err)
	}
}

// TestInitFrom: train.init_from loads a file's network into the backend
// (the prototypes, absent from the file, from the job's seed), leaves the
// optimiser fresh, and refuses a file of another network naming a tensor.
func TestInitFrom(t *testing.T) {
	dir := t.TempDir()
	job := tinyJob("unused", dir)
	pretrained, err := model.Init(job.Train.Model, 99)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "pretrained.safetensors")
	writeSwAVLayout(t, file, pretrained, "prototypes")
	job.Train.InitFrom = file

	backend, err := train.NewBackend(job.Train, job.Seed)
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	if err := InitFrom(context.Background(), job, backend); err != nil {
		t.Fatal(err)
	}
	st, err := backend.State()
	if err != nil {
		t.Fatal(err)
	}
	seeded, _ := model.Init(job.Train.Model, job.Seed)
	for i, p := range st.Params {
		want := pretrained.Params[i].Data
		if strings.HasPrefix(p.Name, "prototypes") {
			want = seeded.Params[i].Data
		}
		if !testutil.BitEqual(p.Data, want) {
			t.Errorf("%s not initialised from the file (or, for the prototypes, the seed)", p.Name)
		}
	}
	for i, b := range st.Buffers {
		if !testutil.BitEqual(b.Data, pretrained.Buffers[i].Data) {
			t.Errorf("buffer %s not loaded", b.Name)
		}
	}
	if len(st.Momentum) != 0 || st.Queue != nil {
		t.Errorf("optimiser or queue not fresh: %d momentum buffers, queue %v", len(st.Momentum), st.Queue != nil)
	}

	// A file of another network: the error names the file and a tensor.
	job.Train.Model.FeatDim = 16
	other, _ := train.NewBackend(job.Train, job.Seed)
	defer other.Close()
	err = InitFrom(context.Background(), job, other)
	if !errors.Is(err, checkpoint.ErrArchitecture) || !strings.Contains(err.Error(), "pretrained.safetensors") ||
		!strings.Contains(err.Error(), "module.projection_head.weight: the small network expects shape [16 64], the file has [8 64]") {
		t.Fatalf("init_from of another network: %v", err)
	}
	job.Train.InitFrom = filepath.Join(dir, "missing.pth")
	if err := InitFrom(context.Background(), job, other); err == nil || !strings.Contains(err.Error(), "missing.pth") {
		t.Fatalf("init_from of a missing file: %v", err)
	}
}
