package train

// The tests train with the "cpu" backend; a binary links it through
// stages/all.
import _ "github.com/swavgo/swav/train/cpu"
