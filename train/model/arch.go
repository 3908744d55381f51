// Package model describes the SwAV network (trunk, projection head,
// prototypes) as plain data, independent of any compute engine, and builds its
// initial weights (SPEC §6). Every backend (train/cpu, the NHWC engine on
// oneDNN; train/xla on GoMLX) interprets the same *Arch and starts from the
// same *train.State for the same seed, so a run can move between backends.
//
// An Arch is three sections of layers. Each section is a little SSA program:
// layer i reads the outputs of earlier layers of the same section named in
// Inputs (InputOfSection, -1, is the section's input) and its own output is
// value i. The last layer's output is the section's output.
//
//	Trunk:      NCHW image batch -> [N, TrunkDim] (ends with a global average pool)
//	Head:       [N, TrunkDim] -> [N, FeatDim] (then L2-normalised by the caller)
//	Prototypes: [N, FeatDim] -> [N, K], Linear without bias
//
// SwAV runs the trunk once per crop group (BatchNorm statistics per group),
// concatenates the groups' features crop-major, runs the head on all rows,
// L2-normalises and scores against the prototypes.
package model

import (
	"fmt"
	"strings"

	"github.com/swavgo/swav/train"
)

// Op is the kind of a layer.
type Op string

const (
	// OpConv is a 2-D convolution without bias: weight [Out, In, Kernel, Kernel],
	// stride Stride, zero padding Pad on every side.
	OpConv Op = "conv"
	// OpBatchNorm is BatchNorm2d on NCHW input or BatchNorm1d on [N, C] input
	// (decided by the rank of its input): weight (gamma) and bias (beta) of
	// length Out, buffers running_mean and running_var; eps BNEpsilon,
	// momentum BNMomentum, biased variance for normalisation and unbiased
	// variance for the running estimate (PyTorch semantics).
	OpBatchNorm Op = "batchnorm"
	// OpReLU is max(x, 0).
	OpReLU Op = "relu"
	// OpAdd is the elementwise sum of its two inputs (residual connection).
	OpAdd Op = "add"
	// OpMaxPool is a Kernel x Kernel max-pool with stride Stride and padding
	// Pad (padding never wins the max, as in PyTorch).
	OpMaxPool Op = "maxpool"
	// OpGlobalAvgPool averages each channel over H x W: NCHW -> [N, C].
	OpGlobalAvgPool Op = "gap"
	// OpLinear is y = x W^T (+ b): weight [Out, In], bias [Out] when Bias.
	OpLinear Op = "linear"
)

// BatchNorm constants shared by every BatchNorm layer (PyTorch defaults).
const (
	BNEpsilon  = 1e-5
	BNMomentum = 0.1
)

// InputOfSection is the Inputs index that means "the section's input".
const InputOfSection = -1

// Layer is one node of a section.
type Layer struct {
	Op Op
	// Name is the state_dict prefix of the layer's tensors, e.g.
	// "trunk.layer1.0.conv1" ("trunk.layer1.0.conv1.weight"); empty for
	// layers without tensors (relu, add, pools).
	Name string
	// Inputs are indices of earlier layers in the same section whose outputs
	// this layer consumes; InputOfSection (-1) is the section's input. Every
	// op takes one input except OpAdd, which takes two.
	Inputs []int
	// In and Out are input and output channels (conv), features (linear) or
	// channels (batchnorm: In == Out). Zero for relu/add/pools.
	In, Out int
	// Kernel, Stride and Pad describe conv and max-pool windows.
	Kernel, Stride, Pad int
	// Bias says whether a linear layer has a bias.
	Bias bool
}

// TensorSpec names one tensor of the model and its shape.
type TensorSpec struct {
	Name  string
	Shape []int
}

// Params lists the layer's trainable tensors in state_dict order.
func (l *Layer) Params() []TensorSpec {
	switch l.Op {
	case OpConv:
		return []TensorSpec{{l.Name + ".weight", []int{l.Out, l.In, l.Kernel, l.Kernel}}}
	case OpBatchNorm:
		return []TensorSpec{{l.Name + ".weight", []int{l.Out}}, {l.Name + ".bias", []int{l.Out}}}
	case OpLinear:
		specs := []TensorSpec{{l.Name + ".weight", []int{l.Out, l.In}}}
		if l.Bias {
			specs = append(specs, TensorSpec{l.Name + ".bias", []int{l.Out}})
		}
		return specs
	}
	return nil
}

// Buffers lists the layer's non-trainable float tensors (BatchNorm running
// statistics) in state_dict order. num_batches_tracked is not kept.
func (l *Layer) Buffers() []TensorSpec {
	if l.Op != OpBatchNorm {
		return nil
	}
	return []TensorSpec{{l.Name + ".running_mean", []int{l.Out}}, {l.Name + ".running_var", []int{l.Out}}}
}

// OutSize is the spatial output size of a conv or max-pool layer for an
// input of size in (floor division, PyTorch semantics); other ops return in.
func (l *Layer) OutSize(in int) int {
	if l.Op != OpConv && l.Op != OpMaxPool {
		return in
	}
	return (in+2*l.Pad-l.Kernel)/l.Stride + 1
}

// Arch is the whole network.
type Arch struct {
	// Config is the configuration the Arch was built from.
	Config train.ModelConfig
	// Trunk maps NCHW images (3 channels) to [N, TrunkDim].
	Trunk []Layer
	// Head maps [N, TrunkDim] to [N, FeatDim].
	Head []Layer
	// Prototypes is the Linear(FeatDim, K, bias=false) layer "prototypes".
	Prototypes Layer
	// TrunkDim, FeatDim and K are the widths between the sections.
	TrunkDim, FeatDim, K int
}

// Sections returns Trunk, Head and the prototypes layer as one list of
// sections, in state_dict order.
func (a *Arch) Sections() [][]Layer {
	return [][]Layer{a.Trunk, a.Head, {a.Prototypes}}
}

// Params lists every trainable tensor in canonical (state_dict) order: the
// order of train.State.Params.
func (a *Arch) Params() []TensorSpec { return a.collect((*Layer).Params) }

// Buffers lists every BatchNorm running statistic in canonical order: the
// order of train.State.Buffers.
func (a *Arch) Buffers() []TensorSpec { return a.collect((*Layer).Buffers) }

// collect concatenates tensors of every layer, section by section.
func (a *Arch) collect(tensors func(*Layer) []TensorSpec) []TensorSpec {
	var out []TensorSpec
	for _, sec := range a.Sections() {
		for i := range sec {
			out = append(out, tensors(&sec[i])...)
		}
	}
	return out
}

// TrunkOutSize is the spatial size of the trunk's last feature map (before
// the global average pool) for size x size input; it is < 1 when the input is
// too small for the network.
func (a *Arch) TrunkOutSize(size int) int {
	sizes := make([]int, len(a.Trunk))
	last := size
	for i := range a.Trunk {
		l := &a.Trunk[i]
		if l.Op == OpGlobalAvgPool {
			return last
		}
		in := size
		if l.Inputs[0] != InputOfSection {
			in = sizes[l.Inputs[0]]
		}
		sizes[i] = l.OutSize(in)
		last = sizes[i]
	}
	return last
}

// archSpec is one architecture Build knows.
type archSpec struct {
	name  string
	build func(b *sectionBuilder, smallStem bool) int // returns TrunkDim
	// torchvision: torchvision.models has it under this name.
	torchvision bool
	// resnet50Width is the width multiplier of a ResNet-50 (1, 2, 4, 5), else 0.
	resnet50Width int
}

// archs is the one list of architecture names: Build, the train and
// extract sections' validation (through Names), the weights readers'
// inference and export, and the extraction benchmark use it.
var archs = []archSpec{
	{name: "small", build: func(b *sectionBuilder, _ bool) int { return buildSmallTrunk(b) }},
	{name: "resnet8", build: func(b *sectionBuilder, _ bool) int { return buildResNet8Trunk(b) }},
	{name: "resnet18", build: resnet(false, [4]int{2, 2, 2, 2}, 1), torchvision: true},
	{name: "resnet34", build: resnet(false, [4]int{3, 4, 6, 3}, 1), torchvision: true},
	{name: "resnet50", build: resnet(true, [4]int{3, 4, 6, 3}, 1), torchvision: true, resnet50Width: 1},
	{name: "resnet50w2", build: resnet(true, [4]int{3, 4, 6, 3}, 2), resnet50Width: 2},
	{name: "resnet50w4", build: resnet(true, [4]int{3, 4, 6, 3}, 4), resnet50Width: 4},
	{name: "resnet50w5", build: resnet(true, [4]int{3, 4, 6, 3}, 5), resnet50Width: 5},
}

func resnet(bottleneck bool, blocks [4]int, widen int) func(*sectionBuilder, bool) int {
	return func(b *sectionBuilder, smallStem bool) int {
		return buildResNetTrunk(b, smallStem, bottleneck, blocks, widen)
	}
}

func init() { train.SetArchNames(Names()) }

func archByName(name string) (archSpec, bool) {
	for _, a := range archs {
		if a.name == name {
			return a, true
		}
	}
	return archSpec{}, false
}

// Names lists every architecture Build knows, smallest first.
func Names() []string {
	out := make([]string, len(archs))
	for i, a := range archs {
		out[i] = a.name
	}
	return out
}

// NameList is Names for an error message: "small, resnet8, ... or resnet50w5".
func NameList() string {
	n := Names()
	return strings.Join(n[:len(n)-1], ", ") + " or " + n[len(n)-1]
}

// Known reports whether Build knows the architecture name.
func Known(name string) bool {
	_, ok := archByName(name)
	return ok
}

// WideResNet50 returns the width multiplier of a ResNet-50 name: 1 for
// "resnet50", 2, 4 or 5 for facebookresearch/swav's "resnet50w2", "w4" and
// "w5"; 0 for any other name.
func WideResNet50(name string) int {
	a, _ := archByName(name)
	return a.resnet50Width
}

// Torchvision reports whether torchvision.models has the architecture
// under this name (resnet18, resnet34, resnet50).
func Torchvision(name string) bool {
	a, _ := archByName(name)
	return a.torchvision
}

// TorchvisionList is the torchvision architectures for a message:
// "resnet18, resnet34 or resnet50".
func TorchvisionList() string {
	var n []string
	for _, a := range archs {
		if a.torchvision {
			n = append(n, a.name)
		}
	}
	return strings.Join(n[:len(n)-1], ", ") + " or " + n[len(n)-1]
}

// ResNet50Name is the architecture name of a ResNet-50 of width multiplier
// widen ("resnet50", "resnet50w2", ...), or "" when there is none.
func ResNet50Name(widen int) string {
	for _, a := range archs {
		if WideResNet50(a.name) == widen {
			return a.name
		}
	}
	return ""
}

// Build describes the network that cfg names: "small" (the benchmark's
// network of ../shared/bench/ref_train_step.py, with its nn.Sequential
// state_dict names; SmallStem is ignored), or torchvision's "resnet18",
// "resnet34" (basic blocks) and "resnet50" (bottleneck, v1.5: stride on the
// 3x3 conv), facebookresearch/swav's wide "resnet50w2", "resnet50w4" and
// "resnet50w5" (every width, the stem's included, times 2, 4 or 5: a
// 4096-, 8192- or 10240-d trunk), with the 3x3/1 stem and no max-pool when cfg.SmallStem. The head
// is Linear(TrunkDim, HiddenMLP)+BatchNorm1d+ReLU+Linear(HiddenMLP, FeatDim)
// (names head.0, head.1, head.3), or one Linear "head" when HiddenMLP is 0.
// It costs microseconds and allocates only the description.
func Build(cfg train.ModelConfig) (*Arch, error) {
	if cfg.FeatDim < 1 {
		return nil, fmt.Errorf("model: feat_dim must be at least 1, got %d", cfg.FeatDim)
	}
	if cfg.Prototypes < 1 {
		return nil, fmt.Errorf("model: prototypes must be at least 1, got %d", cfg.Prototypes)
	}
	if cfg.HiddenMLP < 0 {
		return nil, fmt.Errorf("model: hidden_mlp must not be negative, got %d", cfg.HiddenMLP)
	}
	spec, ok := archByName(cfg.Arch)
	if !ok {
		return nil, fmt.Errorf("model: unknown arch %q (want %s)", cfg.Arch, NameList())
	}
	b := &sectionBuilder{}
	dim := spec.build(b, cfg.SmallStem)
	a := &Arch{Config: cfg, Trunk: b.layers, TrunkDim: dim, FeatDim: cfg.FeatDim, K: cfg.Prototypes}
	h := &sectionBuilder{}
	if cfg.HiddenMLP == 0 {
		h.add(Layer{Op: OpLinear, Name: "head", Inputs: []int{InputOfSection}, In: dim, Out: cfg.FeatDim, Bias: true})
	} else {
		x := h.add(Layer{Op: OpLinear, Name: "head.0", Inputs: []int{InputOfSection}, In: dim, Out: cfg.HiddenMLP, Bias: true})
		x = h.batchNorm("head.1", x, cfg.HiddenMLP)
		x = h.relu(x)
		h.add(Layer{Op: OpLinear, Name: "head.3", Inputs: []int{x}, In: cfg.HiddenMLP, Out: cfg.FeatDim, Bias: true})
	}
	a.Head = h.layers
	a.Prototypes = Layer{Op: OpLinear, Name: "prototypes", Inputs: []int{InputOfSection}, In: cfg.FeatDim, Out: cfg.Prototypes}
	return a, nil
}

// sectionBuilder appends layers and hands back their value indices.
type sectionBuilder struct{ layers []Layer }

func (b *sectionBuilder) add(l Layer) int {
	b.layers = append(b.layers, l)
	return len(b.layers) - 1
}

func (b *sectionBuilder) conv(name string, x, in, out, k, stride, pad int) int {
	return b.add(Layer{Op: OpConv, Name: name, Inputs: []int{x}, In: in, Out: out, Kernel: k, Stride: stride, Pad: pad})
}

func (b *sectionBuilder) batchNorm(name string, x, c int) int {
	return b.add(Layer{Op: OpBatchNorm, Name: name, Inputs: []int{x}, In: c, Out: c})
}

func (b *sectionBuilder) relu(x int) int { return b.add(Layer{Op: OpReLU, Inputs: []int{x}}) }

func (b *sectionBuilder) sum(x, y int) int { return b.add(Layer{Op: OpAdd, Inputs: []int{x, y}}) }

// buildSmallTrunk is ref_train_step.py's small trunk, nn.Sequential indices
// as names: 0 conv, 1 bn, 2 relu, 3 and 4 blocks (c1, b1, c2, b2), 5 conv/2,
// 6 bn, 7 relu, 8 pool.
func buildSmallTrunk(b *sectionBuilder) int {
	x := b.conv("trunk.0", InputOfSection, 3, 32, 3, 1, 1)
	x = b.batchNorm("trunk.1", x, 32)
	x = b.relu(x)
	for _, blk := range []string{"trunk.3", "trunk.4"} {
		y := b.conv(blk+".c1", x, 32, 32, 3, 1, 1)
		y = b.batchNorm(blk+".b1", y, 32)
		y = b.relu(y)
		y = b.conv(blk+".c2", y, 32, 32, 3, 1, 1)
		y = b.batchNorm(blk+".b2", y, 32)
		x = b.relu(b.sum(x, y))
	}
	x = b.conv("trunk.5", x, 32, 64, 3, 2, 1)
	x = b.batchNorm("trunk.6", x, 64)
	x = b.relu(x)
	b.add(Layer{Op: OpGlobalAvgPool, Inputs: []int{x}})
	return 64
}

// buildResNet8Trunk is a CIFAR-style ResNet-8 at twice the usual width for
// 28-32 px images: a 3x3/1 stem (3->32) and three stages of one basic block
// each (32, 64/2, 128/2, torchvision's block names), then the global pool:
// a 128-d trunk whose receptive field covers a 28-px image, for about the
// cost of "small" (38 M multiply-adds per 28-px image against 33 M).
func buildResNet8Trunk(b *sectionBuilder) int {
	x := b.conv("trunk.conv1", InputOfSection, 3, 32, 3, 1, 1)
	x = b.batchNorm("trunk.bn1", x, 32)
	x = b.relu(x)
	in := 32
	for stage, width := range []int{32, 64, 128} {
		stride := 1
		if stage > 0 {
			stride = 2
		}
		x, in = basicBlock(b, fmt.Sprintf("trunk.layer%d.0", stage+1), x, in, width, stride)
	}
	b.add(Layer{Op: OpGlobalAvgPool, Inputs: []int{x}})
	return in
}

// buildResNetTrunk is torchvision's ResNet without fc, every width times
// widen as in facebookresearch/swav's resnet50w2/w4/w5 (its extra
// ConstantPad2d(1) before a padding-2 stem is the padding-3 stem here); it
// returns the trunk width (512 for basic blocks, 2048*widen for
// bottlenecks).
func buildResNetTrunk(b *sectionBuilder, smallStem, bottleneck bool, blocks [4]int, widen int) int {
	stem := 64 * widen
	var x int
	if smallStem {
		x = b.conv("trunk.conv1", InputOfSection, 3, stem, 3, 1, 1)
	} else {
		x = b.conv("trunk.conv1", InputOfSection, 3, stem, 7, 2, 3)
	}
	x = b.batchNorm("trunk.bn1", x, stem)
	x = b.relu(x)
	if !smallStem {
		x = b.add(Layer{Op: OpMaxPool, Inputs: []int{x}, Kernel: 3, Stride: 2, Pad: 1})
	}
	in := stem
	for stage, n := range blocks {
		width := stem << stage
		for i := 0; i < n; i++ {
			stride := 1
			if i == 0 && stage > 0 {
				stride = 2
			}
			name := fmt.Sprintf("trunk.layer%d.%d", stage+1, i)
			if bottleneck {
				x, in = bottleneckBlock(b, name, x, in, width, stride)
			} else {
				x, in = basicBlock(b, name, x, in, width, stride)
			}
		}
	}
	b.add(Layer{Op: OpGlobalAvgPool, Inputs: []int{x}})
	return in
}

// shortcut is the identity or torchvision's downsample (1x1 conv + BN).
func shortcut(b *sectionBuilder, name string, x, in, out, stride int) int {
	if stride == 1 && in == out {
		return x
	}
	s := b.conv(name+".downsample.0", x, in, out, 1, stride, 0)
	return b.batchNorm(name+".downsample.1", s, out)
}

func basicBlock(b *sectionBuilder, name string, x, in, width, stride int) (int, int) {
	y := b.conv(name+".conv1", x, in, width, 3, stride, 1)
	y = b.batchNorm(name+".bn1", y, width)
	y = b.relu(y)
	y = b.conv(name+".conv2", y, width, width, 3, 1, 1)
	y = b.batchNorm(name+".bn2", y, width)
	s := shortcut(b, name, x, in, width, stride)
	return b.relu(b.sum(y, s)), width
}

func bottleneckBlock(b *sectionBuilder, name string, x, in, width, stride int) (int, int) {
	out := width * 4
	y := b.conv(name+".conv1", x, in, width, 1, 1, 0)
	y = b.batchNorm(name+".bn1", y, width)
	y = b.relu(y)
	y = b.conv(name+".conv2", y, width, width, 3, stride, 1)
	y = b.batchNorm(name+".bn2", y, width)
	y = b.relu(y)
	y = b.conv(name+".conv3", y, width, out, 1, 1, 0)
	y = b.batchNorm(name+".bn3", y, out)
	s := shortcut(b, name, x, in, out, stride)
	return b.relu(b.sum(y, s)), out
}
