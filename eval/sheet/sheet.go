// Package sheet draws what frozen features learned as pictures and
// numbers: the prototype clusters of SwAV's scores (a PNG contact sheet of
// each prototype's best-scoring images, cluster sizes, purity and NMI
// against labels, a key/cluster/score Parquet file) and the nearest
// neighbours of query images in a bank (a PNG sheet). The images are found
// by key in the shards the features were extracted from. `pipeline features
// clusters|neighbours` and the quickstart call it; the maths is eval's, the
// drawing augment's (Sheet, Grid).
package sheet

import (
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/eval"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/sinks"
)

// errAllFound stops the image scan once every wanted key is found.
var errAllFound = errors.New("every wanted image found")

// FindImages reads the shards of cfg in order (one reader, no shuffle) and
// decodes the samples whose key is in want, stopping once all are found.
// Keys not found, and samples that do not decode, are missing from the
// result and told to notes (never an error: the sheet draws them as empty
// cells). It blocks for the read of the shards up to the last wanted key.
func FindImages(ctx context.Context, cfg ingest.Config, want []string, notes io.Writer) (map[string]*augment.Image, error) {
	wanted := map[string]bool{}
	for _, k := range want {
		wanted[k] = true
	}
	got := map[string]*augment.Image{}
	remaining := len(wanted)
	if remaining == 0 {
		return got, nil
	}
	cfg.ShuffleBuffer, cfg.Workers = 0, 1
	src, err := ingest.NewSource(ctx, cfg, ingest.SourceOptions{Epochs: 1, Rank: 0, World: 1, Workers: 1})
	if err != nil {
		return nil, fmt.Errorf("--images: %w", err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bad []string
	err = src.Run(ctx, func(_ context.Context, item any) error {
		s, ok := item.(*ingest.Sample)
		if !ok {
			return nil
		}
		defer s.Release()
		if !wanted[s.Key] {
			return nil
		}
		wanted[s.Key] = false // the first sample of a key wins
		img, err := augment.Decode(nil, s.Data, augment.DefaultConfig().MaxPixels)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s of %s: %v", s.Key, s.Shard, err))
		} else {
			got[s.Key] = img
		}
		if remaining--; remaining == 0 {
			return errAllFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errAllFound) && !strings.Contains(err.Error(), errAllFound.Error()) {
		return nil, fmt.Errorf("--images: %w", err)
	}
	for _, b := range bad {
		fmt.Fprintf(notes, "note: image %s does not decode: drawn as an empty cell\n", b)
	}
	var missing []string
	for _, k := range want {
		if wanted[k] {
			missing = append(missing, k)
			wanted[k] = false // once per key
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(notes, "note: %d of the %d images to draw are not in --images %s (%s): drawn as empty cells\n",
			len(missing), len(want), strings.Join(cfg.Shards, ","), firstFew(missing, 5))
	}
	return got, nil
}

// firstFew lists up to n items and how many more there are.
func firstFew(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// WritePNG writes the sheet to path (a temporary file renamed into place).
func WritePNG(path string, s *augment.Sheet) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := png.Encode(f, s.Image()); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// ClusterOptions are the settings of Clusters.
type ClusterOptions struct {
	// Scores holds one row of K prototype scores per sample; Keys and
	// Labels (label -1: none) are the samples'.
	Scores *eval.Dataset
	Keys   []string
	Labels []int64
	// Images reads the shards the samples came from (by key).
	Images ingest.Config
	// Out is the PNG to write; Assignments the key/cluster/score Parquet
	// file (a path or s3:// URL; empty: Out with .parquet).
	Out, Assignments string
	// Prototypes are the prototypes drawn, in order; empty: the Rows
	// largest non-empty ones.
	Prototypes []int
	Rows       int
	// PerRow is how many images each row shows (the best-scoring ones).
	PerRow int
	// LargeShare is the share of the rows above which a prototype counts
	// as large (0.1: more than 10%).
	LargeShare float64
	// Cell is the thumbnail size in pixels.
	Cell int
}

// ErrBadPrototype is wrapped when ClusterOptions.Prototypes names a
// prototype the scores do not have.
var ErrBadPrototype = errors.New("no such prototype")

// Clusters assigns every row of o.Scores to its prototype, prints the
// cluster numbers to w (one per line: rows, prototypes, empty, large,
// largest, sizes, and with labels purity and "nmi <value>"; without labels
// a note instead), draws the sheet into o.Out and writes the assignments.
// It blocks for the shard reads up to the last image drawn.
func Clusters(ctx context.Context, w io.Writer, o ClusterOptions) (eval.ClusterStats, error) {
	a := eval.Assign(o.Scores)
	st, err := a.Stats(o.Labels, o.LargeShare)
	if err != nil {
		return st, err
	}
	printClusterStats(w, st, a.Sizes)
	if !st.Labelled {
		fmt.Fprintln(w, "note: the features carry no labels (label -1): purity and NMI skipped")
	}
	// The sheet: chosen or largest prototypes, their best-scoring rows.
	drawn := o.Prototypes
	for _, p := range drawn {
		if p < 0 || p >= len(a.Sizes) {
			return st, fmt.Errorf("prototype %d: %w (the scores have prototypes 0..%d)", p, ErrBadPrototype, len(a.Sizes)-1)
		}
	}
	if len(drawn) == 0 {
		for _, p := range largestClusters(a.Sizes, o.Rows) {
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
		members[p] = m[:min(len(m), o.PerRow)]
		for _, i := range members[p] {
			keys = append(keys, o.Keys[i])
		}
	}
	imgs, err := FindImages(ctx, o.Images, keys, w)
	if err != nil {
		return st, err
	}
	var rows []augment.GridRow
	for _, p := range drawn {
		row := augment.GridRow{Caption: fmt.Sprintf("prototype %d | %d rows (%.1f%%)", p, a.Sizes[p], 100*float64(a.Sizes[p])/float64(max(st.Rows, 1)))}
		if a.Sizes[p] == 0 {
			row.Caption += " | empty"
		}
		for _, i := range members[p] {
			c := augment.GridCell{Image: imgs[o.Keys[i]], Caption: fmt.Sprintf("%.2f", a.Score[i])}
			if o.Labels[i] >= 0 {
				c.Caption = fmt.Sprintf("L%d %.2f", o.Labels[i], a.Score[i])
			}
			row.Cells = append(row.Cells, c)
		}
		rows = append(rows, row)
	}
	sheet := augment.Grid(rows, o.Cell)
	if err := WritePNG(o.Out, sheet); err != nil {
		return st, err
	}
	b := sheet.Image().Bounds()
	fmt.Fprintf(w, "wrote %s: %d prototypes x up to %d images (%dx%d px)\n", o.Out, len(rows), o.PerRow, b.Dx(), b.Dy())
	out := o.Assignments
	if out == "" {
		out = strings.TrimSuffix(o.Out, ".png") + ".parquet"
	}
	if err := WriteAssignments(ctx, out, o.Images.Store, o.Keys, a.Cluster, a.Score); err != nil {
		return st, err
	}
	fmt.Fprintf(w, "wrote %s: %d rows (key, cluster, score)\n", out, st.Rows)
	return st, nil
}

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

// NeighbourOptions are the settings of Neighbours.
type NeighbourOptions struct {
	// Bank and Queries are the feature sets (Keys, Labels, rows).
	Bank, Queries *sinks.Features
	// Images reads the shards of both sets' samples (by key).
	Images ingest.Config
	// Out is the PNG to write.
	Out string
	// K neighbours for each of N queries (spread evenly over the set).
	K, N int
	// Cell is the thumbnail size in pixels.
	Cell int
}

// NeighbourResult is what Neighbours found.
type NeighbourResult struct {
	Queries, K int
	// SameLabel is the share of the drawn neighbours with their query's
	// label (-1: unlabelled).
	SameLabel float64
}

// Neighbours draws o.N queries with their o.K nearest bank rows (cosine,
// eval.Neighbours) into o.Out and prints a summary to w. It blocks for the
// search and the shard reads.
func Neighbours(ctx context.Context, w io.Writer, o NeighbourOptions) (NeighbourResult, error) {
	bank, queries := o.Bank, o.Queries
	res := NeighbourResult{K: o.K, SameLabel: -1}
	// The queries drawn: n spread evenly over the set.
	n := min(o.N, queries.Rows())
	picked := make([]int, n)
	qd := &eval.Dataset{Name: "--queries " + queries.Files[0], Dim: queries.Dim, Data: make([]float32, 0, n*queries.Dim)}
	for i := range picked {
		picked[i] = i * queries.Rows() / n
		qd.Data = append(qd.Data, queries.Data[picked[i]*queries.Dim:(picked[i]+1)*queries.Dim]...)
	}
	bd := &eval.Dataset{Data: bank.Data, Labels: bank.Labels, Dim: bank.Dim}
	bd.Name = "--bank " + bank.Files[0]
	nbs, err := eval.Neighbours(ctx, bd, qd, o.K)
	if err != nil {
		return res, err
	}
	var keys []string
	for i, q := range picked {
		keys = append(keys, queries.Keys[q])
		for _, nb := range nbs[i] {
			keys = append(keys, bank.Keys[nb.Index])
		}
	}
	imgs, err := FindImages(ctx, o.Images, keys, w)
	if err != nil {
		return res, err
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
	sheet := augment.Grid(rows, o.Cell)
	if err := WritePNG(o.Out, sheet); err != nil {
		return res, err
	}
	fmt.Fprintf(w, "neighbours: %d queries x %d nearest of a bank of %d rows (dim %d, cosine)\n", n, o.K, bank.Rows(), bank.Dim)
	res.Queries = n
	if shown > 0 {
		res.SameLabel = float64(same) / float64(shown)
		fmt.Fprintf(w, "same label %.4f (share of the drawn neighbours with the query's label)\n", float64(same)/float64(shown))
	}
	b := sheet.Image().Bounds()
	fmt.Fprintf(w, "wrote %s: %d queries x %d neighbours (%dx%d px)\n", o.Out, n, o.K, b.Dx(), b.Dy())
	return res, nil
}

// labelled reports whether every row has a label (>= 0).
func labelled(labels []int64) bool {
	for _, l := range labels {
		if l < 0 {
			return false
		}
	}
	return len(labels) > 0
}
