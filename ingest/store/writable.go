package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// writeChecker is implemented by buckets that can check, before any
// object is written, that names under a folder can be written (Local).
type writeChecker interface {
	checkWrite(ctx context.Context, folder string) error
}

// CheckWrite reports whether objects can be written under b, before any
// work that would end in a write: a local bucket creates its folder and
// makes and removes a temporary file in it (a read-only or full disk, a
// folder that cannot be created, is an error naming it). Buckets without a
// cheap check (S3: it would take a PutObject and a DeleteObject the caller
// may not be allowed) report nil and fail on their first write instead.
func CheckWrite(ctx context.Context, b Bucket) error {
	if c, ok := b.(writeChecker); ok {
		return c.checkWrite(ctx, "")
	}
	return nil
}

// checkWrite implements writeChecker.
func (b *Local) checkWrite(ctx context.Context, folder string) error {
	dir, folder := b.root, strings.Trim(folder, "/")
	if folder != "" {
		p, err := b.path(folder)
		if err != nil {
			return err
		}
		dir = p
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: cannot create the folder: %w", ObjectURL(b, folder), err)
	}
	f, err := os.CreateTemp(dir, "."+tmpMarker+strconv.Itoa(os.Getpid())+"-probe-*")
	if err != nil {
		return fmt.Errorf("%s: cannot write there: %w", ObjectURL(b, folder), err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// checkWrite implements writeChecker for a folder of a bucket that has it.
func (p *prefixed) checkWrite(ctx context.Context, folder string) error {
	c, ok := p.b.(writeChecker)
	if !ok {
		return nil
	}
	if folder != "" {
		return c.checkWrite(ctx, p.key(folder))
	}
	return c.checkWrite(ctx, p.prefix)
}

// removeDeadTemps removes the files matching pattern (a filepath.Glob) whose
// name carries, right after the last marker, the PID of a process that is
// no longer running ("<marker><pid>-..."): what a writer killed with SIGKILL
// left behind. Files of live processes, and names without a PID, are kept.
func removeDeadTemps(pattern, marker string) {
	matches, _ := filepath.Glob(pattern)
	for _, m := range matches {
		i := strings.LastIndex(m, marker)
		if i < 0 {
			continue
		}
		pidText, _, ok := strings.Cut(m[i+len(marker):], "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH {
			os.Remove(m)
		}
	}
}
