// Package trainbench is `pipeline bench train`: our SwAV training step
// against ../shared/bench/ref_train_step.py (PyTorch at its best memory
// layout) on the same model, batch, crops and threads, in alternating
// rounds, with one RATIO line per configuration and the smallest last.
package trainbench

import (
	"context"
	"fmt"
	"github.com/swavgo/swav/train/xla"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/swavgo/swav/bench"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/cpu" // registers the "cpu" backend
)

// Options are the settings of `pipeline bench train` (its flags).
type Options struct {
	// Backend is the backend timed: cpu or xla (the anchor then runs on CUDA).
	Backend string
	// Steps are the timed steps per round (after 3 warm-up steps); Rounds
	// the alternating rounds per configuration; Threads the CPU threads of
	// both sides; Devices the xla backend's devices.
	Steps, Threads, Rounds, Devices int
	// Precision is float32, bf16 or best (both, our fastest against
	// PyTorch's fastest); bf16 is train.cpu.precision or
	// train.xla.precision bf16 for us and bf16 autocast for PyTorch.
	Precision string
	// Shared is the shared reference folder ("": ../shared beside the
	// repository); Profile, when set, receives a CPU profile of our steps.
	Shared, Profile string
	// Seed seeds the weights and the crops.
	Seed int64
}

// Default returns the command's defaults.
func Default() Options {
	return Options{Backend: "cpu", Steps: 10, Rounds: 3, Threads: 2, Devices: 1, Seed: 31, Precision: "best"}
}

// Case is one model/batch/crops configuration.
type Case struct {
	Model, Crops string
	Batch        int
}

// StandardCases are the configurations `bench train` runs by
// default (issue 13): a small net at two batch sizes, the old quickstart's
// multi-crop shapes among them, and two ImageNet ResNets.
var StandardCases = []Case{
	{"small", "32x2", 32}, {"small", "28x2,16x4", 128}, {"resnet18", "96x2", 16}, {"resnet50", "96x2", 8},
}

// name is the configuration's RATIO suffix, e.g. "small-b128-28x2,16x4".
func (c Case) name() string { return fmt.Sprintf("%s-b%d-%s", c.Model, c.Batch, c.Crops) }

// ParseCrops reads "224x2,96x6" into (size, count) pairs.
func ParseCrops(s string) ([][2]int, error) {
	var out [][2]int
	for _, part := range strings.Split(s, ",") {
		size, count, ok := strings.Cut(strings.TrimSpace(part), "x")
		a, err1 := strconv.Atoi(size)
		b, err2 := strconv.Atoi(count)
		if !ok || err1 != nil || err2 != nil || a < 1 || b < 1 {
			return nil, fmt.Errorf("%w: --crops: %q is not SIZExCOUNT (e.g. 96x2)", bench.ErrUsage, part)
		}
		out = append(out, [2]int{a, b})
	}
	return out, nil
}

// config is the train config ref_train_step.py's network matches, in
// precision.
func config(o Options, c Case, precision string) train.Config {
	cfg := train.DefaultConfig()
	cfg.Backend, cfg.BatchSize = o.Backend, c.Batch
	cc, xc := cpu.Edit(&cfg), xla.Edit(&cfg)
	cc.Threads, cc.Precision = o.Threads, precision
	xc.Devices, xc.Precision = o.Devices, precision
	cfg.Model = train.ModelConfig{Arch: c.Model, HiddenMLP: 2048, FeatDim: 128, Prototypes: 3000}
	if c.Model == "small" {
		cfg.Model = train.ModelConfig{Arch: "small", HiddenMLP: 128, FeatDim: 32, Prototypes: 100}
	}
	cfg.SwAV.FreezePrototypesIters = 0 // the reference step updates every parameter
	return cfg
}

// stepTiming is one side's result.
type stepTiming struct {
	median     time.Duration
	imgsPerSec float64
	peakRSS    int64 // the whole process's peak resident set, bytes
}

// Run times every case in every precision o.Precision asks for, ours then
// PyTorch in each of o.Rounds rounds, and writes a line per case (both
// sides in each precision, with their peak resident sets), "RATIO
// train-<case>" lines (our fastest precision against PyTorch's fastest)
// when there are several cases, and last "RATIO train <the smallest>".
// Settings out of range are bench.ErrUsage.
func Run(ctx context.Context, w io.Writer, o Options, cases []Case) error {
	if o.Steps < 1 {
		return fmt.Errorf("%w: --steps must be at least 1", bench.ErrUsage)
	}
	if o.Rounds < 1 {
		return fmt.Errorf("%w: --rounds must be at least 1", bench.ErrUsage)
	}
	ourPrecisions, torchPrecisions, err := bench.Precisions(o.Precision)
	if err != nil {
		return err
	}
	shared, err := bench.SharedDir(o.Shared)
	if err != nil {
		return err
	}
	minRatio := math.Inf(1)
	if o.Backend == "cpu" {
		fmt.Fprintf(w, "cpu backend: %d threads, convolutions %s (native bf16: %v), GEMM %s\n", o.Threads, cpu.Kernels(), cpu.NativeBF16(), cpu.BLAS())
	}
	for _, c := range cases {
		groups, err := ParseCrops(c.Crops)
		if err != nil {
			return err
		}
		// Rounds alternate the two sides so that a machine whose speed drifts
		// during the run (shared cloud cores do) weighs on both alike.
		oursRounds, refRounds := map[string][]stepTiming{}, map[string][]stepTiming{}
		var line string
		for r := 0; r < o.Rounds; r++ {
			var report []string
			for _, p := range ourPrecisions {
				ours, err := timeOurStep(ctx, w, o, c, groups, p)
				if err != nil {
					return fmt.Errorf("bench train %s %s: %w", c.Model, p, err)
				}
				oursRounds[p] = append(oursRounds[p], ours)
				report = append(report, fmt.Sprintf("ours %s %.1f ms", p, ms(ours.median)))
				o.Profile = "" // the first run's profile only
			}
			for _, p := range torchPrecisions {
				ref, l, err := timeReferenceStep(ctx, o, c, shared, p)
				if err != nil {
					return fmt.Errorf("bench train %s: PyTorch anchor %s: %w", c.Model, p, err)
				}
				refRounds[p] = append(refRounds[p], ref)
				report = append(report, fmt.Sprintf("PyTorch %s %.1f ms", p, ms(ref.median)))
				line = l
			}
			if o.Rounds > 1 {
				fmt.Fprintf(w, "  round %d: %s\n", r+1, strings.Join(report, ", "))
			}
		}
		ours, ref := combinePrecisions(oursRounds, ourPrecisions, c.Batch), combinePrecisions(refRounds, torchPrecisions, c.Batch)
		bestOurs, bestRef := bench.Fastest(ours), bench.Fastest(ref)
		ratio := bestOurs.ImgsPerSec / bestRef.ImgsPerSec
		fmt.Fprintf(w, "%s\n", line)
		fmt.Fprintf(w, "train %-8s batch %3d crops %-10s ours(%s): %s | PyTorch: %s | best ours %s / best PyTorch %s = %.2f\n",
			c.Model, c.Batch, c.Crops, o.Backend, bench.Describe(ours), bench.Describe(ref), bestOurs.Precision, bestRef.Precision, ratio)
		if len(cases) > 1 {
			bench.Ratio(w, "train-"+c.name(), ratio)
		}
		minRatio = min(minRatio, ratio)
	}
	bench.Ratio(w, "train", minRatio)
	return nil
}

// combinePrecisions is combineRounds for each precision, in order.
func combinePrecisions(rounds map[string][]stepTiming, precisions []string, batch int) []bench.Timing {
	var out []bench.Timing
	for _, p := range precisions {
		t := combineRounds(rounds[p], batch)
		out = append(out, bench.Timing{Precision: p, ImgsPerSec: t.imgsPerSec, PeakRSS: t.peakRSS})
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// combineRounds is one side's figure over its rounds: the median of the
// round medians and the largest peak resident set.
func combineRounds(rounds []stepTiming, batch int) stepTiming {
	var medians []time.Duration
	var peak int64
	for _, r := range rounds {
		medians = append(medians, r.median)
		peak = max(peak, r.peakRSS)
	}
	med := bench.MedianDuration(medians)
	return stepTiming{median: med, imgsPerSec: float64(batch) / med.Seconds(), peakRSS: peak}
}

// timeOurStep runs 3 warm-up and o.Steps timed steps of the backend in
// precision.
func timeOurStep(ctx context.Context, w io.Writer, o Options, c Case, groups [][2]int, precision string) (stepTiming, error) {
	debug.FreeOSMemory() // the previous configuration's heap leaves the resident set
	bench.ResetPeakRSS()
	cfg := config(o, c, precision)
	b, err := train.NewBackend(cfg, o.Seed)
	if err != nil {
		return stepTiming{}, err
	}
	defer b.Close()
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 1))
	in := &train.StepInput{LR: 0.1, Batch: c.Batch}
	for _, g := range groups {
		data := make([]float32, g[1]*c.Batch*3*g[0]*g[0])
		for i := range data {
			data[i] = float32(rng.NormFloat64())
		}
		in.Groups = append(in.Groups, train.CropGroup{Size: g[0], Count: g[1], Data: data})
	}
	var times []time.Duration
	for i := 0; i < o.Steps+3; i++ {
		if i == 3 && o.Profile != "" {
			f, err := os.Create(o.Profile)
			if err != nil {
				return stepTiming{}, err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return stepTiming{}, err
			}
			defer printProfileTop(w, o.Profile, f)
		}
		in.Iter = i
		start := time.Now()
		if _, err := b.Step(ctx, in); err != nil {
			return stepTiming{}, fmt.Errorf("step %d: %w", i, err)
		}
		if i >= 3 {
			times = append(times, time.Since(start))
		}
	}
	med := bench.MedianDuration(times)
	return stepTiming{median: med, imgsPerSec: float64(c.Batch) / med.Seconds(), peakRSS: bench.PeakRSS()}, nil
}

// printProfileTop stops the CPU profile and prints its top functions.
func printProfileTop(w io.Writer, path string, f *os.File) {
	pprof.StopCPUProfile()
	f.Close()
	exe, _ := os.Executable()
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=25", exe, path).CombinedOutput()
	if err != nil {
		fmt.Fprintf(w, "profile written to %s (go tool pprof -top %s %s)\n", path, exe, path)
		return
	}
	fmt.Fprintf(w, "profile %s, top functions:\n%s", path, out)
}

var refStepLine = regexp.MustCompile(`median_step=([0-9.]+)ms images/s=([0-9.]+)`)

// timeReferenceStep runs ref_train_step.py with the same settings in
// precision ("fp32" or "bf16", at its best memory layout).
func timeReferenceStep(ctx context.Context, o Options, c Case, shared, precision string) (stepTiming, string, error) {
	script := filepath.Join(shared, "bench", "ref_train_step.py")
	args := []string{script, "--model", c.Model, "--batch", strconv.Itoa(c.Batch), "--crops", c.Crops,
		"--threads", strconv.Itoa(o.Threads), "--steps", strconv.Itoa(o.Steps), "--precision", precision}
	if o.Backend == "xla" {
		args = append(args, "--device", "cuda")
	}
	out, rss, err := bench.RunPeakRSS(exec.CommandContext(ctx, "/usr/bin/python3", args...))
	if err != nil {
		return stepTiming{}, "", fmt.Errorf("%s: %w\n%s", script, err, out)
	}
	m := refStepLine.FindStringSubmatch(string(out))
	if m == nil {
		return stepTiming{}, "", fmt.Errorf("%s printed no median_step line:\n%s", script, out)
	}
	stepMS, _ := strconv.ParseFloat(m[1], 64)
	ips, _ := strconv.ParseFloat(m[2], 64)
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	return stepTiming{median: time.Duration(stepMS * float64(time.Millisecond)), imgsPerSec: ips, peakRSS: rss}, line, nil
}
