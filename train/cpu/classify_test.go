package cpu

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/swavgo/swav/train"
)

func classifierObjective(tr train.Trainable) train.Objective {
	return train.Objective{Loss: train.LossCrossEntropy, Trainable: tr, Classes: 3, HeadInit: "normal", Seed: 5,
		SGD: train.SGDConfig{Momentum: 0.9, WeightDecay: 1e-4, Nesterov: tr == train.TrainHead}}
}

// classifyInput is a batch of n 16-px images with labels 0, 1, 2, 0, ...
func classifyInput(n int) *train.StepInput {
	u := testValues("classify", n*3*16*16)
	data := make([]float32, len(u))
	for i, v := range u {
		data[i] = float32(2 * v)
	}
	labels := make([]int64, n)
	for i := range labels {
		labels[i] = int64(i % 3)
	}
	return &train.StepInput{LR: 0.05, HeadLR: 0.5, Batch: n, Labels: labels,
		Groups: []train.CropGroup{{Size: 16, Count: 1, Data: data}}}
}

func newClassifier(t *testing.T, tr train.Trainable) *Backend {
	t.Helper()
	b, err := New(tinyConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetObjective(classifierObjective(tr)); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestClassifierStep: both objectives lower the loss on a fixed batch;
// TrainHead leaves the trunk (weights and running statistics) as it was and
// TrainAll moves both; a state reloaded into a fresh backend continues bit
// for bit.
func TestClassifierStep(t *testing.T) {
	ctx := context.Background()
	for _, tr := range []train.Trainable{train.TrainHead, train.TrainAll} {
		t.Run(string(tr), func(t *testing.T) {
			b := newClassifier(t, tr)
			before, _ := b.State()
			in := classifyInput(6)
			var losses []float64
			for i := 0; i < 8; i++ {
				in.Iter = i
				res, err := b.Step(ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				losses = append(losses, res.Loss)
			}
			if !(losses[7] < losses[0]) {
				t.Errorf("loss did not fall: %v", losses)
			}
			after, _ := b.State()
			trunkSame := slices.Equal(before.Params[0].Data, after.Params[0].Data) && slices.Equal(before.Buffers[0].Data, after.Buffers[0].Data)
			if trunkSame != (tr == train.TrainHead) {
				t.Errorf("trunk unchanged = %v with trainable %s", trunkSame, tr)
			}
			names := map[string]bool{}
			for _, m := range after.Momentum {
				names[m.Name] = true
			}
			if !names["classifier.weight"] || names["trunk.0.weight"] != (tr == train.TrainAll) {
				t.Errorf("momentum buffers %v", names)
			}

			// Resume: a fresh backend with the same objective loads the state.
			c := newClassifier(t, tr)
			if err := c.Load(after); err != nil {
				t.Fatal(err)
			}
			r1, err1 := b.Step(ctx, in)
			r2, err2 := c.Step(ctx, in)
			if err1 != nil || err2 != nil || r1.Loss != r2.Loss {
				t.Fatalf("resumed step: %v %v, losses %v %v", err1, err2, r1.Loss, r2.Loss)
			}
			s1, _ := b.State()
			s2, _ := c.State()
			if err := statesEqual(s1, s2); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestClassifierHeadGradient checks the head's update against a central
// difference of the loss (SGD without momentum or decay at lr 1: the update
// is minus the gradient).
func TestClassifierHeadGradient(t *testing.T) {
	ctx := context.Background()
	b := newClassifier(t, train.TrainHead)
	obj := classifierObjective(train.TrainHead)
	obj.SGD = train.SGDConfig{}
	if err := b.SetObjective(obj); err != nil {
		t.Fatal(err)
	}
	in := classifyInput(6)
	in.HeadLR = 1
	st, _ := b.State()
	loss := func(w []float32) float64 {
		c := newClassifier(t, train.TrainHead)
		c.SetObjective(obj)
		s := *st
		s.Params = slices.Clone(st.Params)
		s.Params[len(s.Params)-2].Data = w
		if err := c.Load(&s); err != nil {
			t.Fatal(err)
		}
		logits, err := c.Classify(ctx, in.Groups[0].Data, in.Batch, 16)
		if err != nil {
			t.Fatal(err)
		}
		return train.CrossEntropy(logits, in.Labels, nil, in.Batch, 3)
	}
	w0 := slices.Clone(st.Params[len(st.Params)-2].Data)
	if _, err := b.Step(ctx, in); err != nil {
		t.Fatal(err)
	}
	w1 := b.cls.weight.data
	for _, i := range []int{0, 7, 100, len(w0) - 1} {
		const h = 1e-2
		wp, wm := slices.Clone(w0), slices.Clone(w0)
		wp[i] += h
		wm[i] -= h
		fd := (loss(wp) - loss(wm)) / (2 * h)
		got := float64(w0[i] - w1[i])
		if math.Abs(fd-got) > 1e-3+1e-2*math.Abs(fd) {
			t.Errorf("weight %d: gradient %g, central difference %g", i, got, fd)
		}
	}
}

func TestCrossEntropyAndTopK(t *testing.T) {
	logits := []float32{
		2, 1, 0, -1, -2, -3, // label 0: top-1
		2, 1, 0, -1, -2, -3, // label 5: last, outside top-5
		0, 0, 0, 0, 0, 0, // label 3: tie, ranks 4th (top-5, not top-1)
	}
	labels := []int64{0, 5, 3}
	top1, top5 := train.TopK(logits, labels, 6)
	if top1 != 1 || top5 != 2 {
		t.Errorf("top1 %d top5 %d, want 1 and 2", top1, top5)
	}
	grad := make([]float32, len(logits))
	got := train.CrossEntropy(logits, labels, grad, 3, 6)
	want := 0.0
	for r, l := range labels {
		row := logits[r*6 : (r+1)*6]
		s := 0.0
		for _, v := range row {
			s += math.Exp(float64(v))
		}
		want += math.Log(s) - float64(row[l])
	}
	want /= 3
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("loss %v, want %v", got, want)
	}
	for r := 0; r < 3; r++ {
		s := float32(0)
		for _, g := range grad[r*6 : (r+1)*6] {
			s += g
		}
		if math.Abs(float64(s)) > 1e-6 {
			t.Errorf("row %d: gradient sums to %v, want 0", r, s)
		}
	}
}

func TestClassifierBadInputs(t *testing.T) {
	ctx := context.Background()
	b := newClassifier(t, train.TrainAll)
	for name, mutate := range map[string]func(*train.StepInput){
		"labels outside":  func(in *train.StepInput) { in.Labels[2] = 3 },
		"labels missing":  func(in *train.StepInput) { in.Labels = in.Labels[:2] },
		"two crops":       func(in *train.StepInput) { in.Groups[0].Count = 2 },
		"one image in bn": func(in *train.StepInput) { *in = *classifyInput(1) },
	} {
		in := classifyInput(4)
		mutate(in)
		if _, err := b.Step(ctx, in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	st, _ := b.State()
	st.Params = st.Params[:len(st.Params)-1]
	if err := b.Load(st); err == nil || !strings.Contains(err.Error(), "classifier") {
		t.Errorf("load without the head's bias: %v", err)
	}
	if err := b.SetObjective(train.Objective{Loss: train.LossCrossEntropy, Trainable: "some", Classes: 3, HeadInit: "normal"}); err == nil {
		t.Error("bad trainable accepted")
	}
}
