package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/swavgo/swav/eval/sheet"
)

// neighbourOptions are the settings of `features neighbours`.
type neighbourOptions struct {
	bank, queries, images []string
	out                   string
	k, n, cell            int
	flags                 shardListFlags
}

func newFeaturesNeighboursCmd() *cobra.Command {
	var o neighbourOptions
	cmd := &cobra.Command{
		Use:   "neighbours --bank DIR --queries DIR --images SHARDS --out FILE.png",
		Short: "A PNG sheet of query images with their k nearest neighbours in a bank of features (cosine, as the kNN evaluation)",
		Long: `neighbours finds, for --n queries of --queries (spread evenly over the set), the --k
rows of --bank with the highest cosine similarity (the search of "eval knn")
and writes --out: one row per query, the query's image first, then its
neighbours' images with their similarity and, where the features carry
them, labels. The images are read from the --images shards by key (give the
shards of both sets); a key not found is drawn as an empty cell, with a note.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNeighbours(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.bank, "bank", nil, "bank features: .parquet files, folders or s3:// prefixes (repeatable)")
	f.StringSliceVar(&o.queries, "queries", nil, "query features: .parquet files, folders or s3:// prefixes (repeatable)")
	f.StringSliceVar(&o.images, "images", nil, "the shards of the bank's and the queries' images (as data.shards; repeatable)")
	f.StringVar(&o.out, "out", "", "the PNG sheet to write")
	f.IntVar(&o.k, "k", 8, "neighbours per query")
	f.IntVar(&o.n, "n", 10, "queries drawn")
	f.IntVar(&o.cell, "cell", 56, "thumbnail size in pixels")
	o.flags.register(cmd)
	return cmd
}

// runNeighbours is `features neighbours`.
func runNeighbours(ctx context.Context, w io.Writer, o neighbourOptions) error {
	switch {
	case len(o.images) == 0:
		return usageError{fmt.Errorf("features neighbours: --images SHARDS is required (the shards of the bank and the queries)")}
	case o.out == "":
		return usageError{fmt.Errorf("features neighbours: --out FILE.png is required")}
	case o.k < 1 || o.n < 1 || o.cell < 8:
		return usageError{fmt.Errorf("features neighbours: --k and --n must be at least 1, --cell at least 8")}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := o.flags.config(o.images)
	if err != nil {
		return err
	}
	bank, err := readFeatures(ctx, "--bank", cfg.Store, o.bank)
	if err != nil {
		return err
	}
	queries, err := readFeatures(ctx, "--queries", cfg.Store, o.queries)
	if err != nil {
		return err
	}
	_, err = sheet.Neighbours(ctx, w, sheet.NeighbourOptions{Bank: bank, Queries: queries, Images: cfg, Out: o.out, K: o.k, N: o.n, Cell: o.cell})
	if err != nil {
		return fmt.Errorf("features neighbours: %w", err)
	}
	return nil
}
