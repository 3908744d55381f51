package goldenfile

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// loadShared reads the shared golden file as generic JSON, for mutation.
func loadShared(t *testing.T) map[string]any {
	t.Helper()
	path, err := DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the shared golden file is needed: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func get(m any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m = m.(map[string]any)[k]
		case int:
			m = m.([]any)[k]
		}
	}
	return m
}

// TestParseBadInput mutates the shared file and checks that each bad input
// gets an error naming the case and field, never a panic.
func TestParseBadInput(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(m map[string]any)
		want   string
	}{
		{"no cases", func(m map[string]any) { delete(m, "swav_cases") }, "no swav_cases"},
		{"ragged embeddings", func(m map[string]any) {
			row := get(m, "swav_cases", 0, "inputs", "embeddings", 3).([]any)
			get(m, "swav_cases", 0, "inputs", "embeddings").([]any)[3] = row[:5]
		}, "swav_cases[0] (base_2x_4x_eps0.05_it3): inputs.embeddings: element[3]: 5 entries, want 16 (ragged array)"},
		{"null inside an array", func(m map[string]any) {
			get(m, "swav_cases", 1, "inputs", "prototypes", 2).([]any)[4] = nil
		}, "swav_cases[1] (queue16_eps0.05_it3): inputs.prototypes: element[2][4]: null where a number was expected"},
		{"string inside an array", func(m map[string]any) {
			get(m, "swav_cases", 1, "golden_float64", "scores", 0).([]any)[0] = "x"
		}, "golden_float64.scores: element of type string, want a number or an array"},
		{"one-step result of another shape", func(m map[string]any) {
			get(m, "larc_sgd", "one_step_wd1e-6_lr4.8", "params_after").(map[string]any)["bn_weight"] = []any{1.0, 2.0}
		}, "larc_sgd.one_step_wd1e-6_lr4.8: params_after.bn_weight: shape [2], want [4]"},
		{"embeddings of the wrong width", func(m map[string]any) {
			e := get(m, "swav_cases", 2, "inputs", "embeddings").([]any)
			get(m, "swav_cases", 2, "inputs").(map[string]any)["embeddings"] = e[:47]
		}, "swav_cases[2] (eps0.03_it3_readme_advice): inputs.embeddings: shape [47 16], want [48 16]"},
		{"crop out of range", func(m map[string]any) {
			get(m, "swav_cases", 0, "config").(map[string]any)["crops_for_assign"] = []any{0, 6}
		}, "config.crops_for_assign[1] = 6: outside [0, n_views=6)"},
		{"world size 2", func(m map[string]any) {
			get(m, "swav_cases", 0, "config").(map[string]any)["world_size"] = 2
		}, "config.world_size 2: only 1 is supported"},
		{"zero temperature", func(m map[string]any) {
			get(m, "swav_cases", 0, "config").(map[string]any)["temperature"] = 0
		}, "must be positive"},
		{"queue of the wrong length", func(m map[string]any) {
			get(m, "swav_cases", 1, "config").(map[string]any)["queue_length"] = 24
		}, "swav_cases[1] (queue16_eps0.05_it3): inputs.queue: shape [2 16 16], want [2 24 16]"},
		{"queue length not a multiple of B", func(m map[string]any) {
			get(m, "swav_cases", 1, "config").(map[string]any)["queue_length"] = 12
		}, "config.queue_length 12: must be a positive multiple of batch_size 8"},
		{"one code for two crops", func(m map[string]any) {
			g := get(m, "swav_cases", 0, "golden_float64").(map[string]any)
			g["codes"] = g["codes"].([]any)[:1]
		}, "golden_float64.codes: 1 entries, want one per crop in crops_for_assign (2)"},
		{"bad stability crop", func(m map[string]any) {
			sv := get(m, "swav_cases", 0, "sinkhorn_stability_variants").(map[string]any)
			sv["crop7"] = sv["crop0"]
		}, "sinkhorn_stability_variants.crop7: want crop0 .. crop1"},
		{"lr table too short", func(m map[string]any) {
			c := get(m, "lr_schedule", "cases", 0).(map[string]any)
			c["lr"] = c["lr"].([]any)[:29]
		}, "lr_schedule.cases[0] (warmup_cosine_small): lr has 29 values, want iters_per_epoch*epochs = 30"},
		{"warmup as long as the run", func(m map[string]any) {
			get(m, "lr_schedule", "real_recipes", 0, "config").(map[string]any)["warmup_epochs"] = 800
		}, "lr_schedule.real_recipes[0] (bs4096_800ep): config.warmup_epochs 800: must be in [0, epochs)"},
		{"larc gradient of another shape", func(m map[string]any) {
			get(m, "larc_sgd", "two_step_cases", 1, "grads_step2").(map[string]any)["linear_bias"] = []any{1.0}
		}, "larc_sgd.two_step_cases[1]: grads_step2.linear_bias: shape [1], want [4]"},
		{"larc result missing", func(m map[string]any) {
			delete(get(m, "larc_sgd", "two_step_cases", 0, "params_after_step1_and_2").(map[string]any), "bn_weight")
		}, "params_after_step1_and_2.bn_weight: missing"},
		{"larc clip", func(m map[string]any) {
			get(m, "larc_sgd", "two_step_cases", 0).(map[string]any)["clip"] = true
		}, "clip: true is not the reference's setting"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := loadShared(t)
			tc.mutate(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseSyntaxErrorNamesOffset(t *testing.T) {
	_, err := Parse([]byte(`{"swav_cases": [ {"name": "x",, } ]}`))
	if err == nil || !strings.Contains(err.Error(), "byte offset 31") {
		t.Fatalf("error = %v, want one naming byte offset 31", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("/nonexistent/golden.json")
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error = %v, want os.ErrNotExist", err)
	}
}

// TestOnlySwAVCases checks that a file holding only swav_cases is accepted
// and that a corrupted golden value is reported as a deviation.
func TestOnlySwAVCases(t *testing.T) {
	m := loadShared(t)
	only := map[string]any{"swav_cases": m["swav_cases"]}
	get(only, "swav_cases", 0, "golden_float64").(map[string]any)["loss"] = 4.7157
	b, err := json.Marshal(only)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	reps := Run[float64](f)
	if len(reps) != len(f.SwAVCases) {
		t.Fatalf("%d reports for %d cases", len(reps), len(f.SwAVCases))
	}
	if reps[0].Within(1e-6) {
		t.Fatalf("corrupted loss not reported: %v", reps[0])
	}
	for _, r := range reps[1:] {
		if !r.Within(1e-10) {
			t.Errorf("%v", r)
		}
	}
}
