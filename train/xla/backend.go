package xla

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // graph code reads like maths with the dot import
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/model"
	"github.com/swavgo/swav/train/swav"
)

func init() {
	train.RegisterBackend("xla", train.BackendSpec{
		New: func(cfg train.Config, seed int64) (train.Backend, error) {
			return New(cfg, seed)
		},
		Validate: validate,
		Settings: DefaultConfig(),
	})
}

// Options are the xla backend's settings beyond train.Config.
type Options struct {
	// Plugin is the PJRT plugin's path or EngineGo; empty means
	// train.xla.pjrt_plugin, then $PJRT_PLUGIN.
	Plugin string
	// KeepCodes makes Step fill StepResult.Codes (one more device-to-host
	// copy of |A| x B x K floats per step); conformance tests use it.
	KeepCodes bool
}

// Backend is the SwAV model on GoMLX: the whole iteration (prototype
// normalisation, forward per crop group, Sinkhorn under stop-gradient, the
// swapped loss, autodiff, freezing, LARS, queue and BatchNorm running
// statistics) is one compiled graph, run by a PJRT plugin (GPU) or GoMLX's
// pure-Go engine. The state lives on the device between steps; each step
// donates it to the next. With several devices the step is data-parallel
// (devices.go) and every device holds a replica of the state. One goroutine
// at a time (train.Backend).
type Backend struct {
	cfg    train.Config
	opts   Options
	arch   *model.Arch
	engine compute.Backend
	// sharedEngine is true for a PJRT client shared by the process (not
	// finalised by Close).
	sharedEngine bool
	builder      *stepBuilder
	// dp shards the step over the devices; nil on one device.
	dp *dataParallel

	// replicas holds the state, one replica per device (replicas[0] is the
	// one State and Embed read); all replicas are equal after every step.
	replicas    []replica
	hasMomentum []bool
	queueLen    int // L: queue_length rounded down to a multiple of B; fixed by the first batch

	steps  map[string]*Exec
	embeds map[train.Feature]*Exec
	closed bool
	// lost is set when a step failed after donating the state to the
	// device (e.g. out of device memory): the state is gone, only Load or
	// Close help.
	lost error
}

// New builds the xla backend for cfg with model.Init(cfg.Model, seed)
// weights. The engine is the PJRT plugin of train.xla.pjrt_plugin or $PJRT_PLUGIN
// (EngineGo for the pure-Go engine); a missing or unloadable plugin is an
// error wrapping ErrNoPlugin or ErrPluginLoad. Loading a CUDA plugin takes a
// few seconds; the first Step compiles the graph (seconds on the go engine,
// about a minute for ResNet-50 on a GPU).
func New(cfg train.Config, seed int64) (*Backend, error) {
	return NewWithOptions(cfg, seed, Options{})
}

// NewWithOptions is New with Options.
func NewWithOptions(cfg train.Config, seed int64, opts Options) (*Backend, error) {
	own := Edit(&cfg)
	if own.Precision == "" {
		own.Precision = "float32"
	}
	if err := validate(&cfg); err != nil {
		return nil, fmt.Errorf("xla: train.%w", err)
	}
	arch, err := model.Build(cfg.Model)
	if err != nil {
		return nil, fmt.Errorf("xla: %w", err)
	}
	if err := checkSwAV(&cfg); err != nil {
		return nil, err
	}
	plugin := opts.Plugin
	if plugin == "" {
		if plugin, err = resolvePlugin(&cfg); err != nil {
			return nil, fmt.Errorf("xla: %w", err)
		}
	}
	st, err := model.Init(cfg.Model, seed)
	if err != nil {
		return nil, fmt.Errorf("xla: %w", err)
	}
	engine, shared, err := newEngine(plugin, own.Precision)
	if err != nil {
		return nil, err
	}
	devices, dp, err := planDevices(own.Devices, engine)
	if err != nil {
		if !shared {
			engine.Finalize()
		}
		return nil, err
	}
	computeType := dtypes.Float32
	if own.Precision == "bf16" {
		computeType = dtypes.BFloat16
	}
	b := &Backend{
		cfg: cfg, opts: opts, arch: arch, engine: engine, sharedEngine: shared, dp: dp,
		builder:  &stepBuilder{cfg: cfg, arch: arch, params: arch.Params(), buffers: arch.Buffers(), compute: computeType},
		replicas: make([]replica, devices),
		steps:    map[string]*Exec{},
		embeds:   map[train.Feature]*Exec{},
	}
	if err := b.Load(st); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// checkSwAV rejects SwAV settings the graph cannot build, naming the field.
func checkSwAV(cfg *train.Config) error {
	s := cfg.SwAV
	switch {
	case len(s.CropsForAssign) == 0:
		return fmt.Errorf("xla: train.swav.crops_for_assign: must name at least one crop")
	case s.Temperature <= 0:
		return fmt.Errorf("xla: train.swav.temperature: must be positive, got %g", s.Temperature)
	case s.Epsilon <= 0:
		return fmt.Errorf("xla: train.swav.epsilon: must be positive, got %g", s.Epsilon)
	case s.SinkhornIterations < 1:
		return fmt.Errorf("xla: train.swav.sinkhorn_iterations: must be at least 1, got %d", s.SinkhornIterations)
	}
	return nil
}

// Name is "xla".
func (b *Backend) Name() string { return "xla" }

// Engine describes the compute engine and its first device, e.g.
// "xla (cuda): NVIDIA H100 80GB HBM3", with the device count when the
// step is data-parallel.
func (b *Backend) Engine() string {
	desc := fmt.Sprintf("%s: %s", b.engine.Description(), b.engine.DeviceDescription(0))
	if n := b.Devices(); n > 1 {
		desc += fmt.Sprintf(" (data-parallel over %d devices)", n)
	}
	return desc
}

// Devices is the number of devices the step runs on.
func (b *Backend) Devices() int { return len(b.replicas) }

// KeepCodes switches StepResult.Codes on or off (see Options.KeepCodes).
func (b *Backend) KeepCodes(on bool) { b.opts.KeepCodes = on }

// validate checks a step input against the model and config, naming the
// first bad field; nothing is touched before it passes.
func (b *Backend) validate(in *train.StepInput) error {
	if in == nil {
		return fmt.Errorf("xla: step input: nil")
	}
	if in.Batch < 1 {
		return fmt.Errorf("xla: step input: batch %d, want at least 1", in.Batch)
	}
	if len(in.Groups) == 0 {
		return fmt.Errorf("xla: step input: no crop groups")
	}
	views := 0
	for i, g := range in.Groups {
		if g.Count < 1 || g.Size < 1 {
			return fmt.Errorf("xla: step input: group %d: count %d and size %d must be positive", i, g.Count, g.Size)
		}
		if want := g.Count * in.Batch * 3 * g.Size * g.Size; len(g.Data) != want {
			return fmt.Errorf("xla: step input: group %d (%dx%d px x %d crops, batch %d): %d values, want %d",
				i, g.Size, g.Size, g.Count, in.Batch, len(g.Data), want)
		}
		if b.arch.TrunkOutSize(g.Size) < 1 {
			return fmt.Errorf("xla: step input: group %d: %d px is too small for %s", i, g.Size, b.cfg.Model.Arch)
		}
		views += g.Count
	}
	if views < 2 {
		return fmt.Errorf("xla: step input: %d crops per image, SwAV needs at least 2", views)
	}
	for i, c := range b.cfg.SwAV.CropsForAssign {
		if c < 0 || c >= views {
			return fmt.Errorf("xla: train.swav.crops_for_assign[%d] = %d: only %d crops per image", i, c, views)
		}
	}
	if math.IsNaN(in.LR) || math.IsInf(in.LR, 0) {
		return fmt.Errorf("xla: step input: learning rate %v is not finite", in.LR)
	}
	return checkShardable(b.Devices(), in.Groups, in.Batch)
}

// Step runs one SwAV iteration (see train.Backend). The first call per input
// layout compiles the graph. A non-finite loss returns an error wrapping
// train.ErrNonFinite with the state unchanged (the graph selects the old
// state on device).
func (b *Backend) Step(ctx context.Context, in *train.StepInput) (train.StepResult, error) {
	if b.closed {
		return train.StepResult{}, errors.New("xla: step on a closed backend")
	}
	if b.lost != nil {
		return train.StepResult{}, b.lost
	}
	if err := ctx.Err(); err != nil {
		return train.StepResult{}, err
	}
	if err := b.validate(in); err != nil {
		return train.StepResult{}, err
	}
	spec := stepSpec{batch: in.Batch, keepCodes: b.opts.KeepCodes}
	for _, g := range in.Groups {
		spec.groups = append(spec.groups, groupSpec{Size: g.Size, Count: g.Count})
	}
	if in.UseQueue {
		if err := b.ensureQueue(in.Batch); err != nil {
			return train.StepResult{}, err
		}
		spec.useQueue = b.replicas[0].queue != nil
	}
	exec, err := b.stepExec(spec)
	if err != nil {
		return train.StepResult{}, err
	}
	// Compile before the state is donated: a graph that fails to build or
	// compile must not cost the state.
	if _, err := exec.Compile(b.stepShapes(spec, in)...); err != nil {
		return train.StepResult{}, fmt.Errorf("xla: step %d: %w", in.Iter, err)
	}
	frozen := in.Iter < b.cfg.SwAV.FreezePrototypesIters
	args, err := b.stepArgs(spec, in, frozen)
	if err != nil {
		return train.StepResult{}, err
	}
	outs, err := exec.Call(args...)
	if err != nil {
		b.lost = fmt.Errorf("xla: step %d failed on the device and took the donated state with it (Load a checkpoint): %w", in.Iter, err)
		return train.StepResult{}, b.lost
	}
	return b.takeStepOutputs(spec, in, frozen, outs)
}

// ensureQueue creates the zero queue [A, L, D] of every replica on the
// first queue step; L is queue_length rounded down to a multiple of the
// batch (no queue when 0).
func (b *Backend) ensureQueue(batch int) error {
	if b.replicas[0].queue != nil {
		if b.queueLen%batch != 0 {
			return fmt.Errorf("xla: queue of %d rows is not a multiple of batch %d", b.queueLen, batch)
		}
		return nil
	}
	length := swav.QueueRows(b.cfg.SwAV.QueueLength, batch)
	if length <= 0 {
		return nil
	}
	a := len(b.cfg.SwAV.CropsForAssign)
	b.queueLen = length
	for d := range b.replicas {
		b.replicas[d].queue = tensors.FromFlatDataAndDimensions(make([]float32, a*length*b.arch.FeatDim), a, length, b.arch.FeatDim)
	}
	return nil
}

// stepExec returns the compiled step for spec, creating its executor.
func (b *Backend) stepExec(spec stepSpec) (*Exec, error) {
	key := fmt.Sprintf("%+v", spec)
	if e, ok := b.steps[key]; ok {
		return e, nil
	}
	e, err := NewExec(b.engine, b.builder.build(spec))
	if err != nil {
		return nil, fmt.Errorf("xla: step graph: %w", err)
	}
	if b.dp != nil {
		groupsAt := b.builder.layout().groupsAt(spec.useQueue)
		// One output spec: GoMLX repeats it for every output.
		e.AutoSharding(b.dp.mesh).WithInputShardingSpecs(b.dp.inputSpecs(groupsAt)...).WithOutputShardingSpecs(b.dp.replicated)
	}
	e.SetMaxCache(4)
	b.steps[key] = e
	return e, nil
}

// stepShapes are the shapes of stepArgs' values (stepLayout), device by
// device: each device sees its share of the crop rows.
func (b *Backend) stepShapes(spec stepSpec, in *train.StepInput) []shapes.Shape {
	n := b.Devices()
	var one []shapes.Shape
	for _, list := range [][]model.TensorSpec{b.builder.params, b.builder.buffers, b.builder.params} {
		for _, t := range list {
			one = append(one, shapes.Make(dtypes.Float32, t.Shape...))
		}
	}
	one = append(one, shapes.Make(dtypes.Bool, len(b.builder.params)), shapes.Make(dtypes.Bool), shapes.Make(dtypes.Float32))
	if spec.useQueue {
		one = append(one, b.replicas[0].queue.Shape())
	}
	for _, g := range in.Groups {
		one = append(one, shapes.Make(dtypes.Float32, g.Count*in.Batch/n, 3, g.Size, g.Size))
	}
	out := make([]shapes.Shape, 0, n*len(one))
	for range n {
		out = append(out, one...)
	}
	return out
}

// stepArgs lays out the step's inputs (stepLayout) device by device; the
// state tensors are donated, so each device reuses their memory for the new
// state.
func (b *Backend) stepArgs(spec stepSpec, in *train.StepInput, frozen bool) ([]any, error) {
	n := b.Devices()
	args := make([]any, 0, n*(2*len(b.builder.params)+len(b.builder.buffers)+4+len(in.Groups)))
	for d := range b.replicas {
		r := &b.replicas[d]
		donate := func(t *tensors.Tensor) error {
			donated, err := DonateTensorBuffer(t, b.engine, compute.DeviceNum(d))
			if err != nil {
				return fmt.Errorf("xla: donate state to device %d: %w", d, err)
			}
			args = append(args, donated)
			return nil
		}
		for _, t := range r.weights() {
			if err := donate(t); err != nil {
				return nil, err
			}
		}
		args = append(args, tensors.FromValue(append([]bool(nil), b.hasMomentum...)), frozen, float32(in.LR))
		if spec.useQueue {
			if err := donate(r.queue); err != nil {
				return nil, err
			}
		}
		for _, g := range in.Groups {
			rows := g.Count * in.Batch
			args = append(args, tensors.FromFlatDataAndDimensions(shardRows(g.Data, rows, n, d), rows/n, 3, g.Size, g.Size))
		}
	}
	return args, nil
}

// takeStepOutputs installs every device's new state and reads the loss
// (and codes) of device 0.
func (b *Backend) takeStepOutputs(spec stepSpec, in *train.StepInput, frozen bool, outs []*tensors.Tensor) (train.StepResult, error) {
	np, nb := len(b.builder.params), len(b.builder.buffers)
	perDevice, err := splitByDevice(outs, b.Devices())
	if err != nil {
		b.lost = err
		return train.StepResult{}, err
	}
	var lossT *tensors.Tensor
	var codes []*tensors.Tensor
	for d, outs := range perDevice {
		r := &b.replicas[d]
		// The old tensors were donated; free their host copies.
		r.finalize()
		r.params = append([]*tensors.Tensor(nil), outs[:np]...)
		r.buffers = append([]*tensors.Tensor(nil), outs[np:np+nb]...)
		r.momentum = append([]*tensors.Tensor(nil), outs[np+nb:2*np+nb]...)
		rest := outs[2*np+nb:]
		loss, rest := rest[0], rest[1:]
		if spec.useQueue {
			r.queue, rest = rest[0], rest[1:]
		}
		if d == 0 {
			lossT, codes = loss, rest
			continue
		}
		// The other devices' copies of the replicated loss and codes.
		loss.FinalizeAll()
		for _, c := range rest {
			c.FinalizeAll()
		}
	}
	loss := float64(tensors.ToScalar[float32](lossT))
	lossT.FinalizeAll()
	var res train.StepResult
	res.Loss = loss
	for _, c := range codes {
		data, err := tensors.CopyFlatData[float32](c)
		c.FinalizeAll()
		if err != nil {
			return res, fmt.Errorf("xla: read codes: %w", err)
		}
		res.Codes = append(res.Codes, data)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return res, fmt.Errorf("xla: step %d: loss %v: %w", in.Iter, loss, train.ErrNonFinite)
	}
	for i, p := range b.builder.params {
		if p.Name == prototypesName && frozen {
			continue
		}
		b.hasMomentum[i] = true
	}
	return res, nil
}

// Embed runs the model in evaluation mode (running statistics) on n images
// of size x size and returns n rows of the feature f and the row width.
// FeatureScores uses the prototype weights as they are (the model's forward,
// no re-normalisation). Each (n, size, f) compiles once.
func (b *Backend) Embed(ctx context.Context, images []float32, n, size int, f train.Feature) ([]float32, int, error) {
	if b.closed {
		return nil, 0, errors.New("xla: embed on a closed backend")
	}
	if b.lost != nil {
		return nil, 0, b.lost
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if n < 1 || size < 1 || len(images) != n*3*size*size {
		return nil, 0, fmt.Errorf("xla: embed: %d values for %d images of %dx%d (want %d)", len(images), n, size, size, n*3*size*size)
	}
	if b.arch.TrunkOutSize(size) < 1 {
		return nil, 0, fmt.Errorf("xla: embed: %d px is too small for %s", size, b.cfg.Model.Arch)
	}
	switch f {
	case train.FeatureTrunk, train.FeatureProjection, train.FeatureScores:
	default:
		return nil, 0, fmt.Errorf("xla: embed: unknown feature %q", f)
	}
	exec, ok := b.embeds[f]
	if !ok {
		var err error
		if exec, err = NewExec(b.engine, b.embedGraph(f)); err != nil {
			return nil, 0, fmt.Errorf("xla: embed graph: %w", err)
		}
		b.embeds[f] = exec
	}
	r := &b.replicas[0]
	args := make([]any, 0, len(r.params)+len(r.buffers)+1)
	for _, t := range r.params {
		args = append(args, t)
	}
	for _, t := range r.buffers {
		args = append(args, t)
	}
	args = append(args, tensors.FromFlatDataAndDimensions(images, n, 3, size, size))
	outs, err := exec.Call(args...)
	if err != nil {
		return nil, 0, fmt.Errorf("xla: embed: %w", err)
	}
	defer outs[0].FinalizeAll()
	data, err := tensors.CopyFlatData[float32](outs[0])
	if err != nil {
		return nil, 0, fmt.Errorf("xla: embed: read result: %w", err)
	}
	return data, outs[0].Shape().Dimensions[1], nil
}

// embedGraph is the evaluation-mode forward: inputs params, buffers, images;
// output [n, width] float32.
func (b *Backend) embedGraph(f train.Feature) func(g *Graph, in []*Node) []*Node {
	sb := b.builder
	return func(g *Graph, in []*Node) []*Node {
		net := &netGraph{arch: sb.arch, params: map[string]*Node{}, buffers: map[string]*Node{}, compute: sb.compute}
		for i, p := range sb.params {
			net.params[p.Name] = in[i]
		}
		for i, s := range sb.buffers {
			net.buffers[s.Name] = in[len(sb.params)+i]
		}
		feats, z := net.embed([]*Node{in[len(in)-1]})
		switch f {
		case train.FeatureTrunk:
			return []*Node{convertTo(feats, dtypes.Float32)}
		case train.FeatureProjection:
			return []*Node{z}
		default:
			return []*Node{DotGeneral(z, []int{1}, nil, net.params[prototypesName], []int{1}, nil)}
		}
	}
}

// State copies the full training state to the host: params, buffers, the
// momentum of every param that has one, and the queue once it exists.
func (b *Backend) State() (*train.State, error) {
	if b.closed {
		return nil, errors.New("xla: state of a closed backend")
	}
	if b.lost != nil {
		return nil, b.lost
	}
	st := &train.State{}
	r := &b.replicas[0]
	var err error
	if st.Params, err = copyOut(r.params, b.builder.params); err != nil {
		return nil, err
	}
	if st.Buffers, err = copyOut(r.buffers, b.builder.buffers); err != nil {
		return nil, err
	}
	for i, spec := range b.builder.params {
		if !b.hasMomentum[i] {
			continue
		}
		ts, err := copyOut(r.momentum[i:i+1], []model.TensorSpec{spec})
		if err != nil {
			return nil, err
		}
		st.Momentum = append(st.Momentum, ts[0])
	}
	if r.queue != nil {
		ts, err := copyOut([]*tensors.Tensor{r.queue}, []model.TensorSpec{{Name: swav.QueueTensorName, Shape: r.queue.Shape().Dimensions}})
		if err != nil {
			return nil, err
		}
		st.Queue = &ts[0]
	}
	return st, nil
}

func copyOut(ts []*tensors.Tensor, specs []model.TensorSpec) ([]train.Tensor, error) {
	out := make([]train.Tensor, len(ts))
	for i, t := range ts {
		data, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, fmt.Errorf("xla: copy %s to host: %w", specs[i].Name, err)
		}
		out[i] = train.Tensor{Name: specs[i].Name, Shape: append([]int(nil), specs[i].Shape...), Data: data}
	}
	return out, nil
}

// Load replaces the state; names and shapes must match the model (the error
// names the first mismatch). Params without a momentum tensor start without
// a buffer, as in PyTorch. A queue must be [len(crops_for_assign), L, D].
func (b *Backend) Load(st *train.State) error {
	if b.closed {
		return errors.New("xla: load into a closed backend")
	}
	if err := b.arch.CheckState(st); err != nil {
		return fmt.Errorf("xla: load: %w", err)
	}
	var queue *train.Tensor
	if st.Queue != nil {
		q := st.Queue
		a, d := len(b.cfg.SwAV.CropsForAssign), b.arch.FeatDim
		if len(q.Shape) != 3 || q.Shape[0] != a || q.Shape[2] != d || q.Shape[1] < 1 || len(q.Data) != q.Numel() {
			return fmt.Errorf("xla: load: queue %q has shape %v with %d values, want [%d, L, %d]", q.Name, q.Shape, len(q.Data), a, d)
		}
		queue = q
	}
	moms := map[string]*train.Tensor{}
	for i := range st.Momentum {
		moms[st.Momentum[i].Name] = &st.Momentum[i]
	}
	b.release()
	b.lost = nil
	specs := b.builder.params
	b.hasMomentum = make([]bool, len(specs))
	for i, spec := range specs {
		_, b.hasMomentum[i] = moms[spec.Name]
	}
	b.queueLen = 0
	if queue != nil {
		b.queueLen = queue.Shape[1]
	}
	// Each device gets host tensors of its own: donation consumes them.
	for d := range b.replicas {
		r := replica{
			params:   make([]*tensors.Tensor, len(specs)),
			momentum: make([]*tensors.Tensor, len(specs)),
			buffers:  make([]*tensors.Tensor, len(b.builder.buffers)),
		}
		for i, spec := range specs {
			r.params[i] = hostTensor(st.Params[i].Data, spec.Shape)
			if m, ok := moms[spec.Name]; ok {
				r.momentum[i] = hostTensor(m.Data, spec.Shape)
			} else {
				r.momentum[i] = hostTensor(make([]float32, st.Params[i].Numel()), spec.Shape)
			}
		}
		for i, spec := range b.builder.buffers {
			r.buffers[i] = hostTensor(st.Buffers[i].Data, spec.Shape)
		}
		if queue != nil {
			r.queue = hostTensor(queue.Data, queue.Shape)
		}
		b.replicas[d] = r
	}
	return nil
}

// hostTensor copies data into a new host tensor of shape dims.
func hostTensor(data []float32, dims []int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(append([]float32(nil), data...), dims...)
}

// replica is the training state on one device: params, buffers, momentum
// (one per param, zeros where hasMomentum is false) in canonical order
// (arch.Params / arch.Buffers), and the queue [A, L, D] once the first step
// with UseQueue ran or a state with a queue was loaded (nil before).
type replica struct {
	params, buffers, momentum []*tensors.Tensor
	queue                     *tensors.Tensor
}

// weights lists params, buffers and momentum in stepLayout order.
func (r *replica) weights() []*tensors.Tensor {
	out := make([]*tensors.Tensor, 0, len(r.params)+len(r.buffers)+len(r.momentum))
	out = append(out, r.params...)
	out = append(out, r.buffers...)
	return append(out, r.momentum...)
}

// finalize frees every tensor of the replica (host and device) and empties it.
func (r *replica) finalize() {
	for _, t := range r.weights() {
		if t != nil {
			t.FinalizeAll()
		}
	}
	if r.queue != nil {
		r.queue.FinalizeAll()
	}
	*r = replica{}
}

// release frees the state of every device.
func (b *Backend) release() {
	for d := range b.replicas {
		b.replicas[d].finalize()
	}
}

// Close frees the state, the compiled graphs and the engine.
func (b *Backend) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.release()
	for _, e := range b.steps {
		e.Finalize()
	}
	for _, e := range b.embeds {
		e.Finalize()
	}
	if !b.sharedEngine {
		b.engine.Finalize()
	}
	return nil
}

// String describes the backend for logs.
func (b *Backend) String() string {
	return strings.Join([]string{"xla", b.cfg.Model.Arch, SettingsOf(&b.cfg).Precision, b.engine.Name()}, "/")
}
