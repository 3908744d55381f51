package xla

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// The go engine has one device, and this machine has no GPU, so the
// data-parallel path is exercised on an emulated multi-device engine: the
// go engine behind a wrapper that claims n devices. A sharded step is
// compiled once for its logical shapes; each run gathers the crop shards
// of all devices in device order into the logical input, checks that every
// device's replicated inputs are identical (the backend's replicas must
// stay in step), runs the logical program once and hands every device a
// copy of the (replicated) outputs. It checks our side of data parallelism
// (argument layout per device, which inputs are split, donation and
// replica bookkeeping, output split) end to end; XLA's own partitioner is
// what the real engine adds, and gpu-check covers that on several GPUs.

// emulatedEnginePrefix selects the emulator as a plugin name: "emulated:4".
const emulatedEnginePrefix = "emulated:"

func init() {
	testEngine = func(plugin string) (compute.Backend, bool, error) {
		n, ok := strings.CutPrefix(plugin, emulatedEnginePrefix)
		if !ok {
			return nil, false, nil
		}
		devices, err := strconv.Atoi(n)
		if err != nil || devices < 1 {
			return nil, true, fmt.Errorf("emulated engine %q: want %sN", plugin, emulatedEnginePrefix)
		}
		inner, _, err := newEngine(EngineGo, "float32")
		if err != nil {
			return nil, true, err
		}
		return &emulatedEngine{Backend: inner, devices: devices}, true, nil
	}
}

type emulatedEngine struct {
	compute.Backend
	devices int
}

func (e *emulatedEngine) Name() string { return "emulated" }
func (e *emulatedEngine) Description() string {
	return fmt.Sprintf("emulated %d-device engine over %s", e.devices, e.Backend.Description())
}
func (e *emulatedEngine) NumDevices() int { return e.devices }
func (e *emulatedEngine) DeviceDescription(d compute.DeviceNum) string {
	return fmt.Sprintf("emulated device #%d", d)
}
func (e *emulatedEngine) HasSharedBuffers() bool { return false }

func (e *emulatedEngine) NewSharedBuffer(compute.DeviceNum, shapes.Shape) (compute.Buffer, any, error) {
	return nil, nil, fmt.Errorf("emulated engine: no shared buffers")
}

func (e *emulatedEngine) BufferFromFlatData(d compute.DeviceNum, flat any, shape shapes.Shape) (compute.Buffer, error) {
	if int(d) < 0 || int(d) >= e.devices {
		return nil, fmt.Errorf("emulated engine: device %d of %d", d, e.devices)
	}
	buf, err := e.Backend.BufferFromFlatData(0, flat, shape)
	if err != nil {
		return nil, err
	}
	return &emulatedBuffer{Buffer: buf, engine: e, device: d}, nil
}

func (e *emulatedEngine) Builder(name string) compute.Builder {
	inner := e.Backend.Builder(name)
	b := &emulatedBuilder{Builder: inner, engine: e}
	b.main = &emulatedFunction{Function: inner.Main(), builder: b}
	return b
}

// emulatedBuffer is an inner (device 0) buffer that says it lives on device.
type emulatedBuffer struct {
	compute.Buffer
	engine *emulatedEngine
	device compute.DeviceNum
}

func (b *emulatedBuffer) Backend() compute.Backend              { return b.engine }
func (b *emulatedBuffer) DeviceNum() (compute.DeviceNum, error) { return b.device, nil }
func (b *emulatedBuffer) CopyToDevice(d compute.DeviceNum) (compute.Buffer, error) {
	c, err := b.engine.copyBuffer(b.Buffer)
	if err != nil {
		return nil, err
	}
	return &emulatedBuffer{Buffer: c, engine: b.engine, device: d}, nil
}

// copyBuffer copies an inner buffer through the host (the go engine has no
// device-to-device copy).
func (e *emulatedEngine) copyBuffer(buf compute.Buffer) (compute.Buffer, error) {
	flat, shape, err := readFlat(buf)
	if err != nil {
		return nil, err
	}
	return e.Backend.BufferFromFlatData(0, flat, shape)
}

// readFlat copies a buffer's values to the host.
func readFlat(buf compute.Buffer) (any, shapes.Shape, error) {
	shape, err := buf.Shape()
	if err != nil {
		return nil, shape, err
	}
	flat, err := newFlat(shape)
	if err != nil {
		return nil, shape, err
	}
	return flat, shape, buf.ToFlatData(flat)
}

type emulatedBuilder struct {
	compute.Builder
	engine      *emulatedEngine
	main        *emulatedFunction
	devices     int                     // 0 (one device) until DistributedAutoSharding
	inputSpecs  []*compute.ShardingSpec // per parameter
	outputSpecs []*compute.ShardingSpec // per output
	meshes      []compute.Mesh
}

func (b *emulatedBuilder) Main() compute.Function { return b.main }

func (b *emulatedBuilder) DistributedSPMD(int) error {
	return fmt.Errorf("emulated engine: SPMD is not emulated")
}

func (b *emulatedBuilder) DistributedAutoSharding(meshes ...compute.Mesh) error {
	if len(meshes) != 1 || len(meshes[0].AxesSizes) != 1 {
		return fmt.Errorf("emulated engine: one 1-D mesh, got %+v", meshes)
	}
	b.meshes, b.devices = meshes, meshes[0].AxesSizes[0]
	if b.devices > b.engine.devices {
		return fmt.Errorf("emulated engine: mesh of %d devices, engine has %d", b.devices, b.engine.devices)
	}
	return nil
}

func (b *emulatedBuilder) DeviceAssignment(devices ...compute.DeviceNum) error {
	if b.devices == 0 {
		return b.Builder.DeviceAssignment(devices...)
	}
	if len(devices) != b.devices {
		return fmt.Errorf("emulated engine: %d devices assigned to a mesh of %d", len(devices), b.devices)
	}
	return nil
}

func (b *emulatedBuilder) Compile() (compute.Executable, error) {
	for o, spec := range b.outputSpecs {
		if axis, err := splitAxis(spec); err != nil || axis >= 0 {
			return nil, fmt.Errorf("emulated engine: output %d must be replicated, got %+v", o, spec)
		}
	}
	exe, err := b.Builder.Compile()
	if err != nil {
		return nil, err
	}
	return &emulatedExecutable{Executable: exe, builder: b}, nil
}

// emulatedFunction records the shardings the inner engine does not take.
type emulatedFunction struct {
	compute.Function
	builder *emulatedBuilder
}

func (f *emulatedFunction) Parameter(name string, shape shapes.Shape, sharding *compute.ShardingSpec) (compute.Value, error) {
	f.builder.inputSpecs = append(f.builder.inputSpecs, sharding)
	return f.Function.Parameter(name, shape, nil)
}

func (f *emulatedFunction) Return(outputs []compute.Value, shardings []*compute.ShardingSpec) error {
	f.builder.outputSpecs = shardings
	return f.Function.Return(outputs, nil)
}

type emulatedExecutable struct {
	compute.Executable
	builder *emulatedBuilder
}

// splitAxis is the axis a spec splits over the mesh (-1: replicated); the
// emulator takes at most one.
func splitAxis(spec *compute.ShardingSpec) (int, error) {
	axis := -1
	if spec == nil {
		return axis, nil
	}
	for i, mesh := range spec.Axes {
		if len(mesh) == 0 {
			continue
		}
		if axis >= 0 || i != 0 {
			return 0, fmt.Errorf("emulated engine: only axis 0 splits, got %+v", spec.Axes)
		}
		axis = i
	}
	return axis, nil
}

func (x *emulatedExecutable) Execute(inputs []compute.Buffer, donate []bool, _ compute.DeviceNum) ([]compute.Buffer, error) {
	n := max(x.builder.devices, 1)
	_, logical := x.Executable.Inputs()
	params := len(logical)
	if len(inputs) != n*params || len(donate) != n*params {
		return nil, fmt.Errorf("emulated engine: %d inputs (%d donate flags) for %d parameters on %d devices", len(inputs), len(donate), params, n)
	}
	inner := make([]compute.Buffer, params)
	innerDonate := make([]bool, params)
	var spent []compute.Buffer // donated shards and replicas folded into inner
	for p := range params {
		axis, err := splitAxis(x.builder.inputSpecs[p])
		if err != nil {
			return nil, err
		}
		var flats []any
		for d := range n {
			buf, ok := inputs[d*params+p].(*emulatedBuffer)
			if !ok {
				return nil, fmt.Errorf("emulated engine: input %d of device %d is a %T", p, d, inputs[d*params+p])
			}
			if buf.device != compute.DeviceNum(d) {
				return nil, fmt.Errorf("emulated engine: parameter %d for device %d sits on device %d", p, d, buf.device)
			}
			data, _, err := readFlat(buf)
			if err != nil {
				return nil, err
			}
			flats = append(flats, data)
			if donate[d*params+p] && (axis >= 0 || d > 0) {
				spent = append(spent, buf.Buffer)
			}
		}
		if axis < 0 {
			// Replicated: every device must hold the same value.
			for d := 1; d < n; d++ {
				if !sameFlat(flats[0], flats[d]) {
					return nil, fmt.Errorf("emulated engine: replicated parameter %d (%s) differs between device 0 and device %d",
						p, logical[p], d)
				}
			}
			inner[p] = inputs[p].(*emulatedBuffer).Buffer
			innerDonate[p] = donate[p]
			continue
		}
		var joined []float32
		for _, f := range flats {
			rows, ok := f.([]float32)
			if !ok {
				return nil, fmt.Errorf("emulated engine: split parameter %d is %s, only float32 splits", p, logical[p])
			}
			joined = append(joined, rows...)
		}
		buf, err := x.builder.engine.Backend.BufferFromFlatData(0, joined, logical[p])
		if err != nil {
			return nil, fmt.Errorf("emulated engine: join parameter %d into %s: %w", p, logical[p], err)
		}
		inner[p], innerDonate[p] = buf, true
	}
	outs, err := x.Executable.Execute(inner, innerDonate, 0)
	for _, b := range spent {
		_ = b.Finalize()
	}
	if err != nil {
		return nil, err
	}
	result := make([]compute.Buffer, 0, n*len(outs))
	for d := range n {
		for _, buf := range outs {
			if d > 0 {
				if buf, err = x.builder.engine.copyBuffer(buf); err != nil {
					return nil, err
				}
			}
			result = append(result, &emulatedBuffer{Buffer: buf, engine: x.builder.engine, device: compute.DeviceNum(d)})
		}
	}
	return result, nil
}

// newFlat is a Go slice for shape's values.
func newFlat(shape shapes.Shape) (any, error) {
	switch shape.DType {
	case dtypes.Float32:
		return make([]float32, shape.Size()), nil
	case dtypes.Bool:
		return make([]bool, shape.Size()), nil
	}
	return nil, fmt.Errorf("emulated engine: no flat slice for %s", shape)
}

func sameFlat(a, b any) bool {
	switch a := a.(type) {
	case []float32:
		return slices.Equal(a, b.([]float32))
	case []bool:
		return slices.Equal(a, b.([]bool))
	}
	return false
}
