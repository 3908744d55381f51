// Package buildinfo holds what `pipeline version` reports of the build: the
// release set at link time and the optional capabilities the packages
// compiled in record from their init functions. It imports nothing of ours,
// so any package can record a capability without importing the engine.
package buildinfo

import (
	"slices"
	"sync"
)

// Version is the release of the binary, set at link time:
// go build -ldflags "-X github.com/swavgo/swav/internal/buildinfo.Version=v1.2.3".
var Version = "dev"

var (
	featuresMu sync.Mutex
	features   []string
)

// AddFeature records an optional capability compiled into the binary
// ("cgo", "turbojpeg", "xla"), typically from an init function behind a build
// tag. `pipeline version` lists them.
func AddFeature(name string) {
	featuresMu.Lock()
	defer featuresMu.Unlock()
	if !slices.Contains(features, name) {
		features = append(features, name)
	}
}

// Features lists the recorded features, sorted.
func Features() []string {
	featuresMu.Lock()
	defer featuresMu.Unlock()
	return slices.Sorted(slices.Values(features))
}
