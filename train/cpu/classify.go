package cpu

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/swavgo/swav/internal/blas"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/model"
)

// classifier is the state of a cross-entropy objective (train.Classifier):
// the head Linear(TrunkDim, Classes), the SGD momentum buffers of every
// trained tensor, and the trunk's training plan (TrainAll).
type classifier struct {
	obj          train.Objective
	weight, bias *param
	bufs         map[string][]float32 // SGD momentum, by parameter name
	order        []string             // buffer creation order (State.Momentum)
	trunkParams  []*param             // the trunk's trainable tensors, canonical order
	plan         *plan                // TrainAll: the trunk in training mode
}

// SetObjective implements train.Classifier. Switching to cross-entropy adds
// a fresh head (train.Objective.HeadInit from its Seed) and empty SGD
// buffers; back to SwAV drops them.
func (b *Backend) SetObjective(o train.Objective) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if b.cls != nil { // its oneDNN primitives go now, not at a finalizer
		releaseKernels(b.cls.plan)
		b.cls = nil
	}
	if o.Loss == "" || o.Loss == train.LossSwAV {
		return nil
	}
	d, k := b.arch.TrunkDim, o.Classes
	c := &classifier{obj: o, bufs: map[string][]float32{},
		weight: &param{name: train.ClassifierName + ".weight", shape: []int{k, d}, data: make([]float32, k*d), grad: make([]float32, k*d)},
		bias:   &param{name: train.ClassifierName + ".bias", shape: []int{k}, data: make([]float32, k), grad: make([]float32, k)},
	}
	rw := model.TensorRand(o.Seed, c.weight.name)
	rb := model.TensorRand(o.Seed, c.bias.name)
	bound := 1 / math.Sqrt(float64(d))
	for i := range c.weight.data {
		if o.HeadInit == "normal" {
			c.weight.data[i] = float32(0.01 * rw.NormFloat64())
		} else {
			c.weight.data[i] = float32((2*rw.Float64() - 1) * bound)
		}
	}
	if o.HeadInit == "uniform" {
		for i := range c.bias.data {
			c.bias.data[i] = float32((2*rb.Float64() - 1) * bound)
		}
	}
	for _, l := range b.arch.Trunk {
		for _, s := range l.Params() {
			c.trunkParams = append(c.trunkParams, b.byName[s.Name])
		}
	}
	b.cls = c
	return nil
}

// classifierState appends the head to st.Params and replaces st.Momentum by
// the SGD buffers.
func (c *classifier) state(st *train.State) {
	for _, p := range []*param{c.weight, c.bias} {
		st.Params = append(st.Params, train.Tensor{Name: p.name, Shape: slices.Clone(p.shape), Data: slices.Clone(p.data)})
	}
	st.Momentum = nil
	for _, name := range c.order {
		st.Momentum = append(st.Momentum, train.Tensor{Name: name, Shape: []int{len(c.bufs[name])}, Data: slices.Clone(c.bufs[name])})
	}
}

// splitClassifier checks st's head and buffers against c and returns st
// without them (what the network's CheckState expects) plus a commit
// function that installs them. Nothing changes until commit runs.
func (c *classifier) split(st *train.State, params map[string]*param) (*train.State, func(), error) {
	rest := *st
	rest.Params, rest.Momentum = nil, nil
	var head []train.Tensor
	for _, t := range st.Params {
		if strings.HasPrefix(t.Name, train.ClassifierName+".") {
			head = append(head, t)
		} else {
			rest.Params = append(rest.Params, t)
		}
	}
	if len(head) != 2 || head[0].Name != c.weight.name || head[1].Name != c.bias.name {
		return nil, nil, fmt.Errorf("cpu: load: the classifier objective needs %s and %s in the state, got %d classifier tensors", c.weight.name, c.bias.name, len(head))
	}
	for i, p := range []*param{c.weight, c.bias} {
		if !slices.Equal(head[i].Shape, p.shape) || len(head[i].Data) != len(p.data) {
			return nil, nil, fmt.Errorf("cpu: load: %s has shape %v, the classifier wants %v (another class count?)", p.name, head[i].Shape, p.shape)
		}
	}
	bufs, order := map[string][]float32{}, []string(nil)
	for _, t := range st.Momentum {
		p := params[t.Name]
		if t.Name == c.weight.name {
			p = c.weight
		} else if t.Name == c.bias.name {
			p = c.bias
		}
		if p == nil || len(p.data) != len(t.Data) {
			return nil, nil, fmt.Errorf("cpu: load: momentum buffer %q fits no parameter of the classifier objective", t.Name)
		}
		bufs[t.Name] = slices.Clone(t.Data)
		order = append(order, t.Name)
	}
	return &rest, func() {
		copy(c.weight.data, head[0].Data)
		copy(c.bias.data, head[1].Data)
		c.bufs, c.order = bufs, order
	}, nil
}

// classifyStep is Step under a cross-entropy objective: forward (trunk in
// training mode for TrainAll, evaluation mode for TrainHead), softmax
// cross-entropy, backward into the trained tensors, SGD. It runs on the
// kernel thread. A non-finite loss leaves the state as it was.
func (b *Backend) classifyStep(ctx context.Context, in *train.StepInput) (train.StepResult, error) {
	c := b.cls
	if len(in.Groups) != 1 || in.Groups[0].Count != 1 {
		return train.StepResult{}, fmt.Errorf("cpu: classifier step: want one crop group of one crop per image, got %d groups", len(in.Groups))
	}
	g := in.Groups[0]
	n, size := in.Batch, g.Size
	if n < 1 || len(g.Data) != n*3*size*size {
		return train.StepResult{}, fmt.Errorf("cpu: classifier step: %d values for %d images of %dx%d px", len(g.Data), n, size, size)
	}
	if len(in.Labels) != n {
		return train.StepResult{}, fmt.Errorf("cpu: classifier step: %d labels for %d images", len(in.Labels), n)
	}
	for i, l := range in.Labels {
		if l < 0 || int(l) >= c.obj.Classes {
			return train.StepResult{}, fmt.Errorf("cpu: classifier step: image %d has label %d, outside [0, %d)", i, l, c.obj.Classes)
		}
	}
	if b.arch.TrunkOutSize(size) < 1 {
		return train.StepResult{}, fmt.Errorf("cpu: classifier step: %d px images are too small for %s", size, b.arch.Config.Arch)
	}
	if c.obj.Trainable == train.TrainAll && n < 2 {
		return train.StepResult{}, fmt.Errorf("cpu: classifier step: training-mode BatchNorm needs at least 2 images, got %d", n)
	}
	if err := ctx.Err(); err != nil {
		return train.StepResult{}, err
	}
	d, k := b.arch.TrunkDim, c.obj.Classes
	var feats []float32
	var p *plan
	if c.obj.Trainable == train.TrainHead {
		var err error
		if feats, _, err = b.embed(ctx, g.Data, n, size, train.FeatureTrunk); err != nil {
			return train.StepResult{}, err
		}
	} else {
		if slices.ContainsFunc(g.Data, nonFinite) {
			return train.StepResult{}, fmt.Errorf("cpu: classifier step at iteration %d: an image has a non-finite value: %w", in.Iter, train.ErrNonFinite)
		}
		b.prepareWeights(true)
		if !c.plan.matches(n, size, size, 3, true) {
			var err error
			if c.plan, err = b.replacePlan(c.plan, b.trunk, n, size, size, 3, true, false); err != nil {
				return train.StepResult{}, err
			}
		}
		p = c.plan
		nchwToNHWC(p.input.data, g.Data, n, 3, size, size, b.eng.threads)
		b.eng.forward(p)
		feats = p.output().data
	}
	logits := make([]float32, n*k)
	b.headForward(feats, logits, n)
	res := train.StepResult{}
	res.Correct1, res.Correct5 = train.TopK(logits, in.Labels, k)
	dlogits := make([]float32, n*k)
	res.Loss = train.CrossEntropy(logits, in.Labels, dlogits, n, k)
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) || p != nil && p.nonFinite {
		return train.StepResult{Loss: res.Loss}, fmt.Errorf("cpu: classifier step at iteration %d: loss %v: %w", in.Iter, res.Loss, train.ErrNonFinite)
	}
	// Head gradients, and the trunk's through its output.
	clear(c.weight.grad)
	clear(c.bias.grad)
	blas.Sgemm(true, false, k, d, n, 1, dlogits, k, feats, d, 0, c.weight.grad, d)
	for r := 0; r < n; r++ {
		for j, v := range dlogits[r*k : (r+1)*k] {
			c.bias.grad[j] += v
		}
	}
	if p != nil {
		blas.Sgemm(false, false, n, d, k, 1, dlogits, k, c.weight.data, d, 0, p.output().grad, d)
		b.eng.backward(p)
		b.finishConvGrads()
		commitRunningStats(p)
		for _, tp := range c.trunkParams {
			c.sgd(tp, in.LR)
		}
	}
	c.sgd(c.weight, in.HeadLR)
	c.sgd(c.bias, in.HeadLR)
	return res, nil
}

// sgd applies one SGD step to p at lr, creating its buffer on first use.
func (c *classifier) sgd(p *param, lr float64) {
	buf, had := c.bufs[p.name]
	buf = train.SGDStep(c.obj.SGD, p.data, p.grad, buf, lr)
	if !had && buf != nil {
		c.bufs[p.name] = buf
		c.order = append(c.order, p.name)
	}
}

// headForward writes logits = feats W^T + b for n rows.
func (b *Backend) headForward(feats, logits []float32, n int) {
	c := b.cls
	d, k := b.arch.TrunkDim, c.obj.Classes
	blas.Sgemm(false, true, n, k, d, 1, feats, d, c.weight.data, d, 0, logits, k)
	for r := 0; r < n; r++ {
		row := logits[r*k : (r+1)*k]
		for j, v := range c.bias.data {
			row[j] += v
		}
	}
}

// Classify implements train.Classifier: the trunk in evaluation mode, then
// the head, on n NCHW images; n x Classes logits.
func (b *Backend) Classify(ctx context.Context, images []float32, n, size int) (logits []float32, err error) {
	if b.cls == nil {
		return nil, fmt.Errorf("cpu: classify: no classifier objective set")
	}
	b.onKernelThread(func() {
		var feats []float32
		if feats, _, err = b.embed(ctx, images, n, size, train.FeatureTrunk); err != nil {
			return
		}
		logits = make([]float32, n*b.cls.obj.Classes)
		b.headForward(feats, logits, n)
	})
	return logits, err
}

var _ train.Classifier = (*Backend)(nil)
