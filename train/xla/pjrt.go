//go:build cgo && !noxla

package xla

import (
	"os"

	"github.com/gomlx/compute"
	goxla "github.com/gomlx/go-xla/compute/xla"
)

// PJRT support through go-xla (cgo: only libc and libdl; the plugin itself is
// dlopen-ed at run time). Left out with -tags noxla or CGO_ENABLED=0; the GoMLX
// go engine then still works.
func init() {
	// Never download anything: go-xla's installer would fetch plugins from
	// GitHub/PyPI when given a plugin name instead of a path.
	_ = os.Setenv(goxla.NoAutoInstallEnv, "1")
	goxla.EnableAutoInstall(false)
	pjrtLoader = func(path, options string) (compute.Backend, error) {
		goxla.EnableAutoInstall(false)
		return goxla.NewWithOptions(path+options, nil)
	}
}
