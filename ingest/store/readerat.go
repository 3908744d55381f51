package store

import (
	"context"
	"errors"
	"io"
)

// ReaderAt reads one object of size bytes by ranged reads (io.ReaderAt and
// io.Seeker, what a Parquet reader takes): the footer first, then only the
// column chunks it needs. Each ReadAt is one GetRange; a read past the end
// is io.EOF. The Seek position is its own: ReadAt ignores it.
type ReaderAt struct {
	ctx  context.Context
	b    Bucket
	name string
	size int64
	pos  int64
}

func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), r.size-off)
	rc, err := r.b.GetRange(r.ctx, r.name, off, n)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	got, err := io.ReadFull(rc, p[:n])
	if err == nil && n < int64(len(p)) {
		err = io.EOF
	}
	return got, err
}

func (r *ReaderAt) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.pos
	case io.SeekEnd:
		off += r.size
	}
	if off < 0 {
		return 0, errors.New("seek before start")
	}
	r.pos = off
	return off, nil
}

// NewReaderAt reads object name of b, size bytes long, by ranged reads.
func NewReaderAt(ctx context.Context, b Bucket, name string, size int64) *ReaderAt {
	return &ReaderAt{ctx: ctx, b: b, name: name, size: size}
}
