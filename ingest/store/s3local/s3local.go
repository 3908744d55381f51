// Package s3local starts a real S3-compatible server (versitygw) on a free
// loopback port over a local directory, for tests, benchmarks and the
// quickstart's "serve the shards from S3" mode.
package s3local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/sourcegraph/conc"
	"github.com/swavgo/swav/ingest/store"
)

// Region is the region the server is started with.
const Region = "us-east-1"

// ErrNoBinary is returned when the versitygw binary cannot be found.
var ErrNoBinary = errors.New("versitygw not found on PATH or in $(go env GOPATH)/bin: run `make deps` " +
	"(or go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")

// Server is one running versitygw process.
type Server struct {
	// Endpoint is the server URL ("http://127.0.0.1:PORT").
	Endpoint string
	// Dir is the POSIX root: each subdirectory is a bucket.
	Dir string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string
	// MetaDir is the sidecar folder holding the objects' metadata (ETags,
	// content types) when Dir's filesystem has no user xattrs; "" when the
	// metadata lives in Dir's xattrs.
	MetaDir string

	cmd     *exec.Cmd
	stderr  *lockedBuffer
	done    chan struct{}
	wg      conc.WaitGroup
	once    sync.Once
	err     error
	cleanup func()
}

// Binary returns the path of versitygw: $VERSITYGW, then PATH, then
// $(go env GOPATH)/bin (or ~/go/bin).
func Binary() (string, error) {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.SplitList(gp)...)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "bin", "versitygw")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", ErrNoBinary
}

// Start launches versitygw on a free 127.0.0.1 port serving dir (created if
// needed) with fresh random root credentials, and waits (up to 30 s) until
// it answers. The server keeps object metadata, which it needs to honour
// If-None-Match: * (store.Bucket.UploadIfAbsent): in user xattrs where
// dir's filesystem has them (ext4, xfs; tmpfs from Linux 6.6), else in a
// sidecar folder beside dir (".<base>.s3meta", kept with the data so that a
// restarted server still sees its objects as present). The caller must Stop it. The process is also killed when ctx
// ends, and (Linux) when this process dies, even by SIGKILL: the kernel
// sends it SIGKILL as its parent-death signal.
func Start(ctx context.Context, dir string) (*Server, error) {
	return start(ctx, dir)
}

// ServeDir serves an existing local folder (e.g. the quickstart's
// Fashion-MNIST shards) as bucket without copying it: the server's root is a
// temporary folder holding a symlink named bucket to dir (versitygw
// --bucketlinks). Its objects are then s3://bucket/<path inside dir>.
func ServeDir(ctx context.Context, dir, bucket string) (*Server, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("s3local: %w", err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("s3local: serve %s: not a directory (%v)", dir, err)
	}
	root, err := os.MkdirTemp("", "s3local-root-*")
	if err != nil {
		return nil, fmt.Errorf("s3local: %w", err)
	}
	if err := os.Symlink(abs, filepath.Join(root, bucket)); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("s3local: %w", err)
	}
	s, err := start(ctx, root, "--bucketlinks")
	if err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	s.cleanup = func() { os.RemoveAll(root) }
	return s, nil
}

func start(ctx context.Context, dir string, posixFlags ...string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("s3local: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("s3local: free port: %w", err)
	}
	access, secret, err := newCredentials()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", port),
		Dir:       dir,
		AccessKey: access,
		SecretKey: secret,
		stderr:    &lockedBuffer{},
		done:      make(chan struct{}),
	}
	args := []string{"--port", fmt.Sprintf("127.0.0.1:%d", port), "--region", Region, "posix"}
	if forceSidecar || !xattrSupported(dir) {
		s.MetaDir = filepath.Join(filepath.Dir(filepath.Clean(dir)), "."+filepath.Base(filepath.Clean(dir))+".s3meta")
		if err := os.MkdirAll(s.MetaDir, 0o755); err != nil {
			return nil, fmt.Errorf("s3local: metadata folder: %w", err)
		}
		args = append(args, "--sidecar", s.MetaDir)
	}
	args = append(append(args, posixFlags...), dir)
	s.cmd = exec.CommandContext(ctx, bin, args...)
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	s.cmd.Stdout = s.stderr
	s.cmd.Stderr = s.stderr
	setParentDeathSignal(s.cmd)
	started := make(chan error, 1)
	s.wg.Go(func() { // Stop waits for it
		// The parent-death signal fires when the thread that started the
		// child ends, not the process: this goroutine keeps its thread, and
		// so the signal armed, until the server has exited.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := s.cmd.Start(); err != nil {
			started <- err
			close(s.done)
			return
		}
		started <- nil
		s.err = s.cmd.Wait()
		close(s.done)
	})
	if err := <-started; err != nil {
		s.wg.Wait()
		return nil, fmt.Errorf("s3local: start %s: %w", bin, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.done:
			return nil, fmt.Errorf("s3local: versitygw exited early (%v): %s", s.err, s.stderr.String())
		default:
		}
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("s3local: versitygw not ready on %s after 30 s: %s", s.Endpoint, s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// forceSidecar makes start use a sidecar folder even where xattrs work
// (tests of the sidecar mode).
var forceSidecar bool

// xattrSupported reports whether dir's filesystem stores user extended
// attributes (versitygw keeps each object's metadata in them by default):
// it sets one on a probe file and removes the file.
func xattrSupported(dir string) bool {
	f, err := os.CreateTemp(dir, ".xattr-probe-*")
	if err != nil {
		return false
	}
	defer os.Remove(f.Name())
	defer f.Close()
	return setXattr(f.Name(), "user.swav.probe", []byte("1")) == nil
}

// newCredentials draws root credentials for one server: nothing fixed in
// the source can reach a server left running.
func newCredentials() (access, secret string, err error) {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("s3local: credentials: %w", err)
	}
	h := hex.EncodeToString(b)
	return "swav" + h[:16], h[16:], nil
}

// StoreConfig returns the settings that reach this server.
func (s *Server) StoreConfig() store.Config {
	return store.Config{S3: s.S3Config(), Retries: 10}
}

// S3Config returns the S3 section that reaches this server.
func (s *Server) S3Config() store.S3Config {
	return store.S3Config{Endpoint: s.Endpoint, Region: Region, AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey}
}

// CreateBucket creates a bucket on the server and returns it opened.
func (s *Server) CreateBucket(ctx context.Context, name string) (*store.S3, error) {
	b, err := store.NewS3(ctx, name, s.StoreConfig())
	if err != nil {
		return nil, err
	}
	if err := b.CreateBucket(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Stop kills the server and waits for it to exit. It is safe to call twice.
func (s *Server) Stop() {
	s.once.Do(func() {
		if s.cmd.Process != nil {
			_ = s.cmd.Process.Kill()
		}
		s.wg.Wait()
		if s.cleanup != nil {
			s.cleanup()
		}
	})
}

// Log returns what the server printed so far (for test failure messages).
func (s *Server) Log() string { return s.stderr.String() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		return len(p), nil // keep the first MiB only
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
