package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Skipped is one sample a stage left out of a run (it did not decode, its
// tar member was cut, ...). Stages report it with RecordSkip.
type Skipped struct {
	// Stage is the reporting stage (filled in by RecordSkip).
	Stage string `json:"stage"`
	Shard string `json:"shard"`
	Key   string `json:"key"`
	// Where locates it in the shard ("byte 1536", "row 12"), when known.
	Where string `json:"where,omitempty"`
	// Class is a short, stable kind ("corrupt", "truncated", "oversized",
	// "bad-member"): the Report counts skips by class.
	Class string `json:"class"`
	// Reason is the full message.
	Reason string `json:"reason"`
}

// skipLog is a run's record of skipped samples: counts by class, and one
// JSON line per skip on Options.Skips.
type skipLog struct {
	mu      sync.Mutex
	w       io.Writer
	name    string
	byClass map[string]int
	werr    error
}

// RecordSkip reports a skipped sample from the stage whose call received
// ctx: it is logged (WARN, with shard, key and reason), written as one JSON
// line to Options.Skips (one Write per line, so an O_APPEND file never holds
// a torn line after a crash) and counted by class for the Report and the
// end-of-run table. Outside a run it is only logged. Safe from any worker;
// costs a mutex and a small write.
func RecordSkip(ctx context.Context, s Skipped) {
	st, _ := ctx.Value(stageKey{}).(*stageStats)
	if st != nil {
		s.Stage = st.name
	}
	slog.Warn("skipped sample", "stage", s.Stage, "shard", s.Shard, "key", s.Key, "class", s.Class, "reason", s.Reason)
	if st == nil || st.skips == nil {
		return
	}
	l := st.skips
	line, _ := json.Marshal(s)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byClass[s.Class]++
	if l.w != nil && l.werr == nil {
		if _, err := l.w.Write(append(line, '\n')); err != nil {
			l.werr = err
			slog.Error("skip report: cannot write, later skips are only logged", "file", l.name, "err", err)
		}
	}
}

// counts returns a copy of the counts by class.
func (l *skipLog) counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.byClass)
}

// skipLine is the table's line about skips ("" when none).
func skipLine(byClass map[string]int, name string) string {
	total := 0
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(byClass)) {
		total += byClass[c]
		parts = append(parts, fmt.Sprintf("%s %d", c, byClass[c]))
	}
	if total == 0 {
		return ""
	}
	where := ""
	if name != "" {
		where = "; each listed in " + name
	}
	return fmt.Sprintf("skipped %d samples: %s%s", total, strings.Join(parts, ", "), where)
}
