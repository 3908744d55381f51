// Package xla is the GPU training backend ("xla"): the whole SwAV iteration
// (prototype normalisation, the forward of every crop group, Sinkhorn under
// stop-gradient, the swapped loss, autodiff, prototype freezing, LARS, the
// queue and the BatchNorm running statistics) as one compiled XLA program
// through GoMLX, run by a PJRT plugin that is loaded with dlopen from
// train.xla.pjrt_plugin or PJRT_PLUGIN and never downloaded. Data-parallel
// over the plugin's devices in one process. README.md has the design and
// `make gpu-check` the conformance run on a GPU machine. The backend owns
// the train.xla sub-section (precision, pjrt_plugin, devices) and validates
// it (config.go).
package xla
