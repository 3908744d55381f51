package k8s

// The ConfigMap's jobs train and extract on the cpu backend; validating
// their train section asks the backend registry, so link that backend.
import _ "github.com/swavgo/swav/train/cpu"
