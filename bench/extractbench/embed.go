package extractbench

import (
	"context"
	"fmt"
	"github.com/swavgo/swav/train/cpu"
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
	"github.com/swavgo/swav/train/model"
)

// EmbedOptions are the forward-only benchmark's shapes (bench extract
// --size/--batch): Size 0 skips it.
type EmbedOptions struct {
	// Size is the image side, Batch the images per forward, Steps the timed
	// forwards (median), Threads both sides' threads (0: all cores).
	Size, Batch, Steps, Threads int
	// Python is the interpreter with PyTorch; Shared the shared reference
	// folder ("": ../shared beside the repository); Precision float32, bf16
	// or best (both: our fastest against PyTorch's fastest).
	Python, Shared, Precision string
}

var torchImagesPerSecond = regexp.MustCompile(`images/s=([0-9.]+)`)

// benchEmbed times the trunk's eval-mode forward (Backend.Embed, what an
// extraction runs per batch) on random normalised images of arch at size x
// size, batch images at a time, in each precision o.Precision asks for,
// against ../shared/bench/ref_embed.py on the same shapes in the same
// precisions (PyTorch at its best layout), and prints both sides' figures
// and "RATIO embed <our fastest / PyTorch's fastest>" (images/s; above 1:
// faster). Medians of steps batches after two warm-up batches.
func benchEmbed(ctx context.Context, w io.Writer, arch string, o EmbedOptions) error {
	if o.Size == 0 {
		return nil
	}
	if !model.Torchvision(arch) {
		return fmt.Errorf("%w: --size needs --arch %s (the anchor's torchvision models), got %s", bench.ErrUsage, model.TorchvisionList(), arch)
	}
	ourPrecisions, torchPrecisions, err := bench.Precisions(o.Precision)
	if err != nil {
		return err
	}
	shared, err := bench.SharedDir(o.Shared)
	if err != nil {
		return err
	}
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	var ours, torch []bench.Timing
	for _, p := range ourPrecisions {
		t, err := timeOurEmbed(ctx, arch, o, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "embed: %s trunk forward, %d px, batch %d, %d threads: ours %s %.2f images/s\n", arch, o.Size, o.Batch, threads, p, t.ImgsPerSec)
		ours = append(ours, t)
	}
	for _, p := range torchPrecisions {
		cmd := exec.CommandContext(ctx, o.Python, filepath.Join(shared, "bench", "ref_embed.py"), "--model", arch,
			"--size", strconv.Itoa(o.Size), "--batch", strconv.Itoa(o.Batch), "--threads", strconv.Itoa(threads),
			"--steps", strconv.Itoa(o.Steps), "--precision", p)
		out, rss, err := bench.RunPeakRSS(cmd)
		if err != nil {
			return fmt.Errorf("bench extract: ref_embed.py: %w\n%s", err, out)
		}
		m := torchImagesPerSecond.FindSubmatch(out)
		if m == nil {
			return fmt.Errorf("bench extract: ref_embed.py printed no images/s: %s", out)
		}
		ips, _ := strconv.ParseFloat(string(m[1]), 64)
		fmt.Fprintf(w, "embed: PyTorch %s", out)
		torch = append(torch, bench.Timing{Precision: p, ImgsPerSec: ips, PeakRSS: rss})
	}
	bestOurs, bestTorch := bench.Fastest(ours), bench.Fastest(torch)
	ratio := bestOurs.ImgsPerSec / bestTorch.ImgsPerSec
	fmt.Fprintf(w, "embed: ours %s | PyTorch %s (peak RSS of each whole process) | best ours %s / best PyTorch %s = %.2f\n",
		bench.Describe(ours), bench.Describe(torch), bestOurs.Precision, bestTorch.Precision, ratio)
	bench.Ratio(w, "embed", ratio)
	return nil
}

// timeOurEmbed is our side of benchEmbed in one precision.
func timeOurEmbed(ctx context.Context, arch string, o EmbedOptions, precision string) (bench.Timing, error) {
	debug.FreeOSMemory()
	bench.ResetPeakRSS()
	cfg := train.DefaultConfig()
	cfg.Model = train.ModelConfig{Arch: arch, HiddenMLP: 2048, FeatDim: 128, Prototypes: 3000}
	c := cpu.Edit(&cfg)
	c.Threads, c.Precision = o.Threads, precision
	be, err := train.NewBackend(cfg, 1)
	if err != nil {
		return bench.Timing{}, err
	}
	defer be.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	imgs := make([]float32, o.Batch*3*o.Size*o.Size)
	for i := range imgs {
		imgs[i] = float32(rng.NormFloat64())
	}
	var times []time.Duration
	for i := range o.Steps + 2 {
		start := time.Now()
		if _, _, err := be.Embed(ctx, imgs, o.Batch, o.Size, train.FeatureTrunk); err != nil {
			return bench.Timing{}, err
		}
		if i >= 2 {
			times = append(times, time.Since(start))
		}
	}
	med := bench.MedianDuration(times)
	return bench.Timing{Precision: precision, ImgsPerSec: float64(o.Batch) / med.Seconds(), PeakRSS: bench.PeakRSS()}, nil
}
