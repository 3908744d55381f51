package train

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// Loss names what a step minimises.
type Loss string

const (
	// LossSwAV is SwAV's swapped prediction (the default: Step as
	// documented on Backend).
	LossSwAV Loss = "swav"
	// LossCrossEntropy is softmax cross-entropy of a linear classifier head
	// on the global-average-pooled trunk against StepInput.Labels.
	LossCrossEntropy Loss = "cross_entropy"
)

// Trainable names which parameters a step updates, and so how the trunk's
// BatchNorms behave.
type Trainable string

const (
	// TrainAll updates the trunk and the head; the trunk's BatchNorms use
	// batch statistics and update their running estimates (training mode,
	// eval_semisup.py).
	TrainAll Trainable = "all"
	// TrainHead updates the classifier head only: the trunk runs in
	// evaluation mode (running statistics, nothing updated) and no gradient
	// reaches it (eval_linear.py).
	TrainHead Trainable = "head"
)

// SGDConfig is torch.optim.SGD's momentum, dampening 0, weight decay added to
// the gradient, optional Nesterov: g = grad + wd*p; buf = g on a tensor's
// first step, else buf = momentum*buf + g; p -= lr*(g + momentum*buf) with
// Nesterov, else p -= lr*buf.
type SGDConfig struct {
	Momentum    float64
	WeightDecay float64
	Nesterov    bool
}

// Objective is what a Step optimises: SwAV (the zero value) or a
// classifier's cross-entropy, and which parameters it trains.
// With LossCrossEntropy the backend adds a head Linear(TrunkDim, Classes)
// named ClassifierName ("classifier.weight", "classifier.bias") whose
// parameters join State.Params after the network's, and trains with SGD
// (State.Momentum holds its buffers): the trunk's parameters at
// StepInput.LR, the head's at StepInput.HeadLR. The SwAV projection head and
// prototypes are carried unchanged.
type Objective struct {
	Loss      Loss
	Trainable Trainable
	// Classes is the classifier's output width (at least 2).
	Classes int
	// HeadInit is how the head starts: "normal" (weight N(0, 0.01), bias
	// 0: eval_linear.py's RegLog) or "uniform" (PyTorch's nn.Linear default,
	// U(±1/sqrt(TrunkDim)): eval_semisup.py's fresh head), drawn from the
	// backend's seed.
	HeadInit string
	// Seed seeds the head's initial weights (model.TensorRand(Seed, name)).
	Seed int64
	SGD  SGDConfig
}

// ClassifierName is the state-dict prefix of the classifier head.
const ClassifierName = "classifier"

// Validate checks o and names the first bad field.
func (o Objective) Validate() error {
	switch o.Loss {
	case "", LossSwAV:
		return nil
	case LossCrossEntropy:
	default:
		return fmt.Errorf("objective: unknown loss %q (want %s or %s)", o.Loss, LossSwAV, LossCrossEntropy)
	}
	switch {
	case o.Trainable != TrainAll && o.Trainable != TrainHead:
		return fmt.Errorf("objective: trainable %q, want %s or %s", o.Trainable, TrainAll, TrainHead)
	case o.Classes < 2:
		return fmt.Errorf("objective: %d classes, want at least 2", o.Classes)
	case o.HeadInit != "normal" && o.HeadInit != "uniform":
		return fmt.Errorf("objective: head init %q, want normal or uniform", o.HeadInit)
	case o.SGD.Momentum < 0 || o.SGD.Momentum >= 1:
		return fmt.Errorf("objective: momentum %v, want [0, 1)", o.SGD.Momentum)
	case o.SGD.WeightDecay < 0:
		return fmt.Errorf("objective: weight decay %v must not be negative", o.SGD.WeightDecay)
	}
	return nil
}

// Classifier is a Backend whose step's loss and trainable parameters are a
// choice (SetObjective) rather than SwAV's alone. train/cpu implements it;
// a backend that does not is refused by the evaluation jobs with
// ErrNoClassifier.
//
// With a cross-entropy objective, Step reads one crop group of Count 1
// (the batch's images) and StepInput.Labels (one per image, in [0,
// Classes)); StepResult.Loss is the batch's mean cross-entropy and
// StepResult.Correct1/Correct5 count its top-1/top-5 hits (before the
// update).
type Classifier interface {
	Backend
	// SetObjective switches what Step optimises. Switching to cross-entropy
	// adds a freshly initialised head and starts fresh SGD buffers; Load
	// afterwards may replace both (a resumed run). It fails, changing
	// nothing, on an invalid objective.
	SetObjective(o Objective) error
	// Classify runs the trunk in evaluation mode and the classifier head on
	// n NCHW images of size x size and returns n x Classes logits.
	Classify(ctx context.Context, images []float32, n, size int) ([]float32, error)
}

// ErrNoClassifier is returned (wrapped) when a backend cannot train a
// classifier objective.
var ErrNoClassifier = errors.New("the backend does not train classifier objectives")

// SGDStep applies one torch.optim.SGD step (see SGDConfig) to data with
// gradient grad at rate lr; buf is the momentum buffer (nil on the tensor's
// first step: a new one is returned, else buf updated in place).
func SGDStep(c SGDConfig, data, grad, buf []float32, lr float64) []float32 {
	first := buf == nil
	if first && c.Momentum != 0 {
		buf = make([]float32, len(data))
	}
	wd, m := float32(c.WeightDecay), float32(c.Momentum)
	for i, g := range grad {
		if wd != 0 {
			g += wd * data[i]
		}
		if m != 0 {
			if first {
				buf[i] = g
			} else {
				buf[i] = m*buf[i] + g
			}
			if c.Nesterov {
				g += m * buf[i]
			} else {
				g = buf[i]
			}
		}
		data[i] -= float32(lr) * g
	}
	return buf
}

// CrossEntropy returns the mean softmax cross-entropy of n rows of k logits
// against labels (float64 log-sum-exp) and writes its gradient,
// (softmax - onehot)/n, into grad (nil: no gradient).
func CrossEntropy(logits []float32, labels []int64, grad []float32, n, k int) float64 {
	total := 0.0
	for r := 0; r < n; r++ {
		row := logits[r*k : (r+1)*k]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = max(mx, float64(v))
		}
		sum := 0.0
		for _, v := range row {
			sum += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(sum)
		total += lse - float64(row[labels[r]])
		if grad == nil {
			continue
		}
		for j, v := range row {
			grad[r*k+j] = float32(math.Exp(float64(v)-lse) / float64(n))
		}
		grad[r*k+int(labels[r])] -= float32(1 / float64(n))
	}
	return total / float64(n)
}

// TopK counts the rows of logits ([n, k]) whose label is the largest logit
// (top-1) and among the five largest (top-5; all of them when k <= 5). Ties
// rank by index, as argmax does: an equal logit of a lower class ranks
// above the label.
func TopK(logits []float32, labels []int64, k int) (top1, top5 int) {
	for r, l := range labels {
		row := logits[r*k : (r+1)*k]
		v := row[l]
		above := 0
		for j, x := range row {
			if x > v || x == v && j != int(l) && j < int(l) {
				above++
			}
		}
		if above == 0 {
			top1++
		}
		if above < 5 {
			top5++
		}
	}
	return top1, top5
}
