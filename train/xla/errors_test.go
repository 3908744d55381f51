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
			cfg.PJRTPlugin = tc.plugin
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

func TestBadStepInputIsRejectedAndLosesNothing(t *testing.T) {
	b, err := New(tinyConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	good := func() *train.StepInput { return randomInput(1, 4, [2]int{8, 2}) }
	cases := []struct {
		name    string
		mutate  func(*train.StepInput)
		mention string
	}{
		{"zero batch", func(in *train.StepInput) { in.Batch = 0 }, "batch 0"},
		{"no groups", func(in *train.StepInput) { in.Groups = nil }, "no crop groups"},
		{"short data", func(in *train.StepInput) { in.Groups[0].Data = in.Groups[0].Data[:10] }, "group 0"},
		{"one crop", func(in *train.StepInput) {
			in.Groups[0].Count = 1
			in.Groups[0].Data = in.Groups[0].Data[:4*3*8*8]
		}, "at least 2"},
		{"nan lr", func(in *train.StepInput) { in.LR = math.NaN() }, "learning rate"},
	}
	before, err := b.State()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := good()
			tc.mutate(in)
			_, err := b.Step(context.Background(), in)
			if err == nil || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.mention)
			}
		})
	}
	after, err := b.State()
	if err != nil {
		t.Fatal(err)
	}
	assertSameState(t, before, after)
	if _, err := b.Step(context.Background(), good()); err != nil {
		t.Fatalf("good step after bad ones: %v", err)
	}
}

func TestNonFiniteLossLeavesStateUnchanged(t *testing.T) {
	cfg := tinyConfig()
	cfg.SwAV.QueueLength = 8
	b, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ok := randomInput(1, 4, [2]int{8, 2})
	ok.UseQueue = true
	if _, err := b.Step(context.Background(), ok); err != nil {
		t.Fatal(err)
	}
	before, err := b.State()
	if err != nil {
		t.Fatal(err)
	}
	bad := randomInput(2, 4, [2]int{8, 2})
	bad.UseQueue = true
	bad.Groups[0].Data[5] = float32(math.NaN())
	_, err = b.Step(context.Background(), bad)
	if !errors.Is(err, train.ErrNonFinite) {
		t.Fatalf("error %v, want ErrNonFinite", err)
	}
	after, err := b.State()
	if err != nil {
		t.Fatal(err)
	}
	assertSameState(t, before, after)
}

func TestLoadRejectsMismatchNamingIt(t *testing.T) {
	b, err := New(tinyConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st, err := b.State()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		mutate  func(*train.State)
		mention string
	}{
		{"renamed param", func(s *train.State) { s.Params[2].Name = "trunk.9.weight" }, "trunk.9.weight"},
		{"wrong shape", func(s *train.State) { s.Params[0].Shape = []int{32, 3, 3, 2} }, "shape"},
		{"missing buffer", func(s *train.State) { s.Buffers = s.Buffers[:3] }, "buffers"},
		{"bad queue", func(s *train.State) {
			s.Queue = &train.Tensor{Name: "queue", Shape: []int{2, 4, 7}, Data: make([]float32, 56)}
		}, "queue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cp := cloneState(st)
			tc.mutate(cp)
			err := b.Load(cp)
			if err == nil || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.mention)
			}
		})
	}
	after, err := b.State()
	if err != nil {
		t.Fatal(err)
	}
	assertSameState(t, st, after)
}

func TestStateRoundTripsThroughLoad(t *testing.T) {
	cfg := tinyConfig()
	cfg.SwAV.QueueLength = 8
	cfg.SwAV.FreezePrototypesIters = 100
	b, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	in := randomInput(1, 4, [2]int{8, 2})
	in.UseQueue = true
	if _, err := b.Step(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	st, err := b.State()
	if err != nil {
		t.Fatal(err)
	}
	if st.Queue == nil || len(st.Momentum) != len(st.Params)-1 {
		t.Fatalf("queue %v, %d momentum buffers for %d params (prototypes frozen)", st.Queue != nil, len(st.Momentum), len(st.Params))
	}
	c, err := New(cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Load(st); err != nil {
		t.Fatal(err)
	}
	next := randomInput(5, 4, [2]int{8, 2})
	next.UseQueue = true
	r1, err := b.Step(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := c.Step(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Loss != r2.Loss {
		t.Fatalf("loss after reload %v, original %v", r2.Loss, r1.Loss)
	}
	s1, _ := b.State()
	s2, _ := c.State()
	assertSameState(t, s1, s2)
}

func TestEmbedIsEvalMode(t *testing.T) {
	b, err := New(tinyConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Step(context.Background(), randomInput(1, 4, [2]int{8, 2})); err != nil {
		t.Fatal(err)
	}
	before, _ := b.State()
	images := randomInput(3, 5, [2]int{8, 1}).Groups[0].Data
	one, w, err := b.Embed(context.Background(), images, 5, 8, train.FeatureProjection)
	if err != nil {
		t.Fatal(err)
	}
	if w != 8 || len(one) != 5*8 {
		t.Fatalf("projection %d values of width %d", len(one), w)
	}
	// Evaluation mode: an image's embedding does not depend on the others.
	single, _, err := b.Embed(context.Background(), images[:3*8*8], 1, 8, train.FeatureProjection)
	if err != nil {
		t.Fatal(err)
	}
	for i := range single {
		if math.Abs(float64(single[i]-one[i])) > 1e-5 {
			t.Fatalf("embedding of image 0 alone differs at %d: %v vs %v", i, single[i], one[i])
		}
	}
	after, _ := b.State()
	assertSameState(t, before, after)
	if _, _, err := b.Embed(context.Background(), images, 5, 8, "logits"); err == nil {
		t.Fatal("unknown feature accepted")
	}
	if _, _, err := b.Embed(context.Background(), images[:7], 5, 8, train.FeatureTrunk); err == nil {
		t.Fatal("short images accepted")
	}
}

func TestBF16StepTracksFloat32(t *testing.T) {
	run := func(precision string) float64 {
		cfg := tinyConfig()
		cfg.Precision = precision
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

func cloneState(st *train.State) *train.State {
	cp := func(ts []train.Tensor) []train.Tensor {
		out := make([]train.Tensor, len(ts))
		for i, t := range ts {
			out[i] = train.Tensor{Name: t.Name, Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
		}
		return out
	}
	out := &train.State{Params: cp(st.Params), Buffers: cp(st.Buffers), Momentum: cp(st.Momentum)}
	if st.Queue != nil {
		q := cp([]train.Tensor{*st.Queue})
		out.Queue = &q[0]
	}
	return out
}

func assertSameState(t *testing.T, a, b *train.State) {
	t.Helper()
	same := func(kind string, x, y []train.Tensor) {
		if len(x) != len(y) {
			t.Fatalf("%s: %d tensors vs %d", kind, len(x), len(y))
		}
		for i := range x {
			if x[i].Name != y[i].Name || len(x[i].Data) != len(y[i].Data) {
				t.Fatalf("%s[%d]: %s vs %s", kind, i, x[i].Name, y[i].Name)
			}
			for j := range x[i].Data {
				if x[i].Data[j] != y[i].Data[j] {
					t.Fatalf("%s %s[%d]: %v vs %v", kind, x[i].Name, j, x[i].Data[j], y[i].Data[j])
				}
			}
		}
	}
	same("params", a.Params, b.Params)
	same("buffers", a.Buffers, b.Buffers)
	same("momentum", a.Momentum, b.Momentum)
	if (a.Queue == nil) != (b.Queue == nil) {
		t.Fatalf("queue present %v vs %v", a.Queue != nil, b.Queue != nil)
	}
	if a.Queue != nil {
		same("queue", []train.Tensor{*a.Queue}, []train.Tensor{*b.Queue})
	}
}
