// Package tensorboard writes TensorBoard event files: TFRecord frames
// (length, masked CRC-32C of the length, an Event protobuf, masked CRC-32C
// of the data) whose first Event is file_version "brain.Event:2", then one
// Event per logged step holding its scalars and histograms. TensorBoard,
// tensorboardX and tf.data read them.
//
// No maintained Go writer is served by the module proxy, and the format is
// small: the Events are encoded with google.golang.org/protobuf's protowire
// (field numbers of TensorFlow's event.proto and summary.proto), the CRCs
// with hash/crc32's Castagnoli table.
package tensorboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/swavgo/swav/ingest/store"
)

// FileName is the event file's name for a writer started at t on host:
// events.out.tfevents.<unix seconds, 10 digits>.<host>, TensorFlow's.
func FileName(t time.Time, host string) string {
	return fmt.Sprintf("events.out.tfevents.%010d.%s", t.Unix(), host)
}

// Options tune Open.
type Options struct {
	// Store configures s3:// folders (zero: the standard AWS environment).
	Store store.Config
	// UploadEvery is how often a writer to an object store re-uploads the
	// file (0: 30 s); Close always uploads.
	UploadEvery time.Duration
	// Now and Host name the file (zero: time.Now and os.Hostname).
	Now  time.Time
	Host string
}

// maxTries is how many later seconds Open tries when the file name of its
// second is taken (another run of the host in the same second, e.g. a
// resumed run started at once).
const maxTries = 100

// Writer appends events to one event file. It is used by one goroutine.
//
// In a local folder (a path or file://) every Write is one write(2) of
// whole frames on an O_APPEND file: a process killed with -9 after Write
// returned leaves a file whose frames all check. In an object store
// (s3://) objects cannot be appended to: the writer keeps the file in
// memory (about 40 bytes per scalar, so 200 bytes a step of five scalars:
// 20 MB for 100,000 steps) and uploads it whole, atomically, at most every
// UploadEvery and on Flush and Close, so the object is always a readable
// file that lags the run by at most UploadEvery.
type Writer struct {
	url string // the file's path or URL, for messages

	f *os.File // local

	bucket     store.Bucket // object store
	name       string
	buf        bytes.Buffer
	every      time.Duration
	lastUpload time.Time
	dirty      bool
}

// Open creates a new event file in dir (a local folder, created when
// missing, or an s3:// prefix) and writes its file_version event. An
// existing file is never appended to or replaced: when the name of this
// second is taken, the file is named after the next free second.
func Open(ctx context.Context, dir string, opts Options) (*Writer, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	host := opts.Host
	if host == "" {
		host, _ = os.Hostname()
		if host == "" {
			host = "localhost"
		}
	}
	w := &Writer{every: opts.UploadEvery}
	if w.every <= 0 {
		w.every = 30 * time.Second
	}
	if scheme, _, ok := strings.Cut(dir, "://"); ok && !strings.EqualFold(scheme, "file") {
		b, err := store.OpenDir(ctx, dir, opts.Store)
		if err != nil {
			return nil, fmt.Errorf("tensorboard: %w", err)
		}
		name := FileName(now, host)
		for range maxTries {
			ok, err := b.Exists(ctx, name)
			if err != nil {
				b.Close()
				return nil, fmt.Errorf("tensorboard: %w", err)
			}
			if !ok {
				break
			}
			now = now.Add(time.Second)
			name = FileName(now, host)
		}
		w.bucket, w.name = b, name
		w.url = strings.TrimSuffix(dir, "/") + "/" + name
	} else {
		local := strings.TrimPrefix(dir, "file://")
		if err := os.MkdirAll(local, 0o755); err != nil {
			return nil, fmt.Errorf("tensorboard: %w", err)
		}
		for range maxTries {
			w.url = filepath.Join(local, FileName(now, host))
			f, err := os.OpenFile(w.url, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_EXCL, 0o644)
			if errors.Is(err, fs.ErrExist) {
				now = now.Add(time.Second)
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("tensorboard: %w", err)
			}
			w.f = f
			break
		}
		if w.f == nil {
			return nil, fmt.Errorf("tensorboard: %s: %d event files of this host from the same seconds exist already", local, maxTries)
		}
	}
	if err := w.write(ctx, AppendRecord(nil, fileVersionEvent(wallTime(now)))); err != nil {
		w.Close(ctx)
		return nil, err
	}
	if w.bucket != nil {
		if err := w.Flush(ctx); err != nil { // the object exists from the start
			w.Close(ctx)
			return nil, err
		}
	}
	return w, nil
}

// Path is the event file's path (local) or URL (object store).
func (w *Writer) Path() string { return w.url }

func wallTime(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }

// Write appends one Event at step holding scalars and histograms (an Event
// with none is not written). Locally it is one write(2); in an object store
// it may upload the file (see Writer).
func (w *Writer) Write(ctx context.Context, step int64, at time.Time, scalars []Scalar, hists []Histogram) error {
	if len(scalars) == 0 && len(hists) == 0 {
		return nil
	}
	return w.write(ctx, AppendRecord(nil, summaryEvent(wallTime(at), step, scalars, hists)))
}

func (w *Writer) write(ctx context.Context, frame []byte) error {
	if w.f != nil {
		if _, err := w.f.Write(frame); err != nil {
			return fmt.Errorf("tensorboard: write %s: %w", w.url, err)
		}
		return nil
	}
	if w.bucket == nil {
		return fmt.Errorf("tensorboard: write %s: writer closed", w.url)
	}
	w.buf.Write(frame)
	w.dirty = true
	if time.Since(w.lastUpload) >= w.every {
		return w.Flush(ctx)
	}
	return nil
}

// Flush makes what was written durable: fsync locally, an upload of the
// whole file to an object store (when anything changed).
func (w *Writer) Flush(ctx context.Context) error {
	switch {
	case w.f != nil:
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("tensorboard: sync %s: %w", w.url, err)
		}
	case w.bucket != nil && w.dirty:
		if err := w.bucket.Upload(ctx, w.name, bytes.NewReader(w.buf.Bytes())); err != nil {
			return fmt.Errorf("tensorboard: upload %s: %w", w.url, err)
		}
		w.dirty, w.lastUpload = false, time.Now()
	}
	return nil
}

// Close flushes and closes the file. It is safe to call twice.
func (w *Writer) Close(ctx context.Context) error {
	err := w.Flush(ctx)
	if w.f != nil {
		if cerr := w.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("tensorboard: close %s: %w", w.url, cerr)
		}
		w.f = nil
	}
	if w.bucket != nil {
		if cerr := w.bucket.Close(); err == nil && cerr != nil {
			err = cerr
		}
		w.bucket = nil
	}
	return err
}

// Dir is where a run's event files go: dir when set, else <out>/tensorboard.
func Dir(dir, out string) string {
	if dir != "" {
		return dir
	}
	if strings.Contains(out, "://") {
		return strings.TrimSuffix(out, "/") + "/tensorboard"
	}
	return path.Join(filepath.ToSlash(out), "tensorboard")
}
