package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/swavgo/swav/bench"
)

// benchCmd groups the benchmarks (`pipeline bench ingest|augment|train|extract`).
// Each benchmark measures its PyTorch or plain-loop anchor in the same run and
// ends with a line `RATIO <name> <ours/anchor>`.
var benchCmd = &cobra.Command{
	Use:   "bench",
	Short: "Benchmarks against their anchors, measured in the same run",
}

func init() { addCommand(nil, benchCmd) }

// benchError marks a benchmark's usage errors (bench.ErrUsage) as the
// user's invocation, so that the command exits 2 on them.
func benchError(err error) error {
	if errors.Is(err, bench.ErrUsage) {
		return usageError{err}
	}
	return err
}
