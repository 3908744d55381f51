package cpu

import (
	"fmt"
	"slices"

	"github.com/swavgo/swav/internal/dnnl"
	"github.com/swavgo/swav/train/model"
)

// value is one activation of a plan in NHWC order (2-D values [N, C] have
// H = W = 1), with its gradient buffer. Row r of the [N*H*W, C] matrix is one
// pixel of one image.
type value struct {
	n, h, w, c int
	data       []float32
	// grad is dL/dvalue (nil in evaluation plans); gradSet says whether a
	// consumer has written it during the current backward pass (the first
	// writer overwrites, later ones add).
	grad    []float32
	gradSet bool
	// bf16 says data (and grad) hold bf16 values (dnnl.PackBF16's layout,
	// two to a slot) that only oneDNN layers and the residual add's bf16
	// kernels read and write: an evaluation plan's convolution chain
	// (plan.chooseBF16), or a training plan's residual blocks
	// (plan.chooseTrainBF16).
	bf16 bool
}

func (v *value) rows() int { return v.n * v.h * v.w }

// slots is how many float32 slots v's data takes (dnnl.Slots).
func (v *value) slots() int { return dnnl.Slots(v.n*v.h*v.w*v.c, v.bf16) }

// writeOnce panics where a bf16 value's gradient would be written a
// second time (added to): chooseTrainBF16 gives each bf16 value one reader,
// so one writer.
func (v *value) writeOnce() {
	if v.bf16 && v.gradSet {
		panic("cpu: a bf16 gradient written twice")
	}
}

// param is one trainable tensor: data in PyTorch layout (the canonical
// layout of train.State), its gradient, and for convolutions a GEMM copy of
// the weight ("work", [Out, Kh, Kw, In]) and of its gradient.
type param struct {
	name     string
	shape    []int
	data     []float32
	grad     []float32
	work     []float32 // conv only: data permuted to [Out][Kh][Kw][In]
	workGrad []float32 // conv only: gradient in the work layout
	// gradWritten says whether a oneDNN convolution has written grad during
	// the current step (the first writes it, later ones add; Step clears
	// the gradient of a convolution nothing reached).
	gradWritten bool
	flip        []float32 // stride-1 conv only: flipped kernel [In][Kh][Kw][Out] for the input gradient
}

// bnState is one BatchNorm layer's running statistics and the batch
// statistics of its last training forward of each plan.
type bnState struct {
	runningMean, runningVar []float32
}

// layerBinding ties a model layer to its tensors.
type layerBinding struct {
	layer      *model.Layer
	weight     *param // conv/linear weight, BatchNorm gamma
	bias       *param // linear bias, BatchNorm beta
	batchNorm  *bnState
	fusedRelu  bool // batchnorm or add whose only consumer is the next layer, a relu, applied in place
	foldedRelu bool // relu folded into the previous layer
}

// section is one of the Arch's sections bound to the backend's tensors.
type section struct {
	name     string
	bindings []layerBinding
}

// bindSection binds the layers of sec to params and batch norms by name and
// marks the relus that fold into their producer.
func bindSection(name string, sec []model.Layer, params map[string]*param, bns map[string]*bnState) (*section, error) {
	s := &section{name: name, bindings: make([]layerBinding, len(sec))}
	consumers := make([]int, len(sec))
	for i := range sec {
		for _, in := range sec[i].Inputs {
			if in >= i || in < model.InputOfSection {
				return nil, fmt.Errorf("cpu: %s layer %d (%s) reads value %d", name, i, sec[i].Op, in)
			}
			if in >= 0 {
				consumers[in]++
			}
		}
	}
	for i := range sec {
		l := &sec[i]
		b := &s.bindings[i]
		b.layer = l
		switch l.Op {
		case model.OpConv, model.OpLinear:
			b.weight = params[l.Name+".weight"]
			if l.Op == model.OpLinear && l.Bias {
				b.bias = params[l.Name+".bias"]
			}
		case model.OpBatchNorm:
			b.weight, b.bias, b.batchNorm = params[l.Name+".weight"], params[l.Name+".bias"], bns[l.Name]
		}
		if (l.Op == model.OpConv || l.Op == model.OpLinear || l.Op == model.OpBatchNorm) && b.weight == nil {
			return nil, fmt.Errorf("cpu: %s layer %d (%s %s) has no weight tensor", name, i, l.Op, l.Name)
		}
		if l.Op == model.OpReLU && i > 0 && l.Inputs[0] == i-1 && consumers[i-1] == 1 {
			prev := &s.bindings[i-1]
			if prev.layer.Op == model.OpBatchNorm || prev.layer.Op == model.OpAdd {
				prev.fusedRelu, b.foldedRelu = true, true
			}
		}
	}
	return s, nil
}

// plan holds the activations of one section for one input shape, reused
// from step to step while the shape stays the same. It is owned by the
// backend's goroutine.
//
// A training plan keeps every activation for the backward pass, and each
// gradient only while the backward needs it (a pool of buffers). An
// evaluation plan folds each BatchNorm into the convolution before it (with
// the ReLU and the residual sum that follow, where they do) and shares its
// activation buffers: a buffer returns to the plan's pool after its last
// reader, so a ResNet-50 holds three or four activations at a time instead
// of one per layer.
type plan struct {
	sec   *section
	input *value
	vals  []*value
	// batch statistics of the last training forward, per layer (batchnorm only)
	mean, invStd, varUnbiased [][]float32
	argmax                    [][]int32 // maxpool only
	train                     bool
	// fused[i] is what evaluation conv i computes besides the convolution;
	// absorbed[i] marks the layers a fused convolution computes.
	fused    []convFusion
	absorbed []bool
	// convs[i] is conv i's oneDNN primitive (nil: the engine's GEMM path),
	// bns[i] training BatchNorm i's (nil: the engine's own), built by
	// engine.bindKernels; variance[i] is the batch variance oneDNN's
	// BatchNorm i computed (biased).
	convs    []*dnnl.Conv
	bns      []*dnnl.BatchNorm
	variance [][]float32
	// kept[i] is what oneDNN evaluation conv i keeps of its folded
	// weights (dnnl.Conv.KeepWeights) and from which weights generation.
	kept []keptWeights
	// activationFloats counts the activation values the plan allocated
	// (gradients and input excluded).
	activationFloats int
	// grads is a training plan's pool of gradient buffers: a value's
	// gradient exists from the backward of its last reader to the backward
	// of its producer (engine.backward), as PyTorch frees its gradients.
	grads bufferPool
	// nonFinite says the last forward met a NaN or an infinity that a
	// oneDNN ReLU may have hidden (max(NaN, 0) is 0 there, NaN in Go and
	// PyTorch): a BatchNorm's batch statistics, or a fused convolution's
	// folded weights.
	nonFinite bool
}

// keptWeights says which weights an evaluation convolution's primitive
// keeps: those of engine.weightsGen gen (0: none), with the folded
// BatchNorm's shift and whether the folded values were finite.
type keptWeights struct {
	gen       uint64
	shift     []float32
	nonFinite bool
}

// convFusion is a convolution of an evaluation plan that also applies the
// BatchNorm after it, writing into the value of layer target: the
// BatchNorm's, or the residual add's after it (whose other input, residual,
// is added in), then a ReLU when relu.
type convFusion struct {
	batchNorm int // the folded BatchNorm layer; 0 when the conv is not fused
	target    int
	residual  int
	sum, relu bool
	// inPlace: the target's value takes over the residual's buffer (this
	// sum is the residual's last reader, and both have one type), so the
	// sum reads the residual where it lies instead of a copy.
	inPlace bool
}

// planMode is what a plan is for: training (with the input's gradient
// when inputGrad) or evaluation, and whether its convolutions run in bf16
// on oneDNN (then some values stay bf16 between them: chooseTrainBF16,
// chooseBF16).
type planMode struct {
	train, inputGrad, bf16 bool
}

// newPlan sizes every value of sec for an n x h x w x c input. Training plans
// also get gradient buffers (the input's only when m.inputGrad).
func newPlan(sec *section, n, h, w, c int, m planMode) (*plan, error) {
	train := m.train
	p := &plan{sec: sec, train: train}
	p.input = &value{n: n, h: h, w: w, c: c, data: make([]float32, n*h*w*c)}
	if train && m.inputGrad {
		p.input.grad = make([]float32, len(p.input.data))
	}
	k := len(sec.bindings)
	p.vals = make([]*value, k)
	p.mean, p.invStd, p.varUnbiased = make([][]float32, k), make([][]float32, k), make([][]float32, k)
	p.argmax = make([][]int32, k)
	p.fused, p.absorbed, p.convs = make([]convFusion, k), make([]bool, k), make([]*dnnl.Conv, k)
	p.bns, p.variance, p.kept = make([]*dnnl.BatchNorm, k), make([][]float32, k), make([]keptWeights, k)
	for i := range sec.bindings {
		b := &sec.bindings[i]
		l := b.layer
		in := p.valueOf(l.Inputs[0])
		if b.foldedRelu {
			p.vals[i] = in
			continue
		}
		out := &value{n: in.n, h: in.h, w: in.w, c: in.c}
		switch l.Op {
		case model.OpConv, model.OpMaxPool:
			if l.Op == model.OpConv {
				if in.c != l.In {
					return nil, fmt.Errorf("cpu: %s layer %s: input has %d channels, want %d", sec.name, l.Name, in.c, l.In)
				}
				out.c = l.Out
			}
			out.h, out.w = l.OutSize(in.h), l.OutSize(in.w)
			if out.h < 1 || out.w < 1 {
				return nil, fmt.Errorf("cpu: %s layer %d (%s %s): input %dx%d is too small", sec.name, i, l.Op, l.Name, in.h, in.w)
			}
			if l.Op == model.OpMaxPool {
				p.argmax[i] = make([]int32, out.n*out.h*out.w*out.c)
			}
		case model.OpBatchNorm:
			if in.c != l.Out {
				return nil, fmt.Errorf("cpu: %s layer %s: input has %d channels, want %d", sec.name, l.Name, in.c, l.Out)
			}
			if train {
				p.mean[i], p.invStd[i], p.varUnbiased[i] = make([]float32, l.Out), make([]float32, l.Out), make([]float32, l.Out)
				p.variance[i] = make([]float32, l.Out)
			}
		case model.OpAdd:
			o := p.valueOf(l.Inputs[1])
			if o.n != in.n || o.h != in.h || o.w != in.w || o.c != in.c {
				return nil, fmt.Errorf("cpu: %s layer %d: adds %dx%dx%d to %dx%dx%d", sec.name, i, in.h, in.w, in.c, o.h, o.w, o.c)
			}
		case model.OpGlobalAvgPool:
			out.h, out.w = 1, 1
		case model.OpLinear:
			if in.h != 1 || in.w != 1 || in.c != l.In {
				return nil, fmt.Errorf("cpu: %s layer %s: input %dx%dx%d, want %d features", sec.name, l.Name, in.h, in.w, in.c, l.In)
			}
			out.c = l.Out
		case model.OpReLU:
		default:
			return nil, fmt.Errorf("cpu: %s layer %d: unknown op %q", sec.name, i, l.Op)
		}
		p.vals[i] = out
	}
	if train {
		if m.bf16 {
			p.chooseTrainBF16()
		}
		for i, v := range p.vals {
			if sec.bindings[i].foldedRelu {
				continue
			}
			v.data = make([]float32, v.slots())
			p.activationFloats += len(v.data)
		}
		out := p.output()
		out.grad = make([]float32, len(out.data))
		return p, nil
	}
	p.fuseConvs()
	if m.bf16 {
		p.chooseBF16()
	}
	p.allocateShared()
	return p, nil
}

// bufferPool hands out float32 buffers and takes them back: take returns
// the smallest free buffer that holds n values (its contents are whatever
// it held last) or a new one, counting the values it allocated.
type bufferPool struct {
	free      [][]float32
	allocated int
}

func (bp *bufferPool) take(n int) []float32 {
	best := -1
	for j, buf := range bp.free {
		if cap(buf) >= n && (best < 0 || cap(buf) < cap(bp.free[best])) {
			best = j
		}
	}
	if best < 0 {
		bp.allocated += n
		return make([]float32, n)
	}
	buf := bp.free[best][:n]
	bp.free = slices.Delete(bp.free, best, best+1)
	return buf
}

func (bp *bufferPool) put(buf []float32) { bp.free = append(bp.free, buf[:cap(buf)]) }

// takeGrad returns a gradient buffer of n values from the plan's pool; its
// contents are whatever it held last, which every backward kernel
// overwrites before it adds (value.gradSet).
func (p *plan) takeGrad(n int) []float32 { return p.grads.take(n) }

// releaseGrad returns v's gradient buffer to the pool once the backward of
// v's producer has read it (the section's output keeps its own: the caller
// writes it before each backward).
func (p *plan) releaseGrad(v *value) {
	if v.grad == nil || v == p.output() {
		return
	}
	p.grads.put(v.grad)
	v.grad = nil
}

// fuseConvs finds, in an evaluation plan, each convolution whose only
// reader is a BatchNorm, and the ReLU or residual add (itself the
// BatchNorm's only reader, right after it) that it can absorb as well.
func (p *plan) fuseConvs() {
	bs := p.sec.bindings
	readers := make([]int, len(bs))
	for i := range bs {
		for _, in := range bs[i].layer.Inputs {
			if in >= 0 {
				readers[in]++
			}
		}
	}
	for i := range bs {
		j := i + 1
		if bs[i].layer.Op != model.OpConv || j >= len(bs) || readers[i] != 1 ||
			bs[j].layer.Op != model.OpBatchNorm || bs[j].layer.Inputs[0] != i {
			continue
		}
		f := convFusion{batchNorm: j, target: j, relu: bs[j].fusedRelu}
		if a := j + 1; !f.relu && a < len(bs) && readers[j] == 1 && bs[a].layer.Op == model.OpAdd {
			if ins := bs[a].layer.Inputs; ins[0] == j || ins[1] == j {
				f.target, f.sum, f.relu = a, true, bs[a].fusedRelu
				f.residual = ins[0] + ins[1] - j
			}
		}
		p.fused[i] = f
		for k := i + 1; k <= f.target; k++ {
			p.absorbed[k] = true
		}
	}
}

// allocateShared gives an evaluation plan's values their data from a pool
// of buffers: each layer's value takes the smallest free buffer that holds
// it (or a new one) and returns it after the value's last reader. Values a
// fused convolution writes through share its target's value; a target
// that sums a residual read last there takes over the residual's buffer
// (convFusion.inPlace).
func (p *plan) allocateShared() {
	bs := p.sec.bindings
	k := len(bs)
	// owner[i] is the layer whose value layer i's value is.
	owner := make([]int, k)
	for i := range bs {
		owner[i] = i
		if bs[i].foldedRelu {
			owner[i] = owner[bs[i].layer.Inputs[0]]
		}
	}
	for i := range bs {
		if f := p.fused[i]; f.batchNorm > 0 {
			owner[i], owner[f.batchNorm] = f.target, f.target
			if f.target != f.batchNorm {
				owner[f.target] = f.target
			}
		}
	}
	lastRead := make([]int, k)
	for i := range lastRead {
		lastRead[i] = i
	}
	lastRead[owner[k-1]] = k // the output outlives the plan's forward
	for i := range bs {
		for _, in := range bs[i].layer.Inputs {
			if in >= 0 {
				lastRead[owner[in]] = max(lastRead[owner[in]], i)
			}
		}
	}
	// Fused targets are written at their convolution: alias first.
	for i := range bs {
		if owner[i] != i {
			p.vals[i] = p.vals[owner[i]]
		}
	}
	var pool bufferPool
	released := make([][]int, k+1)
	for i := range bs {
		if owner[i] == i {
			released[lastRead[i]] = append(released[lastRead[i]], i)
		}
	}
	for i := range bs {
		if owner[i] == i && p.vals[i].data == nil && !p.absorbed[i] {
			v := p.vals[i]
			v.data = pool.take(v.slots())
		}
		if f := &p.fused[i]; f.batchNorm > 0 {
			v := p.vals[f.target]
			if r, src := f.residual, bs[i].layer.Inputs[0]; f.sum && r >= 0 && lastRead[owner[r]] == f.target &&
				(src < 0 || owner[src] != owner[r]) && p.vals[r].bf16 == v.bf16 {
				r = owner[r]
				f.inPlace = true
				v.data = p.vals[r].data
				released[f.target] = slices.DeleteFunc(released[f.target], func(j int) bool { return j == r })
			} else {
				v.data = pool.take(v.slots())
			}
		}
		for _, r := range released[i] {
			pool.put(p.vals[r].data)
		}
	}
	p.activationFloats = pool.allocated
}

func (p *plan) valueOf(i int) *value {
	if i == model.InputOfSection {
		return p.input
	}
	return p.vals[i]
}

// output is the section's result (the last layer's value).
func (p *plan) output() *value { return p.vals[len(p.vals)-1] }

// matches says whether the plan was built for this input shape and mode.
func (p *plan) matches(n, h, w, c int, train bool) bool {
	return p != nil && p.input.n == n && p.input.h == h && p.input.w == w && p.input.c == c && p.train == train
}
