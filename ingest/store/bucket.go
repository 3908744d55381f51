// Package store is the object-store layer, in thanos objstore's shape: the
// Bucket interface, its local-filesystem (Local) and S3 (S3) implementations,
// a folder of a bucket as a bucket of its own (Prefixed), opening a bucket
// from a URL (Open, OpenDir), the S3 client shared by every bucket of the
// same settings and the process's S3 counters. It knows nothing of shards or
// samples: ingest, checkpoints, feature sinks and weights readers all reach
// files and objects through it.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotExist is wrapped by every Bucket error about an object that does not
// exist; test with errors.Is or IsNotExist.
var ErrNotExist = errors.New("object does not exist")

// IsNotExist reports whether err says an object does not exist.
func IsNotExist(err error) bool { return errors.Is(err, ErrNotExist) }

// ErrExists is wrapped by UploadIfAbsent's error when the object is already
// there (S3: 412 PreconditionFailed to If-None-Match: *; local: the name was
// taken when the file was linked into place). The object is left as it was.
var ErrExists = errors.New("object already exists")

// IsExist reports whether err says the object was already there.
func IsExist(err error) bool { return errors.Is(err, ErrExists) }

// ObjectInfo describes one object found by Iter.
type ObjectInfo struct {
	// Name is the object's key relative to the bucket root ("dir/x.tar").
	Name string
	// Size is the object size in bytes.
	Size int64
}

// ObjectAttributes are the attributes of one object.
type ObjectAttributes struct {
	Size int64
}

// Bucket is a small object-store interface (thanos-objstore style) with one
// local-filesystem and one S3 implementation. Object names use "/" as the
// separator and never start with "/". All methods are safe for concurrent use.
// Readers returned by Get and GetRange stream: nothing is loaded whole into
// memory; the caller owns and must Close them.
type Bucket interface {
	// Name returns the bucket URL ("file:///", "s3://bucket"); errors use it.
	Name() string
	// Get streams the whole object. The S3 reader resumes by byte range when
	// a body is cut or a connection resets, so a successful read is complete.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// GetRange streams length bytes from off (length < 0: to the end).
	GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error)
	// Exists reports whether the object exists.
	Exists(ctx context.Context, name string) (bool, error)
	// Attributes returns the object's size; the error wraps ErrNotExist when
	// the object is missing.
	Attributes(ctx context.Context, name string) (ObjectAttributes, error)
	// Iter calls f for every object whose name starts with prefix (a plain
	// string prefix, recursive), in lexical order. An error from f stops the
	// iteration and is returned.
	Iter(ctx context.Context, prefix string, f func(ObjectInfo) error) error
	// Upload writes the object atomically: readers see the old object or the
	// whole new one, never a part (local: temp file + rename; S3: PutObject).
	Upload(ctx context.Context, name string, r io.Reader) error
	// UploadIfAbsent is Upload that never replaces an object: it writes name
	// only if no object of that name exists when the write lands, atomically
	// with the check, so that of several writers racing for one name exactly
	// one wins and the others get an error wrapping ErrExists (and the
	// winner's object stays whole). Local: a temp file linked into place
	// with renameat2(RENAME_NOREPLACE) (or link(2) where the filesystem
	// lacks it); S3: PutObject with If-None-Match: *, a 409
	// ConditionalRequestConflict retried with backoff.
	UploadIfAbsent(ctx context.Context, name string, r io.Reader) error
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, name string) error
	// Close releases the bucket's resources.
	Close() error
}

// List collects Iter's objects into a slice (lexical order).
func List(ctx context.Context, b Bucket, prefix string) ([]ObjectInfo, error) {
	var out []ObjectInfo
	err := b.Iter(ctx, prefix, func(o ObjectInfo) error { out = append(out, o); return nil })
	return out, err
}

// ObjectURL joins a bucket URL and an object name for messages ("s3://b/k").
func ObjectURL(b Bucket, name string) string {
	return strings.TrimSuffix(b.Name(), "/") + "/" + name
}

// Open opens the store named by rawURL and returns it together with the
// key prefix rawURL points at inside it:
//
//	/data/shards, ./shards, file:///data/shards -> local bucket "file:///", prefix "data/shards"
//	s3://bucket/prefix/x                        -> S3 bucket "bucket", prefix "prefix/x"
//
// Opening an S3 bucket loads the AWS configuration (environment, shared
// files, opts) but sends no request. The caller owns the Bucket and closes it.
// OpenDir is Open for a folder: the Bucket it returns is Prefixed by the key.
func Open(ctx context.Context, rawURL string, opts Config) (Bucket, string, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		scheme, rest = "", rawURL
	}
	switch strings.ToLower(scheme) {
	case "", "file":
		if scheme == "file" {
			u, err := url.Parse(rawURL)
			if err != nil {
				return nil, "", fmt.Errorf("open bucket %q: %w", rawURL, err)
			}
			rest = u.Path
			if u.Host != "" && u.Host != "localhost" {
				rest = u.Host + "/" + strings.TrimPrefix(rest, "/") // file://relative/dir
			}
		}
		if rest == "" {
			return nil, "", fmt.Errorf("open bucket %q: empty path", rawURL)
		}
		abs, err := filepath.Abs(rest)
		if err != nil {
			return nil, "", fmt.Errorf("open bucket %q: %w", rawURL, err)
		}
		prefix := strings.TrimPrefix(filepath.ToSlash(abs), "/")
		if strings.HasSuffix(rest, "/") && prefix != "" {
			prefix += "/"
		}
		b, err := NewLocal(string(os.PathSeparator))
		return b, prefix, err
	case "s3":
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return nil, "", fmt.Errorf("open bucket %q: no bucket name after s3://", rawURL)
		}
		b, err := NewS3(ctx, bucket, opts)
		return b, prefix, err
	default:
		return nil, "", fmt.Errorf("open bucket %q: unsupported scheme %q (want a path, file:// or s3://)", rawURL, scheme)
	}
}

// Copy copies every object of src to dst under the same name, one streamed
// object at a time (Prefixed buckets copy one folder into another). It
// returns the number of objects and bytes copied.
func Copy(ctx context.Context, src, dst Bucket) (int, int64, error) {
	objs, err := List(ctx, src, "")
	if err != nil {
		return 0, 0, err
	}
	var total int64
	for i, o := range objs {
		rc, err := src.Get(ctx, o.Name)
		if err != nil {
			return i, total, err
		}
		err = dst.Upload(ctx, o.Name, rc)
		rc.Close()
		if err != nil {
			return i, total, err
		}
		total += o.Size
	}
	return len(objs), total, nil
}
