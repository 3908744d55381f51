package s3local

// PID is the server process's id (tests).
func (s *Server) PID() int { return s.cmd.Process.Pid }
