package main

import (
	"github.com/spf13/cobra"

	"github.com/swavgo/swav/bench/extractbench"
)

func newBenchExtractCmd() *cobra.Command {
	o := extractbench.Default()
	cmd := &cobra.Command{
		Use:   "extract",
		Short: "Extraction throughput (images/s, stall breakdown) and Parquet write throughput vs a plain pqarrow loop",
		Long: `extract writes Fashion-MNIST test images as local shards, extracts
trunk features with the untrained network of --arch on the CPU backend and
prints images/s with the engine's per-stage busy/wait breakdown. It then writes
--rows rows of --dim floats (key, label, feature) through the feature sink and
through a plain arrow-go pqarrow write loop (builders, one record per row
group, the same writer properties), alternating --rounds times, and reports
rows/s and MB/s of both (best round). The last line is
"RATIO parquet <ours/plain>" (throughput ratio; 1 means as fast).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return benchError(extractbench.Run(cmd.Context(), cmd.OutOrStdout(), o))
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Images, "images", o.Images, "images extracted (Fashion-MNIST test split)")
	f.IntVar(&o.ShardSize, "shard-size", o.ShardSize, "images per shard")
	f.StringVar(&o.Arch, "arch", o.Arch, "network: small, resnet18, resnet34 or resnet50 (small stem)")
	f.IntVar(&o.Rows, "rows", o.Rows, "rows of the Parquet write benchmark")
	f.IntVar(&o.Dim, "dim", o.Dim, "floats per row of the Parquet write benchmark")
	f.IntVar(&o.Rounds, "rounds", o.Rounds, "alternating rounds of the Parquet write benchmark (best reported)")
	f.StringVar(&o.Dir, "dir", "", "scratch folder (default: a temp folder, removed afterwards)")
	f.IntVar(&o.Embed.Size, "size", 0, "also time the trunk's forward alone at this size against ../shared/bench/ref_embed.py (RATIO embed; needs --arch resnet18|34|50)")
	f.IntVar(&o.Embed.Batch, "batch", o.Embed.Batch, "images per forward of the embed benchmark")
	f.IntVar(&o.Embed.Steps, "steps", o.Embed.Steps, "timed forwards of the embed benchmark (median)")
	f.IntVar(&o.Embed.Threads, "threads", 0, "threads of both sides of the embed benchmark (0: all cores)")
	f.StringVar(&o.Embed.Python, "python", o.Embed.Python, "the interpreter with PyTorch (embed anchor)")
	f.StringVar(&o.Embed.Precision, "precision", o.Embed.Precision, "embed benchmark: float32, bf16 or best (both: our fastest against PyTorch's fastest, both printed)")
	f.StringVar(&o.Embed.Shared, "shared", "", "the shared reference folder (default ../shared from the repository root)")
	return cmd
}

func init() { addCommand(benchCmd, newBenchExtractCmd()) }
