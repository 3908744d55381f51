//go:build cgo

package pipeline

func init() { AddBuildFeature("cgo") }
