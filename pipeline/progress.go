package pipeline

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/sys/unix"
)

// StageInfo describes a stage to a Progress before the run starts.
type StageInfo struct {
	Name    string
	Workers int
	Total   int64 // items the stage will emit (0: unknown)
}

// Progress shows a run while it goes. The engine calls Start once before the
// stages start, Update from one goroutine every Options.Interval with a
// snapshot, and Finish once after every stage returned; the calls never
// overlap. An implementation must not block for long: Update runs on the
// engine's ticker.
type Progress interface {
	Start(stages []StageInfo)
	Update(snapshot *Report)
	Finish(final *Report)
}

// Progress modes of NewProgress (the job's `progress` key).
const (
	ProgressAuto = "auto" // bars on a terminal, log lines otherwise
	ProgressBar  = "bar"
	ProgressLog  = "log"
	ProgressOff  = "off"
)

// NewProgress returns the Progress for a mode: bars drawn on out, or log
// lines through logger (slog.Default() when nil), or nil for "off". "auto"
// draws bars when out is a terminal.
func NewProgress(mode string, out *os.File, logger *slog.Logger) (Progress, error) {
	if logger == nil {
		logger = slog.Default()
	}
	switch mode {
	case ProgressAuto:
		if IsTerminal(out) && terminalWidth(out) > 0 {
			return NewBarProgress(out), nil
		}
		return NewLogProgress(logger), nil
	case ProgressBar:
		return NewBarProgress(out), nil
	case ProgressLog:
		return NewLogProgress(logger), nil
	case ProgressOff:
		return nil, nil
	default:
		return nil, fmt.Errorf("progress mode %q: want auto, bar, log or off", mode)
	}
}

// terminalWidth is the width of the terminal f in columns (0 when unknown:
// a pseudo-terminal without a size cannot show bars).
func terminalWidth(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// LogProgress writes one structured log line per stage at every Update:
// items and bytes out, rate, busy and wait shares, status and gauges.
type LogProgress struct {
	log  *slog.Logger
	prev map[string]int64
	last time.Duration
}

// NewLogProgress logs through logger.
func NewLogProgress(logger *slog.Logger) *LogProgress {
	return &LogProgress{log: logger, prev: map[string]int64{}}
}

// Start logs the chain and restarts the rates: one LogProgress may serve
// several runs in turn (the quickstart's), each with its own clock and
// counters.
func (p *LogProgress) Start(stages []StageInfo) {
	p.prev, p.last = map[string]int64{}, 0
	names := make([]string, len(stages))
	for i, s := range stages {
		names[i] = fmt.Sprintf("%s(x%d)", s.Name, s.Workers)
	}
	p.log.Info("run started", "stages", names)
}

// Update logs one line per stage with the rate since the previous Update.
func (p *LogProgress) Update(r *Report) {
	dt := (r.Wall - p.last).Seconds()
	p.last = r.Wall
	for _, s := range r.Stages {
		n := s.ItemsOut + itemsIfSink(s)
		attrs := []any{"stage", s.Name, "items", n, "bytes", s.BytesOut + s.BytesIn*boolInt(s.ItemsOut == 0),
			"rate", fmt.Sprintf("%.1f/s", float64(n-p.prev[s.Name])/max(dt, 1e-9)),
			"busy", percent(s.BusyFraction(r.Wall)), "wait_in", percent(s.fraction(s.WaitIn, r.Wall)),
			"wait_out", percent(s.fraction(s.WaitOut, r.Wall))}
		if s.Total > 0 {
			attrs = append(attrs, "total", s.Total)
		}
		if line := statusLine(s); line != "" {
			attrs = append(attrs, "status", line)
		}
		p.prev[s.Name] = n
		p.log.Info("progress", attrs...)
	}
}

// Finish logs the outcome and the bottleneck.
func (p *LogProgress) Finish(r *Report) {
	attrs := []any{"wall", r.Wall.Round(time.Millisecond).String(), "bottleneck", r.Bottleneck, "interrupted", r.Interrupted}
	if r.Err != nil {
		attrs = append(attrs, "err", r.Err.Error())
	}
	p.log.Info("run finished", attrs...)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// BarProgress draws one mpb bar per stage (a spinner when the total is
// unknown) with the count, the rate, the ETA and the stage's status.
type BarProgress struct {
	out  io.Writer
	p    *mpb.Progress
	bars []*mpb.Bar

	mu   sync.Mutex
	last *Report
}

// barRefresh is the longest interval between two updates of the bars.
const barRefresh = 250 * time.Millisecond

// NewBarProgress draws on out.
func NewBarProgress(out io.Writer) *BarProgress { return &BarProgress{out: out} }

// Start creates the bars.
func (b *BarProgress) Start(stages []StageInfo) {
	b.p = mpb.New(mpb.WithOutput(b.out), mpb.WithWidth(120), mpb.WithRefreshRate(barRefresh), mpb.WithAutoRefresh())
	for i, s := range stages {
		info := decor.Any(func(decor.Statistics) string { return b.info(i) })
		opts := []mpb.BarOption{
			mpb.BarWidth(30),
			mpb.PrependDecorators(decor.Name(s.Name, decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d", decor.WCSyncSpace)),
			mpb.AppendDecorators(info),
		}
		if s.Total > 0 {
			opts[2] = mpb.AppendDecorators(decor.AverageETA(decor.ET_STYLE_GO, decor.WCSyncSpace), info)
			b.bars = append(b.bars, b.p.AddBar(s.Total, opts...))
		} else {
			b.bars = append(b.bars, b.p.AddSpinner(0, opts...))
		}
	}
}

// info is the text after stage i's bar: rate, busy share and status.
func (b *BarProgress) info(i int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last == nil || i >= len(b.last.Stages) {
		return ""
	}
	s := b.last.Stages[i]
	return fmt.Sprintf(" %.1f/s busy %s %s", rate(s.ItemsOut+itemsIfSink(s), b.last.Wall),
		percent(s.BusyFraction(b.last.Wall)), statusLine(s))
}

// Update moves the bars.
func (b *BarProgress) Update(r *Report) {
	b.mu.Lock()
	b.last = r
	b.mu.Unlock()
	for i, s := range r.Stages {
		n := s.ItemsOut + itemsIfSink(s)
		if s.Total <= 0 {
			b.bars[i].SetTotal(n+1, false)
		}
		b.bars[i].SetCurrent(n)
	}
}

// Finish completes (or aborts, on error) every bar and waits for the last
// frame to be drawn.
func (b *BarProgress) Finish(r *Report) {
	b.Update(r)
	for _, bar := range b.bars {
		if r.Err != nil && !r.Interrupted {
			bar.Abort(false)
		} else {
			bar.SetTotal(-1, true)
		}
	}
	b.p.Wait()
}
