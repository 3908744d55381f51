package xla

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // graph code reads like maths with the dot import
	timage "github.com/gomlx/gomlx/core/tensors/images"
	"github.com/swavgo/swav/train/model"
)

// netGraph interprets a model.Arch inside one GoMLX graph under construction.
// It is created per graph build (graph building is single-threaded) and is
// not kept after the build.
type netGraph struct {
	arch *model.Arch
	// params maps state_dict names to float32 master weights (graph nodes).
	params map[string]*Node
	// buffers maps running-statistic names to their current values; in
	// training mode every BatchNorm replaces its entries by the updated
	// running statistics, so a second pass (the next crop group) continues
	// from them exactly as PyTorch's sequential forwards do.
	buffers map[string]*Node
	// compute is the activation/weight dtype of convolutions and linear
	// layers: Float32, or BFloat16 for bf16 mixed precision. BatchNorm
	// statistics, the L2 normalisation, scores and Sinkhorn stay float32.
	compute dtypes.DType
	// training selects batch statistics (and running-stat updates) over
	// running statistics.
	training bool
}

// weight returns the named parameter in the compute dtype.
func (n *netGraph) weight(name string) *Node {
	w, ok := n.params[name]
	if !ok {
		panic(fmt.Errorf("xla: graph has no parameter %q", name))
	}
	if w.DType() != n.compute {
		return ConvertDType(w, n.compute)
	}
	return w
}

// section runs layers on x (already in the compute dtype) and returns the
// last layer's output.
func (n *netGraph) section(layers []model.Layer, x *Node) *Node {
	values := make([]*Node, len(layers))
	input := func(l *model.Layer, j int) *Node {
		idx := l.Inputs[j]
		if idx == model.InputOfSection {
			return x
		}
		return values[idx]
	}
	for i := range layers {
		l := &layers[i]
		switch l.Op {
		case model.OpConv:
			values[i] = Convolve(input(l, 0), n.weight(l.Name+".weight")).
				ChannelsAxis(timage.ChannelsFirst).
				StridePerAxis(l.Stride, l.Stride).
				PaddingPerDim([][2]int{{l.Pad, l.Pad}, {l.Pad, l.Pad}}).
				Done()
		case model.OpBatchNorm:
			values[i] = n.batchNorm(l, input(l, 0))
		case model.OpReLU:
			values[i] = relu(input(l, 0))
		case model.OpAdd:
			values[i] = Add(input(l, 0), input(l, 1))
		case model.OpMaxPool:
			values[i] = MaxPool(input(l, 0)).
				ChannelsAxis(timage.ChannelsFirst).
				Window(l.Kernel).
				Strides(l.Stride).
				PaddingPerDim([][2]int{{l.Pad, l.Pad}, {l.Pad, l.Pad}}).
				Done()
		case model.OpGlobalAvgPool:
			values[i] = globalAvgPool(input(l, 0))
		case model.OpLinear:
			values[i] = n.linear(l, input(l, 0))
		default:
			panic(fmt.Errorf("xla: layer %d (%s): unknown op %q", i, l.Name, l.Op))
		}
	}
	return values[len(values)-1]
}

// relu is max(x, 0) with PyTorch's gradient (0 at x == 0) and NaN
// propagation (a NaN must reach the loss so the step reports it).
func relu(x *Node) *Node {
	zero := ScalarZero(x.Graph(), x.DType())
	return Where(LessOrEqual(x, zero), ZerosLike(x), x)
}

// globalAvgPool averages NCHW over H and W, accumulating in float32.
func globalAvgPool(x *Node) *Node {
	dt := x.DType()
	y := ReduceMean(ConvertDType(x, dtypes.Float32), 2, 3)
	if dt != dtypes.Float32 {
		y = ConvertDType(y, dt)
	}
	return y
}

// linear is x W^T (+ b) for x [N, In], W [Out, In].
func (n *netGraph) linear(l *model.Layer, x *Node) *Node {
	y := DotGeneral(x, []int{1}, nil, n.weight(l.Name+".weight"), []int{1}, nil)
	if l.Bias {
		y = Add(y, Reshape(n.weight(l.Name+".bias"), 1, l.Out))
	}
	return y
}

// batchNorm is BatchNorm2d (NCHW) or BatchNorm1d ([N, C]) with PyTorch
// semantics: batch mean and biased variance normalise in training, the
// running statistics move by momentum 0.1 towards the batch mean and the
// unbiased variance; evaluation uses the running statistics. Statistics and
// the affine transform run in float32; the result is in x's dtype.
func (n *netGraph) batchNorm(l *model.Layer, x *Node) *Node {
	dt := x.DType()
	x32 := x
	if dt != dtypes.Float32 {
		x32 = ConvertDType(x, dtypes.Float32)
	}
	axes := []int{0}
	bshape := []int{1, l.Out}
	if x.Rank() == 4 {
		axes = []int{0, 2, 3}
		bshape = []int{1, l.Out, 1, 1}
	}
	gamma := Reshape(n.params[l.Name+".weight"], bshape...)
	beta := Reshape(n.params[l.Name+".bias"], bshape...)
	meanName, varName := l.Name+".running_mean", l.Name+".running_var"
	var mean, variance *Node
	if n.training {
		mean = ReduceAndKeep(x32, ReduceMean, axes...)
		centered := Sub(x32, mean)
		variance = ReduceAndKeep(Square(centered), ReduceMean, axes...)
		count := x.Shape().Size() / l.Out
		unbiased := 1.0
		if count > 1 {
			unbiased = float64(count) / float64(count-1)
		}
		m := model.BNMomentum
		batchMean := StopGradient(Reshape(mean, l.Out))
		batchVar := StopGradient(MulScalar(Reshape(variance, l.Out), unbiased))
		n.buffers[meanName] = Add(MulScalar(n.buffers[meanName], 1-m), MulScalar(batchMean, m))
		n.buffers[varName] = Add(MulScalar(n.buffers[varName], 1-m), MulScalar(batchVar, m))
		y := Div(centered, Sqrt(AddScalar(variance, model.BNEpsilon)))
		y = Add(Mul(y, gamma), beta)
		return convertTo(y, dt)
	}
	mean = Reshape(n.buffers[meanName], bshape...)
	variance = Reshape(n.buffers[varName], bshape...)
	y := Div(Sub(x32, mean), Sqrt(AddScalar(variance, model.BNEpsilon)))
	y = Add(Mul(y, gamma), beta)
	return convertTo(y, dt)
}

func convertTo(x *Node, dt dtypes.DType) *Node {
	if x.DType() == dt {
		return x
	}
	return ConvertDType(x, dt)
}

// l2NormalizeRows is x / max(||x||_2, 1e-12) row-wise ([N, D]), PyTorch's
// F.normalize.
func l2NormalizeRows(x *Node) *Node {
	norm := Sqrt(ReduceAndKeep(Square(x), ReduceSum, 1))
	return Div(x, MaxScalar(norm, normEpsilon))
}

// normEpsilon is F.normalize's lower clamp of the norm.
const normEpsilon = 1e-12

// embed runs trunk (per crop group), head and the L2 normalisation: it
// returns the trunk features [rows, TrunkDim] (compute dtype) and the
// embeddings z [rows, FeatDim] (float32). groups are NCHW float32 nodes in
// crop-major order; each goes through the trunk on its own (BatchNorm
// statistics per resolution group), the head sees all rows at once.
func (n *netGraph) embed(groups []*Node) (feats, z *Node) {
	outs := make([]*Node, len(groups))
	for i, x := range groups {
		outs[i] = n.section(n.arch.Trunk, convertTo(x, n.compute))
	}
	feats = outs[0]
	if len(outs) > 1 {
		feats = Concatenate(outs, 0)
	}
	h := n.section(n.arch.Head, feats)
	z = l2NormalizeRows(convertTo(h, dtypes.Float32))
	return feats, z
}
