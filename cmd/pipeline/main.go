// Command pipeline is the project's one binary: `pipeline run CONFIG`,
// `pipeline validate CONFIG`, `pipeline version` and the tool subcommands
// (shards, augment preview, golden, eval, bench). Each subcommand lives in its
// own file of this package and registers itself with addCommand in an init
// function, so adding one touches no other file.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/swavgo/swav/pipeline"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130
)

var root = &cobra.Command{
	Use:           "pipeline",
	Short:         "SwAV self-supervised pre-training, feature extraction and evaluation as a staged data pipeline",
	SilenceUsage:  true,
	SilenceErrors: true,
}

// addCommand registers a subcommand under parent (root when parent is nil).
func addCommand(parent *cobra.Command, cmd *cobra.Command) {
	if parent == nil {
		parent = root
	}
	parent.AddCommand(cmd)
}

// usageError marks errors that are the user's invocation, not the run.
type usageError struct{ error }

func main() {
	err := root.Execute()
	if err == nil {
		os.Exit(exitOK)
	}
	fmt.Fprintln(os.Stderr, "pipeline:", err)
	var ue usageError
	switch {
	case errors.Is(err, pipeline.ErrInterrupted):
		os.Exit(exitInterrupted)
	case errors.As(err, &ue):
		os.Exit(exitUsage)
	default:
		os.Exit(exitError)
	}
}
