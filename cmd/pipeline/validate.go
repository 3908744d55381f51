package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/stages"
)

func init() {
	var sets []string
	var embedded bool
	cmd := &cobra.Command{
		Use:   "validate CONFIG...",
		Short: "Check configs without running them",
		Long: `Validate loads each CONFIG as 'run' would (strict keys, types, --set overrides,
ranges, a registered job kind) and runs every check 'run' makes before it
starts work (the job kind's: extract.output and extract.checkpoint named,
crops_for_assign within augment.crops, a training world size of 1...), then
prints "OK <file>" or one line per problem, "<file>:<line>: <field>:
<message>". It exits 2 when any config is invalid.
--embedded checks the configs compiled into the binary.`,
		Example: `  pipeline validate configs/*.yaml
  pipeline validate configs/demo.yaml --set demo.workers=-1
  pipeline validate --embedded`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !embedded {
				return usageError{errors.New("validate: name at least one CONFIG (or --embedded)")}
			}
			out := cmd.OutOrStdout()
			bad := 0
			check := func(name string, job *configs.Job, err error) {
				if err == nil {
					// The same checks run makes before it starts work.
					err = stages.Check(job)
				}
				if err == nil {
					fmt.Fprintln(out, "OK", name)
					return
				}
				bad++
				for _, e := range flatten(err) {
					fmt.Fprintln(out, e)
				}
			}
			for _, path := range args {
				job, err := loadConfig(path, sets)
				check(path, job, err)
			}
			if embedded {
				ex := configs.Examples()
				for _, name := range slices.Sorted(maps.Keys(ex)) {
					job, err := configs.LoadBytes("embedded:"+name, ex[name], sets)
					check("embedded:"+name, job, err)
				}
			}
			if bad > 0 {
				return usageError{fmt.Errorf("%d config(s) invalid", bad)}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a config key before validating (repeatable)")
	cmd.Flags().BoolVar(&embedded, "embedded", false, "also validate the configs embedded in the binary")
	addCommand(nil, cmd)
}

// flatten lists the errors of an errors.Join tree, one per problem.
func flatten(err error) []error {
	if u, ok := err.(usageError); ok {
		return flatten(u.error)
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}
