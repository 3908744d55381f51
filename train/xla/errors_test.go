package xla

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/backendtest"
)

func TestPluginErrors(t *testing.T) {
	dir := t.TempDir()
	notSO := filepath.Join(dir, "xla_cuda_plugin.so")
	if err := os.WriteFile(notSO, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, plugin, env string
		want              error
		mention           string
	}{
		{"none configured", "", "", ErrNoPlugin, "PJRT_PLUGIN"},
		{"missing file", filepath.Join(dir, "missing.so"), "", ErrPluginLoad, "missing.so"},
		{"directory", dir, "", ErrPluginLoad, "directory"},
		{"not a shared library", notSO, "", ErrPluginLoad, "xla_cuda_plugin.so"},
		{"missing file from env", "", filepath.Join(dir, "env.so"), ErrPluginLoad, "env.so"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvPlugin, tc.env)
			t.Setenv("XLA_FLAGS", "")
			cfg := tinyConfig()
			Edit(&cfg).PJRTPlugin = tc.plugin
			b, err := New(cfg, 1)
			if err == nil {
				b.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("error %q, want %v mentioning %q", err, tc.want, tc.mention)
			}
		})
	}
}

func TestFindCUDADataDir(t *testing.T) {
	site := t.TempDir()
	plugin := filepath.Join(site, "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so")
	libdevice := filepath.Join(site, "nvidia", "cu13", "nvvm", "libdevice")
	for _, d := range []string{filepath.Dir(plugin), libdevice} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := findCUDADataDir(plugin), filepath.Join(site, "nvidia", "cu13"); got != want {
		t.Fatalf("data dir %q, want %q", got, want)
	}
	t.Setenv("XLA_FLAGS", "--xla_gpu_autotune_level=2")
	t.Setenv(EnvCUDADataDir, "")
	t.Setenv("GOPJRT_CUDA_CHECKS", "")
	if err := setCUDADataDir(plugin); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv("XLA_FLAGS"); got != "--xla_gpu_autotune_level=2 --xla_gpu_cuda_data_dir="+filepath.Join(site, "nvidia", "cu13") {
		t.Fatalf("XLA_FLAGS %q", got)
	}
	if got := os.Getenv("GOPJRT_CUDA_CHECKS"); got != "0" {
		t.Fatalf("GOPJRT_CUDA_CHECKS %q, want 0 (go-xla's guess switched off)", got)
	}
	// A flag already set is left alone.
	t.Setenv("XLA_FLAGS", "--xla_gpu_cuda_data_dir=/opt/cuda")
	if err := setCUDADataDir(plugin); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv("XLA_FLAGS"); got != "--xla_gpu_cuda_data_dir=/opt/cuda" {
		t.Fatalf("XLA_FLAGS changed to %q", got)
	}
}

func TestBF16StepTracksFloat32(t *testing.T) {
	run := func(precision string) float64 {
		cfg := tinyConfig()
		Edit(&cfg).Precision = precision
		b, err := New(cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		res, err := b.Step(context.Background(), randomInput(1, 4, [2]int{8, 2}, [2]int{6, 2}))
		if err != nil {
			t.Fatalf("%s: %v", precision, err)
		}
		st, _ := b.State()
		for _, p := range st.Params {
			for _, v := range p.Data {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s: %s not finite", precision, p.Name)
				}
			}
		}
		return res.Loss
	}
	f32, bf16 := run("float32"), run("bf16")
	t.Logf("loss float32 %.5f, bf16 %.5f", f32, bf16)
	if math.Abs(f32-bf16) > 0.05*math.Abs(f32) {
		t.Fatalf("bf16 loss %v too far from float32 %v", bf16, f32)
	}
}

// The backend conformance suite every backend runs (train/backendtest), on
// the pure-Go engine.
func TestBackendConformance(t *testing.T) {
	backendtest.Run(t, func(cfg train.Config, seed int64) (train.Backend, error) { return New(cfg, seed) }, tinyConfig())
}

var (
	cloneState      = backendtest.CloneState
	assertSameState = backendtest.AssertSameState
)
