package main

import (
	"github.com/spf13/cobra"

	"github.com/swavgo/swav/bench/trainbench"
)

func newBenchTrainCmd() *cobra.Command {
	o := trainbench.Default()
	var model, crops string
	var batch int
	cmd := &cobra.Command{
		Use:   "train",
		Short: "SwAV training-step throughput of a backend vs PyTorch (ref_train_step.py) in the same run",
		Long: `train times our full SwAV step (prototype normalisation, forward of every crop
group, Sinkhorn codes, swapped loss, backward, LARS) on random normalised crops
through train.NewBackend, then runs ../shared/bench/ref_train_step.py with the same
model, batch, crops and threads (--device cuda for --backend xla) and prints the
median step time and images/s of both, in each precision --precision asks for
(best, the default: float32 and bf16, ours with train.cpu.precision or
train.xla.precision, PyTorch under bf16 autocast), with each side's peak resident
set. The ratio is our fastest precision against PyTorch's fastest.

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
			cases := trainbench.StandardCases
			if cmd.Flags().Changed("model") || cmd.Flags().Changed("batch") || cmd.Flags().Changed("crops") {
				c := trainbench.Case{Model: "small", Crops: "32x2", Batch: 32}
				if model != "" {
					c.Model = model
				}
				if crops != "" {
					c.Crops = crops
				}
				if batch > 0 {
					c.Batch = batch
				}
				cases = []trainbench.Case{c}
			}
			return benchError(trainbench.Run(cmd.Context(), cmd.OutOrStdout(), o, cases))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Backend, "backend", o.Backend, "backend: cpu or xla")
	f.StringVar(&model, "model", "", "small, resnet18, resnet34 or resnet50 (default: the standard set)")
	f.IntVar(&batch, "batch", 0, "images per step")
	f.StringVar(&crops, "crops", "", "crop groups SIZExCOUNT, comma-separated, e.g. 224x2,96x6")
	f.IntVar(&o.Steps, "steps", o.Steps, "timed steps (after 3 warm-up steps); the median is reported")
	f.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds per configuration, ours then PyTorch in each; each side's figure is the median of its round medians")
	f.IntVar(&o.Threads, "threads", o.Threads, "CPU threads for our backend and PyTorch")
	f.StringVar(&o.Precision, "precision", o.Precision, "float32, bf16 or best (both: our fastest against PyTorch's fastest, both printed); bf16 is train.cpu/xla.precision bf16 and PyTorch's bf16 autocast")
	var bf16 bool
	f.BoolVar(&bf16, "bf16", false, "the same as --precision bf16")
	cmd.PreRun = func(*cobra.Command, []string) {
		if bf16 {
			o.Precision = "bf16"
		}
	}
	f.IntVar(&o.Devices, "devices", o.Devices, "devices of the xla backend, data-parallel (0: all); the PyTorch anchor uses one GPU")
	f.StringVar(&o.Shared, "shared", "", "the shared reference folder (default ../shared from the repository root)")
	f.StringVar(&o.Profile, "profile", "", "write a CPU profile of our timed steps to this file and print its top functions")
	f.Int64Var(&o.Seed, "seed", o.Seed, "seed of the weights and crops")
	return cmd
}

func init() { addCommand(benchCmd, newBenchTrainCmd()) }
