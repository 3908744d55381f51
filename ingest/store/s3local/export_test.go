package s3local

// PID is the server process's id (tests).
func (s *Server) PID() int { return s.cmd.Process.Pid }

// ForceSidecar makes the servers started until the test ends keep their
// metadata in a sidecar folder, as on a filesystem without user xattrs.
func ForceSidecar(t interface{ Cleanup(func()) }) {
	forceSidecar = true
	t.Cleanup(func() { forceSidecar = false })
}
