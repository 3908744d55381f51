//go:build !cgo || noturbo

package augment

// Built without cgo or with `-tags noturbo`: JPEGs are decoded by image/jpeg
// (see decode_turbo.go for the libjpeg-turbo path and its detection).
