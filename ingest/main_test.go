package ingest_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/swavgo/swav/ingest/store/s3local"
)

// s3srv is the one versitygw server of this package's tests (nil when the
// binary is absent: those tests skip with a message naming `make deps`).
var (
	s3srv    *s3local.Server
	s3srvErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ingest-s3-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s3srv, s3srvErr = s3local.Start(context.Background(), dir)
	code := m.Run()
	if s3srv != nil {
		s3srv.Stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// needS3 returns the shared server or skips (binary absent) / fails (broken).
func needS3(t *testing.T) *s3local.Server {
	t.Helper()
	if s3srvErr == s3local.ErrNoBinary {
		t.Skip(s3srvErr)
	}
	if s3srvErr != nil {
		t.Fatal(s3srvErr)
	}
	return s3srv
}
