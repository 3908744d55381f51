//go:build !amd64 || purego

package rowsum

// Available is false: no vector kernel on this platform (callers run their
// Go loops).
const Available = false

// Available32 is false: no vector kernel on this platform.
const Available32 = false

// Sum16 is not implemented here; callers check Available first.
func Sum16(out *byte, blocks int, rows **byte, w *int32, taps int, bias int32, shift uint32) {
	panic("rowsum: Sum16 without a vector kernel")
}

// HRow is not implemented here; callers check Available first.
func HRow(out *byte, src *byte, bounds *int32, kk *int32, count int, bstep int, kstep int) {
	panic("rowsum: HRow without a vector kernel")
}

// Saturate is not implemented here; callers check Available first.
func Saturate(pix *byte, groups int, f float32) {
	panic("rowsum: Saturate without a vector kernel")
}

// Sum32 is not implemented here; callers check Available32 first.
func Sum32(out *byte, blocks int, rows **byte, w *int32, taps int, bias int32, shift uint32) {
	panic("rowsum: Sum32 without a vector kernel")
}
