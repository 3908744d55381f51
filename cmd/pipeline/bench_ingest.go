package main

import (
	"github.com/spf13/cobra"
	"github.com/swavgo/swav/bench/ingestbench"
)

func newBenchIngestCmd() *cobra.Command {
	o := ingestbench.Default()
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Streaming throughput from a local versitygw vs a plain GetObject loop; memory for long shard lists",
		Long: `ingest starts versitygw on loopback (make deps installs it), writes
ImageNet-sized WebDataset shards to it, then alternates a plain aws-sdk-go-v2
GetObject read loop and the ingest Source over the same objects and reports
MB/s and samples/s of both (median of the rounds), the peak heap streaming a
third of the shards and all of them, and the heap of a simulated 1,282-shard
ImageNet list. It prints "RATIO ingest-shuffled <ours/raw>" (the default
shuffle buffer of 1,000 samples, four epochs against four raw passes over the
same objects: one pass of this 2,400-sample set would time mostly the
buffer's first fill) and, last, "RATIO ingest <ours/raw>" (one pass, no
sample shuffle). Goal >= 0.9 for both.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := ingestbench.Run(cmd.Context(), cmd.OutOrStdout(), o)
			return err
		},
	}
	cmd.Flags().IntVar(&o.Shards, "shards", o.Shards, "shards in the throughput set")
	cmd.Flags().IntVar(&o.SamplesPerShard, "samples-per-shard", o.SamplesPerShard, "samples per shard")
	cmd.Flags().IntVar(&o.SampleBytes, "sample-bytes", o.SampleBytes, "bytes per encoded image")
	cmd.Flags().IntVar(&o.Rounds, "rounds", o.Rounds, "alternating rounds (median reported)")
	cmd.Flags().IntVar(&o.ListShards, "list-shards", o.ListShards, "shards in the simulated ImageNet list (0: skip)")
	return cmd
}

func init() { addCommand(benchCmd, newBenchIngestCmd()) }
