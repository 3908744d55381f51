package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/eval"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/sinks/parquet"
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
	feats, err := readFeatures(ctx, "--features", cfg.StoreConfig(), o.features)
	if err != nil {
		return err
	}
	scores, err := clusterScores(ctx, w, feats, o, cfg.StoreConfig())
	if err != nil {
		return err
	}
	a := eval.Assign(scores)
	st, err := a.Stats(feats.Labels, o.largePercent/100)
	if err != nil {
		return err
	}
	printClusterStats(w, st, a.Sizes)
	if !st.Labelled {
		fmt.Fprintln(w, "note: the features carry no labels (label -1): purity and NMI skipped")
	}

	// The sheet: chosen or largest prototypes, their best-scoring rows.
	drawn := o.prototypes
	for _, p := range drawn {
		if p < 0 || p >= len(a.Sizes) {
			return usageError{fmt.Errorf("features clusters: --prototypes %d: the scores have prototypes 0..%d", p, len(a.Sizes)-1)}
		}
	}
	if len(drawn) == 0 {
		for _, p := range largestClusters(a.Sizes, o.rows) {
			if a.Sizes[p] > 0 { // an empty prototype has nothing to draw
				drawn = append(drawn, p)
			}
		}
	}
	members := map[int][]int{}
	for i, c := range a.Cluster {
		members[int(c)] = append(members[int(c)], i)
	}
	var keys []string
	for _, p := range drawn {
		m := members[p]
		slices.SortStableFunc(m, func(x, y int) int { return -cmpFloat(a.Score[x], a.Score[y]) })
		members[p] = m[:min(len(m), o.perRow)]
		for _, i := range members[p] {
			keys = append(keys, feats.Keys[i])
		}
	}
	imgs, err := findImages(ctx, cfg, keys, w)
	if err != nil {
		return err
	}
	var rows []augment.GridRow
	for _, p := range drawn {
		row := augment.GridRow{Caption: fmt.Sprintf("prototype %d | %d rows (%.1f%%)", p, a.Sizes[p], 100*float64(a.Sizes[p])/float64(max(st.Rows, 1)))}
		if a.Sizes[p] == 0 {
			row.Caption += " | empty"
		}
		for _, i := range members[p] {
			c := augment.GridCell{Image: imgs[feats.Keys[i]], Caption: fmt.Sprintf("%.2f", a.Score[i])}
			if feats.Labels[i] >= 0 {
				c.Caption = fmt.Sprintf("L%d %.2f", feats.Labels[i], a.Score[i])
			}
			row.Cells = append(row.Cells, c)
		}
		rows = append(rows, row)
	}
	sheet := augment.Grid(rows, o.cell)
	if err := writePNG(o.out, sheet); err != nil {
		return fmt.Errorf("features clusters: %w", err)
	}
	b := sheet.Image().Bounds()
	fmt.Fprintf(w, "wrote %s: %d prototypes x up to %d images (%dx%d px)\n", o.out, len(rows), o.perRow, b.Dx(), b.Dy())
	out := o.assignments
	if out == "" {
		out = strings.TrimSuffix(o.out, ".png") + ".parquet"
	}
	if err := parquet.WriteAssignments(ctx, out, cfg.StoreConfig(), feats.Keys, a.Cluster, a.Score); err != nil {
		return fmt.Errorf("features clusters: %w", err)
	}
	fmt.Fprintf(w, "wrote %s: %d rows (key, cluster, score)\n", out, st.Rows)
	return nil
}

// clusterScores returns the prototype scores of feats: the features
// themselves for kind "scores" (K checked against --checkpoint when given),
// else the head and prototypes of --checkpoint applied to them.
func clusterScores(ctx context.Context, w io.Writer, feats *parquet.Features, o clusterOptions, sc store.Config) (*eval.Dataset, error) {
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

// printClusterStats prints the cluster numbers, one per line ("nmi <value>"
// is the line scripts read).
func printClusterStats(w io.Writer, st eval.ClusterStats, sizes []int) {
	fmt.Fprintf(w, "rows %d\nprototypes %d\nempty %d\nlarge %d (more than %g%% of the rows each)\nlargest %d (%.2f%%)\n",
		st.Rows, st.Prototypes, st.Empty, st.Large, 100*st.LargeShare, st.Largest, 100*float64(st.Largest)/float64(max(st.Rows, 1)))
	var top []string
	for _, p := range largestClusters(sizes, 20) {
		top = append(top, strconv.Itoa(p)+":"+strconv.Itoa(sizes[p]))
	}
	fmt.Fprintf(w, "sizes %s (prototype:rows, largest first, up to 20)\n", strings.Join(top, " "))
	if st.Labelled {
		fmt.Fprintf(w, "purity %.4f\nnmi %.4f\n", st.Purity, st.NMI)
	}
}

// largestClusters is the n prototypes holding the most rows, largest first
// (ties: lower prototype first).
func largestClusters(sizes []int, n int) []int {
	idx := make([]int, len(sizes))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return sizes[b] - sizes[a] })
	return idx[:min(n, len(idx))]
}

func cmpFloat(a, b float32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
