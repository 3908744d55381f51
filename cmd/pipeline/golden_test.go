package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swavgo/swav/train/swav/goldenfile"
)

func sharedGolden(t *testing.T) string {
	t.Helper()
	path, err := goldenfile.DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGoldenCommand(t *testing.T) {
	path := sharedGolden(t)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	// A file holding only swav_cases, with one golden loss off by 1e-5.
	cases := m["swav_cases"].([]any)
	cases[1].(map[string]any)["golden_float64"].(map[string]any)["loss"] = 4.429620382903766
	off, err := json.Marshal(map[string]any{"swav_cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	offPath := filepath.Join(t.TempDir(), "off.json")
	if err := os.WriteFile(offPath, off, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		path      string
		opts      goldenOptions
		wantErr   string
		usage     bool
		wantLines int
		wantOut   string
	}{
		{name: "shared file float64", path: path, opts: goldenOptions{precision: "float64"}, wantLines: 14, wantOut: "0 off by more than 1e-06"},
		{name: "shared file float32", path: path, opts: goldenOptions{precision: "float32"}, wantLines: 14, wantOut: "0 off by more than 0.0001"},
		{name: "one case off", path: offPath, opts: goldenOptions{precision: "float64"}, wantErr: "1 of 5 cases off by more than 1e-06: [swav_cases/queue16_eps0.05_it3]", wantLines: 6, wantOut: "FAIL max=1e-05 swav_cases/queue16"},
		{name: "loose tolerance", path: offPath, opts: goldenOptions{precision: "float64", tolerance: 1e-4}, wantLines: 6},
		{name: "missing file", path: "/nonexistent.json", opts: goldenOptions{precision: "float64"}, wantErr: "no such file"},
		{name: "bad precision", path: path, opts: goldenOptions{precision: "bf16"}, wantErr: "--precision must be float64 or float32", usage: true},
		{name: "negative tolerance", path: path, opts: goldenOptions{precision: "float64", tolerance: -1}, wantErr: "--tolerance must not be negative", usage: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runGolden(&out, tc.path, tc.opts)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("error %v\n%s", err, out.String())
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			var ue usageError
			if errors.As(err, &ue) != tc.usage {
				t.Fatalf("usage error = %v, want %v", errors.As(err, &ue), tc.usage)
			}
			if n := strings.Count(out.String(), "\n"); tc.wantLines != 0 && n != tc.wantLines {
				t.Fatalf("%d lines, want %d:\n%s", n, tc.wantLines, out.String())
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("output lacks %q:\n%s", tc.wantOut, out.String())
			}
		})
	}
}
