// Package train holds the SwAV training stage: the backend interface that
// every compute engine implements, the shared state that checkpoints carry,
// and the configuration. The engine-independent maths live in train/swav, the
// architecture and its initialisation in train/model, the backends in
// train/cpu (an NHWC engine over OpenBLAS) and train/xla (GoMLX).
package train

import (
	"context"
	"errors"
)

// Tensor is a named float32 tensor in row-major order. Names follow
// torchvision's state_dict names ("trunk.layer1.0.conv1.weight",
// "head.0.weight", "prototypes.weight", "...bn1.running_mean").
type Tensor struct {
	Name  string    `json:"name"`
	Shape []int     `json:"shape"`
	Data  []float32 `json:"-"`
}

// Numel is the number of elements implied by Shape.
func (t *Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// State is everything a backend must hand over so that another process (or
// another backend) continues the run bit-for-bit: the trainable parameters,
// the BatchNorm running statistics, the optimiser's momentum buffers and the
// queue. Checkpoints store it; it is the same for every backend.
type State struct {
	Params   []Tensor `json:"params"`
	Buffers  []Tensor `json:"buffers"`
	Momentum []Tensor `json:"momentum"` // same names as Params; absent = no buffer yet
	// Queue is [len(crops_for_assign), queue_length, feat_dim] or nil.
	Queue *Tensor `json:"queue,omitempty"`
}

// Network maps the network's tensors, parameters and buffers (what a
// weights file holds), by name. The tensors share s's data.
func (s *State) Network() map[string]Tensor {
	out := make(map[string]Tensor, len(s.Params)+len(s.Buffers))
	for _, ts := range [][]Tensor{s.Params, s.Buffers} {
		for _, t := range ts {
			out[t.Name] = t
		}
	}
	return out
}

// CropGroup is the crops of one resolution for a whole batch, concatenated
// crop-major as the reference does: rows [c*B, (c+1)*B) belong to crop c of
// the group. Data holds Count*B*3*Size*Size float32 values (normalised) in
// NCHW order.
type CropGroup struct {
	Size  int
	Count int
	Data  []float32
}

// StepInput is one SwAV iteration's input.
type StepInput struct {
	// Iter is the global iteration (epoch*iters_per_epoch + it); it decides
	// prototype freezing.
	Iter int
	// LR is the learning rate of this iteration (from the schedule).
	LR float64
	// UseQueue says whether the queue exists in this epoch
	// (epoch >= epoch_queue_starts and queue_length > 0).
	UseQueue bool
	// Batch is B, the number of images.
	Batch int
	// Groups are the crop groups in recipe order (large first).
	Groups []CropGroup
	// Labels are the images' classes (a cross-entropy Objective only; see
	// Classifier).
	Labels []int64
	// HeadLR is the classifier head's learning rate (a cross-entropy
	// Objective only; LR is then the trunk's).
	HeadLR float64
}

// StepResult is what a step reports.
type StepResult struct {
	Loss float64
	// Codes are the Sinkhorn codes of each crop in crops_for_assign (B x K
	// each), filled only when the backend was asked to keep them (tests,
	// conformance).
	Codes [][]float32
	// Correct1 and Correct5 count the batch's top-1 and top-5 hits (a
	// cross-entropy Objective only).
	Correct1, Correct5 int
}

// Feature selects what Embed returns.
type Feature string

const (
	FeatureTrunk      Feature = "trunk"      // global-average-pooled trunk output
	FeatureProjection Feature = "projection" // L2-normalised head output
	FeatureScores     Feature = "scores"     // prototype scores
)

// Backend runs the SwAV model on one compute engine. A Backend is used by one
// goroutine at a time. Implementations: train/cpu (NHWC engine over OpenBLAS), train/xla
// (GoMLX/PJRT).
type Backend interface {
	// Name is "cpu" or "xla".
	Name() string
	// Engine says what the backend computes on, for a run's log: kernels
	// and instruction set or device, precision, threads or devices.
	Engine() string
	// Step runs one full SwAV iteration: prototype normalisation, forward of
	// every crop group (BatchNorm statistics per group), codes under no
	// gradient (with the queue), the swapped loss, backward, prototype
	// freezing and the LARS step at in.LR. The input's buffers may be reused by
	// the caller once Step returns.
	Step(ctx context.Context, in *StepInput) (StepResult, error)
	// Embed runs the model in evaluation mode (BatchNorm running statistics)
	// on n images of size x size (NCHW float32, normalised) and returns n rows
	// of the selected feature.
	Embed(ctx context.Context, images []float32, n, size int, f Feature) ([]float32, int, error)
	// State copies out the full training state.
	State() (*State, error)
	// Load replaces the training state; names and shapes must match the
	// backend's model or Load fails naming the first mismatch.
	Load(st *State) error
	// Close frees the backend's resources.
	Close() error
}

// ErrNonFinite is returned (wrapped) by Step when the loss is NaN or infinite;
// the backend's state is then left as it was before the step.
var ErrNonFinite = errors.New("non-finite loss")
