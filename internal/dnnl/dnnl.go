// Package dnnl runs convolutions and training BatchNorms on oneDNN (Debian's
// libdnnl 2.6, the library PyTorch's CPU convolutions use), opened with
// dlopen at first use: convolution forward (with an optional bias, residual
// sum and ReLU fused in), backward data and backward weights, on NHWC
// activations (the CPU engine's layout) and OIHW weights (PyTorch's, the
// canonical layout of a training state); BatchNorm with batch statistics,
// forward (with the ReLU after it fused in) and backward.
//
// A convolution computes in float32 or, built with ConvOptions.BF16, in
// bf16 on bf16 copies of its inputs (the processor's AVX512-BF16 or AMX
// units), with float32 results and float32 buffers on the caller's side,
// or bf16 buffers where the caller asks for them (ConvOptions.SrcBF16,
// BatchNormOptions.BF16).
//
// Every cgo build compiles it: the C declarations come from oneDNN's
// headers vendored under include/ (Apache-2.0), and libdnnl.so.2 is opened
// with dlopen at run time. Without cgo, or when the library cannot be
// opened, Available reports false and callers keep their own kernels: the
// binary still runs where oneDNN is absent.
//
// oneDNN parallelises with OpenMP, whose thread pool belongs to the OS
// thread that calls it. So every call runs on one goroutine locked to its OS
// thread for the life of the process, which owns the one OpenMP pool and its
// thread count. A call from another goroutine is handed to it (a channel
// round trip, about 45 microseconds on a 2-core VM); Do runs a whole step
// there so that its calls need none.
package dnnl

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"
)

// ConvShape is one convolution's geometry: an N x H x W x C input, OutC
// square Kernel x Kernel filters, one stride and a symmetric padding, and
// the output size that implies, OH = (H + 2*Pad - Kernel)/Stride + 1 (PyTorch's
// floor division; the right and bottom padding oneDNN is given is whatever
// makes the output that size, negative when the last rows are not read).
type ConvShape struct {
	N, H, W, C     int
	OutC, OH, OW   int
	Kernel, Stride int
	Pad            int
}

// ConvOptions says what a forward convolution fuses and whether it trains.
type ConvOptions struct {
	// Training builds the training forward and, on first use, the two
	// backward primitives; otherwise the convolution is inference only.
	Training bool
	// Bias adds a per-output-channel bias (a folded BatchNorm's shift).
	Bias bool
	// Sum adds the destination's previous contents before the ReLU (a
	// residual connection).
	Sum bool
	// ReLU clamps the result at zero.
	ReLU bool
	// BF16 computes on bf16 copies of the source, the weights and the
	// destination gradient (converted at each call; 8 bits of mantissa)
	// with float32 accumulation; results are float32 unless SrcBF16 or
	// DstBF16 ask otherwise, and the weights gradient is rounded to bf16
	// on its way out. A training convolution on a float32 source keeps the
	// bf16 copy of its last forward's source (half the source's size) for
	// the Backward given that same source, which must then not have
	// changed in between. Use it where
	// NativeBF16 says the processor has bf16 units: elsewhere oneDNN
	// emulates them, slower than float32.
	BF16 bool
	// SrcBF16 and DstBF16 (with BF16) say that the caller's source or
	// destination buffer holds bf16 values, two to a float32 slot in NHWC
	// order (PackBF16's layout) instead of float32: a chain of
	// convolutions (and bf16 BatchNorms) then passes bf16 activations on
	// without converting them, at half the memory traffic. A fused sum
	// reads the destination's previous contents in that type. In
	// training the gradient of a bf16 buffer is bf16 too: Backward reads
	// such a destination's gradient and writes such a source's in bf16,
	// and reads the caller's bf16 source itself (nothing is kept).
	SrcBF16, DstBF16 bool
}

func (s ConvShape) String() string {
	return fmt.Sprintf("%dx%dx%dx%d -> %d ch %dx%d, kernel %d stride %d pad %d", s.N, s.H, s.W, s.C, s.OutC, s.OH, s.OW, s.Kernel, s.Stride, s.Pad)
}

func (s ConvShape) check() error {
	if s.N < 1 || s.H < 1 || s.W < 1 || s.C < 1 || s.OutC < 1 || s.OH < 1 || s.OW < 1 || s.Kernel < 1 || s.Stride < 1 || s.Pad < 0 {
		return fmt.Errorf("dnnl: bad convolution shape %s", s)
	}
	if s.Pad > s.Kernel-1 || s.OH != (s.H+2*s.Pad-s.Kernel)/s.Stride+1 || s.OW != (s.W+2*s.Pad-s.Kernel)/s.Stride+1 {
		return fmt.Errorf("dnnl: convolution shape %s: the output is not the input's (floor division)", s)
	}
	return nil
}

// sizes of the buffers a Conv reads and writes.
func (s ConvShape) srcLen() int     { return s.N * s.H * s.W * s.C }
func (s ConvShape) dstLen() int     { return s.N * s.OH * s.OW * s.OutC }
func (s ConvShape) weightsLen() int { return s.OutC * s.Kernel * s.Kernel * s.C }

// Slots is how many float32 slots n values take: n, or n/2 rounded up for
// a bf16 buffer (PackBF16's layout).
func Slots(n int, bf16 bool) int {
	if bf16 {
		return (n + 1) / 2
	}
	return n
}

func checkLen(what string, got, want int) {
	if got < want {
		panic(fmt.Sprintf("dnnl: %s has %d values, the convolution needs %d", what, got, want))
	}
}

// Available says whether oneDNN can be used: a cgo build, and
// libdnnl.so.2 opened (the first call opens it, tens of milliseconds).
func Available() bool { return available() }

// Name says what this process uses, e.g. "onednn 2.6.3", or why oneDNN is
// not available.
func Name() string { return name() }

// ISA is the instruction set oneDNN's kernels use on this processor, e.g.
// "avx512_core_amx", "avx512_core_bf16" or "avx2" ("" without oneDNN).
func ISA() string {
	if !available() {
		return ""
	}
	return isaName(effectiveISA())
}

// NativeBF16 says whether oneDNN runs bf16 on the processor's own units
// (AVX512-BF16 or AMX) rather than emulating them.
func NativeBF16() bool { return available() && effectiveISA()&isaAVX512BF16 == isaAVX512BF16 }

// oneDNN's dnnl_cpu_isa_t values (each ISA's bits include those of the
// ones it extends).
const (
	isaAVX512BF16 = 0xe7
	isaAMX        = 0x3e7
)

// isaName names a dnnl_cpu_isa_t as oneDNN's verbose output does.
func isaName(isa uint32) string {
	names := []struct {
		isa  uint32
		name string
	}{{isaAMX, "avx512_core_amx"}, {isaAVX512BF16, "avx512_core_bf16"}, {0x67, "avx512_core_vnni"}, {0x27, "avx512_core"},
		{0x1f, "avx512_mic_4ops"}, {0xf, "avx512_mic"}, {0x407, "avx2_vnni"}, {0x7, "avx2"}, {0x3, "avx"}, {0x1, "sse41"}}
	for _, n := range names {
		if isa&n.isa == n.isa && n.isa != 0 {
			return n.name
		}
	}
	return fmt.Sprintf("isa 0x%x", isa)
}

// SetThreads fixes the number of OpenMP threads oneDNN's calls use
// (process-wide; a no-op without oneDNN).
func SetThreads(n int) { setThreads(n) }

// Do runs f on the thread that makes every oneDNN call, and waits for it:
// the calls f makes itself then skip the hand-off to that thread (about 45
// microseconds each on a 2-core VM, a few hundred times in a ResNet-50
// step). Calls from goroutines f starts still hand off, so f must not wait
// for such a goroutine while it makes a call (it would wait for f). Without
// oneDNN, Do just runs f.
func Do(f func()) { do(f) }

// Conv is one convolution geometry's oneDNN primitives, built once (a few
// milliseconds) and reused for every call of that shape. Its calls block
// until the result is written and keep no reference to the caller's
// buffers. It is safe for use by one goroutine at a time; Close frees its
// native memory (a finalizer does it too).
type Conv struct {
	shape ConvShape
	opts  ConvOptions
	impl  conv
}

// NewConv builds the forward primitive of s with the fusions o asks for;
// training convolutions build their backward primitives on first use.
func NewConv(s ConvShape, o ConvOptions) (*Conv, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if o.Training && (o.Bias || o.Sum || o.ReLU) {
		return nil, fmt.Errorf("dnnl: a training convolution fuses nothing (%s)", s)
	}
	if (o.SrcBF16 || o.DstBF16) && !o.BF16 {
		return nil, fmt.Errorf("dnnl: bf16 buffers are for bf16 convolutions (%s)", s)
	}
	return newConv(s, o)
}

// Shape is the geometry the convolution was built for.
func (c *Conv) Shape() ConvShape { return c.shape }

// Forward writes dst [N, OH, OW, OutC] = conv(src [N, H, W, C], weights
// [OutC, C, Kernel, Kernel]) (+ bias [OutC]) (+ dst's previous contents when
// Sum) (ReLU'd when ReLU). With weights nil it uses those KeepWeights kept.
func (c *Conv) Forward(src, weights, bias, dst []float32) error {
	s, o := c.shape, c.opts
	checkLen("source", len(src), Slots(s.srcLen(), o.SrcBF16))
	if weights != nil {
		checkLen("weights", len(weights), s.weightsLen())
	}
	checkLen("destination", len(dst), Slots(s.dstLen(), o.DstBF16))
	if c.opts.Bias {
		checkLen("bias", len(bias), s.OutC)
	}
	return c.impl.forward(src, weights, bias, dst)
}

// Backward overwrites diffWeights [OutC, C, Kernel, Kernel] with the
// gradient of the weights and, unless diffSrc is nil, diffSrc with the
// gradient of the input, given the forward's src and weights and the
// gradient of its output (read, and converted in bf16, once for both).
func (c *Conv) Backward(src, diffDst, weights, diffWeights, diffSrc []float32) error {
	if !c.opts.Training {
		return fmt.Errorf("dnnl: backward of an inference convolution (%s)", c.shape)
	}
	s, o := c.shape, c.opts
	checkLen("source", len(src), Slots(s.srcLen(), o.SrcBF16))
	checkLen("destination gradient", len(diffDst), Slots(s.dstLen(), o.DstBF16))
	checkLen("weights gradient", len(diffWeights), s.weightsLen())
	if diffSrc != nil {
		checkLen("weights", len(weights), s.weightsLen())
		checkLen("source gradient", len(diffSrc), Slots(s.srcLen(), o.SrcBF16))
	}
	return c.impl.backward(src, diffDst, weights, diffWeights, diffSrc)
}

// KeepWeights keeps a copy of weights [OutC, C, Kernel, Kernel] in the
// forward's own layout and precision (allocated once, the size of the
// weights), so that Forward given nil weights skips the reorder: for
// inference convolutions whose weights stay the same from call to call.
func (c *Conv) KeepWeights(weights []float32) error {
	checkLen("weights", len(weights), c.shape.weightsLen())
	return c.impl.setWeights(weights)
}

// Impl names the forward implementation oneDNN chose, e.g.
// "brgconv:avx512_core_bf16" ("ref" ones are its slow reference code).
func (c *Conv) Impl() string { return c.impl.impl() }

// Close frees the primitives; the Conv must not be used after it.
func (c *Conv) Close() {
	c.impl.close()
	c.impl = conv{}
	runtime.SetFinalizer(c, nil)
}

// BatchNormShape is an N x H x W x C activation.
type BatchNormShape struct{ N, H, W, C int }

func (s BatchNormShape) String() string { return fmt.Sprintf("%dx%dx%dx%d", s.N, s.H, s.W, s.C) }

// BatchNormOptions says what a BatchNorm fuses and in which type it reads
// and writes its data.
type BatchNormOptions struct {
	// ReLU applies max(., 0) after the BatchNorm.
	ReLU bool
	// BF16: source, destination and both their gradients are bf16
	// buffers (PackBF16's layout, as ConvOptions.SrcBF16); the
	// statistics, scale, shift and their gradients stay float32, and
	// oneDNN computes in float32.
	BF16 bool
}

// BatchNorm is a training BatchNorm (batch statistics) of one shape, with a
// ReLU fused in when built so; the ReLU's mask stays inside it from Forward
// to Backward, so each Forward must be followed by its own Backward before
// the next Forward whose gradient is wanted. Same ownership as Conv.
type BatchNorm struct {
	shape BatchNormShape
	opts  BatchNormOptions
	impl  batchNorm
}

// NewBatchNorm builds the forward and backward primitives of s with epsilon
// eps.
func NewBatchNorm(s BatchNormShape, eps float32, o BatchNormOptions) (*BatchNorm, error) {
	if s.N < 1 || s.H < 1 || s.W < 1 || s.C < 1 {
		return nil, fmt.Errorf("dnnl: bad batchnorm shape %s", s)
	}
	return newBatchNorm(s, eps, o)
}

func (b *BatchNorm) check(data ...[]float32) {
	for _, d := range data {
		checkLen("batchnorm data", len(d), Slots(b.shape.N*b.shape.H*b.shape.W*b.shape.C, b.opts.BF16))
	}
}

func (b *BatchNorm) checkStats(stats ...[]float32) {
	for _, s := range stats {
		checkLen("batchnorm per-channel values", len(s), b.shape.C)
	}
}

// Forward writes dst = (src - mean)/sqrt(variance + eps)*scale + shift (then
// max(., 0) when fused), with mean and variance (biased) the batch's, which
// it also writes.
func (b *BatchNorm) Forward(src, scale, shift, dst, mean, variance []float32) error {
	b.check(src, dst)
	b.checkStats(scale, shift, mean, variance)
	return b.impl.forward(src, scale, shift, dst, mean, variance)
}

// Backward overwrites diffSrc, diffScale and diffShift with the gradients of
// the last Forward (given its src, scale, shift, mean and variance).
func (b *BatchNorm) Backward(src, diffDst, scale, shift, mean, variance, diffSrc, diffScale, diffShift []float32) error {
	b.check(src, diffDst, diffSrc)
	b.checkStats(scale, shift, mean, variance, diffScale, diffShift)
	return b.impl.backward(src, diffDst, scale, shift, mean, variance, diffSrc, diffScale, diffShift)
}

// Close frees the primitives and the workspace.
func (b *BatchNorm) Close() {
	b.impl.close()
	b.impl = batchNorm{}
	runtime.SetFinalizer(b, nil)
}

// PackBF16 writes src rounded to bf16 (to nearest, ties to even; NaN stays
// NaN) into dst, two values to a float32 slot, in the layout SrcBF16 and
// DstBF16 buffers use: value i in the low half of slot i/2 when i is even,
// the high half when odd (little-endian memory order). dst needs
// (len(src)+1)/2 slots.
func PackBF16(dst, src []float32) {
	d := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(dst))), 2*len(dst))
	for i, v := range src {
		d[i] = toBF16(v)
	}
}

// UnpackBF16 widens the first len(dst) bf16 values of src (PackBF16's
// layout) to float32, exactly.
func UnpackBF16(dst, src []float32) {
	s := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(src))), 2*len(src))
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(s[i]) << 16)
	}
}

// CopyBF16 copies the first n bf16 values of src (PackBF16's layout) to dst.
func CopyBF16(dst, src []float32, n int) {
	d := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(dst))), 2*len(dst))
	s := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(src))), 2*len(src))
	copy(d[:n], s[:n])
}

// Halves views a bf16 buffer (PackBF16's layout) as its 2*len(s) bf16
// values.
func Halves(s []float32) []uint16 {
	return unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(s))), 2*len(s))
}

// ToBF16 is v rounded to bf16 as oneDNN rounds it (see toBF16).
func ToBF16(v float32) uint16 { return toBF16(v) }

// FromBF16 widens a bf16 value to float32, exactly.
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// toBF16 rounds v to bf16 as oneDNN does: to nearest, ties to even, NaNs
// kept NaN (quiet).
func toBF16(v float32) uint16 {
	b := math.Float32bits(v)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}
