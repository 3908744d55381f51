package main

import (
	"context"
	"fmt"
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

	"github.com/spf13/cobra"
	"github.com/swavgo/swav/bench"
	"github.com/swavgo/swav/internal/repo"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/cpu" // registers the "cpu" backend
)

// trainBenchOptions are the flags of `pipeline bench train`.
type trainBenchOptions struct {
	backend, model, crops string
	batch, steps, threads int
	rounds                int
	devices               int
	bf16                  bool
	shared, profile       string
	seed                  int64
}

// trainBenchCase is one model/batch/crops configuration.
type trainBenchCase struct {
	model, crops string
	batch        int
}

func newBenchTrainCmd() *cobra.Command {
	o := trainBenchOptions{backend: "cpu", steps: 10, rounds: 3, threads: 2, devices: 1, seed: 31}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "SwAV training-step throughput of a backend vs PyTorch (ref_train_step.py) in the same run",
		Long: `train times our full SwAV step (prototype normalisation, forward of every crop
group, Sinkhorn codes, swapped loss, backward, LARS) on random normalised crops
through train.NewBackend, then runs ../shared/bench/ref_train_step.py with the same
model, batch, crops and threads (--device cuda, plus --bf16 when asked, for
--backend xla) and prints the median step time and images/s of both.

Without --model/--batch/--crops it runs the standard set: small b32 32x2, the old
quickstart's shapes (small b128 28x2,16x4), resnet18 b16 96x2 and resnet50 b8
96x2. Each configuration prints "RATIO train-<model>-b<batch>-<crops> <ours/PyTorch
images/s>"; the last line is "RATIO train <the smallest of them>".
Each configuration runs --rounds rounds (default 3), ours then PyTorch in each,
and each side's figure is the median of its round medians: a machine whose
speed drifts during the run weighs on both sides alike.
--profile FILE writes a CPU profile of our steps and prints its top functions
(through "go tool pprof" when the go command is on PATH).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cases := standardTrainBenchCases
			if cmd.Flags().Changed("model") || cmd.Flags().Changed("batch") || cmd.Flags().Changed("crops") {
				c := trainBenchCase{model: "small", crops: "32x2", batch: 32}
				if o.model != "" {
					c.model = o.model
				}
				if o.crops != "" {
					c.crops = o.crops
				}
				if o.batch > 0 {
					c.batch = o.batch
				}
				cases = []trainBenchCase{c}
			}
			return runTrainBench(cmd.Context(), cmd.OutOrStdout(), o, cases)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.backend, "backend", o.backend, "backend: cpu or xla")
	f.StringVar(&o.model, "model", "", "small, resnet18, resnet34 or resnet50 (default: the two standard runs)")
	f.IntVar(&o.batch, "batch", 0, "images per step")
	f.StringVar(&o.crops, "crops", "", "crop groups SIZExCOUNT, comma-separated, e.g. 224x2,96x6")
	f.IntVar(&o.steps, "steps", o.steps, "timed steps (after 3 warm-up steps); the median is reported")
	f.IntVar(&o.rounds, "rounds", o.rounds, "rounds per configuration, ours then PyTorch in each; each side's figure is the median of its round medians")
	f.IntVar(&o.threads, "threads", o.threads, "CPU threads for our backend and PyTorch")
	f.BoolVar(&o.bf16, "bf16", false, "bf16 (xla backend; PyTorch runs under bf16 autocast)")
	f.IntVar(&o.devices, "devices", o.devices, "devices of the xla backend, data-parallel (0: all); the PyTorch anchor uses one GPU")
	f.StringVar(&o.shared, "shared", "", "the shared reference folder (default ../shared from the repository root)")
	f.StringVar(&o.profile, "profile", "", "write a CPU profile of our timed steps to this file and print its top functions")
	f.Int64Var(&o.seed, "seed", o.seed, "seed of the weights and crops")
	return cmd
}

func init() { addCommand(benchCmd, newBenchTrainCmd()) }

// standardTrainBenchCases are the configurations `bench train` runs by
// default (issue 13): a small net at two batch sizes, the old quickstart's
// multi-crop shapes among them, and two ImageNet ResNets.
var standardTrainBenchCases = []trainBenchCase{
	{"small", "32x2", 32}, {"small", "28x2,16x4", 128}, {"resnet18", "96x2", 16}, {"resnet50", "96x2", 8},
}

// name is the configuration's RATIO suffix, e.g. "small-b128-28x2,16x4".
func (c trainBenchCase) name() string { return fmt.Sprintf("%s-b%d-%s", c.model, c.batch, c.crops) }

// parseCrops reads "224x2,96x6" into (size, count) pairs.
func parseCrops(s string) ([][2]int, error) {
	var out [][2]int
	for _, part := range strings.Split(s, ",") {
		size, count, ok := strings.Cut(strings.TrimSpace(part), "x")
		a, err1 := strconv.Atoi(size)
		b, err2 := strconv.Atoi(count)
		if !ok || err1 != nil || err2 != nil || a < 1 || b < 1 {
			return nil, usageError{fmt.Errorf("--crops: %q is not SIZExCOUNT (e.g. 96x2)", part)}
		}
		out = append(out, [2]int{a, b})
	}
	return out, nil
}

// benchTrainConfig is the train config ref_train_step.py's network matches.
func benchTrainConfig(o trainBenchOptions, c trainBenchCase) train.Config {
	cfg := train.DefaultConfig()
	cfg.Backend, cfg.CPU.Threads, cfg.BatchSize, cfg.XLA.Devices = o.backend, o.threads, c.batch, o.devices
	if o.bf16 {
		cfg.XLA.Precision = "bf16"
	}
	cfg.Model = train.ModelConfig{Arch: c.model, HiddenMLP: 2048, FeatDim: 128, Prototypes: 3000}
	if c.model == "small" {
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

func runTrainBench(ctx context.Context, w io.Writer, o trainBenchOptions, cases []trainBenchCase) error {
	if o.steps < 1 {
		return usageError{fmt.Errorf("--steps must be at least 1")}
	}
	if o.rounds < 1 {
		return usageError{fmt.Errorf("--rounds must be at least 1")}
	}
	shared, err := sharedDir(o.shared)
	if err != nil {
		return err
	}
	minRatio := math.Inf(1)
	if o.backend == "cpu" {
		fmt.Fprintf(w, "cpu backend: %d threads, convolutions %s, GEMM %s\n", o.threads, cpu.Kernels(), cpu.BLAS())
	}
	for _, c := range cases {
		groups, err := parseCrops(c.crops)
		if err != nil {
			return err
		}
		// Rounds alternate the two sides so that a machine whose speed drifts
		// during the run (shared cloud cores do) weighs on both alike.
		var oursRounds, refRounds []stepTiming
		var line string
		for r := 0; r < o.rounds; r++ {
			ours, err := timeOurStep(ctx, w, o, c, groups)
			if err != nil {
				return fmt.Errorf("bench train %s: %w", c.model, err)
			}
			ref, l, err := timeReferenceStep(ctx, o, c, shared)
			if err != nil {
				return fmt.Errorf("bench train %s: PyTorch anchor: %w", c.model, err)
			}
			line = l
			if o.rounds > 1 {
				fmt.Fprintf(w, "  round %d: ours %.1f ms, PyTorch %.1f ms\n", r+1, ms(ours.median), ms(ref.median))
			}
			oursRounds, refRounds = append(oursRounds, ours), append(refRounds, ref)
			o.profile = "" // the first round's profile only
		}
		ours, ref := combineRounds(oursRounds, c.batch), combineRounds(refRounds, c.batch)
		ratio := ours.imgsPerSec / ref.imgsPerSec
		fmt.Fprintf(w, "%s\n", line)
		fmt.Fprintf(w, "train %-8s batch %3d crops %-10s ours(%s) median %8.1f ms %7.1f img/s | PyTorch median %8.1f ms %7.1f img/s | ours/PyTorch %.2f | peak RSS ours %.0f MiB, PyTorch %.0f MiB\n",
			c.model, c.batch, c.crops, o.backend, ms(ours.median), ours.imgsPerSec, ms(ref.median), ref.imgsPerSec, ratio, bench.MiB(ours.peakRSS), bench.MiB(ref.peakRSS))
		if len(cases) > 1 {
			bench.Ratio(w, "train-"+c.name(), ratio)
		}
		minRatio = min(minRatio, ratio)
	}
	bench.Ratio(w, "train", minRatio)
	return nil
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

// timeOurStep runs 3 warm-up and o.steps timed steps of the backend.
func timeOurStep(ctx context.Context, w io.Writer, o trainBenchOptions, c trainBenchCase, groups [][2]int) (stepTiming, error) {
	debug.FreeOSMemory() // the previous configuration's heap leaves the resident set
	bench.ResetPeakRSS()
	cfg := benchTrainConfig(o, c)
	b, err := train.NewBackend(cfg, o.seed)
	if err != nil {
		return stepTiming{}, err
	}
	defer b.Close()
	rng := rand.New(rand.NewPCG(uint64(o.seed), 1))
	in := &train.StepInput{LR: 0.1, Batch: c.batch}
	for _, g := range groups {
		data := make([]float32, g[1]*c.batch*3*g[0]*g[0])
		for i := range data {
			data[i] = float32(rng.NormFloat64())
		}
		in.Groups = append(in.Groups, train.CropGroup{Size: g[0], Count: g[1], Data: data})
	}
	var times []time.Duration
	for i := 0; i < o.steps+3; i++ {
		if i == 3 && o.profile != "" {
			f, err := os.Create(o.profile)
			if err != nil {
				return stepTiming{}, err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return stepTiming{}, err
			}
			defer printProfileTop(w, o.profile, f)
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
	return stepTiming{median: med, imgsPerSec: float64(c.batch) / med.Seconds(), peakRSS: bench.PeakRSS()}, nil
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

// timeReferenceStep runs ref_train_step.py with the same settings.
func timeReferenceStep(ctx context.Context, o trainBenchOptions, c trainBenchCase, shared string) (stepTiming, string, error) {
	script := filepath.Join(shared, "bench", "ref_train_step.py")
	args := []string{script, "--model", c.model, "--batch", strconv.Itoa(c.batch), "--crops", c.crops,
		"--threads", strconv.Itoa(o.threads), "--steps", strconv.Itoa(o.steps)}
	if o.backend == "xla" {
		args = append(args, "--device", "cuda")
		if o.bf16 {
			args = append(args, "--bf16")
		}
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

// sharedDir is --shared or ../shared beside the repository root.
func sharedDir(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	shared, err := repo.Shared()
	if err != nil {
		return "", fmt.Errorf("bench: %w; pass --shared", err)
	}
	return shared, nil
}
