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

// PlotPNG draws two aligned panels, the loss (top) and the learning rate
// (bottom) over the iterations, into a PNG at path (written to a temporary
// file, then renamed). title heads the loss panel. It costs a few tens of
// milliseconds per hundred thousand records.
func PlotPNG(records []Record, title, path string) error {
	if len(records) == 0 {
		return errors.New("metrics: no records to plot")
	}
	loss := make(plotter.XYs, len(records))
	lr := make(plotter.XYs, len(records))
	for i, r := range records {
		loss[i] = plotter.XY{X: float64(r.Iter), Y: r.Loss}
		lr[i] = plotter.XY{X: float64(r.Iter), Y: r.LR}
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
	plots := [][]*plot.Plot{{lossPlot}, {lrPlot}}
	img := vgimg.New(8*vg.Inch, 6*vg.Inch)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
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
