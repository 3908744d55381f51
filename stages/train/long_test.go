package train

import (
	"fmt"
	"github.com/swavgo/swav/train/cpu"
	"os"
	"path/filepath"
	"testing"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/sinks/metrics"
	"github.com/swavgo/swav/train"
)

// TestLongFashionMNIST is a manual smoke run, skipped unless
// SWAV_TRAIN_LONG=1: ResNet-18 (3x3 stem) on 2x28 + 4x16 crops of 2,048
// Fashion-MNIST images, batch 64, stopped by max_seconds (SWAV_TRAIN_SECONDS,
// default 60). It logs the step rate, the data-wait fraction and the loss.
//
//	SWAV_TRAIN_LONG=1 go test -run TestLongFashionMNIST -v ./stages/train
func TestLongFashionMNIST(t *testing.T) {
	if os.Getenv("SWAV_TRAIN_LONG") != "1" {
		t.Skip("set SWAV_TRAIN_LONG=1 to run")
	}
	shards := fashionShards(t, t.TempDir(), 2048, 256)
	job := tinyJob(shards, t.TempDir())
	job.Augment.Crops = []augment.CropGroupConfig{{Size: 28, Count: 2, MinScale: 0.3, MaxScale: 1}, {Size: 16, Count: 4, MinScale: 0.1, MaxScale: 0.3}}
	job.Augment.Workers = 1
	c := &job.Train
	c.BatchSize, c.Epochs, cpu.Edit(c).Threads, c.MaxSeconds = 64, 20, 0, 60
	if s := os.Getenv("SWAV_TRAIN_SECONDS"); s != "" {
		if _, err := fmt.Sscan(s, &c.MaxSeconds); err != nil {
			t.Fatal(err)
		}
	}
	c.Model = train.ModelConfig{Arch: "resnet18", SmallStem: true, HiddenMLP: 256, FeatDim: 64, Prototypes: 100}
	c.SwAV.QueueLength, c.SwAV.EpochQueueStarts, c.SwAV.FreezePrototypesIters = 640, 2, 33
	c.Optim.BaseLR, c.Optim.FinalLR, c.Optim.StartWarmup = 0.6, 0.0006, 0.1
	if err := runJob(t, job); err != nil {
		t.Fatal(err)
	}
	recs, err := metrics.ReadFile(filepath.Join(job.Out, "metrics.jsonl"))
	if err != nil || len(recs) == 0 {
		t.Fatalf("%d records: %v", len(recs), err)
	}
	var ips, wait, step float64
	for _, r := range recs {
		ips += r.ImagesPerSec
		wait += r.WaitFraction
		step += r.StepSeconds
	}
	n := float64(len(recs))
	t.Logf("%d steps: %.1f images/s, %.3f s/step, data wait %.1f%%, loss %.4f -> %.4f (ln K = 4.6052)",
		len(recs), ips/n, step/n, 100*wait/n, recs[0].Loss, recs[len(recs)-1].Loss)
	checkpointLosses(t, job.Out)
}
