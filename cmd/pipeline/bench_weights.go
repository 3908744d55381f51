package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/swavgo/swav/bench"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/weights"
)

// benchWeightsOptions are the knobs of `pipeline bench weights`.
type benchWeightsOptions struct {
	arch, python, script, dir string
	rounds                    int
	probe                     string // internal: load this file in this process and print a loadFigure
}

// loadFigure is one load, measured inside the process that loads: wall
// seconds and the peak resident set before and after (ru_maxrss, KiB).
type loadFigure struct {
	Seconds     float64 `json:"seconds"`
	RSSBeforeKB int64   `json:"rss_before_kb"`
	RSSAfterKB  int64   `json:"rss_after_kb"`
}

func newBenchWeightsCmd() *cobra.Command {
	o := benchWeightsOptions{arch: "resnet50", python: "/usr/bin/python3", script: filepath.Join("train", "weights", "testdata", "torch_weights.py"), rounds: 3}
	cmd := &cobra.Command{
		Use:   "weights",
		Short: "Load time and peak memory of a PyTorch-saved ResNet-50 (zip, legacy, safetensors) against torch.load",
		Long: `weights has PyTorch save a seeded network of --arch in facebookresearch/swav's
layout (zip and legacy torch.save, and safetensors; about 100 MB for a
ResNet-50), then loads each file --rounds times in fresh processes: ours
(read, map onto the network, build the state: what extraction does before
its first image) and PyTorch's torch.load (safetensors: the fixture script's
reader). Each process times its own load and reports the growth of its peak
resident set. It prints the best time and the memory growth over the file's
size, and "RATIO load-<format> <torch seconds / our seconds>" lines (above 1:
faster than PyTorch).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.probe != "" {
				return probeWeightsLoad(cmd.Context(), cmd.OutOrStdout(), o.probe)
			}
			return runBenchWeights(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.arch, "arch", o.arch, "network: resnet18, resnet34 or resnet50")
	f.StringVar(&o.python, "python", o.python, "the interpreter with PyTorch")
	f.StringVar(&o.script, "script", o.script, "the fixture script (train/weights/testdata/torch_weights.py)")
	f.StringVar(&o.dir, "dir", "", "scratch folder (default: a temp folder, removed afterwards)")
	f.IntVar(&o.rounds, "rounds", o.rounds, "loads per format and side (best reported)")
	f.StringVar(&o.probe, "probe", "", "internal: load FILE in this process and print the figure as JSON")
	f.MarkHidden("probe")
	return cmd
}

func init() { addCommand(benchCmd, newBenchWeightsCmd()) }

// probeWeightsLoad is the child side: one load, timed from inside.
func probeWeightsLoad(ctx context.Context, w io.Writer, file string) error {
	before := maxRSSKB()
	start := time.Now()
	f, err := weights.Read(ctx, file, store.Config{})
	if err != nil {
		return err
	}
	im, err := weights.Import(f)
	if err != nil {
		return err
	}
	if _, _, err := im.State(im.ModelFor(train.DefaultConfig().Model), 0); err != nil {
		return err
	}
	fig := loadFigure{Seconds: time.Since(start).Seconds(), RSSBeforeKB: before, RSSAfterKB: maxRSSKB()}
	return json.NewEncoder(w).Encode(fig)
}

func maxRSSKB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss
}

func runBenchWeights(ctx context.Context, w io.Writer, o benchWeightsOptions) error {
	dir := o.dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "bench-weights-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, format := range []string{"zip", "legacy", "safetensors"} {
		file := filepath.Join(dir, o.arch+"-"+format+".pth")
		if format == "safetensors" {
			file = filepath.Join(dir, o.arch+".safetensors")
		}
		if out, err := exec.CommandContext(ctx, o.python, o.script, "make", "--arch", o.arch, "--layout", "swav",
			"--format", format, "--seed", "1", "--out", file).CombinedOutput(); err != nil {
			return fmt.Errorf("bench weights: make the %s fixture: %w\n%s", format, err, out)
		}
		st, err := os.Stat(file)
		if err != nil {
			return err
		}
		ours, err := bestLoad(ctx, o.rounds, self, "bench", "weights", "--probe", file)
		if err != nil {
			return fmt.Errorf("bench weights: our load of %s: %w", file, err)
		}
		torch, err := bestLoad(ctx, o.rounds, o.python, o.script, "time-load", "--weights", file)
		if err != nil {
			return fmt.Errorf("bench weights: PyTorch's load of %s: %w", file, err)
		}
		mb := float64(st.Size()) / (1 << 20)
		for _, side := range []struct {
			name string
			fig  loadFigure
		}{{"ours", ours}, {"torch", torch}} {
			grow := float64(side.fig.RSSAfterKB-side.fig.RSSBeforeKB) * 1024 / float64(st.Size())
			fmt.Fprintf(w, "%-11s %-5s %7.1f MB  load %6.3fs  peak RSS +%6.1f MB (%.2fx the file)\n",
				format, side.name, mb, side.fig.Seconds, float64(side.fig.RSSAfterKB-side.fig.RSSBeforeKB)/1024, grow)
		}
		bench.Ratio(w, "load-"+format, torch.Seconds/ours.Seconds)
	}
	return nil
}

// bestLoad runs a probe rounds times and keeps the fastest load (the
// machine is shared); each run is a fresh process, so peak RSS is its own.
func bestLoad(ctx context.Context, rounds int, name string, args ...string) (loadFigure, error) {
	var best loadFigure
	for r := 0; r < rounds; r++ {
		out, err := exec.CommandContext(ctx, name, args...).Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				return best, fmt.Errorf("%w: %s", err, ee.Stderr)
			}
			return best, err
		}
		var fig loadFigure
		if err := json.Unmarshal(lastLine(out), &fig); err != nil {
			return best, fmt.Errorf("probe output %q: %w", out, err)
		}
		if r == 0 || fig.Seconds < best.Seconds {
			best = fig
		}
	}
	return best, nil
}

func lastLine(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			return b[i+1:]
		}
	}
	return b
}
