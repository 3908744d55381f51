package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// StagedFile is one object being written as a local file (random access:
// a writer may seek back, read and rewrite, as a Parquet footer's checksums
// need) and put into its bucket whole on Commit: atomically, only if no
// object of its name exists, or not at all (Abort). Stage makes one; it is
// used by one goroutine, which must call Commit or Abort.
type StagedFile struct {
	*os.File
	b    Bucket
	name string
	dest string // the object's file when the staged file lies beside it (Commit renames it), else ""
	done bool
}

// stager is implemented by buckets whose objects are files (Local): a
// staged file is created beside its object, so that Commit renames it and
// its bytes are written once.
type stager interface {
	stagePath(name string) (string, error)
}

// Stage creates the staged file of object name of b: beside the object for
// a bucket of local files (Commit is a rename, RENAME_NOREPLACE), in the
// system temp folder for the others (Commit is UploadIfAbsent of the file).
// The temp file's name carries this process's PID: staged files that
// killed writers left (of this name beside the object, or in the temp
// folder) are removed here (removeDeadTemps).
func Stage(ctx context.Context, b Bucket, name string) (*StagedFile, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir, base, dest := os.TempDir(), filepath.Base(name), ""
	if s, ok := b.(stager); ok {
		p, err := s.stagePath(name)
		switch {
		case errors.Is(err, errors.ErrUnsupported): // a folder of a bucket of objects
		case err != nil:
			return nil, err
		default:
			dir, base, dest = filepath.Dir(p), filepath.Base(p), p
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("stage %s: %w", ObjectURL(b, name), err)
			}
		}
	}
	f, err := createTemp(dir, base)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", ObjectURL(b, name), err)
	}
	return &StagedFile{File: f, b: b, name: name, dest: dest}, nil
}

// Commit puts the staged file into the bucket as its object, only if no
// object of that name exists (of racing writers exactly one lands; the
// others get an error wrapping ErrExists and the winner's object stays
// whole). The staged file is closed and removed whatever the outcome; on
// error nothing of it is visible.
func (f *StagedFile) Commit(ctx context.Context) error {
	if f.done {
		return fmt.Errorf("commit %s: already committed or aborted", ObjectURL(f.b, f.name))
	}
	f.done = true
	defer os.Remove(f.Name())
	fail := func(err error) error {
		f.File.Close()
		return fmt.Errorf("commit %s: %w", ObjectURL(f.b, f.name), err)
	}
	if f.dest == "" {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fail(err)
		}
		if err := f.b.UploadIfAbsent(ctx, f.name, f.File); err != nil {
			return fail(err)
		}
		f.File.Close()
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := landTemp(f.File, f.dest, RenameNoReplace); err != nil {
		return fmt.Errorf("commit %s: %w", ObjectURL(f.b, f.name), err)
	}
	return nil
}

// Abort drops the staged file; nothing of it is visible. It does nothing
// after Commit or Abort.
func (f *StagedFile) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.Name())
}

// stagePath implements stager.
func (b *Local) stagePath(name string) (string, error) { return b.path(name) }

// stagePath implements stager for a folder of a bucket that has it.
func (p *prefixed) stagePath(name string) (string, error) {
	s, ok := p.b.(stager)
	if !ok {
		return "", errors.ErrUnsupported
	}
	return s.stagePath(p.key(name))
}
