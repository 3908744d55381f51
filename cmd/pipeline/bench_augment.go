package main

import (
	"github.com/spf13/cobra"
	"github.com/swavgo/swav/bench/augmentbench"
)

func newBenchAugmentCmd() *cobra.Command {
	o := augmentbench.Default()
	cmd := &cobra.Command{
		Use:   "augment",
		Short: "SwAV multi-crop 2x224+6x96 with Arrow batches vs the torchvision reference",
		Long: `augment runs the SwAV recipe (2x224 + 6x96, flip, colour jitter, grayscale,
blur, normalisation) through the real augment and batch stages on the shared
benchmark JPEGs, decode-only and full recipe, at GOMAXPROCS=1 and on all
cores, and in the same run the PyTorch anchor ../shared/bench/ref_multicrop.py
(one thread), alternating the per-core runs and comparing each side's best
(the machine is shared). Figures are images per wall second and per CPU
second. The last
line is "RATIO augment <ours per core / reference per core>" (goal >= 3).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := augmentbench.Run(cmd.Context(), cmd.OutOrStdout(), o)
			return err
		},
	}
	cmd.Flags().StringVar(&o.Images, "images", o.Images, "folder of JPEGs (default ../shared/bench/images from the repository root)")
	cmd.Flags().IntVar(&o.Rounds, "rounds", o.Rounds, "passes over the images per measurement")
	cmd.Flags().IntVar(&o.RefRounds, "ref-rounds", o.RefRounds, "rounds of the reference script")
	cmd.Flags().StringVar(&o.Python, "python", o.Python, `interpreter of the reference ("none": skip it)`)
	cmd.Flags().StringVar(&o.Reference, "reference", o.Reference, "reference script (default ref_multicrop.py beside the images folder)")
	cmd.Flags().IntVar(&o.BatchSize, "batch", o.BatchSize, "samples per Arrow batch")
	cmd.Flags().IntVar(&o.Repeats, "repeats", o.Repeats, "alternating reference/ours per-core runs (best of each compared)")
	return cmd
}

func init() { addCommand(benchCmd, newBenchAugmentCmd()) }
