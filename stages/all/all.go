// Package all links every stage kind into a binary: import it blank
// (`import _ "github.com/swavgo/swav/stages/all"`) and every job kind is
// registered with the stages registry.
package all

import (
	_ "github.com/swavgo/swav/stages/demo" // job kind "demo"
)
