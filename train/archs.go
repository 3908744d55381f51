package train

import (
	"slices"
	"strings"
	"sync"
)

// archNames is train/model's list of architecture names (model.Names),
// handed over by its init: model imports train, so train cannot ask it, and
// every backend (which is what validates a train section) links it.
var (
	archMu    sync.RWMutex
	archNames []string
)

// SetArchNames records the architecture names train/model builds; its init
// calls it.
func SetArchNames(names []string) {
	archMu.Lock()
	defer archMu.Unlock()
	archNames = slices.Clone(names)
}

// ArchKnown reports whether train/model builds the architecture name, and
// lists the names for an error message ("small, resnet8, ... or
// resnet50w5").
func ArchKnown(name string) (bool, string) {
	archMu.RLock()
	defer archMu.RUnlock()
	list := "(train/model is not linked)"
	if n := len(archNames); n > 0 {
		list = strings.Join(archNames[:n-1], ", ") + " or " + archNames[n-1]
	}
	return slices.Contains(archNames, name), list
}
