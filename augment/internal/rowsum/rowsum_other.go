//go:build !amd64 || purego

package rowsum

// Available is false: no vector kernel on this platform (callers run their
// Go loops).
const Available = false

// Sum16 is not implemented here; callers check Available first.
func Sum16(out *byte, blocks int, rows **byte, w *int32, taps int, bias int32, shift uint32) {
	panic("rowsum: Sum16 without a vector kernel")
}
