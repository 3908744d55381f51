package k8s

// The ConfigMap's jobs train and extract on the cpu backend and train on
// the xla backend; validating their train section asks the backend
// registry, so link both.
import (
	_ "github.com/swavgo/swav/train/cpu"
	_ "github.com/swavgo/swav/train/xla"
)
