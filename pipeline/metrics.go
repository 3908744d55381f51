package pipeline

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// stageStats are the live counters of one stage, updated by its workers
// (atomics) and read by the progress ticker.
type stageStats struct {
	itemsIn, itemsOut atomic.Int64
	bytesIn, bytesOut atomic.Int64
	busy              atomic.Int64 // ns in Run/Process/Consume, minus time blocked in Emit
	waitIn            atomic.Int64 // ns blocked waiting for an input item
	waitOut           atomic.Int64 // ns blocked in Emit on a full output channel

	name  string   // the stage's name, for RecordSkip
	skips *skipLog // the run's skip record (shared by its stages)

	mu      sync.Mutex
	status  string
	summary string
	gauges  map[string]float64
}

type stageKey struct{}

// withStats returns ctx carrying st's counters for SetStatus and SetGauge.
func (st *stage) withStats(ctx context.Context) context.Context {
	return context.WithValue(ctx, stageKey{}, st.stats)
}

// SetStatus sets a short free-text status for the stage whose Run, Process,
// Consume, Flush or Drain received ctx ("epoch 3/100"). Progress bars and log
// lines show it and the Report keeps the last one. Outside a run it does
// nothing. Cheap (a mutex); safe from any worker.
func SetStatus(ctx context.Context, status string) {
	if s, ok := ctx.Value(stageKey{}).(*stageStats); ok {
		s.mu.Lock()
		s.status = status
		s.mu.Unlock()
	}
}

// SetSummary sets the stage's closing line ("wrote 3 shard files; 2
// already written by another attempt"): the Report keeps it and the
// end-of-run table prints it alone on the table's last lines, word for
// word (scripts parse it). Outside a run it does nothing.
func SetSummary(ctx context.Context, line string) {
	if s, ok := ctx.Value(stageKey{}).(*stageStats); ok {
		s.mu.Lock()
		s.summary = line
		s.mu.Unlock()
	}
}

// SetGauge records the latest value of a named number of the stage whose call
// received ctx (a training stage reports "loss" and "lr"). Progress output and
// the Report show the last value of each gauge. Outside a run it does nothing.
func SetGauge(ctx context.Context, name string, value float64) {
	if s, ok := ctx.Value(stageKey{}).(*stageStats); ok {
		s.mu.Lock()
		if s.gauges == nil {
			s.gauges = map[string]float64{}
		}
		s.gauges[name] = value
		s.mu.Unlock()
	}
}

// StageReport is the metrics of one stage. Busy, WaitIn and WaitOut add up
// over the stage's workers, so each can reach Wall*Workers.
type StageReport struct {
	Name     string
	Workers  int
	Total    int64 // Spec.Total (0: unknown)
	ItemsIn  int64
	ItemsOut int64
	BytesIn  int64
	BytesOut int64
	// Busy is the time spent in the stage's own code (Run, Process, Consume),
	// not counting the time blocked in Emit.
	Busy time.Duration
	// WaitIn is the time blocked waiting for an input item: the stage before
	// is too slow (starved).
	WaitIn time.Duration
	// WaitOut is the time blocked in Emit because the next stage's channel was
	// full: the stages after are too slow (backpressure).
	WaitOut time.Duration
	Status  string
	// Summary is the stage's closing line (SetSummary), "" when none.
	Summary string
	Gauges  map[string]float64
}

// BusyFraction is Busy / (wall * Workers): 1 means every worker computed
// the whole time.
func (s StageReport) BusyFraction(wall time.Duration) float64 { return s.fraction(s.Busy, wall) }

func (s StageReport) fraction(d, wall time.Duration) float64 {
	if wall <= 0 || s.Workers <= 0 {
		return 0
	}
	return float64(d) / (float64(wall) * float64(s.Workers))
}

// Report is the outcome of a Run: per-stage metrics, the wall time and the
// bottleneck.
type Report struct {
	Wall   time.Duration
	Stages []StageReport
	// Bottleneck names the stage with the highest busy fraction per worker
	// (Busy / (Wall * Workers)): the stage whose workers spent the largest
	// share of the run computing rather than waiting for input or for room
	// downstream. Adding workers to it (or making it faster) is what speeds
	// the chain up; the other stages wait on it. Empty when nothing ran.
	Bottleneck string
	// Interrupted is true when the run was stopped gracefully.
	Interrupted bool
	// Err is the error Run returned (nil on success).
	Err error
	// Skipped counts the samples the stages skipped (RecordSkip), by class.
	Skipped map[string]int
	// SkipsName is Options.SkipsName (where each skip is listed).
	SkipsName string
}

// Stage returns the report of the named stage (false when absent).
func (r *Report) Stage(name string) (StageReport, bool) {
	for _, s := range r.Stages {
		if s.Name == name {
			return s, true
		}
	}
	return StageReport{}, false
}

// report snapshots the live counters.
func (r *runner) report() *Report {
	rep := &Report{Wall: time.Since(r.start), Skipped: r.skips.counts(), SkipsName: r.opts.SkipsName}
	best := -1.0
	for _, st := range r.stages {
		s := st.stats
		s.mu.Lock()
		status, summary, gauges := s.status, s.summary, maps.Clone(s.gauges)
		s.mu.Unlock()
		sr := StageReport{
			Name: st.spec.Name, Workers: st.workers, Total: st.spec.Total,
			ItemsIn: s.itemsIn.Load(), ItemsOut: s.itemsOut.Load(),
			BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
			Busy: time.Duration(max(s.busy.Load(), 0)), WaitIn: time.Duration(s.waitIn.Load()),
			WaitOut: time.Duration(s.waitOut.Load()), Status: status, Summary: summary, Gauges: gauges,
		}
		if f := sr.BusyFraction(rep.Wall); f > best && sr.Busy > 0 {
			best, rep.Bottleneck = f, sr.Name
		}
		rep.Stages = append(rep.Stages, sr)
	}
	return rep
}

// WriteTable writes the end-of-run summary: one row per stage with items,
// bytes, rate and the busy / wait-in / wait-out shares of its workers' time,
// then a line naming the bottleneck.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tworkers\titems in\titems out\tbytes in\tbytes out\titems/s\tbusy\twait in\twait out\t")
	for _, s := range r.Stages {
		name := s.Name
		if name == r.Bottleneck {
			name = "*" + name
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%.1f\t%s\t%s\t%s\t\n", name, s.Workers, s.ItemsIn, s.ItemsOut,
			FormatBytes(s.BytesIn), FormatBytes(s.BytesOut), rate(s.ItemsOut+itemsIfSink(s), r.Wall),
			percent(s.BusyFraction(r.Wall)), percent(s.fraction(s.WaitIn, r.Wall)), percent(s.fraction(s.WaitOut, r.Wall)))
	}
	tw.Flush()
	fmt.Fprintf(w, "wall %s", r.Wall.Round(time.Millisecond))
	if r.Bottleneck != "" {
		s, _ := r.Stage(r.Bottleneck)
		fmt.Fprintf(w, "; bottleneck: %s (workers busy %s of the time; the other stages wait on it)",
			r.Bottleneck, percent(s.BusyFraction(r.Wall)))
	}
	fmt.Fprintln(w)
	if line := skipLine(r.Skipped, r.SkipsName); line != "" {
		fmt.Fprintln(w, line)
	}
	for _, s := range r.Stages {
		if s.Status != "" || len(s.Gauges) > 0 {
			fmt.Fprintf(w, "%s: %s\n", s.Name, statusLine(s))
		}
	}
	for _, s := range r.Stages {
		if s.Summary != "" {
			fmt.Fprintln(w, s.Summary)
		}
	}
}

// itemsIfSink counts a sink's consumed items as its throughput.
func itemsIfSink(s StageReport) int64 {
	if s.ItemsOut == 0 {
		return s.ItemsIn
	}
	return 0
}

// statusLine joins a stage's status and gauges ("epoch 2 loss=6.1 lr=0.3").
func statusLine(s StageReport) string {
	parts := []string{}
	if s.Status != "" {
		parts = append(parts, s.Status)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Gauges)) {
		parts = append(parts, fmt.Sprintf("%s=%.4g", k, s.Gauges[k]))
	}
	return strings.Join(parts, " ")
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func percent(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

// FormatBytes renders n with a binary unit (1.5MiB).
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
