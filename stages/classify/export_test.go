package classify

// SetMemoryCap sets the label pass's memory cap (tests of the streaming
// path) and returns a function that restores it.
func SetMemoryCap(n int64) (restore func()) {
	old := memoryCap
	memoryCap = n
	return func() { memoryCap = old }
}
