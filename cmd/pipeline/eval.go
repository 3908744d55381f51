package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/swavgo/swav/eval"
	"github.com/swavgo/swav/sinks"
)

// evalCmd groups the evaluations of frozen features stored as Parquet
// (`pipeline eval knn|linear --train URL --test URL`).
var evalCmd = &cobra.Command{
	Use:   "eval",
	Short: "Evaluate extracted features: weighted kNN or a linear classifier (top-1/top-5)",
}

// evalFlags are the flags both evaluations share.
type evalFlags struct {
	train, test []string
	jsonOut     bool
}

func (f *evalFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.train, "train", nil, "train features: .parquet files, folders or s3:// prefixes (repeatable)")
	cmd.Flags().StringSliceVar(&f.test, "test", nil, "test features: .parquet files, folders or s3:// prefixes (repeatable)")
	cmd.Flags().BoolVar(&f.jsonOut, "json", false, "print the result as JSON")
}

// load reads both sets; errors name the files.
func (f *evalFlags) load(ctx context.Context, w io.Writer) (train, test *eval.Dataset, err error) {
	if len(f.train) == 0 || len(f.test) == 0 {
		return nil, nil, usageError{fmt.Errorf("both --train and --test are required")}
	}
	start := time.Now()
	if train, err = eval.Load(ctx, sinks.ReadOptions{}, f.train...); err != nil {
		return nil, nil, fmt.Errorf("train features: %w", err)
	}
	if test, err = eval.Load(ctx, sinks.ReadOptions{}, f.test...); err != nil {
		return nil, nil, fmt.Errorf("test features: %w", err)
	}
	if !f.jsonOut {
		fmt.Fprintf(w, "read %d train and %d test rows of dim %d in %.1fs (BLAS: %s)\n",
			train.Rows(), test.Rows(), train.Dim, time.Since(start).Seconds(), eval.BLAS())
	}
	return train, test, nil
}

// parseKs parses "10,20,50".
func parseKs(s string) ([]int, error) {
	var ks []int
	for _, p := range strings.Split(s, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || k < 1 {
			return nil, usageError{fmt.Errorf("--k: %q is not a positive integer", p)}
		}
		ks = append(ks, k)
	}
	return ks, nil
}

// interruptible returns a context cancelled by SIGINT/SIGTERM.
func interruptible(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}

func newEvalKNNCmd() *cobra.Command {
	var (
		flags evalFlags
		ks    string
		temp  float64
	)
	cmd := &cobra.Command{
		Use:   "knn --train URL --test URL [--k 10,20,50] [--t 0.07]",
		Short: "Weighted kNN (cosine similarity, votes exp(sim/T)): top-1 and top-5 per k",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := interruptible(cmd)
			defer cancel()
			kList, err := parseKs(ks)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			train, test, err := flags.load(ctx, out)
			if err != nil {
				return err
			}
			start := time.Now()
			res, err := eval.KNN(ctx, train, test, eval.KNNOptions{Ks: kList, Temperature: temp})
			if err != nil {
				return err
			}
			if flags.jsonOut {
				return json.NewEncoder(out).Encode(res)
			}
			fmt.Fprintf(out, "kNN (T=%g) in %.1fs\n%6s %8s %8s\n", temp, time.Since(start).Seconds(), "k", "top1", "top5")
			for _, r := range res {
				fmt.Fprintf(out, "%6d %7.2f%% %7.2f%%\n", r.K, 100*r.Top1, 100*r.Top5)
			}
			return nil
		},
	}
	flags.register(cmd)
	cmd.Flags().StringVar(&ks, "k", "20", "neighbour counts, comma-separated")
	cmd.Flags().Float64Var(&temp, "t", 0.07, "temperature of the vote weights exp(sim/T)")
	return cmd
}

func newEvalLinearCmd() *cobra.Command {
	var (
		flags evalFlags
		opts  eval.LinearOptions
	)
	cmd := &cobra.Command{
		Use:   "linear --train URL --test URL [--epochs 30] [--lr 0.1] [--batch 256]",
		Short: "Multinomial logistic regression on frozen, standardised features (SGD, cosine schedule): top-1 and top-5",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := interruptible(cmd)
			defer cancel()
			out := cmd.OutOrStdout()
			train, test, err := flags.load(ctx, out)
			if err != nil {
				return err
			}
			if !flags.jsonOut {
				opts.Progress = func(e, n int, loss float64) {
					fmt.Fprintf(cmd.ErrOrStderr(), "epoch %d/%d train loss %.4f\n", e, n, loss)
				}
			}
			start := time.Now()
			res, err := eval.Linear(ctx, train, test, opts)
			if err != nil {
				return err
			}
			if flags.jsonOut {
				return json.NewEncoder(out).Encode(res)
			}
			fmt.Fprintf(out, "linear (%d epochs, %.1fs): top1 %.2f%% top5 %.2f%% (final train loss %.4f)\n",
				res.Epochs, time.Since(start).Seconds(), 100*res.Top1, 100*res.Top5, res.TrainLoss)
			return nil
		},
	}
	flags.register(cmd)
	cmd.Flags().IntVar(&opts.Epochs, "epochs", 30, "epochs over the train set")
	cmd.Flags().IntVar(&opts.BatchSize, "batch", 256, "mini-batch size")
	cmd.Flags().Float64Var(&opts.LR, "lr", 0.1, "peak learning rate (cosine-annealed to 0)")
	cmd.Flags().Float64Var(&opts.WeightDecay, "wd", 1e-4, "weight decay")
	cmd.Flags().Int64Var(&opts.Seed, "seed", 31, "seed of the shuffles")
	return cmd
}

func init() {
	addCommand(nil, evalCmd)
	addCommand(evalCmd, newEvalKNNCmd())
	addCommand(evalCmd, newEvalLinearCmd())
}
