package swav

// SetForceLogDomain makes Sinkhorn take the log-domain path for every call
// until the returned function restores the previous setting (tests only).
func SetForceLogDomain(on bool) (restore func()) {
	old := forceLogDomain
	forceLogDomain = on
	return func() { forceLogDomain = old }
}
