// Package all links every stage kind, every training backend and every
// feature sink into a binary: import it blank (`import _
// "github.com/swavgo/swav/stages/all"`) and every job kind is registered
// with the stages registry, every backend with train's backend registry,
// every sink with the sinks registry.
package all

import (
	_ "github.com/swavgo/swav/sinks/parquet"     // feature sink for local paths, file:// and s3://, written and read
	_ "github.com/swavgo/swav/stages/demo"       // job kind "demo"
	_ "github.com/swavgo/swav/stages/extract"    // job kind "extract"
	_ "github.com/swavgo/swav/stages/finetune"   // job kind "finetune"
	_ "github.com/swavgo/swav/stages/linear"     // job kind "linear"
	_ "github.com/swavgo/swav/stages/quickstart" // job kind "quickstart"
	_ "github.com/swavgo/swav/stages/train"      // job kind "train"
	_ "github.com/swavgo/swav/train/cpu"         // backend "cpu"
	_ "github.com/swavgo/swav/train/xla"         // backend "xla"
)
