package pipeline

import (
	"slices"
	"sync"
)

// Version is the release of the binary, set at link time:
// go build -ldflags "-X github.com/swavgo/swav/pipeline.Version=v1.2.3".
var Version = "dev"

var (
	featuresMu sync.Mutex
	features   []string
)

// AddBuildFeature records an optional capability compiled into the binary
// ("cgo", "turbojpeg", "xla"), typically from an init function behind a build
// tag. `pipeline version` lists them.
func AddBuildFeature(name string) {
	featuresMu.Lock()
	defer featuresMu.Unlock()
	if !slices.Contains(features, name) {
		features = append(features, name)
	}
}

// BuildFeatures lists the recorded features, sorted.
func BuildFeatures() []string {
	featuresMu.Lock()
	defer featuresMu.Unlock()
	return slices.Sorted(slices.Values(features))
}
