package store

import (
	"context"
	"io"
	"strings"
)

// prefixed is a Bucket seen from a folder of another: its names are
// relative to the folder (thanos objstore's PrefixedBucket).
type prefixed struct {
	b      Bucket
	prefix string // no leading or trailing "/", never empty
}

// Prefixed returns b seen from its folder prefix ("run1", "data/shards/"):
// object names are relative to it, Name is b's URL joined with the prefix
// (so errors and ObjectURL still name the full key), and Close closes b. An
// empty prefix returns b itself.
func Prefixed(b Bucket, prefix string) Bucket {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return b
	}
	return &prefixed{b: b, prefix: prefix}
}

// OpenDir opens the folder rawURL names (a path, file:// or s3:// URL, as
// for Open) as a Bucket whose object names are relative to it. The caller
// owns the Bucket and closes it.
func OpenDir(ctx context.Context, rawURL string, opts Config) (Bucket, error) {
	b, prefix, err := Open(ctx, rawURL, opts)
	if err != nil {
		return nil, err
	}
	return Prefixed(b, prefix), nil
}

func (p *prefixed) key(name string) string { return p.prefix + "/" + name }

// Name implements Bucket.
func (p *prefixed) Name() string { return ObjectURL(p.b, p.prefix) }

// Get implements Bucket.
func (p *prefixed) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	return p.b.Get(ctx, p.key(name))
}

// GetRange implements Bucket.
func (p *prefixed) GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	return p.b.GetRange(ctx, p.key(name), off, length)
}

// Exists implements Bucket.
func (p *prefixed) Exists(ctx context.Context, name string) (bool, error) {
	return p.b.Exists(ctx, p.key(name))
}

// Attributes implements Bucket.
func (p *prefixed) Attributes(ctx context.Context, name string) (ObjectAttributes, error) {
	return p.b.Attributes(ctx, p.key(name))
}

// Iter implements Bucket: the names f sees are relative to the prefix.
func (p *prefixed) Iter(ctx context.Context, prefix string, f func(ObjectInfo) error) error {
	return p.b.Iter(ctx, p.key(prefix), func(o ObjectInfo) error {
		o.Name = strings.TrimPrefix(o.Name, p.prefix+"/")
		return f(o)
	})
}

// Upload implements Bucket.
func (p *prefixed) Upload(ctx context.Context, name string, r io.Reader) error {
	return p.b.Upload(ctx, p.key(name), r)
}

// UploadIfAbsent implements Bucket.
func (p *prefixed) UploadIfAbsent(ctx context.Context, name string, r io.Reader) error {
	return p.b.UploadIfAbsent(ctx, p.key(name), r)
}

// Delete implements Bucket.
func (p *prefixed) Delete(ctx context.Context, name string) error {
	return p.b.Delete(ctx, p.key(name))
}

// Close implements Bucket: it closes the underlying bucket.
func (p *prefixed) Close() error { return p.b.Close() }
