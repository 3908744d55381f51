// Package metrics records a training run's per-step metrics as JSON lines
// (one Record per line) and draws them as a PNG plot of loss and learning
// rate over the iterations.
package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Record is one training step.
type Record struct {
	// Iter is the global iteration of the step (0-based).
	Iter  int `json:"iter"`
	Epoch int `json:"epoch"`
	// Loss is the step's loss (SwAV's, or the evaluation jobs'
	// cross-entropy).
	Loss float64 `json:"loss"`
	// LR is the learning rate the step used.
	LR float64 `json:"lr"`
	// StepSeconds is the wall time of Backend.Step plus the batch conversion.
	StepSeconds float64 `json:"step_s"`
	// ImagesPerSec is images / (step time + time waiting for the batch).
	ImagesPerSec float64 `json:"images_per_s"`
	// WaitFraction is the share of this step's cycle spent waiting for data.
	WaitFraction float64 `json:"wait_fraction"`
	// Time is when the step ended (UTC).
	Time time.Time `json:"time"`
	// KNN is the kNN monitor's evaluation after this step, when one ran.
	KNN *KNNPoint `json:"knn,omitempty"`
	// Val is the evaluation jobs' validation after this step (an epoch's
	// last), when one ran.
	Val *ValPoint `json:"val,omitempty"`
}

// ValPoint is one validation of a classifier (the linear and finetune jobs):
// top-1 and top-5 in [0, 1], the mean cross-entropy, the images evaluated
// and the evaluation's wall time.
type ValPoint struct {
	Top1    float64 `json:"top1"`
	Top5    float64 `json:"top5"`
	Loss    float64 `json:"loss"`
	Images  int     `json:"images"`
	Seconds float64 `json:"seconds"`
}

// KNNPoint is one evaluation of the kNN monitor (train.monitor): weighted
// kNN accuracy of the trunk features of Queries held-out samples against a
// bank of Bank samples, with the weights after the record's step.
type KNNPoint struct {
	K       int     `json:"k"`
	Top1    float64 `json:"top1"`
	Top5    float64 `json:"top5"`
	Bank    int     `json:"bank"`
	Queries int     `json:"queries"`
	// Seconds is the evaluation's wall time (embedding and kNN).
	Seconds float64 `json:"seconds"`
	// ClusterSizes, when the monitor computed them (for TensorBoard), is
	// how many of the Queries samples each prototype's score ranks first
	// (K counts); not written to metrics.jsonl.
	ClusterSizes []int `json:"-"`
}

// Writer appends Records to a JSON-lines file and keeps them in memory for
// the plot (a record is ~150 bytes; a million steps is ~150 MB of file and
// ~80 MB of memory). It is used by one goroutine. Write appends each record
// with one write(2) on an O_APPEND file, so a kill -9 after Write returns
// loses nothing and cannot tear a line; Flush and Close fsync (power loss).
type Writer struct {
	path    string
	f       *os.File
	records []Record
}

// Open opens (creating folders as needed) the metrics file at path for a
// run that continues at iteration fromIter: records of an earlier run with
// Iter < fromIter are kept (a resumed run continues its curve), later ones
// (steps after the checkpoint it resumes from) are dropped; fromIter 0
// starts a fresh file. The file is rewritten atomically before appending. A
// malformed line is an error naming the file and line.
func Open(path string, fromIter int) (*Writer, error) {
	var kept []Record
	if fromIter > 0 {
		old, err := ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for _, r := range old {
			if r.Iter < fromIter {
				kept = append(kept, r)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	var buf bytes.Buffer
	for _, r := range kept {
		line, _ := json.Marshal(r)
		buf.Write(append(line, '\n'))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &Writer{path: path, f: f, records: kept}, nil
}

// Write appends one record to the file (one unbuffered write).
func (w *Writer) Write(r Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("metrics: encode iteration %d: %w", r.Iter, err)
	}
	w.records = append(w.records, r)
	if _, err := w.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("metrics: write %s: %w", w.path, err)
	}
	return nil
}

// Flush syncs the file to stable storage (Write has already written it).
func (w *Writer) Flush() error {
	if w.f == nil {
		return nil
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("metrics: write %s: %w", w.path, err)
	}
	return nil
}

// Records returns every record of the run so far (including those kept from
// a resumed run). The slice is shared: do not modify it.
func (w *Writer) Records() []Record { return w.records }

// Close flushes and closes the file. It is safe to call twice.
func (w *Writer) Close() error {
	if w.f == nil {
		return nil
	}
	err := w.Flush()
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("metrics: close %s: %w", w.path, cerr)
	}
	w.f = nil
	return err
}

// ReadFile reads a JSON-lines metrics file. Errors name the file and line;
// a missing file wraps fs.ErrNotExist. A last line without its newline that
// does not parse is the torn tail of a crashed writer and is dropped (the
// resume redoes that step); any other malformed line is an error.
func ReadFile(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	var out []Record
	lines := bytes.Split(data, []byte("\n"))
	for n, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			if n == len(lines)-1 { // no newline after it: torn by a crash
				break
			}
			return nil, fmt.Errorf("metrics: %s:%d: %w", path, n+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}
