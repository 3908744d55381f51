package quickstart

// The tests run the quickstart with the "cpu" backend; a binary links it through
// stages/all.
import _ "github.com/swavgo/swav/train/cpu"
