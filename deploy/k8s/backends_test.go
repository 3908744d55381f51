package k8s

// The ConfigMap's jobs train and extract on the cpu backend and train on
// the xla backend; validating them asks the job-kind and backend
// registries, so link every kind and backend, as the binary does.
import (
	_ "github.com/swavgo/swav/stages/all"
)
