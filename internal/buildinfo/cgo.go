//go:build cgo

package buildinfo

func init() { AddFeature("cgo") }
