package train

import "github.com/swavgo/swav/internal/field"

// MonitorConfig is the kNN monitor of a training run: every EveryIters
// iterations or EverySeconds seconds (whichever comes first) and after the
// last step, the trunk features of a small labelled bank and query set are
// classified by weighted kNN (cosine, exp(sim/T) votes), and the accuracy is
// written to metrics.jsonl and drawn in loss.png beside the loss.
//
// Cost: one forward pass (evaluation mode) over BankSamples+QuerySamples
// images per evaluation, inside the training time budget, and that many
// normalised evaluation crops held in memory (3 x crop² float32 each).
type MonitorConfig struct {
	// Bank and Queries are labelled shard URLs (as data.shards, same format
	// and S3 settings): the kNN's memory bank and the held-out samples it
	// classifies. An empty Bank turns the monitor off.
	Bank    []string `yaml:"bank"`
	Queries []string `yaml:"queries"`
	// BankSamples and QuerySamples are how many samples of each are used
	// (the first ones in the seed's shard order).
	BankSamples  int `yaml:"bank_samples"`
	QuerySamples int `yaml:"query_samples"`
	// EveryIters evaluates every N iterations (0: not by iterations).
	EveryIters int `yaml:"every_iters"`
	// EverySeconds evaluates when this many seconds passed since the last
	// evaluation (0: not by time).
	EverySeconds float64 `yaml:"every_seconds"`
	// K and Temperature are the kNN's neighbour count and vote temperature.
	K           int     `yaml:"k"`
	Temperature float64 `yaml:"temperature"`
}

// Enabled reports whether the monitor runs.
func (m *MonitorConfig) Enabled() bool { return len(m.Bank) > 0 }

// DefaultMonitorConfig is off (no bank) with the kNN protocol's settings.
func DefaultMonitorConfig() MonitorConfig {
	return MonitorConfig{BankSamples: 5000, QuerySamples: 1000, EverySeconds: 60, K: 20, Temperature: 0.07}
}

// validate names the first bad field relative to "train".
func (m *MonitorConfig) validate() error {
	checks := []struct {
		ok         bool
		field, msg string
	}{
		{m.BankSamples >= 1, "monitor.bank_samples", "must be at least 1"},
		{m.QuerySamples >= 1, "monitor.query_samples", "must be at least 1"},
		{m.EveryIters >= 0, "monitor.every_iters", "must not be negative"},
		{m.EverySeconds >= 0, "monitor.every_seconds", "must not be negative"},
		{m.K >= 1 && m.K <= m.BankSamples, "monitor.k", "must be in [1, bank_samples]"},
		{m.Temperature > 0, "monitor.temperature", "must be positive"},
		{!m.Enabled() || len(m.Queries) > 0, "monitor.queries", "must name shards when monitor.bank does"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return field.Errorf(ch.field, "%s", ch.msg)
		}
	}
	return nil
}
