package main

import "github.com/spf13/cobra"

// benchCmd groups the benchmarks (`pipeline bench ingest|augment|train|extract`).
// Each benchmark measures its PyTorch or plain-loop anchor in the same run and
// ends with a line `RATIO <name> <ours/anchor>`.
var benchCmd = &cobra.Command{
	Use:   "bench",
	Short: "Benchmarks against their anchors, measured in the same run",
}

func init() { addCommand(nil, benchCmd) }
