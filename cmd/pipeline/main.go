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
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/train/checkpoint"
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

// The help command refuses a topic it does not know (exit 2, as an unknown
// command), where cobra's prints the usage and succeeds.
func init() {
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 || (target == root && len(args) > 0) {
				parent, word := root, args[0]
				if err == nil && len(rest) > 0 && target != root {
					parent, word = target, rest[0]
				}
				hint := ""
				if s := parent.SuggestionsFor(word); len(s) > 0 {
					hint = fmt.Sprintf("; did you mean %q?", strings.TrimSpace(strings.TrimPrefix(parent.CommandPath()+" "+s[0], "pipeline")))
				}
				return usageError{fmt.Errorf("unknown help topic %q%s (see pipeline --help)", strings.Join(args, " "), hint)}
			}
			return target.Help()
		},
	})
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

func (e usageError) Unwrap() error { return e.error }

func main() {
	err := runCLI(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
	}
	os.Exit(exitCode(err))
}

var (
	prepareOnce sync.Once
	// reached is set when a subcommand's RunE starts: an error returned
	// before that is cobra's parsing of the command line.
	reached bool
)

// runCLI runs root on args and returns the error whose exitCode is the
// process's status. Every error cobra returns before a subcommand runs (an
// unknown command or flag, a wrong argument count, a missing required
// flag) is a usage error; so is an unknown subcommand of a group such as
// `pipeline shards` (cobra would print the help and succeed).
func runCLI(args []string) error {
	prepareOnce.Do(func() { prepare(root) })
	reached = false
	if args == nil {
		args = []string{}
	}
	root.SetArgs(args)
	defer root.SetArgs(nil)
	err := root.Execute()
	if ue := (usageError{}); err != nil && !reached && !errors.As(err, &ue) {
		err = usageError{err}
	}
	return err
}

// prepare walks cmd's tree once: each RunE marks reached, and each group
// below the root (subcommands, nothing to run itself) gets a RunE that
// refuses an unknown subcommand and prints the help without one.
func prepare(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		prepare(c)
	}
	if cmd.HasSubCommands() && !cmd.Runnable() && cmd.HasParent() {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return c.Help()
			}
			hint := ""
			if s := c.SuggestionsFor(args[0]); len(s) > 0 {
				hint = fmt.Sprintf("; did you mean %q?", s[0])
			}
			return usageError{fmt.Errorf("unknown command %q for %q%s (see %s --help)", args[0], c.CommandPath(), hint, c.CommandPath())}
		}
		return // its RunE is a usage check, not the command running
	}
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			reached = true
			return run(c, args)
		}
	}
	if run := cmd.Run; run != nil {
		cmd.Run = func(c *cobra.Command, args []string) {
			reached = true
			run(c, args)
		}
	}
}

// exitCode maps a command's error to the process's exit status. A
// configuration error is 2 whenever it is found: a field error (loading,
// validation, the job kind's checks in stages.Check) or a weights file or
// checkpoint that does not fit the configured architecture
// (checkpoint.ErrArchitecture: extract.arch, train.init_from, a resume).
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, pipeline.ErrInterrupted):
		return exitInterrupted
	case errors.As(err, &ue), errors.As(err, new(*field.Error)), errors.Is(err, checkpoint.ErrArchitecture):
		return exitUsage
	case errors.Is(err, ingest.ErrSkipBudget):
		return exitData
	default:
		return exitError
	}
}
