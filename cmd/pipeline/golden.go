package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/swavgo/swav/train/swav/goldenfile"
)

// goldenOptions are the flags of `pipeline golden`.
type goldenOptions struct {
	precision string
	tolerance float64
}

// goldenTolerance is the default largest accepted deviation per precision:
// 1e-6 in float64 (the bar; the maths agree to ~1e-13), and in
// float32 a bar that holds the float32 rounding of inputs scaled by up to
// |score/eps| ~ 2000 in the unnormalised case.
var goldenTolerance = map[string]float64{"float64": 1e-6, "float32": 1e-4}

func newGoldenCmd() *cobra.Command {
	var o goldenOptions
	cmd := &cobra.Command{
		Use:   "golden FILE",
		Short: "Run every case of a golden file (../shared/swav/golden.json layout) through the SwAV maths",
		Long: `golden reads a file in the layout of golden.json (SPEC §15; a file holding
only swav_cases is accepted), runs every case through train/swav and prints
one line per case with the largest absolute deviation of the codes, the loss,
each gradient and the queue where there is one (plus the LR tables and LARC
steps when present). It exits non-zero when any case deviates by more than
the tolerance (default 1e-6 in float64).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("golden: want exactly one FILE, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGolden(cmd.OutOrStdout(), args[0], o)
		},
	}
	cmd.Flags().StringVar(&o.precision, "precision", "float64", "arithmetic of the inputs and results: float64 or float32")
	cmd.Flags().Float64Var(&o.tolerance, "tolerance", 0, "largest accepted absolute deviation (0: 1e-6 for float64, 1e-4 for float32)")
	return cmd
}

func init() { addCommand(nil, newGoldenCmd()) }

// runGolden checks the file and writes one line per case to w; it returns an
// error naming the failing cases when any is off by more than the tolerance.
func runGolden(w io.Writer, path string, o goldenOptions) error {
	tol, ok := goldenTolerance[o.precision]
	if !ok {
		return usageError{fmt.Errorf("golden: --precision must be float64 or float32, got %q", o.precision)}
	}
	if o.tolerance < 0 {
		return usageError{fmt.Errorf("golden: --tolerance must not be negative, got %g", o.tolerance)}
	}
	if o.tolerance > 0 {
		tol = o.tolerance
	}
	f, err := goldenfile.Load(path)
	if err != nil {
		return fmt.Errorf("golden: %w", err)
	}
	var reports []goldenfile.Report
	if o.precision == "float32" {
		reports = goldenfile.Run[float32](f)
	} else {
		reports = goldenfile.Run[float64](f)
	}
	var failed []string
	for _, r := range reports {
		status := "ok  "
		if !r.Within(tol) {
			status = "FAIL"
			failed = append(failed, r.Section+"/"+r.Name)
		}
		fmt.Fprintf(w, "%s max=%.3g %s\n", status, r.Max(), r)
	}
	fmt.Fprintf(w, "%d cases, %d off by more than %g (%s)\n", len(reports), len(failed), tol, o.precision)
	if len(failed) > 0 {
		return fmt.Errorf("golden: %d of %d cases off by more than %g: %v", len(failed), len(reports), tol, failed)
	}
	return nil
}
