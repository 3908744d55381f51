package swav

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/sourcegraph/conc"

	"github.com/swavgo/swav/train"
)

// LARCEpsilon is apex LARC's eps in the adaptive rate's denominator.
const LARCEpsilon = 1e-8

// Param is one parameter tensor handed to LARS.Step. Data is updated in
// place; Grad is the raw gradient (nil = no gradient: skipped entirely, as
// PyTorch skips p.grad None); Frozen skips it the same way (no update, no
// weight decay, no momentum buffer). Shape is only used to label the momentum
// buffer in Buffers (nil = [len(Data)]).
type Param[T Float] struct {
	Name       string
	Shape      []int
	Data, Grad []T
	Frozen     bool
}

// LARS is apex LARC(trust_coefficient, clip=False, eps=1e-8) around
// SGD(momentum, dampening 0, no nesterov) with weight decay applied inside
// LARC (SPEC §5), exactly the reference's optimiser. Per tensor with a
// gradient: pn = ||p||, gn = ||g||; if both are non-zero,
// g = (g + wd p) * trust*pn/(gn + wd*pn + eps), else g is left unchanged with
// no weight decay; then buf = g on the tensor's first step, else
// buf = momentum*buf + g; p -= lr*buf. It keeps one momentum buffer per
// parameter name; it is used by one goroutine at a time (Step spreads its
// own work over SetThreads goroutines).
type LARS[T Float] struct {
	weightDecay, momentum, trust float64
	bufs                         map[string]*momentumBuffer[T]
	order                        []string // buffer creation order, for Buffers
	threads                      int
}

type momentumBuffer[T Float] struct {
	shape []int
	data  []T
}

// NewLARS returns the optimiser with cfg's weight decay, momentum and trust
// coefficient and no momentum buffers.
func NewLARS[T Float](cfg train.OptimConfig) *LARS[T] {
	return &LARS[T]{
		weightDecay: cfg.WeightDecay, momentum: cfg.Momentum, trust: cfg.TrustCoefficient,
		bufs: map[string]*momentumBuffer[T]{},
	}
}

// AdaptiveLR is LARC's per-tensor factor trust*pn/(gn + wd*pn + eps) for
// parameter norm pn and gradient norm gn, and false when pn or gn is zero
// (the gradient is then used unscaled, without weight decay).
func (o *LARS[T]) AdaptiveLR(pn, gn float64) (float64, bool) {
	if pn == 0 || gn == 0 {
		return 0, false
	}
	return o.trust * pn / (gn + o.weightDecay*pn + LARCEpsilon), true
}

// Step applies one update at learning rate lr to every parameter with a
// gradient that is not frozen. Arithmetic is float64, stored as T. Cost:
// about 6 passes over each tensor, spread over SetThreads goroutines (one
// tensor each at a time; the result does not depend on their number); a
// buffer is allocated on a tensor's first step. It panics when a gradient's
// or an existing buffer's length differs from the parameter's (a
// programming error; SetBuffers checks loaded ones against Validate).
func (o *LARS[T]) Step(params []Param[T], lr float64) {
	type job struct {
		p     Param[T]
		buf   []T
		first bool
	}
	jobs := make([]job, 0, len(params))
	for _, p := range params {
		if p.Frozen || p.Grad == nil {
			continue
		}
		checkLen("LARS.Step", p.Name+" grad", p.Grad, len(p.Data))
		b, ok := o.bufs[p.Name]
		if !ok {
			shape := p.Shape
			if shape == nil {
				shape = []int{len(p.Data)}
			}
			b = &momentumBuffer[T]{shape: append([]int(nil), shape...), data: make([]T, len(p.Data))}
			o.bufs[p.Name] = b
			o.order = append(o.order, p.Name)
		}
		checkLen("LARS.Step", p.Name+" momentum buffer", b.data, len(p.Data))
		jobs = append(jobs, job{p, b.data, !ok})
	}
	var next atomic.Int64
	var wg conc.WaitGroup
	for w := 0; w < min(max(o.threads, 1), len(jobs)); w++ {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(jobs); i = int(next.Add(1)) - 1 {
				o.update(jobs[i].p, jobs[i].buf, jobs[i].first, lr)
			}
		})
	}
	wg.Wait()
}

// SetThreads sets how many goroutines Step uses (at least one).
func (o *LARS[T]) SetThreads(n int) { o.threads = n }

// update is Step for one tensor and its momentum buffer. The common case
// (scaled, not the first step) has a loop of its own without branches,
// vectorised C for float32 (lars_cgo.go).
func (o *LARS[T]) update(p Param[T], buf []T, first bool, lr float64) {
	a, scaled := o.AdaptiveLR(tensorNorm(p.Data), tensorNorm(p.Grad))
	grad := p.Grad
	data, buf := p.Data[:len(grad)], buf[:len(grad)]
	wd, mom := o.weightDecay, o.momentum
	if scaled && !first {
		if d32, ok := any(data).([]float32); ok {
			larsUpdate32(d32, any(grad).([]float32), any(buf).([]float32), wd, a, mom, lr)
			return
		}
		larsUpdate(data, grad, buf, wd, a, mom, lr)
		return
	}
	for j, g := range grad {
		x := float64(data[j])
		d := float64(g)
		if scaled {
			d = (d + float64(wd*x)) * a
		}
		m := d
		if !first {
			m = float64(mom*float64(buf[j])) + d
		}
		buf[j] = T(m)
		data[j] = T(x - float64(lr*m))
	}
}

// larsUpdate is LARS's common case: d = (g + wd*x)*a, buf = mom*buf + d,
// x -= lr*buf. The float64 conversions round every product as PyTorch's
// separate in-place ops do (no fused multiply-add on any arch).
func larsUpdate[T Float](data, grad, buf []T, wd, a, mom, lr float64) {
	data, buf = data[:len(grad)], buf[:len(grad)]
	for j, g := range grad {
		x := float64(data[j])
		d := (float64(g) + float64(wd*x)) * a
		m := float64(mom*float64(buf[j])) + d
		buf[j] = T(m)
		data[j] = T(x - float64(lr*m))
	}
}

// tensorNorm is the Euclidean norm of v, summed in float64 (sumSquares).
func tensorNorm[T Float](v []T) float64 {
	if v32, ok := any(v).([]float32); ok {
		return math.Sqrt(sumSquares32(v32))
	}
	return math.Sqrt(sumSquares(v))
}

// sumSquares is the sum of the squares of v in float64 over eight
// interleaved partial sums (independent add chains; one chain is
// latency-bound on the tensors LARS sees, up to millions of values), added
// in the order lars_cgo.go's kernel adds them.
func sumSquares[T Float](v []T) float64 {
	var s [8]float64
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := v[i : i+8 : i+8]
		for k := range s {
			x := float64(w[k])
			s[k] += x * x
		}
	}
	for ; i < len(v); i++ {
		x := float64(v[i])
		s[0] += x * x
	}
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

// Buffer returns the momentum buffer of the named parameter (aliased), or
// nil when it has none yet.
func (o *LARS[T]) Buffer(name string) []T {
	if b, ok := o.bufs[name]; ok {
		return b.data
	}
	return nil
}

// Buffers returns float32 copies of the momentum buffers in creation order,
// named like their parameters (train.State.Momentum).
func (o *LARS[T]) Buffers() []train.Tensor {
	out := make([]train.Tensor, 0, len(o.order))
	for _, name := range o.order {
		b := o.bufs[name]
		d := make([]float32, len(b.data))
		for i, v := range b.data {
			d[i] = float32(v)
		}
		out = append(out, train.Tensor{Name: name, Shape: append([]int(nil), b.shape...), Data: d})
	}
	return out
}

// SetBuffers replaces every momentum buffer by ts (a parameter absent from ts
// has no buffer, so its next step starts one). It fails, changing nothing,
// on a repeated name or a tensor whose data does not match its shape.
func (o *LARS[T]) SetBuffers(ts []train.Tensor) error {
	bufs := make(map[string]*momentumBuffer[T], len(ts))
	order := make([]string, 0, len(ts))
	for i := range ts {
		t := &ts[i]
		if _, dup := bufs[t.Name]; dup {
			return fmt.Errorf("swav: momentum buffer %d: name %q repeated", i, t.Name)
		}
		if t.Numel() != len(t.Data) {
			return fmt.Errorf("swav: momentum buffer %q: shape %v needs %d values, has %d", t.Name, t.Shape, t.Numel(), len(t.Data))
		}
		d := make([]T, len(t.Data))
		for j, v := range t.Data {
			d[j] = T(v)
		}
		bufs[t.Name] = &momentumBuffer[T]{shape: append([]int(nil), t.Shape...), data: d}
		order = append(order, t.Name)
	}
	o.bufs, o.order = bufs, order
	return nil
}

// Validate checks that every momentum buffer belongs to one of params and
// has its length, naming the first that does not (call it after SetBuffers
// from a checkpoint).
func (o *LARS[T]) Validate(params []Param[T]) error {
	size := make(map[string]int, len(params))
	for _, p := range params {
		size[p.Name] = len(p.Data)
	}
	for _, name := range o.order {
		n, ok := size[name]
		switch {
		case !ok:
			return fmt.Errorf("swav: momentum buffer %q has no parameter", name)
		case n != len(o.bufs[name].data):
			return fmt.Errorf("swav: momentum buffer %q has %d values, parameter has %d", name, len(o.bufs[name].data), n)
		}
	}
	return nil
}
