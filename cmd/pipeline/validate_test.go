package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// execute runs the root command with args and returns its output.
func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	resetFlags(root)
	err := runCLI(args)
	return out.String(), err
}

// resetFlags puts every flag of cmd's tree back to its default: cobra keeps
// values (and appends to repeatable flags such as --set) across Execute calls
// of the one root command.
func resetFlags(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			sv.Replace(nil)
		} else {
			f.Value.Set(f.DefValue)
		}
		f.Changed = false
	})
	for _, c := range cmd.Commands() {
		resetFlags(c)
	}
}

func TestValidateAcceptsEveryShippedConfig(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no configs: %v", err)
	}
	out, err := execute(t, append([]string{"validate", "--embedded"}, files...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := strings.Count(out, "OK "); got != 2*len(files) {
		t.Fatalf("%d OK lines for %d files (+ embedded):\n%s", got, len(files), out)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("job: demo\ndemo:\n  wokers: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := execute(t, "validate", bad, "../../configs/demo.yaml", "--set", "seed=x")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{bad + ":3: demo.wokers: unknown field", `--set: seed: "x" is not a valid integer`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestVersionNamesTheToolchain(t *testing.T) {
	out, err := execute(t, "version")
	if err != nil || !strings.Contains(out, "go1.") || !strings.Contains(out, "features") {
		t.Fatalf("%v\n%s", err, out)
	}
	// The native engines it found (oneDNN, OpenBLAS, libjpeg-turbo, or the
	// fallbacks), one line each: make test-image reads them in the image.
	for _, line := range []string{"\nconv ", "\ngemm ", "\njpeg "} {
		if !strings.Contains(out, line) {
			t.Errorf("no %q line:\n%s", strings.TrimSpace(line), out)
		}
	}
}
