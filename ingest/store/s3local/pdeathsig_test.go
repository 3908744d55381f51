package s3local_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swavgo/swav/ingest/store/s3local"
)

// TestServerDiesWithItsParent starts a server from a child process (this
// test binary in helper mode), kills that child with SIGKILL, and expects
// the server to be gone within seconds: no orphaned versitygw keeps serving.
func TestServerDiesWithItsParent(t *testing.T) {
	if os.Getenv("S3LOCAL_PARENT") == "1" {
		srv, err := s3local.Start(context.Background(), t.TempDir())
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("PID", srv.PID(), srv.AccessKey)
		time.Sleep(time.Minute) // killed by the test long before
		os.Exit(0)
	}
	if _, err := s3local.Binary(); errors.Is(err, s3local.ErrNoBinary) {
		t.Skip(err)
	}
	parent := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithItsParent$")
	parent.Env = append(os.Environ(), "S3LOCAL_PARENT=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "PID ") {
		parent.Process.Kill()
		t.Fatalf("helper said %q (%v)", line, err)
	}
	fields := strings.Fields(line)
	pid, _ := strconv.Atoi(fields[1])
	if fields[2] == "swavlocal" {
		t.Errorf("fixed credentials %q: each server must draw its own", fields[2])
	}
	parent.Process.Signal(syscall.SIGKILL)
	parent.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("versitygw (pid %d) outlived its killed parent by 10 s", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive says whether pid runs (a zombie waiting for its reaper counts as dead).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
