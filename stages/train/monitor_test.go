package train

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/swavgo/swav/sinks/metrics"
	"github.com/swavgo/swav/sinks/tensorboard/tbtest"
	"github.com/swavgo/swav/train"
)

// TestMonitorRecordsKNNWithoutChangingTraining: the kNN monitor evaluates
// after every second step and after the last one, writes the accuracy into
// those steps' records and the plot, and leaves the training itself bit for
// bit as it is without the monitor (evaluation mode touches no state).
func TestMonitorRecordsKNNWithoutChangingTraining(t *testing.T) {
	shards := fashionShards(t, t.TempDir(), 40, 10)
	const n = 7
	plain := tinyJob(shards, t.TempDir())
	plain.Train.MaxIters = n
	plain.Train.Tensorboard = TensorboardOff
	if err := runJob(t, plain); err != nil {
		t.Fatal(err)
	}
	watched := tinyJob(shards, t.TempDir())
	watched.Train.MaxIters = n
	m := &watched.Train.Monitor
	m.Bank, m.Queries = []string{shards}, []string{shards}
	m.BankSamples, m.QuerySamples, m.EveryIters, m.EverySeconds, m.K = 30, 10, 2, 0, 5
	watched.Augment.Eval.Resize, watched.Augment.Eval.Crop = 16, 16
	if err := runJob(t, watched); err != nil {
		t.Fatal(err)
	}

	want, err := metrics.ReadFile(filepath.Join(plain.Out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := metrics.ReadFile(filepath.Join(watched.Out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n || len(want) != n {
		t.Fatalf("records: %d with the monitor, %d without, want %d", len(got), len(want), n)
	}
	var evaluated []int
	for i := range got {
		if got[i].Loss != want[i].Loss {
			t.Errorf("iteration %d: loss %v with the monitor, %v without", i, got[i].Loss, want[i].Loss)
		}
		if want[i].KNN != nil {
			t.Errorf("iteration %d: a kNN point without the monitor", i)
		}
		if p := got[i].KNN; p != nil {
			evaluated = append(evaluated, got[i].Iter)
			if p.K != 5 || p.Bank != 30 || p.Queries != 10 || p.Top1 < 0 || p.Top1 > p.Top5 || p.Top5 > 1 || p.Seconds <= 0 {
				t.Errorf("iteration %d: implausible kNN point %+v", i, *p)
			}
		}
	}
	// After steps 2, 4, 6 (records 1, 3, 5) and the last, 7 (record 6).
	if wantEval := []int{1, 3, 5, 6}; !slices.Equal(evaluated, wantEval) {
		t.Errorf("kNN after records %v, want %v", evaluated, wantEval)
	}
	if st, err := os.Stat(filepath.Join(watched.Out, "loss.png")); err != nil || st.Size() == 0 {
		t.Errorf("loss.png: %v", err)
	}

	// The TensorBoard file (decoded independently): the file version, then
	// one event per step with the record's loss, lr, images/s and data-wait
	// share, and after each evaluation its accuracy and the cluster sizes
	// of the 10 queries over the prototypes.
	evs := tbtest.ReadDir(t, filepath.Join(watched.Out, "tensorboard"))
	if len(evs) != n+1 || evs[0].FileVersion != "brain.Event:2" {
		t.Fatalf("%d events (first %+v), want the file version and %d steps", len(evs), evs[0], n)
	}
	for i, ev := range evs[1:] {
		r := got[i]
		if ev.Step != int64(r.Iter) || ev.Scalars["train/loss"] != float32(r.Loss) || ev.Scalars["train/lr"] != float32(r.LR) ||
			ev.Scalars["train/images_per_s"] != float32(r.ImagesPerSec) || ev.Scalars["train/data_wait_share"] != float32(r.WaitFraction) {
			t.Errorf("event %d: %+v, record %+v", i+1, ev, r)
		}
		h, ok := ev.Hists["monitor/cluster_sizes"]
		if (r.KNN != nil) != ok || (r.KNN != nil) != (ev.Scalars["monitor/knn_top1"] == float32(knnTop1(r))) {
			t.Errorf("event %d: monitor values %+v, record's kNN %+v", i+1, ev.Scalars, r.KNN)
		}
		if ok && (h.Num != float64(watched.Train.Model.Prototypes) || h.Sum != 10) {
			t.Errorf("event %d: cluster-size histogram of %v prototypes summing to %v, want %d and 10 queries", i+1, h.Num, h.Sum, watched.Train.Model.Prototypes)
		}
	}
	if _, err := os.Stat(filepath.Join(plain.Out, "tensorboard")); !os.IsNotExist(err) {
		t.Errorf("train.tensorboard: off still made %s/tensorboard (%v)", plain.Out, err)
	}
}

func knnTop1(r metrics.Record) float64 {
	if r.KNN == nil {
		return -1
	}
	return r.KNN.Top1
}

// TestMonitorNamesItsFields: a bank without queries, unreadable shards and
// a k larger than the bank are errors naming the field.
func TestMonitorNamesItsFields(t *testing.T) {
	shards := fashionShards(t, t.TempDir(), 20, 10)
	cases := []struct {
		name string
		set  func(j *train.MonitorConfig)
		want string
	}{
		{"no queries", func(j *train.MonitorConfig) { j.Queries = nil }, "train.monitor.queries"},
		{"k above the bank", func(j *train.MonitorConfig) { j.K, j.BankSamples = 50, 10 }, "train.monitor.k"},
		{"missing shards", func(j *train.MonitorConfig) {
			j.Bank = []string{filepath.Join(t.TempDir(), "none-{000000..000001}.tar")}
		}, "train.monitor.bank"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			job := tinyJob(shards, t.TempDir())
			m := &job.Train.Monitor
			m.Bank, m.Queries, m.BankSamples, m.QuerySamples, m.K = []string{shards}, []string{shards}, 20, 5, 3
			c.set(m)
			err := job.Validate()
			if err == nil {
				_, err = Build(t.Context(), job)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one naming %s", err, c.want)
			}
		})
	}
}
