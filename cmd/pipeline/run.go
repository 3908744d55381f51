package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/pipeline/prom"
	"github.com/swavgo/swav/stages"
	_ "github.com/swavgo/swav/stages/all" // every job kind
)

func init() {
	var (
		sets        []string
		metricsAddr string
	)
	cmd := &cobra.Command{
		Use:   "run [CONFIG]",
		Short: "Run a job (the embedded default job without CONFIG)",
		Long: `Run loads CONFIG (YAML; without it the embedded default job), applies the
--set overrides, validates the whole job and runs it: one chain of stages, or
several for orchestration kinds like the quickstart. Progress goes to stderr as
bars on a terminal and as log lines otherwise (key "progress"); the run ends
with a per-stage table that names the bottleneck.

The first SIGINT/SIGTERM stops intake, lets the items in flight finish and
checkpoints (exit code 130); a second one aborts at once.`,
		Example: `  pipeline run
  pipeline run configs/demo.yaml --set demo.workers=4
  pipeline run configs/imagenet_swav_bs256.yaml --set train.epochs=400 --set progress=log`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			job, err := loadJob(args, sets)
			if err != nil {
				return err
			}
			return runJob(cmd.Context(), job, cmd.OutOrStdout(), metricsAddr)
		},
	}
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address during the run (e.g. :9102; path /metrics)")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a config key, e.g. --set train.optim.base_lr=0.6 (repeatable; lists: augment.crops.1.size=128)")
	addCommand(nil, cmd)
}

// loadJob loads args[0] or, without it, the embedded default job.
func loadJob(args, sets []string) (*configs.Job, error) {
	if len(args) == 1 {
		return loadConfig(args[0], sets)
	}
	name := configs.DefaultExampleName()
	data, err := configs.Example(name)
	if err != nil {
		return nil, err
	}
	job, err := configs.LoadBytes("embedded:"+name, data, sets)
	if err != nil {
		return nil, usageError{err}
	}
	return job, nil
}

// loadConfig loads the config file at path (configs.Load). Every error is
// the user's configuration, exit 2: a file that does not exist or cannot
// be read, YAML that does not parse, an unknown key, a value out of range.
func loadConfig(path string, sets []string) (*configs.Job, error) {
	job, err := configs.Load(path, sets)
	if err != nil {
		return nil, usageError{err}
	}
	return job, nil
}

// runJob runs job with signal handling, progress on stderr, the summary
// table on summary and, when asked, Prometheus metrics served on
// metricsAddr and pushed to metrics.push_url (with
// pipeline_job_last_success_timestamp_seconds on success).
func runJob(ctx context.Context, job *configs.Job, summary io.Writer, metricsAddr string) (err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop, release := pipeline.SignalContext(ctx)
	defer release()
	progress, err := pipeline.NewProgress(job.Progress, os.Stderr, slog.Default())
	if err != nil {
		return err
	}
	slog.Info("run", "job", job.Job, "out", job.Out, "seed", job.Seed)
	exporter := prom.NewExporter(progress)
	reg := exporter.Registry()
	if metricsAddr != "" {
		addr, stopServer, err := prom.Serve(ctx, metricsAddr, reg)
		if err != nil {
			return err
		}
		defer stopServer()
		slog.Info("metrics served", "url", "http://"+addr+"/metrics")
	}
	if url := job.Metrics.PushURL; url != "" {
		name := job.Metrics.JobName
		if name == "" {
			name = "pipeline_" + job.Job
		}
		rank, _, rerr := job.Data.RankWorld()
		if rerr != nil {
			rank = 0
		}
		pusher := prom.NewPusher(url, name, map[string]string{"rank": fmt.Sprint(rank)}, reg)
		stopPushing := pusher.Every(ctx, job.Metrics.PushInterval, func(err error) { slog.Warn("metrics push failed", "err", err) })
		defer func() {
			stopPushing()
			if err == nil {
				prom.LastSuccess(reg).SetToCurrentTime()
			}
			if perr := pusher.Push(context.WithoutCancel(ctx)); perr != nil {
				slog.Warn("final metrics push failed", "url", url, "err", perr)
			}
		}()
	}
	opts := pipeline.Options{Stop: stop, Progress: exporter, Interval: job.ProgressInterval, Summary: summary}
	if job.Out != "" {
		skips := &appendOnFirstWrite{path: filepath.Join(job.Out, SkipsFile)}
		defer skips.Close()
		opts.Skips, opts.SkipsName = skips, skips.path
	}
	err = stages.RunJob(ctx, job, opts)
	if errors.Is(err, stages.ErrNothingLeft) {
		// A resumed run whose checkpoint already ends its schedule: it
		// succeeds, and its last line says why nothing ran.
		fmt.Fprintln(summary, err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s job: %w", job.Job, err)
	}
	return nil
}

// SkipsFile is the file in a job's out folder that lists every skipped
// sample, one JSON object (pipeline.Skipped) per line.
const SkipsFile = "skipped.jsonl"

// appendOnFirstWrite appends to path, opened (O_APPEND, created with its
// folder) on the first Write: a run that skips nothing leaves no file. Each
// Write is one write(2), so lines are never torn by a crash. Not safe for
// concurrent use (the engine's skip record serialises its writes).
type appendOnFirstWrite struct {
	path string
	f    *os.File
}

func (a *appendOnFirstWrite) Write(p []byte) (int, error) {
	if a.f == nil {
		if err := os.MkdirAll(filepath.Dir(a.path), 0o755); err != nil {
			return 0, err
		}
		f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return 0, err
		}
		a.f = f
	}
	return a.f.Write(p)
}

// Close syncs and closes the file, if it was opened.
func (a *appendOnFirstWrite) Close() error {
	if a.f == nil {
		return nil
	}
	serr := a.f.Sync()
	if err := a.f.Close(); err != nil {
		return err
	}
	return serr
}
