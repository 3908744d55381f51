//go:build !linux

package store

// RenameNoReplace moves oldpath to newpath unless newpath exists (the local
// half of Bucket.UploadIfAbsent and of StagedFile.Commit): link(2)
// fails on an existing name atomically; the temp name is removed after.
func RenameNoReplace(oldpath, newpath string) error { return linkThenRemove(oldpath, newpath) }
