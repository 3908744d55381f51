// Package dnnl runs convolutions and training BatchNorms on oneDNN (Debian's
// libdnnl 2.6, the library PyTorch's CPU convolutions use), opened with
// dlopen at first use: convolution forward (with an optional bias, residual
// sum and ReLU fused in), backward data and backward weights, on NHWC
// activations (the CPU engine's layout) and OIHW weights (PyTorch's, the
// canonical layout of a training state); BatchNorm with batch statistics,
// forward (with the ReLU after it fused in) and backward.
//
// It is built with -tags dnnl (which needs oneDNN's headers, Debian's
// libdnnl-dev, at build time; the Makefile sets the tag when they are
// there). Without the tag, or when libdnnl.so.2 cannot be opened at run
// time, Available reports false and callers keep their own kernels: a binary
// built with the tag still runs where oneDNN is absent.
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
	"runtime"
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

func checkLen(what string, got, want int) {
	if got < want {
		panic(fmt.Sprintf("dnnl: %s has %d values, the convolution needs %d", what, got, want))
	}
}

// Available says whether oneDNN can be used: built with -tags dnnl and
// libdnnl.so.2 opened (the first call opens it, tens of milliseconds).
func Available() bool { return available() }

// Name says what this process uses, e.g. "onednn 2.6.3", or why oneDNN is
// not available.
func Name() string { return name() }

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
	return newConv(s, o)
}

// Shape is the geometry the convolution was built for.
func (c *Conv) Shape() ConvShape { return c.shape }

// Forward writes dst [N, OH, OW, OutC] = conv(src [N, H, W, C], weights
// [OutC, C, Kernel, Kernel]) (+ bias [OutC]) (+ dst's previous contents when
// Sum) (ReLU'd when ReLU).
func (c *Conv) Forward(src, weights, bias, dst []float32) error {
	s := c.shape
	checkLen("source", len(src), s.srcLen())
	checkLen("weights", len(weights), s.weightsLen())
	checkLen("destination", len(dst), s.dstLen())
	if c.opts.Bias {
		checkLen("bias", len(bias), s.OutC)
	}
	return c.impl.forward(src, weights, bias, dst)
}

// BackwardData overwrites diffSrc with the gradient of the input.
func (c *Conv) BackwardData(diffDst, weights, diffSrc []float32) error {
	if !c.opts.Training {
		return fmt.Errorf("dnnl: backward of an inference convolution (%s)", c.shape)
	}
	s := c.shape
	checkLen("destination gradient", len(diffDst), s.dstLen())
	checkLen("weights", len(weights), s.weightsLen())
	checkLen("source gradient", len(diffSrc), s.srcLen())
	return c.impl.backwardData(diffDst, weights, diffSrc)
}

// BackwardWeights overwrites diffWeights [OutC, C, Kernel, Kernel] with the
// gradient of the weights.
func (c *Conv) BackwardWeights(src, diffDst, diffWeights []float32) error {
	if !c.opts.Training {
		return fmt.Errorf("dnnl: backward of an inference convolution (%s)", c.shape)
	}
	s := c.shape
	checkLen("source", len(src), s.srcLen())
	checkLen("destination gradient", len(diffDst), s.dstLen())
	checkLen("weights gradient", len(diffWeights), s.weightsLen())
	return c.impl.backwardWeights(src, diffDst, diffWeights)
}

// Close frees the primitives; the Conv must not be used after it.
func (c *Conv) Close() {
	c.impl.close()
	c.impl = conv{}
	runtime.SetFinalizer(c, nil)
}

// BatchNormShape is an N x H x W x C activation.
type BatchNormShape struct{ N, H, W, C int }

func (s BatchNormShape) String() string { return fmt.Sprintf("%dx%dx%dx%d", s.N, s.H, s.W, s.C) }

// BatchNorm is a training BatchNorm (batch statistics) of one shape, with a
// ReLU fused in when built so; the ReLU's mask stays inside it from Forward
// to Backward, so each Forward must be followed by its own Backward before
// the next Forward whose gradient is wanted. Same ownership as Conv.
type BatchNorm struct {
	shape BatchNormShape
	impl  batchNorm
}

// NewBatchNorm builds the forward and backward primitives of s with epsilon
// eps.
func NewBatchNorm(s BatchNormShape, eps float32, relu bool) (*BatchNorm, error) {
	if s.N < 1 || s.H < 1 || s.W < 1 || s.C < 1 {
		return nil, fmt.Errorf("dnnl: bad batchnorm shape %s", s)
	}
	return newBatchNorm(s, eps, relu)
}

func (b *BatchNorm) check(data ...[]float32) {
	for _, d := range data {
		checkLen("batchnorm data", len(d), b.shape.N*b.shape.H*b.shape.W*b.shape.C)
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
