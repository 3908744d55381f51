package metrics

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// PlotPNG draws aligned panels over the iterations, the loss (top), the kNN
// monitor's top-1 accuracy when any record carries one (Record.KNN), the
// validation top-1 of the evaluation jobs (Record.Val) and the
// learning rate (bottom), into a PNG at path (written to a temporary file,
// then renamed). title heads the loss panel. It costs a few tens of
// milliseconds per hundred thousand records.
func PlotPNG(records []Record, title, path string) error {
	if len(records) == 0 {
		return errors.New("metrics: no records to plot")
	}
	loss := make(plotter.XYs, len(records))
	lr := make(plotter.XYs, len(records))
	var knn, val plotter.XYs
	knnTitle, valTitle := "", ""
	for i, r := range records {
		loss[i] = plotter.XY{X: float64(r.Iter), Y: r.Loss}
		lr[i] = plotter.XY{X: float64(r.Iter), Y: r.LR}
		if r.KNN != nil {
			knn = append(knn, plotter.XY{X: float64(r.Iter), Y: 100 * r.KNN.Top1})
			knnTitle = fmt.Sprintf("kNN monitor (k=%d, %d bank / %d held-out samples), last %.2f%%",
				r.KNN.K, r.KNN.Bank, r.KNN.Queries, 100*r.KNN.Top1)
		}
		if r.Val != nil {
			val = append(val, plotter.XY{X: float64(r.Iter), Y: 100 * r.Val.Top1})
			valTitle = fmt.Sprintf("validation (%d images), last top-1 %.2f%%, top-5 %.2f%%", r.Val.Images, 100*r.Val.Top1, 100*r.Val.Top5)
		}
	}
	panel := func(t, y string, xys plotter.XYs) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = t
		p.X.Label.Text = "iteration"
		p.Y.Label.Text = y
		p.Add(plotter.NewGrid())
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("metrics: plot %s: %w", y, err)
		}
		p.Add(l)
		return p, nil
	}
	lossPlot, err := panel(title, "loss", loss)
	if err != nil {
		return err
	}
	lrPlot, err := panel("", "learning rate", lr)
	if err != nil {
		return err
	}
	plots := [][]*plot.Plot{{lossPlot}}
	if len(knn) > 0 {
		knnPlot, err := panel(knnTitle, "kNN top-1 (%)", knn)
		if err != nil {
			return err
		}
		if s, err := plotter.NewScatter(knn); err == nil {
			knnPlot.Add(s)
		}
		knnPlot.X.Min, knnPlot.X.Max = lossPlot.X.Min, lossPlot.X.Max // aligned with the loss
		plots = append(plots, []*plot.Plot{knnPlot})
	}
	if len(val) > 0 {
		valPlot, err := panel(valTitle, "validation top-1 (%)", val)
		if err != nil {
			return err
		}
		if s, err := plotter.NewScatter(val); err == nil {
			valPlot.Add(s)
		}
		valPlot.X.Min, valPlot.X.Max = lossPlot.X.Min, lossPlot.X.Max
		plots = append(plots, []*plot.Plot{valPlot})
	}
	plots = append(plots, []*plot.Plot{lrPlot})
	img := vgimg.New(8*vg.Inch, vg.Length(3*len(plots))*vg.Inch)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	canvases := plot.Align(plots, tiles, draw.New(img))
	for j := range plots {
		plots[j][0].Draw(canvases[j][0])
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("metrics: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("metrics: write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}
