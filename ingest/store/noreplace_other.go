//go:build !linux

package store

// renameNoReplace moves oldpath to newpath unless newpath exists: link(2)
// fails on an existing name atomically; the temp name is removed after.
func renameNoReplace(oldpath, newpath string) error { return linkThenRemove(oldpath, newpath) }
