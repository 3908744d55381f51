//go:build !cgo

package dnnl

import "errors"

var errNotBuilt = errors.New("dnnl: not built (a build without cgo)")

func available() bool      { return false }
func name() string         { return errNotBuilt.Error() }
func setThreads(n int)     {}
func do(f func())          { f() }
func onWorker() bool       { return false }
func effectiveISA() uint32 { return 0 }

type conv struct{}

func newConv(ConvShape, ConvOptions) (*Conv, error) { return nil, errNotBuilt }
func (conv) forward(_, _, _, _ []float32) error     { return errNotBuilt }
func (conv) backward(_, _, _, _, _ []float32) error { return errNotBuilt }
func (conv) impl() string                           { return "" }
func (conv) setWeights([]float32) error             { return errNotBuilt }
func (conv) close()                                 {}

type batchNorm struct{}

func newBatchNorm(BatchNormShape, float32, BatchNormOptions) (*BatchNorm, error) {
	return nil, errNotBuilt
}
func (batchNorm) forward(_, _, _, _, _, _ []float32) error           { return errNotBuilt }
func (batchNorm) backward(_, _, _, _, _, _, _, _, _ []float32) error { return errNotBuilt }
func (batchNorm) close()                                             {}
