// Package cpu is the CPU training backend ("cpu"): the SwAV network of
// train/model run by a small NHWC engine of its own, with the SwAV maths,
// queue and LARS of train/swav. Convolutions and training BatchNorms run on
// oneDNN (internal/dnnl, OpenMP over train.cpu.threads threads) where it is
// available; otherwise, or with SWAV_CPU_CONV=gemm, convolutions are im2col
// + single-threaded SGEMM per image chunk and BatchNorm+ReLU is fused Go,
// parallel over images on train.cpu.threads goroutines. Evaluation plans fold each
// BatchNorm into its convolution (with the ReLU and residual sum after it)
// and share activation buffers; training plans keep each gradient only while
// the backward needs it. GEMM (linear layers, the GEMM path) is
// internal/blas: Debian's OpenBLAS through cgo (opened with dlopen at first
// use, AVX-512 kernels where the CPU has them), or gonum's pure-Go GEMM
// when built with CGO_ENABLED=0 or -tags noblas or when libopenblas.so.0 is
// missing.
//
// Import it for its side effect of registering the backend:
//
//	import _ "github.com/swavgo/swav/train/cpu"
//	b, err := train.NewBackend(cfg, seed) // cfg.Backend == "cpu"
package cpu

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"

	"github.com/swavgo/swav/internal/blas"
	"github.com/swavgo/swav/internal/dnnl"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/model"
	"github.com/swavgo/swav/train/swav"
)

func init() {
	train.RegisterBackend("cpu", train.BackendSpec{
		New: func(cfg train.Config, seed int64) (train.Backend, error) {
			b, err := New(cfg, seed)
			if err != nil {
				return nil, err // not a typed nil inside the interface
			}
			return b, nil
		},
		Validate: validate,
		Settings: DefaultConfig(),
	})
}

// BLAS names the GEMM this process uses: "openblas (SkylakeX)" (OpenBLAS
// opened at run time, with its AVX-512 kernels where the CPU has AVX-512),
// or "gonum (pure Go)" without cgo, with -tags noblas or without OpenBLAS.
// The kernel set is SWAV_OPENBLAS_CORETYPE when set, else OPENBLAS_CORETYPE
// when set, else SkylakeX on AVX-512 CPUs (Debian's OpenBLAS 0.3.21 runs
// AVX-512 Zen 4/5 cores on its Haswell kernels, half as fast on our GEMMs),
// else OpenBLAS's own choice.
func BLAS() string { return blas.Name() }

// Embed runs at most embedChunk images through the network at once, fewer
// when their activations would exceed embedActivationFloats (512 MiB).
const (
	embedChunk            = 256
	embedActivationFloats = 128 << 20
)

// embedChunkFor is how many size x size images Embed runs at once: the
// activations of an evaluation plan (no gradients) stay within
// embedActivationFloats.
func (b *Backend) embedChunkFor(size int) (int, error) {
	p, err := newPlan(b.trunk, 1, size, size, 3, planMode{bf16: b.eng.bf16})
	if err != nil {
		return 0, err
	}
	perImage := len(p.input.data) + p.activationFloats
	return max(1, min(embedChunk, embedActivationFloats/perImage)), nil
}

// Backend is the CPU backend. It is used by one goroutine at a time.
type Backend struct {
	cfg     train.Config
	arch    *model.Arch
	eng     *engine
	params  []*param // canonical order (model.Arch.Params)
	byName  map[string]*param
	bns     []*bnState // canonical order, two buffers each
	bnNames []string
	trunk   *section
	head    *section
	protos  *param
	lars    *swav.LARS[float32]
	queue   *swav.Queue[float32]

	trainTrunk []*plan // one per crop group
	trainHead  *plan
	evalTrunk  *plan
	evalHead   *plan
	keepCodes  bool
	cls        *classifier // a cross-entropy objective (classify.go); nil: SwAV
}

// New builds the backend for cfg with model.Init(cfg.Model, seed) weights.
// Threads = train.cpu.threads (0: all cores); OpenBLAS itself is set to one thread
// because the backend parallelises over images.
func New(cfg train.Config, seed int64) (*Backend, error) {
	if err := validate(&cfg); err != nil {
		return nil, fmt.Errorf("cpu: train.%w", err)
	}
	if len(cfg.SwAV.CropsForAssign) == 0 {
		return nil, fmt.Errorf("cpu: swav.crops_for_assign is empty")
	}
	if cfg.SwAV.Temperature <= 0 || cfg.SwAV.Epsilon <= 0 || cfg.SwAV.SinkhornIterations < 1 {
		return nil, fmt.Errorf("cpu: swav temperature %v, epsilon %v and sinkhorn_iterations %d must be positive",
			cfg.SwAV.Temperature, cfg.SwAV.Epsilon, cfg.SwAV.SinkhornIterations)
	}
	arch, err := model.Build(cfg.Model)
	if err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	own := SettingsOf(&cfg)
	threads := own.Threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	blas.SetThreads(1)
	precision, why := resolvePrecision(own.Precision)
	if why != "" {
		warnedFallback.Do(func() { slog.Warn("train.cpu.precision bf16 runs as float32", "why", why) })
	}
	b := &Backend{cfg: cfg, arch: arch, eng: newEngine(threads, precision), byName: map[string]*param{}}
	bnByName := map[string]*bnState{}
	for _, spec := range arch.Params() {
		p := &param{name: spec.Name, shape: spec.Shape}
		n := 1
		for _, d := range spec.Shape {
			n *= d
		}
		p.data, p.grad = make([]float32, n), make([]float32, n)
		b.params = append(b.params, p)
		b.byName[spec.Name] = p
	}
	for _, sec := range arch.Sections() {
		for i := range sec {
			if sec[i].Op == model.OpBatchNorm {
				st := &bnState{runningMean: make([]float32, sec[i].Out), runningVar: make([]float32, sec[i].Out)}
				b.bns = append(b.bns, st)
				b.bnNames = append(b.bnNames, sec[i].Name)
				bnByName[sec[i].Name] = st
			}
		}
	}
	if b.trunk, err = bindSection("trunk", arch.Trunk, b.byName, bnByName); err != nil {
		return nil, err
	}
	if b.head, err = bindSection("head", arch.Head, b.byName, bnByName); err != nil {
		return nil, err
	}
	b.protos = b.byName[arch.Prototypes.Name+".weight"]
	b.lars = swav.NewLARS[float32](cfg.Optim)
	b.lars.SetThreads(threads)
	if err := b.Load(arch.Init(seed)); err != nil {
		return nil, err
	}
	return b, nil
}

// Name is "cpu".
func (b *Backend) Name() string { return "cpu" }

// Precision is what the convolutions compute in: "bf16" or "float32"
// (train.cpu.precision, or float32 where bf16 fell back).
func (b *Backend) Precision() string {
	if b.eng.bf16 {
		return "bf16"
	}
	return "float32"
}

// Engine says what the backend runs on, for a run's log: the convolution
// kernels (with oneDNN's instruction set), the precision and the threads,
// e.g. "onednn 2.6.3 avx512_core_bf16, bf16 convolutions (float32 weights,
// BatchNorm, head and loss), GEMM openblas (SkylakeX), 2 threads".
func (b *Backend) Engine() string {
	precision := "float32"
	if b.eng.bf16 {
		precision = "bf16 convolutions and block activations (float32 weights, BatchNorm statistics, head and loss)"
	}
	return fmt.Sprintf("%s, %s, GEMM %s, %d threads", Kernels(), precision, BLAS(), b.eng.threads)
}

// Arch is the network the backend runs.
func (b *Backend) Arch() *model.Arch { return b.arch }

// KeepCodes makes Step return the Sinkhorn codes (tests, conformance).
func (b *Backend) KeepCodes(on bool) { b.keepCodes = on }

// Close drops the buffers; the backend must not be used afterwards.
func (b *Backend) Close() error {
	b.trainTrunk, b.trainHead, b.evalTrunk, b.evalHead = nil, nil, nil, nil
	b.cls = nil
	return nil
}

// State copies out parameters, running statistics, momentum buffers and the
// queue.
func (b *Backend) State() (*train.State, error) {
	st := &train.State{}
	for _, p := range b.params {
		st.Params = append(st.Params, train.Tensor{Name: p.name, Shape: append([]int(nil), p.shape...), Data: append([]float32(nil), p.data...)})
	}
	for i, bn := range b.bns {
		n := len(bn.runningMean)
		st.Buffers = append(st.Buffers,
			train.Tensor{Name: b.bnNames[i] + ".running_mean", Shape: []int{n}, Data: append([]float32(nil), bn.runningMean...)},
			train.Tensor{Name: b.bnNames[i] + ".running_var", Shape: []int{n}, Data: append([]float32(nil), bn.runningVar...)})
	}
	st.Momentum = b.lars.Buffers()
	if b.queue != nil {
		q := b.queue.Tensor()
		st.Queue = &q
	}
	if b.cls != nil {
		b.cls.state(st)
	}
	return st, nil
}

// Load replaces the whole training state. Nothing changes when it fails; the
// error names the first tensor whose name or shape does not match.
func (b *Backend) Load(st *train.State) error {
	var commitHead func()
	if b.cls != nil {
		rest, commit, err := b.cls.split(st, b.byName)
		if err != nil {
			return err
		}
		st, commitHead = rest, commit
	}
	if err := b.arch.CheckState(st); err != nil {
		return fmt.Errorf("cpu: load: %w", err)
	}
	lars := swav.NewLARS[float32](b.cfg.Optim)
	lars.SetThreads(b.eng.threads)
	if err := lars.SetBuffers(st.Momentum); err != nil {
		return fmt.Errorf("cpu: load: %w", err)
	}
	var queue *swav.Queue[float32]
	if st.Queue != nil {
		t := st.Queue
		if len(t.Shape) != 3 || t.Shape[0] != len(b.cfg.SwAV.CropsForAssign) || t.Shape[2] != b.arch.FeatDim || t.Shape[1] < 1 {
			return fmt.Errorf("cpu: load: queue shape %v, want [%d L %d]", t.Shape, len(b.cfg.SwAV.CropsForAssign), b.arch.FeatDim)
		}
		queue = swav.NewQueue[float32](t.Shape[0], t.Shape[1], t.Shape[1], t.Shape[2])
		if err := queue.Load(t); err != nil {
			return fmt.Errorf("cpu: load: %w", err)
		}
	}
	for i, p := range b.params {
		copy(p.data, st.Params[i].Data)
	}
	for i, bn := range b.bns {
		copy(bn.runningMean, st.Buffers[2*i].Data)
		copy(bn.runningVar, st.Buffers[2*i+1].Data)
	}
	b.lars, b.queue = lars, queue
	b.eng.weightsGen++
	if commitHead != nil {
		commitHead()
	}
	return nil
}

// checkInput validates a step's input against the config and returns V.
func (b *Backend) checkInput(in *train.StepInput) (int, error) {
	if in.Batch < 1 {
		return 0, fmt.Errorf("cpu: step: batch %d, want at least 1", in.Batch)
	}
	if len(in.Groups) == 0 {
		return 0, fmt.Errorf("cpu: step: no crop groups")
	}
	views := 0
	for g, grp := range in.Groups {
		if grp.Count < 1 || grp.Size < 1 {
			return 0, fmt.Errorf("cpu: step: group %d: count %d, size %d, want both at least 1", g, grp.Count, grp.Size)
		}
		if want := grp.Count * in.Batch * 3 * grp.Size * grp.Size; len(grp.Data) != want {
			return 0, fmt.Errorf("cpu: step: group %d (%dx%d px, %d crops): %d values, want %d", g, grp.Size, grp.Size, grp.Count, len(grp.Data), want)
		}
		if b.arch.TrunkOutSize(grp.Size) < 1 {
			return 0, fmt.Errorf("cpu: step: group %d: %d px crops are too small for %s", g, grp.Size, b.arch.Config.Arch)
		}
		views += grp.Count
	}
	if views < 2 {
		return 0, fmt.Errorf("cpu: step: %d crops per image, SwAV needs at least 2", views)
	}
	for i, c := range b.cfg.SwAV.CropsForAssign {
		if c >= views {
			return 0, fmt.Errorf("cpu: step: crops_for_assign[%d] = %d but there are only %d crops", i, c, views)
		}
	}
	return views, nil
}

// nchwToNHWC copies n images of c x h x w from src into dst (h x w x c).
func nchwToNHWC(dst, src []float32, n, c, h, w, threads int) {
	hw := h * w
	parallelFor(n, threads, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			s, d := src[i*c*hw:(i+1)*c*hw], dst[i*c*hw:(i+1)*c*hw]
			for ch := 0; ch < c; ch++ {
				for p, v := range s[ch*hw : (ch+1)*hw] {
					d[p*c+ch] = v
				}
			}
		}
	})
}

// replacePlan frees old's native kernels and returns a new plan of sec with
// its kernels bound (see newPlan).
func (b *Backend) replacePlan(old *plan, sec *section, n, h, w, c int, train, inputGrad bool) (*plan, error) {
	releaseKernels(old)
	p, err := newPlan(sec, n, h, w, c, planMode{train: train, inputGrad: inputGrad, bf16: b.eng.bf16})
	if err != nil {
		return nil, err
	}
	if err := b.eng.bindKernels(p); err != nil {
		return nil, err
	}
	return p, nil
}

// prepareWeights refreshes the conv work copies of the GEMM path (oneDNN
// reads the canonical weights). With zeroGrads (a training step starts,
// which changes the weights and running statistics, even one that fails
// half-way) it also zeroes every gradient and bumps the weights generation,
// so that kept evaluation weights are folded again.
func (b *Backend) prepareWeights(zeroGrads bool) {
	if !b.eng.dnnl {
		b.eachConv(func(l *model.Layer, w *param) {
			w.work, w.workGrad = growFloats(w.work, len(w.data)), growFloats(w.workGrad, len(w.data))
			toWorkLayout(w.work, w.data, l.Out, l.In, l.Kernel)
			if b.eng.usesFlippedBackward(l) {
				w.flip = growFloats(w.flip, len(w.data))
				toFlippedLayout(w.flip, w.data, l.Out, l.In, l.Kernel)
			}
		})
	}
	if zeroGrads {
		b.eng.weightsGen++
		for _, p := range b.params {
			if b.eng.dnnl && len(p.shape) == 4 {
				p.gradWritten = false // oneDNN overwrites first (dnnlConvBackward)
				continue
			}
			clear(p.grad)
			clear(p.workGrad)
		}
	}
}

// finishConvGrads completes the convolutions' gradients after a backward
// pass: the GEMM path's, from their work layout; on oneDNN, which wrote the
// others into the canonical gradients, a convolution no gradient reached
// gets zeros.
func (b *Backend) finishConvGrads() {
	b.eachConv(func(l *model.Layer, w *param) {
		switch {
		case !b.eng.dnnl:
			addFromWorkLayout(w.grad, w.workGrad, l.Out, l.In, l.Kernel)
		case !w.gradWritten:
			clear(w.grad)
		}
	})
}

// eachConv calls f with every convolution of the trunk and the head and its
// weight.
func (b *Backend) eachConv(f func(l *model.Layer, w *param)) {
	for _, sec := range [][]layerBinding{b.trunk.bindings, b.head.bindings} {
		for i := range sec {
			if sec[i].layer.Op == model.OpConv {
				f(sec[i].layer, sec[i].weight)
			}
		}
	}
}

// Step runs one SwAV iteration (see train.Backend). It blocks for the whole
// computation (threads goroutines); activations are kept in per-group plans
// reused while the shapes stay the same. A non-finite loss returns an error
// wrapping train.ErrNonFinite and leaves the state as it was.
func (b *Backend) Step(ctx context.Context, in *train.StepInput) (res train.StepResult, err error) {
	if b.cls != nil {
		b.onKernelThread(func() { res, err = b.classifyStep(ctx, in) })
		return res, err
	}
	b.onKernelThread(func() { res, err = b.step(ctx, in) })
	return res, err
}

// onKernelThread runs f on oneDNN's thread when the engine uses oneDNN, so
// that the step's few hundred calls skip the hand-off (dnnl.Do). The
// engine's own goroutines make no oneDNN call.
func (b *Backend) onKernelThread(f func()) {
	if b.eng.dnnl {
		dnnl.Do(f)
		return
	}
	f()
}

func (b *Backend) step(ctx context.Context, in *train.StepInput) (train.StepResult, error) {
	views, err := b.checkInput(in)
	if err != nil {
		return train.StepResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return train.StepResult{}, err
	}
	B, D, K := in.Batch, b.arch.FeatDim, b.arch.K
	protoBefore := append([]float32(nil), b.protos.data...)
	swav.NormalizeRows(b.protos.data, K, D)
	b.prepareWeights(true)

	// Trunk per crop group (BatchNorm statistics per group).
	if len(b.trainTrunk) != len(in.Groups) {
		b.trainTrunk = make([]*plan, len(in.Groups))
	}
	rows := views * B
	if !b.trainHead.matches(rows, 1, 1, b.arch.TrunkDim, true) {
		if b.trainHead, err = b.replacePlan(b.trainHead, b.head, rows, 1, 1, b.arch.TrunkDim, true, true); err != nil {
			return train.StepResult{}, err
		}
	}
	feats := b.trainHead.input.data
	off := 0
	for g, grp := range in.Groups {
		n := grp.Count * B
		if !b.trainTrunk[g].matches(n, grp.Size, grp.Size, 3, true) {
			if b.trainTrunk[g], err = b.replacePlan(b.trainTrunk[g], b.trunk, n, grp.Size, grp.Size, 3, true, false); err != nil {
				return train.StepResult{}, err
			}
		}
		p := b.trainTrunk[g]
		nchwToNHWC(p.input.data, grp.Data, n, 3, grp.Size, grp.Size, b.eng.threads)
		b.eng.forward(p)
		copy(feats[off*b.arch.TrunkDim:], p.output().data)
		off += n
		if err := ctx.Err(); err != nil {
			copy(b.protos.data, protoBefore)
			return train.StepResult{}, err
		}
	}
	b.eng.forward(b.trainHead)
	h := b.trainHead.output().data
	z := append([]float32(nil), h...)
	swav.L2NormalizeRows(z, rows, D)

	// Codes, loss and gradients of the SwAV head.
	createdQueue := false
	if in.UseQueue && b.queue == nil && b.cfg.SwAV.QueueLength > 0 {
		createdQueue = true
		b.queue = swav.NewQueue[float32](len(b.cfg.SwAV.CropsForAssign), b.cfg.SwAV.QueueLength, B, D)
	}
	var q *swav.Queue[float32]
	var queueBefore []float32
	queueWasInUse := false
	if in.UseQueue && b.queue != nil {
		q = b.queue
		queueBefore, queueWasInUse = append([]float32(nil), q.Data()...), q.InUse()
	}
	res := swav.Head(swav.ShapeOf(b.cfg.SwAV, views, B, D, K), z, b.protos.data, q)
	if b.trainHead.nonFinite || slices.ContainsFunc(b.trainTrunk, func(p *plan) bool { return p.nonFinite }) {
		res.Loss = math.NaN() // a oneDNN ReLU turned NaNs into zeros on the way
	}
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
		copy(b.protos.data, protoBefore)
		if q != nil {
			copy(q.Data(), queueBefore)
			if !queueWasInUse {
				q.StartEpoch()
			}
		}
		if createdQueue {
			b.queue = nil
		}
		return train.StepResult{Loss: res.Loss}, fmt.Errorf("cpu: step at iteration %d: loss %v: %w", in.Iter, res.Loss, train.ErrNonFinite)
	}

	// Backward: L2 norm, head, trunk of every group.
	copy(b.trainHead.output().grad, swav.L2NormalizeRowsBackward(h, res.GradEmbeddings, rows, D))
	b.eng.backward(b.trainHead)
	off = 0
	for g, grp := range in.Groups {
		p := b.trainTrunk[g]
		n := grp.Count * B
		copy(p.output().grad, b.trainHead.input.grad[off*b.arch.TrunkDim:(off+n)*b.arch.TrunkDim])
		off += n
		b.eng.backward(p)
	}
	b.finishConvGrads()
	copy(b.protos.grad, res.GradPrototypes)

	// Commit: running statistics in forward order, then the LARS step.
	for _, p := range b.trainTrunk {
		commitRunningStats(p)
	}
	commitRunningStats(b.trainHead)
	ps := make([]swav.Param[float32], len(b.params))
	for i, p := range b.params {
		frozen := swav.PrototypesFrozen(p.name, in.Iter, b.cfg.SwAV.FreezePrototypesIters)
		ps[i] = swav.Param[float32]{Name: p.name, Shape: p.shape, Data: p.data, Grad: p.grad, Frozen: frozen}
		if frozen {
			ps[i].Grad = nil
		}
	}
	b.lars.Step(ps, in.LR)
	out := train.StepResult{Loss: res.Loss}
	if b.keepCodes {
		out.Codes = res.Codes
	}
	return out, nil
}

// Embed runs the network in evaluation mode (running statistics, nothing
// updated) on n NCHW images of size x size, in chunks of up to 256 images
// whose activations fit 512 MiB (e.g. 10 images for resnet50 at 224 px), and
// returns n rows of the feature and the row width. Plans are kept between
// calls of the same chunk shape.
func (b *Backend) Embed(ctx context.Context, images []float32, n, size int, f train.Feature) (rows []float32, width int, err error) {
	b.onKernelThread(func() { rows, width, err = b.embed(ctx, images, n, size, f) })
	return rows, width, err
}

func (b *Backend) embed(ctx context.Context, images []float32, n, size int, f train.Feature) ([]float32, int, error) {
	if n < 0 || size < 1 || len(images) != n*3*size*size {
		return nil, 0, fmt.Errorf("cpu: embed: %d values for %d images of %dx%d px (want %d)", len(images), n, size, size, max(n, 0)*3*size*size)
	}
	if b.arch.TrunkOutSize(size) < 1 {
		return nil, 0, fmt.Errorf("cpu: embed: %d px images are too small for %s", size, b.arch.Config.Arch)
	}
	var width int
	switch f {
	case train.FeatureTrunk:
		width = b.arch.TrunkDim
	case train.FeatureProjection:
		width = b.arch.FeatDim
	case train.FeatureScores:
		width = b.arch.K
	default:
		return nil, 0, fmt.Errorf("cpu: embed: unknown feature %q (want trunk, projection or scores)", f)
	}
	if i := slices.IndexFunc(images, nonFinite); i >= 0 {
		return nil, 0, fmt.Errorf("cpu: embed: image %d has a non-finite value (%v): %w", i/(3*size*size), images[i], train.ErrNonFinite)
	}
	chunk, err := b.embedChunkFor(size)
	if err != nil {
		return nil, 0, err
	}
	b.prepareWeights(false)
	out := make([]float32, n*width)
	imgLen := 3 * size * size
	for lo := 0; lo < n; lo += chunk {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		hi := min(n, lo+chunk)
		m := hi - lo
		var err error
		if !b.evalTrunk.matches(m, size, size, 3, false) {
			if b.evalTrunk, err = b.replacePlan(b.evalTrunk, b.trunk, m, size, size, 3, false, false); err != nil {
				return nil, 0, err
			}
		}
		nchwToNHWC(b.evalTrunk.input.data, images[lo*imgLen:hi*imgLen], m, 3, size, size, b.eng.threads)
		b.eng.forward(b.evalTrunk)
		if b.evalTrunk.nonFinite {
			return nil, 0, fmt.Errorf("cpu: embed: the network's weights or running statistics are not finite: %w", train.ErrNonFinite)
		}
		feat := b.evalTrunk.output().data
		if f == train.FeatureTrunk {
			copy(out[lo*width:], feat)
			continue
		}
		if !b.evalHead.matches(m, 1, 1, b.arch.TrunkDim, false) {
			if b.evalHead, err = b.replacePlan(b.evalHead, b.head, m, 1, 1, b.arch.TrunkDim, false, false); err != nil {
				return nil, 0, err
			}
		}
		copy(b.evalHead.input.data, feat)
		b.eng.forward(b.evalHead)
		z := append([]float32(nil), b.evalHead.output().data...)
		swav.L2NormalizeRows(z, m, b.arch.FeatDim)
		if f == train.FeatureProjection {
			copy(out[lo*width:], z)
			continue
		}
		blas.Sgemm(false, true, m, b.arch.K, b.arch.FeatDim, 1, z, b.arch.FeatDim, b.protos.data, b.arch.FeatDim, 0, out[lo*width:], width)
	}
	return out, width, nil
}

var _ train.Backend = (*Backend)(nil)
