package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/swavgo/swav/eval"
	"github.com/swavgo/swav/eval/sheet"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/sinks"
)

// clusterOptions are the settings of `features clusters`.
type clusterOptions struct {
	features, images []string
	out, assignments string
	checkpoint       string
	rows, perRow     int
	prototypes       []int
	largePercent     float64
	cell             int
	flags            shardListFlags
}

func newFeaturesClustersCmd() *cobra.Command {
	var o clusterOptions
	cmd := &cobra.Command{
		Use:   "clusters --features DIR --images SHARDS --out FILE.png",
		Short: "Prototype clusters of extracted features: a PNG sheet, cluster sizes, purity and NMI, key/cluster/score Parquet",
		Long: `clusters assigns every row of --features to its prototype (the highest
prototype score) and
  - prints the cluster numbers: rows, prototypes, how many are empty, how many
    hold more than --large-percent of the rows, the largest sizes, and where
    every row has a label, purity and the normalised mutual information
    against the labels (a line "nmi <value>"; without labels both are skipped
    with a note);
  - writes --out, a PNG contact sheet: one row per prototype (the --rows
    largest non-empty ones, or the --prototypes chosen), its --per-row highest-scoring images
    (read from the --images shards by key; a key not found is an empty cell);
  - writes --assignments (default: --out with .parquet), one row per sample:
    key, cluster, score.
--features holds the prototype scores of "extract.feature: scores"; trunk
or projection features are scored with the head and prototypes of
--checkpoint (ours, a folder of ours, or a torch.save / safetensors file).
Scores given with --checkpoint must have as many columns as it has prototypes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runClusters(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.features, "features", nil, "feature files: .parquet files, folders or s3:// prefixes (repeatable)")
	f.StringSliceVar(&o.images, "images", nil, "the shards the features were extracted from (as data.shards; repeatable)")
	f.StringVar(&o.out, "out", "", "the PNG contact sheet to write")
	f.StringVar(&o.assignments, "assignments", "", "the key/cluster/score Parquet file (default: --out with .parquet; a path or s3:// URL)")
	f.StringVar(&o.checkpoint, "checkpoint", "", "score trunk or projection features with this checkpoint's head and prototypes; check scores' K against it")
	f.IntVar(&o.rows, "rows", 10, "prototypes drawn: the largest N")
	f.IntSliceVar(&o.prototypes, "prototypes", nil, "prototypes drawn, in this order, instead of the largest (e.g. 3,17,29)")
	f.IntVar(&o.perRow, "per-row", 8, "images per prototype")
	f.Float64Var(&o.largePercent, "large-percent", 10, "a prototype holding more than this percentage of the rows counts as large")
	f.IntVar(&o.cell, "cell", 56, "thumbnail size in pixels")
	o.flags.register(cmd)
	return cmd
}

// runClusters is `features clusters`.
func runClusters(ctx context.Context, w io.Writer, o clusterOptions) error {
	switch {
	case len(o.images) == 0:
		return usageError{fmt.Errorf("features clusters: --images SHARDS is required (the shards the features came from)")}
	case o.out == "":
		return usageError{fmt.Errorf("features clusters: --out FILE.png is required")}
	case o.rows < 1 || o.perRow < 1 || o.cell < 8:
		return usageError{fmt.Errorf("features clusters: --rows and --per-row must be at least 1, --cell at least 8")}
	case o.largePercent <= 0 || o.largePercent > 100:
		return usageError{fmt.Errorf("features clusters: --large-percent must be in (0, 100], got %g", o.largePercent)}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := o.flags.config(o.images)
	if err != nil {
		return err
	}
	feats, err := readFeatures(ctx, "--features", cfg.Store, o.features)
	if err != nil {
		return err
	}
	scores, err := clusterScores(ctx, w, feats, o, cfg.Store)
	if err != nil {
		return err
	}
	_, err = sheet.Clusters(ctx, w, sheet.ClusterOptions{
		Scores: scores, Keys: feats.Keys, Labels: feats.Labels, Images: cfg,
		Out: o.out, Assignments: o.assignments, Prototypes: o.prototypes, Rows: o.rows,
		PerRow: o.perRow, LargeShare: o.largePercent / 100, Cell: o.cell,
	})
	if errors.Is(err, sheet.ErrBadPrototype) {
		return usageError{fmt.Errorf("features clusters: --prototypes: %w", err)}
	}
	if err != nil {
		return fmt.Errorf("features clusters: %w", err)
	}
	return nil
}

// clusterScores returns the prototype scores of feats: the features
// themselves for kind "scores" (K checked against --checkpoint when given),
// else the head and prototypes of --checkpoint applied to them.
func clusterScores(ctx context.Context, w io.Writer, feats *sinks.Features, o clusterOptions, sc store.Config) (*eval.Dataset, error) {
	kind := feats.Meta[0].Layout.Kind
	d := dataset(feats, o.features)
	if o.checkpoint == "" {
		if kind != "scores" {
			return nil, usageError{fmt.Errorf("features clusters: %s holds %q features; give prototype scores (extract.feature: scores) or --checkpoint to score them", feats.Files[0], kind)}
		}
		fmt.Fprintf(w, "read %d rows of prototype scores (K=%d) from %d files\n", feats.Rows(), feats.Dim, len(feats.Files))
		return d, nil
	}
	head, err := loadHead(ctx, o.checkpoint, sc)
	if err != nil {
		return nil, fmt.Errorf("features clusters: --checkpoint: %w", err)
	}
	if kind == "scores" {
		if feats.Dim != head.K {
			return nil, fmt.Errorf("features clusters: %s holds scores over K=%d prototypes, but checkpoint %s has %d prototypes: %w",
				feats.Files[0], feats.Dim, o.checkpoint, head.K, errKMismatch)
		}
		fmt.Fprintf(w, "read %d rows of prototype scores (K=%d, as %s) from %d files\n", feats.Rows(), feats.Dim, o.checkpoint, len(feats.Files))
		return d, nil
	}
	scores, err := head.Scores(d, kind)
	if err != nil {
		return nil, fmt.Errorf("features clusters: %w", err)
	}
	fmt.Fprintf(w, "read %d rows of %s features (dim %d), scored against the K=%d prototypes of %s\n", feats.Rows(), kind, feats.Dim, head.K, o.checkpoint)
	return scores, nil
}

// errKMismatch is wrapped when scores and a checkpoint disagree on K.
var errKMismatch = fmt.Errorf("prototype count mismatch")
