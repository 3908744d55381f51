// Package weightsbench is `pipeline bench weights`: the load time and peak
// memory of PyTorch-saved networks (zip, legacy, safetensors) read by us
// and by torch.load, each load in a fresh process (RATIO load-<format>).
package weightsbench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/swavgo/swav/bench"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/weights"
)

// Options are the settings of `pipeline bench weights` (its flags).
type Options struct {
	// Arch is the network saved; Python the interpreter with PyTorch;
	// Script the fixture script; Dir the scratch folder ("": a temp folder,
	// removed afterwards).
	Arch, Python, Script, Dir string
	// Rounds are the loads per format and side (best reported).
	Rounds int
	// ProbeArgs re-run this binary as the probe of one file (Probe), e.g.
	// {"bench", "weights", "--probe"}: the file is appended.
	ProbeArgs []string
}

// Default returns the command's defaults.
func Default() Options {
	return Options{Arch: "resnet50", Python: "/usr/bin/python3", Script: filepath.Join("train", "weights", "testdata", "torch_weights.py"), Rounds: 3}
}

// loadFigure is one load, measured inside the process that loads: wall
// seconds and the peak resident set before and after (ru_maxrss, KiB).
type loadFigure struct {
	Seconds     float64 `json:"seconds"`
	RSSBeforeKB int64   `json:"rss_before_kb"`
	RSSAfterKB  int64   `json:"rss_after_kb"`
}

// Probe is the child side: one load, timed from inside.
func Probe(ctx context.Context, w io.Writer, file string) error {
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

// Run has PyTorch save the fixtures, loads each o.Rounds times on both
// sides in fresh processes (ours through o.ProbeArgs) and writes the table
// and one "RATIO load-<format>" line per format to w.
func Run(ctx context.Context, w io.Writer, o Options) error {
	dir, done, err := bench.ScratchDir(o.Dir, "bench-weights-*")
	if err != nil {
		return err
	}
	defer done()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, format := range []string{"zip", "legacy", "safetensors"} {
		file := filepath.Join(dir, o.Arch+"-"+format+".pth")
		if format == "safetensors" {
			file = filepath.Join(dir, o.Arch+".safetensors")
		}
		if out, err := exec.CommandContext(ctx, o.Python, o.Script, "make", "--arch", o.Arch, "--layout", "swav",
			"--format", format, "--seed", "1", "--out", file).CombinedOutput(); err != nil {
			return fmt.Errorf("bench weights: make the %s fixture: %w\n%s", format, err, out)
		}
		st, err := os.Stat(file)
		if err != nil {
			return err
		}
		ours, err := bestLoad(ctx, o.Rounds, self, append(slices.Clone(o.ProbeArgs), file)...)
		if err != nil {
			return fmt.Errorf("bench weights: our load of %s: %w", file, err)
		}
		torch, err := bestLoad(ctx, o.Rounds, o.Python, o.Script, "time-load", "--weights", file)
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
