package xla

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/swavgo/swav/train"
)

func TestDeviceCount(t *testing.T) {
	cases := []struct {
		want, have, got int
		err             string
	}{
		{0, 1, 1, ""},
		{0, 8, 8, ""},
		{0, 0, 1, ""},
		{1, 8, 1, ""},
		{4, 8, 4, ""},
		{2, 1, 0, "train.xla.devices: 2 requested, but cuda has 1 device(s)"},
		{-1, 1, 0, "train.xla.devices: must not be negative"},
	}
	for _, tc := range cases {
		got, err := deviceCount(tc.want, tc.have, "cuda")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("deviceCount(%d, %d): error %v, want %q", tc.want, tc.have, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.got {
			t.Errorf("deviceCount(%d, %d) = %d, %v; want %d", tc.want, tc.have, got, err, tc.got)
		}
	}
}

func TestCheckShardable(t *testing.T) {
	groups := []train.CropGroup{{Size: 224, Count: 2}, {Size: 96, Count: 6}}
	if err := checkShardable(8, groups, 64); err != nil {
		t.Errorf("batch 64 over 8 devices: %v", err)
	}
	// 2x3 = 6 rows split over 4 devices does not work; the error names the
	// group and the knobs.
	err := checkShardable(4, groups, 3)
	if err == nil || !strings.Contains(err.Error(), "group 0 (2 crops of 224 px, batch 3)") ||
		!strings.Contains(err.Error(), "train.batch_size a multiple of 4") {
		t.Errorf("batch 3 over 4 devices: %v", err)
	}
	// Rows, not images, must split: 6 crops x batch 2 = 12 rows over 4 devices is fine.
	if err := checkShardable(4, groups[1:], 2); err != nil {
		t.Errorf("12 rows over 4 devices: %v", err)
	}
}

func TestShardRowsCoversEveryRowOnce(t *testing.T) {
	const rows, rowLen, n = 12, 5, 4
	data := make([]float32, rows*rowLen)
	for i := range data {
		data[i] = float32(i)
	}
	var joined []float32
	for d := range n {
		s := shardRows(data, rows, n, d)
		if len(s) != rows/n*rowLen {
			t.Fatalf("device %d: %d values, want %d", d, len(s), rows/n*rowLen)
		}
		joined = append(joined, s...)
	}
	if !slices.Equal(joined, data) {
		t.Errorf("shards joined in device order differ from the input")
	}
}

func TestSplitByDevice(t *testing.T) {
	outs := make([]*tensors.Tensor, 6)
	for i := range outs {
		outs[i] = tensors.FromValue(float32(i))
	}
	split, err := splitByDevice(outs, 3)
	if err != nil {
		t.Fatal(err)
	}
	for d, list := range split {
		if len(list) != 2 || list[0] != outs[2*d] || list[1] != outs[2*d+1] {
			t.Errorf("device %d: wrong outputs", d)
		}
	}
	if _, err := splitByDevice(outs, 4); err == nil {
		t.Error("6 outputs over 4 devices: no error")
	}
}

func TestInputSpecsShardOnlyTheCrops(t *testing.T) {
	dp, err := newDataParallel(4)
	if err != nil {
		t.Fatal(err)
	}
	specs := dp.inputSpecs(7)
	if len(specs) != 8 {
		t.Fatalf("%d specs, want 7 replicated + 1 for the crops", len(specs))
	}
	for i, s := range specs[:7] {
		if !s.IsReplicated() {
			t.Errorf("input %d: %s, want replicated", i, s)
		}
	}
	if last := specs[7]; last.IsReplicated() || last.NumDevicesShardingAxis(0) != 4 {
		t.Errorf("crop spec %s: want axis 0 over 4 devices", last)
	}
}

// TestDevicesBeyondTheEngine: asking for more devices than the engine has
// is an error naming the field, before any state is built.
func TestDevicesBeyondTheEngine(t *testing.T) {
	cfg := tinyConfig()
	Edit(&cfg).Devices = 2
	_, err := New(cfg, 1)
	if err == nil || !strings.Contains(err.Error(), "train.xla.devices: 2 requested") {
		t.Fatalf("2 devices on the go engine: %v", err)
	}
	Edit(&cfg).Devices = 1
	b, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Devices() != 1 || strings.Contains(b.Engine(), "data-parallel") {
		t.Errorf("one device: Devices() %d, Engine %q", b.Devices(), b.Engine())
	}
}

// dataParallelEngines are the engines the data-parallel tests run on: the
// emulated 2- and 4-device engines (multidevice_test.go) everywhere, and
// the PJRT plugin of $PJRT_PLUGIN when set (gpu-check; skipped there with
// one GPU).
func dataParallelEngines() []string {
	engines := []string{emulatedEnginePrefix + "2", emulatedEnginePrefix + "4"}
	if p := os.Getenv(EnvPlugin); p != "" {
		engines = append(engines, p)
	}
	return engines
}

// TestDataParallelMatchesOneDevice runs the same steps on one device and,
// data-parallel, on every device of the engine, and requires the same loss,
// codes and state within the float32 conformance tolerances (on real
// devices only the order of the sums differs).
func TestDataParallelMatchesOneDevice(t *testing.T) {
	for _, engine := range dataParallelEngines() {
		t.Run(filepath.Base(engine), func(t *testing.T) {
			cfg := tinyConfig()
			Edit(&cfg).PJRTPlugin = engine
			cfg.SwAV.FreezePrototypesIters = 1
			n := engineDevices(t, cfg)
			if n < 2 {
				t.Skip("the engine has one device: data parallelism needs two or more")
			}
			// Batch 4n, 2 crops of 8 px (the codes' crops) and 1 of 6 px: rows
			// split evenly. A queue of two batches fills in two steps, so the
			// third step's codes use it; the first step has frozen prototypes.
			batch := 4 * n
			cfg.SwAV.QueueLength = 2 * batch
			var steps []*train.StepInput
			for i := range 3 {
				in := randomInput(uint64(50+i), batch, [2]int{8, 2}, [2]int{6, 1})
				in.Iter, in.UseQueue, in.LR = i, true, 0.4
				steps = append(steps, in)
			}
			run := func(devices int) (*Backend, []train.StepResult, *train.State) {
				c := cfg
				Edit(&c).Devices = devices
				b, err := NewWithOptions(c, 3, Options{KeepCodes: true})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { b.Close() })
				if want := fmt.Sprintf("data-parallel over %d devices", n); devices == 0 && !strings.Contains(b.Engine(), want) {
					t.Errorf("Engine() %q does not say %q", b.Engine(), want)
				}
				t.Logf("engine %s", b.Engine())
				results, st := runSteps(t, b, steps)
				return b, results, st
			}
			single, want, wantState := run(1)
			all, got, gotState := run(0)
			if gotState.Queue == nil {
				t.Fatal("no queue after three queue steps")
			}
			compareWithTorch(t, cfg, got, gotState, refOf(want, wantState), float32Tolerances)
			// Evaluation runs on device 0's replica.
			compareEmbeddings(t, all, single, randomInput(99, 3, [2]int{8, 1}).Groups[0].Data, 3, 8)
		})
	}
}

// engineDevices is the number of devices of cfg's engine.
func engineDevices(t *testing.T, cfg train.Config) int {
	t.Helper()
	b, err := New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	return b.Devices()
}

// TestDataParallelRejectsUnevenRows: a batch whose rows do not split over
// the devices is refused before the state is donated.
func TestDataParallelRejectsUnevenRows(t *testing.T) {
	for _, engine := range dataParallelEngines() {
		t.Run(filepath.Base(engine), func(t *testing.T) {
			cfg := tinyConfig()
			Edit(&cfg).PJRTPlugin = engine
			b, err := New(cfg, 3)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			n := b.Devices()
			if n < 2 {
				t.Skipf("engine %s has one device", b.Engine())
			}
			in := randomInput(1, n+1, [2]int{8, 1}, [2]int{6, 1}) // n+1 rows per group
			if _, err := b.Step(t.Context(), in); err == nil || !strings.Contains(err.Error(), "do not split over") {
				t.Fatalf("uneven rows: %v", err)
			}
			// Nothing was donated: the backend still steps.
			if _, err := b.Step(t.Context(), randomInput(2, 2*n, [2]int{8, 1}, [2]int{6, 1})); err != nil {
				t.Errorf("step after the refused one: %v", err)
			}
		})
	}
}
