package xla

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // graph code reads like maths with the dot import
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/model"
)

// prototypesName is the prototype matrix's state_dict name.
const prototypesName = "prototypes.weight"

// groupSpec is one crop group's static shape.
type groupSpec struct{ Size, Count int }

// stepSpec is everything static about one compiled SwAV step: a new spec
// means a new XLA compilation (minutes for ResNet-50 on a GPU), so the
// backend keeps one compiled step per spec.
type stepSpec struct {
	batch     int
	groups    []groupSpec
	useQueue  bool // a queue tensor is an input and an output
	keepCodes bool // the codes are outputs
}

// stepLayout names the positions of the flat input list of the step graph:
// params (P), buffers (NB), momentum (P), hasMomentum (bool [P]), frozen
// (bool scalar), lr (float32 scalar), queue ([A, L, D], only with useQueue),
// then one NCHW float32 tensor per crop group. Outputs: params', buffers',
// momentum', loss (float32 scalar), queue' (with useQueue), codes (A x [B,K],
// with keepCodes). Every state output equals its input when the loss is not
// finite, so a failed step leaves the state as it was.
type stepLayout struct {
	nParams, nBuffers int
}

func (s stepLayout) buffersAt() int  { return s.nParams }
func (s stepLayout) momentumAt() int { return s.nParams + s.nBuffers }
func (s stepLayout) hasMomAt() int   { return 2*s.nParams + s.nBuffers }
func (s stepLayout) frozenAt() int   { return s.hasMomAt() + 1 }
func (s stepLayout) lrAt() int       { return s.hasMomAt() + 2 }
func (s stepLayout) queueAt() int    { return s.hasMomAt() + 3 }

// groupsAt is where the crop groups start: after the queue when there is one.
func (s stepLayout) groupsAt(useQueue bool) int {
	if useQueue {
		return s.queueAt() + 1
	}
	return s.queueAt()
}

// stepBuilder holds what the SwAV step graph needs besides the spec.
type stepBuilder struct {
	cfg     train.Config
	arch    *model.Arch
	params  []model.TensorSpec
	buffers []model.TensorSpec
	compute dtypes.DType
}

// layout is the step's stepLayout for this model.
func (sb *stepBuilder) layout() stepLayout {
	return stepLayout{nParams: len(sb.params), nBuffers: len(sb.buffers)}
}

// build returns the graph function of one SwAV iteration for spec (see
// stepLayout for inputs and outputs).
func (sb *stepBuilder) build(spec stepSpec) func(g *Graph, in []*Node) []*Node {
	lay := sb.layout()
	return func(g *Graph, in []*Node) []*Node {
		net := &netGraph{
			arch: sb.arch, params: map[string]*Node{}, buffers: map[string]*Node{},
			compute: sb.compute, training: true,
		}
		// The prototypes are normalised with no gradient and written back
		// (SPEC §1.2): the gradient is taken w.r.t. the normalised matrix,
		// which is also what LARS updates. Identity makes it a node of its
		// own that receives the gradient, StopGradient cuts the Jacobian.
		current := make([]*Node, lay.nParams) // the values LARS steps from
		for i, p := range sb.params {
			v := in[i]
			if p.Name == prototypesName {
				v = Identity(StopGradient(l2NormalizeRows(v)))
			}
			current[i] = v
			net.params[p.Name] = v
		}
		for i, b := range sb.buffers {
			net.buffers[b.Name] = in[lay.buffersAt()+i]
		}
		frozen := in[lay.frozenAt()]
		lr := in[lay.lrAt()]
		var queue *Node
		if spec.useQueue {
			queue = in[lay.queueAt()]
		}
		groups := in[lay.groupsAt(spec.useQueue):]

		_, z := net.embed(groups)
		protos := net.params[prototypesName]
		scores := DotGeneral(z, []int{1}, nil, protos, []int{1}, nil) // [V*B, K]

		codes, newQueue := sb.codes(spec, StopGradient(scores), StopGradient(z), StopGradient(protos), queue)
		loss := sb.swappedLoss(spec, scores, codes)

		grads := Gradient(loss, current...)
		finite := IsFinite(loss)
		keep := func(newV, oldV *Node) *Node { return Where(finite, newV, oldV) }

		out := make([]*Node, 0, 2*lay.nParams+lay.nBuffers+2+len(codes))
		newMom := make([]*Node, lay.nParams)
		hasMom := in[lay.hasMomAt()]
		for i, p := range sb.params {
			has := Reshape(Slice(hasMom, AxisElem(i)))
			mom := in[lay.momentumAt()+i]
			pNew, mNew := sb.lars(current[i], grads[i], mom, has, lr)
			if p.Name == prototypesName {
				// Frozen prototypes get no update and no momentum buffer,
				// but keep the normalisation written back.
				pNew = Where(frozen, current[i], pNew)
				mNew = Where(frozen, mom, mNew)
			}
			out = append(out, keep(pNew, in[i]))
			newMom[i] = keep(mNew, mom)
		}
		for i, b := range sb.buffers {
			out = append(out, keep(net.buffers[b.Name], in[lay.buffersAt()+i]))
		}
		out = append(out, newMom...)
		out = append(out, loss)
		if spec.useQueue {
			out = append(out, keep(newQueue, queue))
		}
		if spec.keepCodes {
			out = append(out, codes...)
		}
		return out
	}
}

// codes computes the Sinkhorn codes (B x K each) of the crops in
// crops_for_assign from detached scores, embeddings and prototypes, with the
// queue semantics of SPEC §1.5/§3 when queue is not nil: slot i's stored
// embeddings are re-scored and prepended when the queue is in use (the last
// row of this or an earlier slot is non-zero, the reference's use_the_queue
// flag), and the slot shifts down by B rows with the crop's embeddings in
// front either way. It returns the codes and the new queue (nil without one).
func (sb *stepBuilder) codes(spec stepSpec, scores, z, protos, queue *Node) ([]*Node, *Node) {
	b := spec.batch
	cfg := sb.cfg.SwAV
	assign := cfg.CropsForAssign
	codes := make([]*Node, len(assign))
	var slots []*Node
	var inUse *Node
	for i, c := range assign {
		s := Slice(scores, AxisRange(c*b, (c+1)*b))
		batchOnly := sinkhorn(s, cfg.Epsilon, cfg.SinkhornIterations, b)
		if queue == nil {
			codes[i] = batchOnly
			continue
		}
		length := queue.Shape().Dimensions[1]
		slot := Reshape(Slice(queue, AxisElem(i)), length, -1) // [L, D]
		last := Slice(slot, AxisElem(length-1))
		nonZero := ReduceLogicalOr(NotEqual(last, ZerosLike(last)))
		if inUse == nil {
			inUse = nonZero
		} else {
			inUse = LogicalOr(inUse, nonZero)
		}
		queueScores := DotGeneral(slot, []int{1}, nil, protos, []int{1}, nil) // [L, K]
		withQueue := sinkhorn(Concatenate([]*Node{queueScores, s}, 0), cfg.Epsilon, cfg.SinkhornIterations, b)
		codes[i] = Where(inUse, withQueue, batchOnly)
		fresh := Slice(z, AxisRange(c*b, (c+1)*b))
		kept := Slice(slot, AxisRange(0, length-b))
		slots = append(slots, ExpandAxes(Concatenate([]*Node{fresh, kept}, 0), 0))
	}
	if queue == nil {
		return codes, nil
	}
	return codes, Concatenate(slots, 0)
}

// sinkhorn is the reference's Sinkhorn-Knopp (SPEC §2, world size 1) in the
// log domain and float32: L = s/eps, L -= logsumexp(L); iters times (each
// prototype's row over the N samples: L -= logsumexp, -log K; each sample:
// L -= logsumexp, -log N); the final *N makes every sample's codes sum to 1.
// It returns the last keep rows (keep x K). s is N x K.
func sinkhorn(s *Node, eps float64, iters, keep int) *Node {
	s = ConvertDType(s, dtypes.Float32)
	n := s.Shape().Dimensions[0]
	k := s.Shape().Dimensions[1]
	l := MulScalar(s, 1/eps)
	l = Sub(l, logSumExp(l, 0, 1))
	for range iters {
		l = AddScalar(Sub(l, logSumExp(l, 0)), -math.Log(float64(k)))
		l = AddScalar(Sub(l, logSumExp(l, 1)), -math.Log(float64(n)))
	}
	q := Exp(AddScalar(l, math.Log(float64(n))))
	return Slice(q, AxisRange(n-keep, n))
}

// logSumExp reduces over axes keeping them, shifted by the maximum.
func logSumExp(x *Node, axes ...int) *Node {
	m := ReduceAndKeep(x, ReduceMax, axes...)
	// A row of -inf stays -inf instead of becoming NaN.
	safe := Where(IsFinite(m), m, ZerosLike(m))
	return Add(safe, Log(ReduceAndKeep(Exp(Sub(x, safe)), ReduceSum, axes...)))
}

// swappedLoss is SPEC §1.6: the mean over code crops c and the other V-1
// crops v of -(1/B) sum_b sum_k q_c log_softmax(scores_v / T), in float32.
func (sb *stepBuilder) swappedLoss(spec stepSpec, scores *Node, codes []*Node) *Node {
	b := spec.batch
	k := scores.Shape().Dimensions[1]
	v := scores.Shape().Dimensions[0] / b
	assign := sb.cfg.SwAV.CropsForAssign
	logp := Reshape(LogSoftmax(MulScalar(scores, 1/sb.cfg.SwAV.Temperature), 1), v, b, k)
	var total *Node
	for i, c := range assign {
		perView := ReduceSum(Mul(logp, ExpandAxes(codes[i], 0)), 1, 2) // [V]
		// Every view but the code's own crop.
		mask := make([]float32, v)
		for j := range mask {
			if j != c {
				mask[j] = 1
			}
		}
		term := ReduceAllSum(Mul(perView, Const(scores.Graph(), mask)))
		if total == nil {
			total = term
		} else {
			total = Add(total, term)
		}
	}
	return MulScalar(total, -1/(float64(b)*float64(v-1)*float64(len(assign))))
}

// lars is one LARC(SGD) update of SPEC §5 for parameter p with gradient g,
// momentum buffer mom (used when has is true) at learning rate lr: it
// returns the new parameter and the new buffer.
func (sb *stepBuilder) lars(p, g, mom, has, lr *Node) (*Node, *Node) {
	o := sb.cfg.Optim
	g = ConvertDType(g, dtypes.Float32)
	pn := Sqrt(ReduceAllSum(Square(p)))
	gn := Sqrt(ReduceAllSum(Square(g)))
	zero := ScalarZero(p.Graph(), dtypes.Float32)
	scaled := LogicalAnd(NotEqual(pn, zero), NotEqual(gn, zero))
	rate := Div(MulScalar(pn, o.TrustCoefficient), AddScalar(Add(gn, MulScalar(pn, o.WeightDecay)), larcEpsilon))
	d := Where(scaled, Mul(Add(g, MulScalar(p, o.WeightDecay)), rate), g)
	buf := Where(has, Add(MulScalar(mom, o.Momentum), d), d)
	return Sub(p, Mul(lr, buf)), buf
}

// larcEpsilon is apex LARC's eps.
const larcEpsilon = 1e-8
