package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/eval"
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
	bank, err := readFeatures(ctx, "--bank", cfg.StoreConfig(), o.bank)
	if err != nil {
		return err
	}
	queries, err := readFeatures(ctx, "--queries", cfg.StoreConfig(), o.queries)
	if err != nil {
		return err
	}
	// The queries drawn: n spread evenly over the set.
	n := min(o.n, queries.Rows())
	picked := make([]int, n)
	qd := &eval.Dataset{Name: "--queries " + queries.Files[0], Dim: queries.Dim, Data: make([]float32, 0, n*queries.Dim)}
	for i := range picked {
		picked[i] = i * queries.Rows() / n
		qd.Data = append(qd.Data, queries.Data[picked[i]*queries.Dim:(picked[i]+1)*queries.Dim]...)
	}
	bd := dataset(bank, o.bank)
	bd.Name = "--bank " + bank.Files[0]
	nbs, err := eval.Neighbours(ctx, bd, qd, o.k)
	if err != nil {
		return fmt.Errorf("features neighbours: %w", err)
	}
	var keys []string
	for i, q := range picked {
		keys = append(keys, queries.Keys[q])
		for _, nb := range nbs[i] {
			keys = append(keys, bank.Keys[nb.Index])
		}
	}
	imgs, err := findImages(ctx, cfg, keys, w)
	if err != nil {
		return err
	}
	withLabels := labelled(bank.Labels) && labelled(queries.Labels)
	if !withLabels {
		fmt.Fprintln(w, "note: the bank or the queries carry no labels: the sheet shows similarities only")
	}
	same, shown := 0, 0
	var rows []augment.GridRow
	for i, q := range picked {
		row := augment.GridRow{Caption: "query " + queries.Keys[q]}
		qc := augment.GridCell{Image: imgs[queries.Keys[q]], Caption: "query"}
		if withLabels {
			row.Caption += fmt.Sprintf(" | label %d", queries.Labels[q])
			qc.Caption = fmt.Sprintf("query L%d", queries.Labels[q])
		}
		row.Cells = append(row.Cells, qc)
		agree := 0
		for _, nb := range nbs[i] {
			c := augment.GridCell{Image: imgs[bank.Keys[nb.Index]], Caption: fmt.Sprintf("%.2f", nb.Similarity)}
			if withLabels {
				c.Caption = fmt.Sprintf("L%d %.2f", bank.Labels[nb.Index], nb.Similarity)
				if bank.Labels[nb.Index] == queries.Labels[q] {
					agree++
				}
			}
			row.Cells = append(row.Cells, c)
		}
		if withLabels {
			row.Caption += fmt.Sprintf(" | %d/%d same label", agree, len(nbs[i]))
			same += agree
			shown += len(nbs[i])
		}
		rows = append(rows, row)
	}
	sheet := augment.Grid(rows, o.cell)
	if err := writePNG(o.out, sheet); err != nil {
		return fmt.Errorf("features neighbours: %w", err)
	}
	fmt.Fprintf(w, "neighbours: %d queries x %d nearest of a bank of %d rows (dim %d, cosine)\n", n, o.k, bank.Rows(), bank.Dim)
	if shown > 0 {
		fmt.Fprintf(w, "same label %.4f (share of the drawn neighbours with the query's label)\n", float64(same)/float64(shown))
	}
	b := sheet.Image().Bounds()
	fmt.Fprintf(w, "wrote %s: %d queries x %d neighbours (%dx%d px)\n", o.out, n, o.k, b.Dx(), b.Dy())
	return nil
}
