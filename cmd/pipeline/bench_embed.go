package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/swavgo/swav/bench"
	"github.com/swavgo/swav/train"
)

// embedOptions are the forward-only benchmark's shapes (bench extract
// --size/--batch): size 0 skips it.
type embedOptions struct {
	size, batch, steps, threads int
	python, shared              string
}

var torchImagesPerSecond = regexp.MustCompile(`images/s=([0-9.]+)`)

// benchEmbed times the trunk's eval-mode forward (Backend.Embed, what an
// extraction runs per batch) on random normalised images of arch at size x
// size, batch images at a time, against ../shared/bench/ref_embed.py on the
// same shapes (PyTorch at its best layout), and prints "RATIO embed
// <ours/PyTorch>" (images/s; above 1: faster). Medians of steps batches
// after two warm-up batches.
func benchEmbed(ctx context.Context, w io.Writer, arch string, o embedOptions) error {
	if o.size == 0 {
		return nil
	}
	switch arch {
	case "resnet18", "resnet34", "resnet50":
	default:
		return usageError{fmt.Errorf("--size needs --arch resnet18, resnet34 or resnet50 (the anchor's torchvision models), got %s", arch)}
	}
	debug.FreeOSMemory()
	bench.ResetPeakRSS()
	cfg := train.DefaultConfig()
	cfg.Model = train.ModelConfig{Arch: arch, HiddenMLP: 2048, FeatDim: 128, Prototypes: 3000}
	cfg.CPU.Threads = o.threads
	be, err := train.NewBackend(cfg, 1)
	if err != nil {
		return err
	}
	defer be.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	imgs := make([]float32, o.batch*3*o.size*o.size)
	for i := range imgs {
		imgs[i] = float32(rng.NormFloat64())
	}
	var times []time.Duration
	for i := range o.steps + 2 {
		start := time.Now()
		if _, _, err := be.Embed(ctx, imgs, o.batch, o.size, train.FeatureTrunk); err != nil {
			return err
		}
		if i >= 2 {
			times = append(times, time.Since(start))
		}
	}
	ourRSS := bench.PeakRSS()
	med := bench.MedianDuration(times)
	ours := float64(o.batch) / med.Seconds()
	threads := o.threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	fmt.Fprintf(w, "embed: %s trunk forward, %d px, batch %d, %d threads: ours median %s = %.2f images/s\n",
		arch, o.size, o.batch, threads, med.Round(time.Millisecond), ours)
	shared, err := sharedDir(o.shared)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, o.python, filepath.Join(shared, "bench", "ref_embed.py"), "--model", arch,
		"--size", strconv.Itoa(o.size), "--batch", strconv.Itoa(o.batch), "--threads", strconv.Itoa(threads),
		"--steps", strconv.Itoa(o.steps))
	out, torchRSS, err := bench.RunPeakRSS(cmd)
	if err != nil {
		return fmt.Errorf("bench extract: ref_embed.py: %w\n%s", err, out)
	}
	m := torchImagesPerSecond.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("bench extract: ref_embed.py printed no images/s: %s", out)
	}
	torch, _ := strconv.ParseFloat(string(m[1]), 64)
	fmt.Fprintf(w, "embed: PyTorch %s", out)
	fmt.Fprintf(w, "embed memory: peak RSS ours %.0f MiB (whole process), PyTorch %.0f MiB (whole process)\n", bench.MiB(ourRSS), bench.MiB(torchRSS))
	bench.Ratio(w, "embed", ours/torch)
	return nil
}
