package main

import (
	"github.com/spf13/cobra"

	"github.com/swavgo/swav/bench/weightsbench"
)

func newBenchWeightsCmd() *cobra.Command {
	o := weightsbench.Default()
	o.ProbeArgs = []string{"bench", "weights", "--probe"}
	var probe string
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
			if probe != "" {
				return weightsbench.Probe(cmd.Context(), cmd.OutOrStdout(), probe)
			}
			return benchError(weightsbench.Run(cmd.Context(), cmd.OutOrStdout(), o))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Arch, "arch", o.Arch, "network: resnet18, resnet34 or resnet50")
	f.StringVar(&o.Python, "python", o.Python, "the interpreter with PyTorch")
	f.StringVar(&o.Script, "script", o.Script, "the fixture script (train/weights/testdata/torch_weights.py)")
	f.StringVar(&o.Dir, "dir", "", "scratch folder (default: a temp folder, removed afterwards)")
	f.IntVar(&o.Rounds, "rounds", o.Rounds, "loads per format and side (best reported)")
	f.StringVar(&probe, "probe", "", "internal: load FILE in this process and print the figure as JSON")
	f.MarkHidden("probe")
	return cmd
}

func init() { addCommand(benchCmd, newBenchWeightsCmd()) }
