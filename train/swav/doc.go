// Package swav holds the engine-independent SwAV maths in plain Go, exact to
// facebookresearch/swav (SPEC §1-5): Sinkhorn-Knopp codes (computed in the log
// domain so they stay finite where the float32 reference overflows), the
// swapped-prediction loss and its gradient, the queue of stored embeddings,
// L2 row normalisation and its backward, prototype freezing, the
// per-iteration learning-rate schedule and the LARC(SGD) optimiser.
//
// Every backend (train/cpu, train/xla) uses it, either directly for the parts
// it does not run on its engine or as the reference its engine graph is
// tested against. All matrices are row-major slices; the functions are
// generic over float32 and float64 ([Float]) and accumulate in float64
// whatever T is, so a float32 caller gets float32-rounded float64 results.
//
// Shapes are the caller's contract: a slice whose length does not match the
// dimensions passed with it is a programming error and panics with a message
// naming the argument (data read from files is checked before it gets here,
// see train/swav/goldenfile). Non-finite inputs are not errors here: they
// propagate, and the backend turns a non-finite loss into train.ErrNonFinite.
//
// Nothing here starts goroutines or blocks; costs are stated per function.
package swav

import "fmt"

// Float is the element type of every matrix in this package.
type Float interface{ ~float32 | ~float64 }

// checkLen panics with a message naming fn and arg when len(s) != want: a
// shape mismatch is a programming error of the caller.
func checkLen[T Float](fn, arg string, s []T, want int) {
	if len(s) != want {
		panic(fmt.Sprintf("swav.%s: %s has %d elements, want %d", fn, arg, len(s), want))
	}
}
