package ingest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
)

// maxMemberSize bounds one tar member held in memory (a larger member is a
// corrupt sample, not an out-of-memory).
const maxMemberSize = 256 << 20

// WebDataset tar shards: each sample is the consecutive members sharing a
// key ("a/x001.jpg", "a/x001.cls", "a/x001.json").
func init() { RegisterFormat("wds", Format{Ext: ".tar", Open: openWDS}) }

// openWDS streams the shard's object through a tar reader (the S3 reader
// resumes a cut body by byte range, so the tar reader sees every byte).
func openWDS(ctx context.Context, s Shard, _ *Config) (ShardReader, error) {
	rc, err := s.Bucket.Get(ctx, s.Name)
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", s.URL, err)
	}
	return newWDSReader(rc, s.URL), nil
}

// wdsReader groups consecutive tar members by WebDataset key. It reads the
// archive to its end-of-archive blocks: an archive that stops before them is
// incomplete (IncompleteShardError), never read as a shorter complete one.
type wdsReader struct {
	readerState
	rc      io.ReadCloser
	stream  *tarStream
	tr      *tar.Reader
	shard   string
	pending *member
	done    bool
	// next is the offset of the header that follows the current entry (its
	// data rounded up to whole 512-byte blocks); last names that entry.
	next int64
	last string
	// cut is set once the archive turned out incomplete: Next marks the
	// sample in progress Bad and then ends with it as the error.
	cut *IncompleteShardError
	// size is the object's size once read to its end (-1 until then).
	size int64
}

type member struct {
	key, ext string
	data     []byte
	offset   int64
	bad      string
	cut      bool // the archive ends inside its data
}

// tarStream is the byte stream under the tar reader: it counts bytes,
// remembers where the last non-zero byte was (so a cut inside the zero
// end-of-archive blocks is told from a cut inside a header) and keeps the
// first error other than io.EOF (a failed read is an I/O error, not a
// short shard: the S3 reader resumes cut bodies and fails only when it
// gives up).
type tarStream struct {
	r           io.Reader
	n           int64 // bytes read so far
	lastNonZero int64 // offset just past the last non-zero byte read, 0 if none
	err         error
}

func (s *tarStream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	for i := n - 1; i >= 0; i-- {
		if p[i] != 0 {
			s.lastNonZero = s.n + int64(i) + 1
			break
		}
	}
	s.n += int64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// maxTrailer bounds what is read after the end-of-archive blocks to learn
// the object's size (GNU tar and Python's tarfile pad to 10 KiB records).
const maxTrailer = 1 << 20

func newWDSReader(rc io.ReadCloser, shard string) *wdsReader {
	st := &tarStream{r: rc}
	return &wdsReader{rc: rc, stream: st, tr: tar.NewReader(st), shard: shard, size: -1}
}

func (w *wdsReader) Close() error { return w.rc.Close() }

// ObjectSize returns the shard's size in bytes once it was read to its end,
// else -1 (see checkedReader).
func (w *wdsReader) ObjectSize() int64 { return w.size }

// splitKey applies the WebDataset convention: the key is the member path up
// to the first dot of its base name, the extension is the rest, lower-cased.
func splitKey(name string) (key, ext string) {
	dir, base := path.Split(name)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		return dir + base[:i], strings.ToLower(base[i+1:])
	}
	return dir + base, ""
}

// escapes reports whether a member path is absolute or leaves the archive.
func escapes(name string) bool {
	if strings.HasPrefix(name, "/") {
		return true
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

// nextMember reads the next regular member (nil at the end of the archive,
// complete or not: w.cut tells). A member whose data is cut is returned Bad.
func (w *wdsReader) nextMember() (*member, error) {
	if w.cut != nil {
		return nil, nil
	}
	for {
		hdr, err := w.tr.Next()
		if w.stream.err != nil {
			return nil, fmt.Errorf("shard %s: %w", w.shard, w.stream.err)
		}
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, w.atEnd(err == io.EOF)
		}
		if err != nil {
			return nil, fmt.Errorf("shard %s: corrupt tar header near byte %d: %w", w.shard, w.stream.n, err)
		}
		dataStart := w.stream.n
		w.next, w.last = dataStart+(hdr.Size+511)/512*512, hdr.Name
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		offset := dataStart - 512
		key, ext := splitKey(hdr.Name)
		base := path.Base(key)
		if strings.HasPrefix(base, "__") && strings.HasSuffix(base, "__") {
			continue // __key__-style metadata members
		}
		m := &member{key: key, ext: ext, offset: offset}
		switch {
		case escapes(hdr.Name):
			m.bad = fmt.Sprintf("member path %q escapes the archive", hdr.Name)
		case hdr.Size > maxMemberSize:
			m.bad = fmt.Sprintf("member %q is %d bytes (limit %d)", hdr.Name, hdr.Size, maxMemberSize)
		}
		if m.bad != "" {
			return m, nil // its data is skipped by the next tr.Next
		}
		if isImageExt(lastExt(ext)) {
			m.data = getData(int(hdr.Size)) // handed back by Sample.Release
		} else {
			m.data = make([]byte, hdr.Size)
		}
		if _, err := io.ReadFull(w.tr, m.data); err != nil {
			if w.stream.err != nil {
				return nil, fmt.Errorf("shard %s: member %q: %w", w.shard, hdr.Name, w.stream.err)
			}
			if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("shard %s: member %q at byte %d: %w", w.shard, hdr.Name, w.stream.n, err)
			}
			if isImageExt(lastExt(ext)) {
				putData(m.data)
			}
			m.data = nil
			w.cut = &IncompleteShardError{Shard: w.shard, At: w.stream.n, Lost: true,
				Reason: fmt.Sprintf("is cut inside member %q (%d of its %d bytes)", hdr.Name, w.stream.n-dataStart, hdr.Size)}
			m.bad = fmt.Sprintf("member %q is cut: the shard ends at byte %d, %d of its %d bytes in", hdr.Name, w.stream.n, w.stream.n-dataStart, hdr.Size)
			m.cut = true
			return m, nil
		}
		return m, nil
	}
}

// atEnd classifies the end of the archive: the tar reader met the end of
// the stream (clean: at a block boundary, else in the middle of something)
// where a header was due. Only the two zero end-of-archive blocks make a
// complete archive; then the rest of the object (record padding) is read
// to learn its size. Otherwise w.cut says where the archive stops and
// whether samples may be lost (anything but a cut inside the end blocks).
func (w *wdsReader) atEnd(clean bool) error {
	n, past := w.stream.n, w.stream.n-w.next
	after := ""
	if w.last != "" {
		after = fmt.Sprintf(" after member %q", w.last)
	}
	cut := func(lost bool, format string, args ...any) error {
		w.cut = &IncompleteShardError{Shard: w.shard, At: n, Lost: lost, Reason: fmt.Sprintf(format, args...)}
		return nil
	}
	switch {
	case clean && past == 1024:
		m, err := io.Copy(io.Discard, io.LimitReader(w.stream, maxTrailer))
		if w.stream.err != nil {
			return fmt.Errorf("shard %s: %w", w.shard, w.stream.err)
		}
		if err == nil && m < maxTrailer {
			w.size = w.stream.n
		}
		return nil
	case past < 0 || (past == 0 && !clean):
		return cut(true, "ends at byte %d inside the data or padding of member %q", n, w.last)
	case past == 0:
		return cut(true, "ends at byte %d%s without the tar end-of-archive blocks", n, after)
	case w.stream.lastNonZero <= w.next:
		return cut(false, "ends at byte %d inside its end-of-archive blocks (%d of 1024 bytes): every member was read", n, past)
	default:
		return cut(true, "ends at byte %d inside the tar header at byte %d%s", n, w.next, after)
	}
}

// Next implements ShardReader: the next key's members as one record. When
// the archive is incomplete, the last sample read before the cut is Bad
// (it may miss members) unless the cut lies in the end-of-archive blocks,
// and Err is then the *IncompleteShardError.
func (w *wdsReader) Next() bool {
	w.rec = Record{}
	if w.err != nil || (w.pending == nil && !w.advance()) || w.pending == nil {
		w.endErr()
		return false
	}
	group := []*member{w.pending}
	for {
		if !w.advance() {
			return false
		}
		if w.pending == nil || w.pending.key != group[0].key {
			break
		}
		group = append(group, w.pending)
	}
	w.rec = assembleSample(group, w.shard)
	if w.pending == nil && w.cut != nil && w.cut.Lost {
		if w.rec.Sample != nil {
			w.rec.Sample.Release()
			w.rec.Sample = nil
		}
		if !slices.ContainsFunc(group, func(m *member) bool { return m.cut }) {
			w.rec.Bad = "may be incomplete: the shard " + w.cut.Reason
		}
		w.rec.Class = SkipClassCutShard
	}
	return true
}

// endErr makes an incomplete archive the reader's error once its records
// are out.
func (w *wdsReader) endErr() {
	if w.err == nil && w.cut != nil {
		w.err = w.cut
	}
}

// advance reads the next member into w.pending (nil once the archive has
// ended) and reports false on an error, which it keeps in w.err.
func (w *wdsReader) advance() bool {
	w.pending = nil
	if w.done {
		return true
	}
	m, err := w.nextMember()
	if err != nil {
		w.err = err
		return false
	}
	w.pending, w.done = m, m == nil
	return true
}

// assembleSample builds the Sample of one key's members, or a corrupt record.
func assembleSample(group []*member, shard string) Record {
	first := group[0]
	rec := Record{Key: first.key, Shard: shard, Where: fmt.Sprintf("byte %d", first.offset)}
	s := &Sample{Key: first.key, Shard: shard, Label: -1}
	for _, m := range group {
		if m.bad != "" {
			rec.Bad = m.bad
			return rec
		}
		switch ext := m.ext; {
		case isImageExt(lastExt(ext)) && s.Data == nil:
			s.Data, s.Ext = m.data, normImageExt(lastExt(ext))
		case ext == "cls":
			v, err := strconv.ParseInt(string(bytes.TrimSpace(m.data)), 10, 64)
			if err != nil {
				rec.Bad = fmt.Sprintf("bad .%s label %q", ext, truncate(m.data, 32))
				return rec
			}
			s.Label = v
		case ext == "json":
			s.Meta = m.data
		}
	}
	if s.Data == nil {
		exts := make([]string, len(group))
		for i, m := range group {
			exts[i] = m.ext
		}
		rec.Bad = fmt.Sprintf("no image member (have %v)", exts)
		return rec
	}
	rec.Sample = s
	return rec
}

func lastExt(ext string) string {
	if i := strings.LastIndexByte(ext, '.'); i >= 0 {
		return ext[i+1:]
	}
	return ext
}

func extOf(name string) string { return lastExt(strings.ToLower(path.Ext(name))) }

func isImageExt(ext string) bool {
	switch strings.TrimPrefix(ext, ".") {
	case "jpg", "jpeg", "png", "webp":
		return true
	}
	return false
}

func normImageExt(ext string) string {
	if ext == "jpeg" {
		return "jpg"
	}
	return ext
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// WDSWriter writes a WebDataset tar shard: one member per field of each
// sample ("<key>.png", "<key>.cls", "<key>.json"), consecutive per key.
type WDSWriter struct {
	tw      *tar.Writer
	samples int64
}

// NewWDSWriter writes the shard to w; Close finishes the archive (it does not
// close w).
func NewWDSWriter(w io.Writer) *WDSWriter { return &WDSWriter{tw: tar.NewWriter(w)} }

// Write appends one sample (label < 0 writes no .cls member).
func (w *WDSWriter) Write(s *Sample) error {
	if s.Key == "" || strings.Contains(s.Key, ".") || escapes(s.Key) {
		return fmt.Errorf("wds writer: invalid sample key %q (no dots, no ..)", s.Key)
	}
	put := func(ext string, data []byte) error {
		hdr := &tar.Header{Name: s.Key + "." + ext, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := w.tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("wds writer: sample %q: %w", s.Key, err)
		}
		if _, err := w.tw.Write(data); err != nil {
			return fmt.Errorf("wds writer: sample %q: %w", s.Key, err)
		}
		return nil
	}
	if err := put(s.Ext, s.Data); err != nil {
		return err
	}
	if s.Label >= 0 {
		if err := put("cls", []byte(strconv.FormatInt(s.Label, 10))); err != nil {
			return err
		}
	}
	if s.Meta != nil {
		if err := put("json", s.Meta); err != nil {
			return err
		}
	}
	w.samples++
	return nil
}

// Samples returns the number of samples written.
func (w *WDSWriter) Samples() int64 { return w.samples }

// Close writes the tar footer.
func (w *WDSWriter) Close() error { return w.tw.Close() }
