package store

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// RenameNoReplace moves oldpath to newpath unless newpath exists (the local
// half of Bucket.UploadIfAbsent and of StagedFile.Commit), in one
// step: renameat2(RENAME_NOREPLACE). Filesystems without the flag (EINVAL:
// some network and FUSE filesystems) get link(2), which fails on an existing
// name just as atomically, and the temp name is removed after. An existing
// newpath is an *os.LinkError wrapping fs.ErrExist (EEXIST).
func RenameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP) {
		return linkThenRemove(oldpath, newpath)
	}
	return &os.LinkError{Op: "renameat2", Old: oldpath, New: newpath, Err: err}
}
