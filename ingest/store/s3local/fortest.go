package s3local

import (
	"context"
	"errors"
)

// TB is the part of testing.TB that StartForTest uses (declared here so that
// the binary does not link the testing package).
type TB interface {
	Helper()
	TempDir() string
	Cleanup(func())
	Skip(args ...any)
	Fatal(args ...any)
}

// StartForTest starts a server over tb.TempDir() and stops it when the test
// ends. It skips the test when the versitygw binary is missing (`make deps`
// installs it, so CI always runs these tests) and fails it on any other error.
func StartForTest(tb TB) *Server {
	tb.Helper()
	srv, err := Start(context.Background(), tb.TempDir())
	if errors.Is(err, ErrNoBinary) {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Stop)
	return srv
}
