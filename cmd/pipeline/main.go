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
	"github.com/swavgo/swav/configs/field"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/pipeline"
)

// Exit codes (README "Exit codes"; deploy/ manifests retry by them).
const (
	exitOK          = 0
	exitError       = 1   // anything else: I/O, S3 unreachable, a bug
	exitUsage       = 2   // the invocation or the config is wrong: retrying cannot help
	exitData        = 3   // the data is bad beyond the skip budget: retrying cannot help
	exitInterrupted = 130 // stopped by a signal; the job resumes where it stopped
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
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode maps a command's error to the process's exit status.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, pipeline.ErrInterrupted):
		return exitInterrupted
	case errors.As(err, &ue), errors.As(err, new(*field.Error)):
		return exitUsage
	case errors.Is(err, ingest.ErrSkipBudget):
		return exitData
	default:
		return exitError
	}
}
