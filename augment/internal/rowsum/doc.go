// Package rowsum is the vector kernel of augment's row-combining passes
// (Pillow's vertical resample pass and the box-blur passes): a weighted sum
// of up to 8 byte rows in 32-bit lanes, shifted and saturated to bytes; a
// row of the horizontal resample pass; and the saturation blend. Go
// assembly cannot live in the cgo package augment, hence this package.
// Callers keep a Go loop for platforms without the kernel and for the tail.
package rowsum
