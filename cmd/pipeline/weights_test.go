package main

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
	"github.com/swavgo/swav/train/model"
	"github.com/swavgo/swav/train/weights"
)

func runWeights(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCommand(t, newWeightsCmd(), args...)
}

// TestWeightsExportInspect exports one of our checkpoints in both layouts,
// to a folder and to S3, and inspects the results: the exported tensors are
// the checkpoint's, under torchvision's and facebookresearch/swav's names.
func TestWeightsExportInspect(t *testing.T) {
	dir := t.TempDir()
	m := train.ModelConfig{Arch: "resnet18", SmallStem: true, HiddenMLP: 64, FeatDim: 16, Prototypes: 30}
	st, err := model.Init(m, 3)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoint.Save(context.Background(), dir, &checkpoint.Checkpoint{Iter: 7, Model: m, Config: []byte("job: train\n"),
		ConfigHash: checkpoint.HashConfig([]byte("job: train\n")), State: st}, 1)
	if err != nil {
		t.Fatal(err)
	}
	srv := s3local.StartForTest(t)
	if _, err := srv.CreateBucket(context.Background(), "models"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_REGION", s3local.Region)
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
	for _, tc := range []struct {
		layout, out string
		tensors     int
	}{
		{weights.LayoutTorchvision, filepath.Join(dir, "trunk.safetensors"), 122 - 2},
		{weights.LayoutSwAV, "s3://models/swav/r18.safetensors", 122 - 2 + 10},
	} {
		msg, err := runWeights(t, "export", ck, "--out", tc.out, "--layout", tc.layout)
		if err != nil || !strings.Contains(msg, "layout "+tc.layout) {
			t.Fatalf("export %s: %s %v", tc.layout, msg, err)
		}
		msg, err = runWeights(t, "inspect", tc.out)
		if err != nil {
			t.Fatalf("inspect %s: %v\n%s", tc.out, err, msg)
		}
		for _, want := range []string{"safetensors", "metadata layout: " + tc.layout, "metadata source: " + ck,
			"arch: resnet18 (small stem: true)", "conv1.weight", "layer4.1.bn2.num_batches_tracked"} {
			if !strings.Contains(msg, want) {
				t.Errorf("inspect %s lacks %q:\n%s", tc.out, want, msg)
			}
		}
		f, err := weights.Read(context.Background(), tc.out, srv.StoreConfig())
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Tensors) != tc.tensors {
			t.Errorf("%s: %d tensors, want %d", tc.layout, len(f.Tensors), tc.tensors)
		}
		if got, want := f.Lookup("layer1.0.conv1.weight"), st.Params[3]; got == nil || want.Name != "trunk.layer1.0.conv1.weight" || !slices.Equal(got.Float, want.Data) {
			t.Errorf("%s: layer1.0.conv1.weight is not the checkpoint's", tc.layout)
		}
		// An export is written once: a second one to the same place is
		// refused by name and the first stays.
		msg, err = runWeights(t, "export", ck, "--out", tc.out, "--layout", tc.layout)
		if !errors.Is(err, weights.ErrExportExists) || !strings.Contains(err.Error(), tc.out) {
			t.Fatalf("second export to %s: %s %v; want ErrExportExists naming it", tc.out, msg, err)
		}
		if f2, err := weights.Read(context.Background(), tc.out, srv.StoreConfig()); err != nil || len(f2.Tensors) != tc.tensors {
			t.Fatalf("%s after a refused second export: %v", tc.out, err)
		}
	}
	if msg, err := runWeights(t, "export", ck, "--out", filepath.Join(dir, "x.safetensors"), "--layout", "timm"); err == nil || !strings.Contains(err.Error(), `unknown layout "timm"`) {
		t.Fatalf("unknown layout: %s %v", msg, err)
	}
}
