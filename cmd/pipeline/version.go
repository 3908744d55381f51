package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/train/cpu"
)

func init() {
	addCommand(nil, &cobra.Command{
		Use:   "version",
		Short: "Print the version, Go version, VCS revision and build features",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprint(cmd.OutOrStdout(), versionText())
		},
	})
}

// versionText is the `pipeline version` output: the release
// (pipeline.Version, set with -ldflags -X), the Go toolchain and platform, the
// VCS revision and time from the build info, and the build features
// (pipeline.AddBuildFeature: cgo, turbojpeg, xla...), and the CPU engine:
// the convolution kernels with oneDNN's instruction set, whether bf16 is
// native, and the GEMM.
func versionText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pipeline %s\n", pipeline.Version)
	fmt.Fprintf(&b, "go        %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	rev, when, dirty := "unknown", "", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = " " + s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = " (modified)"
				}
			}
		}
	}
	fmt.Fprintf(&b, "revision  %s%s%s\n", rev, when, dirty)
	features := pipeline.BuildFeatures()
	if len(features) == 0 {
		features = []string{"none"}
	}
	fmt.Fprintf(&b, "features  %s\n", strings.Join(features, " "))
	bf16 := "bf16 native"
	if !cpu.NativeBF16() {
		bf16 = "bf16 runs as float32 here"
	}
	fmt.Fprintf(&b, "cpu       convolutions %s (%s), GEMM %s\n", cpu.Kernels(), bf16, cpu.BLAS())
	return b.String()
}
