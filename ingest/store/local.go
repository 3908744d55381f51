package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Local is a Bucket over a directory of the local filesystem.
type Local struct {
	root string
}

// NewLocal returns a Bucket rooted at dir (which need not exist yet).
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local bucket %q: %w", dir, err)
	}
	return &Local{root: abs}, nil
}

// Name implements Bucket.
func (b *Local) Name() string { return "file://" + filepath.ToSlash(b.root) }

// path maps an object name to a file path, refusing names that escape root.
func (b *Local) path(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || path.Clean(name) != name ||
		name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "\x00") {
		return "", fmt.Errorf("object %q in %s: invalid name (empty, absolute or not clean)", name, b.Name())
	}
	return filepath.Join(b.root, filepath.FromSlash(name)), nil
}

func (b *Local) notExist(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", ObjectURL(b, name), ErrNotExist)
	}
	return fmt.Errorf("%s: %w", ObjectURL(b, name), err)
}

// Get implements Bucket.
func (b *Local) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	return b.GetRange(ctx, name, 0, -1)
}

// GetRange implements Bucket.
func (b *Local) GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	p, err := b.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, b.notExist(name, err)
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory: %w", ObjectURL(b, name), ErrNotExist)
	}
	if off == 0 && length < 0 {
		return f, nil
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: seek %d: %w", ObjectURL(b, name), off, err)
	}
	if length < 0 {
		return f, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, length), f}, nil
}

// Exists implements Bucket.
func (b *Local) Exists(ctx context.Context, name string) (bool, error) {
	_, err := b.Attributes(ctx, name)
	if IsNotExist(err) {
		return false, nil
	}
	return err == nil, err
}

// Attributes implements Bucket.
func (b *Local) Attributes(_ context.Context, name string) (ObjectAttributes, error) {
	p, err := b.path(name)
	if err != nil {
		return ObjectAttributes{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return ObjectAttributes{}, b.notExist(name, err)
	}
	if st.IsDir() {
		return ObjectAttributes{}, fmt.Errorf("%s: is a directory: %w", ObjectURL(b, name), ErrNotExist)
	}
	return ObjectAttributes{Size: st.Size()}, nil
}

// Iter implements Bucket. Temporary upload files are not listed.
func (b *Local) Iter(ctx context.Context, prefix string, f func(ObjectInfo) error) error {
	dir := prefix
	if !strings.HasSuffix(dir, "/") {
		dir = path.Dir("/" + dir)
	}
	start := filepath.Join(b.root, filepath.FromSlash(path.Clean("/"+dir)))
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // nothing under this prefix
			}
			return err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		rel, rerr := filepath.Rel(b.root, p)
		if rerr != nil {
			return rerr
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			// Prune directories that cannot contain a match.
			if name != "." && !strings.HasPrefix(name+"/", prefix) && !strings.HasPrefix(prefix, name+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(name, prefix) || strings.Contains(path.Base(name), tmpMarker) {
			return nil
		}
		info, ierr := d.Info()
		if ierr != nil {
			return ierr
		}
		return f(ObjectInfo{Name: name, Size: info.Size()})
	})
	if err != nil {
		return fmt.Errorf("list %s prefix %q: %w", b.Name(), prefix, err)
	}
	return nil
}

const tmpMarker = ".tmp-upload-"

// Upload implements Bucket: it writes a temporary file next to the target,
// syncs it and renames it into place (replacing an older object).
func (b *Local) Upload(ctx context.Context, name string, r io.Reader) error {
	return b.upload(ctx, "upload", name, r, os.Rename)
}

// UploadIfAbsent implements Bucket: Upload's temporary file is moved into
// place with RenameNoReplace, so an existing object is never replaced and,
// of racing writers, exactly one lands its file.
func (b *Local) UploadIfAbsent(ctx context.Context, name string, r io.Reader) error {
	return b.upload(ctx, "upload (if absent)", name, r, RenameNoReplace)
}

// upload writes r to a synced temporary file beside name's file and moves
// it there with place. Nothing of a failed write stays visible: the
// temporary file is removed on every error (a full disk, an I/O error, a
// read-only folder, ctx ending).
func (b *Local) upload(ctx context.Context, op, name string, r io.Reader, place func(oldpath, newpath string) error) error {
	p, err := b.path(name)
	if err != nil {
		return err
	}
	fail := func(err error) error { return fmt.Errorf("%s %s: %w", op, ObjectURL(b, name), err) }
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fail(err)
	}
	tmp, err := createTemp(filepath.Dir(p), filepath.Base(p))
	if err != nil {
		return fail(err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := copyInto(ctx, tmp, r); err != nil {
		return fail(err)
	}
	if err := landTemp(tmp, p, place); err != nil {
		return fail(err)
	}
	ok = true
	return nil
}

// createTemp creates the temporary file of dir/base beside it, its name
// carrying this process's PID; the temps of that name that killed writers
// left are removed first (removeDeadTemps), by the next writer of the name.
func createTemp(dir, base string) (*os.File, error) {
	prefix := "." + base + tmpMarker
	removeDeadTemps(filepath.Join(dir, globEscape(prefix)+"*"), tmpMarker)
	return os.CreateTemp(dir, prefix+strconv.Itoa(os.Getpid())+"-*")
}

// landTemp makes tmp readable and durable (0644, fsync), closes it and moves
// it to dest with place; a dest that place finds taken is ErrExists. tmp is
// closed whatever the outcome; removing it after a failure is the caller's.
func landTemp(tmp *os.File, dest string, place func(oldpath, newpath string) error) error {
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := place(tmp.Name(), dest); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ErrExists
		}
		return err
	}
	return nil
}

// linkThenRemove is the portable no-replace move: link(2) fails with EEXIST
// on an existing name, atomically; the old name is removed after.
func linkThenRemove(oldpath, newpath string) error {
	if err := os.Link(oldpath, newpath); err != nil {
		return err
	}
	os.Remove(oldpath)
	return nil
}

// Delete implements Bucket.
func (b *Local) Delete(_ context.Context, name string) error {
	p, err := b.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", ObjectURL(b, name), err)
	}
	return nil
}

// Close implements Bucket.
func (b *Local) Close() error { return nil }

// ctxReader stops a copy once ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// globEscape quotes the characters filepath.Match treats as special.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// copyInto copies r into tmp. A regular file is copied by the kernel
// (copy_file_range, io.Copy's *os.File fast path: no pass through user
// memory; a staged file of a writer, such as a feature file, lands at the
// cost of one write), with ctx checked before and after; any other reader
// is copied in chunks that stop once ctx ends.
func copyInto(ctx context.Context, tmp *os.File, r io.Reader) error {
	if f, ok := r.(*os.File); ok {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := io.Copy(tmp, f); err != nil {
			return err
		}
		return ctx.Err()
	}
	_, err := io.Copy(tmp, ctxReader{ctx, r})
	return err
}
