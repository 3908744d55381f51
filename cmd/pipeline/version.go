package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/internal/blas"
	"github.com/swavgo/swav/internal/buildinfo"
	"github.com/swavgo/swav/internal/dnnl"
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
// (buildinfo.Version, set with -ldflags -X), the Go toolchain and platform, the
// VCS revision and time from the build info, and the build features
// (buildinfo.AddFeature: cgo, turbojpeg, xla...), and the CPU engine:
// the convolution kernels with oneDNN's instruction set, whether bf16 is
// native, and the GEMM.
func versionText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pipeline %s\n", buildinfo.Version)
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
	features := buildinfo.Features()
	if len(features) == 0 {
		features = []string{"none"}
	}
	fmt.Fprintf(&b, "features  %s\n", strings.Join(features, " "))
	for _, e := range engines() {
		fmt.Fprintf(&b, "%-9s %s\n", e[0], e[1])
	}
	return b.String()
}

// engines names the native libraries this binary found at run time (each is
// opened with dlopen; without it the binary falls back to Go code): the
// convolutions (oneDNN, with the instruction set its kernels use and
// whether bf16 is native), the SGEMM (OpenBLAS) and the JPEG decoder
// (libjpeg-turbo). Opening oneDNN and OpenBLAS here costs a few
// milliseconds; `make test-image` reads these lines inside the image.
func engines() [][2]string {
	conv := "fallback (im2col + GEMM): " + dnnl.Name()
	if dnnl.Available() {
		conv = "oneDNN " + strings.TrimPrefix(dnnl.Name(), "onednn ") + ", bf16 native"
		if !dnnl.NativeBF16() {
			conv = "oneDNN " + strings.TrimPrefix(dnnl.Name(), "onednn ") + ", no native bf16 (train.cpu.precision bf16 runs as float32)"
		}
	}
	gemm := blas.Name()
	if rest, ok := strings.CutPrefix(gemm, "openblas "); ok {
		gemm = "OpenBLAS " + rest
	}
	return [][2]string{{"conv", conv}, {"gemm", gemm}, {"jpeg", augment.DecoderName()}}
}
