//go:build cgo && !noxla

package xla

import (
	"github.com/gomlx/compute"
	goxla "github.com/gomlx/go-xla/compute/xla"
)

// PJRT support through go-xla (cgo: only libc and libdl; the plugin itself is
// dlopen-ed at run time). Left out with -tags noxla or CGO_ENABLED=0; the GoMLX
// go engine then still works.
//
// Nothing is ever downloaded: go-xla's installer would fetch plugins from
// GitHub/PyPI when given a plugin name instead of a path, so auto-install is
// switched off here, before anything can list plugins, and again before
// every load. (go-xla reads GOMLX_NO_AUTO_INSTALL only in its own init,
// before ours, so setting it here would change nothing but the process's
// environment.)
func init() {
	goxla.EnableAutoInstall(false)
	pjrtLoader = func(path, options string) (compute.Backend, error) {
		goxla.EnableAutoInstall(false)
		return goxla.NewWithOptions(path+options, nil)
	}
}
