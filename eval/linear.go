package eval

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// LinearOptions tune the linear evaluation.
type LinearOptions struct {
	// Epochs over the train set (default 30).
	Epochs int
	// BatchSize is the SGD mini-batch (default 256).
	BatchSize int
	// LR is the peak learning rate, annealed to 0 with a per-iteration cosine
	// (default 0.1 for standardised features).
	LR float64
	// Momentum of SGD (default 0.9).
	Momentum float64
	// WeightDecay is the L2 penalty on the weights (default 1e-4).
	WeightDecay float64
	// Seed drives the per-epoch shuffles.
	Seed int64
	// Progress, when set, is called after each epoch with the mean train loss.
	Progress func(epoch, epochs int, loss float64)
}

func (o *LinearOptions) defaults() {
	if o.Epochs == 0 {
		o.Epochs = 30
	}
	if o.BatchSize == 0 {
		o.BatchSize = 256
	}
	if o.LR == 0 {
		o.LR = 0.1
	}
	if o.Momentum == 0 {
		o.Momentum = 0.9
	}
	if o.WeightDecay == 0 {
		o.WeightDecay = 1e-4
	}
}

// LinearResult is the outcome of the linear evaluation.
type LinearResult struct {
	Accuracy
	// TrainLoss is the mean cross-entropy of the last epoch.
	TrainLoss float64 `json:"train_loss"`
	Epochs    int     `json:"epochs"`
}

// Linear trains a multinomial logistic regression (a linear layer and
// softmax cross-entropy) on the frozen train features, standardised with the
// train set's per-dimension mean and standard deviation, by SGD with momentum
// and a cosine learning-rate schedule, and reports its top-1 and top-5 accuracy
// on the test set after the last epoch (no model selection on the test set).
//
// Cost per epoch: about 6 x train x dim x classes flops in BLAS; memory: a
// standardised copy of both sets. It blocks until done or ctx is cancelled.
func Linear(ctx context.Context, train, test *Dataset, opts LinearOptions) (*LinearResult, error) {
	classes, err := checkPair(train, test)
	if err != nil {
		return nil, err
	}
	opts.defaults()
	if opts.Epochs < 1 || opts.BatchSize < 1 || opts.LR < 0 || opts.Momentum < 0 || opts.Momentum >= 1 || opts.WeightDecay < 0 {
		return nil, fmt.Errorf("linear: bad options %+v", opts)
	}
	dim, n := train.Dim, train.Rows()
	mean, inv := standardizer(train)
	xs := standardize(train, mean, inv)
	xt := standardize(test, mean, inv)

	w := make([]float32, classes*dim)
	bias := make([]float32, classes)
	vw := make([]float32, len(w))
	vb := make([]float32, classes)
	gw := make([]float32, len(w))
	bs := min(opts.BatchSize, n)
	xb := make([]float32, bs*dim)
	logits := make([]float32, bs*classes)

	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x6c696e656172))
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	itersPerEpoch := (n + bs - 1) / bs
	total := float64(opts.Epochs * itersPerEpoch)
	var lastLoss float64
	for epoch := range opts.Epochs {
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		var lossSum float64
		for it := range itersPerEpoch {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("linear: %w", err)
			}
			idx := order[it*bs : min(n, (it+1)*bs)]
			m := len(idx)
			for r, i := range idx {
				copy(xb[r*dim:(r+1)*dim], xs[i*dim:(i+1)*dim])
			}
			gemmNT(m, classes, dim, xb, dim, w, dim, logits, classes)
			// logits becomes dL/dlogits = (softmax - onehot) / m.
			for r, i := range idx {
				row := logits[r*classes : (r+1)*classes]
				lossSum += softmaxGrad(row, bias, int(train.Labels[i]), m)
			}
			gemmTN(classes, dim, m, logits, classes, xb, dim, gw, dim)
			lr := float32(opts.LR * 0.5 * (1 + math.Cos(math.Pi*float64(epoch*itersPerEpoch+it)/total)))
			mom, wd := float32(opts.Momentum), float32(opts.WeightDecay)
			for j := range w {
				vw[j] = mom*vw[j] + gw[j] + wd*w[j]
				w[j] -= lr * vw[j]
			}
			for c := range bias {
				var g float32
				for r := range m {
					g += logits[r*classes+c]
				}
				vb[c] = mom*vb[c] + g
				bias[c] -= lr * vb[c]
			}
		}
		lastLoss = lossSum / float64(n)
		if math.IsNaN(lastLoss) || math.IsInf(lastLoss, 0) {
			return nil, fmt.Errorf("linear: loss is %v at epoch %d: lower the learning rate", lastLoss, epoch)
		}
		if opts.Progress != nil {
			opts.Progress(epoch+1, opts.Epochs, lastLoss)
		}
	}
	acc := linearAccuracy(xt, test.Labels, dim, classes, w, bias)
	return &LinearResult{Accuracy: acc, TrainLoss: lastLoss, Epochs: opts.Epochs}, nil
}

// softmaxGrad adds bias to one row of logits, replaces the row by the
// gradient of the mean cross-entropy over m rows, and returns the row's loss.
func softmaxGrad(row, bias []float32, label, m int) float64 {
	maxv := math.Inf(-1)
	for c := range row {
		row[c] += bias[c]
		maxv = math.Max(maxv, float64(row[c]))
	}
	var sum float64
	for _, v := range row {
		sum += math.Exp(float64(v) - maxv)
	}
	loss := -(float64(row[label]) - maxv - math.Log(sum))
	for c, v := range row {
		p := math.Exp(float64(v)-maxv) / sum
		if c == label {
			p--
		}
		row[c] = float32(p / float64(m))
	}
	return loss
}

// linearAccuracy scores the standardised test rows with (w, bias).
func linearAccuracy(x []float32, labels []int64, dim, classes int, w, bias []float32) Accuracy {
	n := len(labels)
	logits := make([]float32, testBlock*classes)
	scores := make([]float64, classes)
	var top1, top5 int
	for lo := 0; lo < n; lo += testBlock {
		hi := min(n, lo+testBlock)
		gemmNT(hi-lo, classes, dim, x[lo*dim:hi*dim], dim, w, dim, logits, classes)
		for r := range hi - lo {
			for c := range classes {
				scores[c] = float64(logits[r*classes+c] + bias[c])
			}
			rk := rankOf(scores, int(labels[lo+r]))
			if rk < 1 {
				top1++
			}
			if rk < 5 {
				top5++
			}
		}
	}
	return Accuracy{Top1: float64(top1) / float64(n), Top5: float64(top5) / float64(n)}
}

// standardizer returns the per-dimension mean and 1/std of d (1 where a
// dimension is constant).
func standardizer(d *Dataset) (mean, inv []float32) {
	dim, n := d.Dim, d.Rows()
	sum := make([]float64, dim)
	sq := make([]float64, dim)
	for i := range n {
		for j, v := range d.Data[i*dim : (i+1)*dim] {
			sum[j] += float64(v)
			sq[j] += float64(v) * float64(v)
		}
	}
	mean = make([]float32, dim)
	inv = make([]float32, dim)
	for j := range dim {
		m := sum[j] / float64(n)
		v := sq[j]/float64(n) - m*m
		mean[j] = float32(m)
		inv[j] = 1
		if v > 1e-12 {
			inv[j] = float32(1 / math.Sqrt(v))
		}
	}
	return mean, inv
}

func standardize(d *Dataset, mean, inv []float32) []float32 {
	out := make([]float32, len(d.Data))
	dim := d.Dim
	for i := range d.Rows() {
		src, dst := d.Data[i*dim:(i+1)*dim], out[i*dim:(i+1)*dim]
		for j, v := range src {
			dst[j] = (v - mean[j]) * inv[j]
		}
	}
	return out
}
