package parquet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/sinks"
)

// Output is where feature files go: a local folder or an object-store
// prefix. Files are first written to a temp file and then committed
// atomically, so an Output never holds a partial feature file.
type Output struct {
	url string
	// dir is the local folder, "" for an object store.
	dir string
	// store is the output's folder of an object store (nil for a local
	// folder): names are feature file names.
	store store.Bucket
}

// OpenOutput opens url (a local folder, file:// or s3://bucket/prefix) for
// writing feature files; sc configures s3:// (ingest.Config.StoreConfig). A
// local folder is created when missing; an error names the folder when it
// cannot be created or written. The caller closes the Output.
func OpenOutput(ctx context.Context, url string, sc store.Config) (*Output, error) {
	if url == "" {
		return nil, errors.New("feature output: empty location")
	}
	if isRemote(url) {
		sweepTempFiles(os.TempDir()) // object-store uploads stage their files there
		return openStore(ctx, url, sc)
	}
	dir := strings.TrimPrefix(url, "file://")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("feature output %s: cannot create the folder: %w", dir, err)
	}
	// Probe writability now rather than after a shard's worth of work.
	probe, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		return nil, fmt.Errorf("feature output %s: cannot write there: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	sweepTempFiles(dir)
	return &Output{url: url, dir: dir}, nil
}

// tempPattern names a feature file's temp file: the writer's PID in the
// name lets a later run remove what a killed one left (sweepTempFiles).
func tempPattern(name string) string { return fmt.Sprintf(".%s.tmp-%d-*", name, os.Getpid()) }

// sweepTempFiles removes the temp files in dir of writers that are no longer
// running (a run killed with SIGKILL cannot clean up after itself). Temp
// files of live processes, other runs writing beside this one, are kept.
func sweepTempFiles(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, ".*.parquet.tmp-*"))
	for _, m := range matches {
		rest := m[strings.LastIndex(m, ".tmp-")+len(".tmp-"):]
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH {
			os.Remove(m)
		}
	}
}

func isRemote(url string) bool {
	return strings.Contains(url, "://") && !strings.HasPrefix(url, "file://")
}

func openStore(ctx context.Context, url string, sc store.Config) (*Output, error) {
	b, err := store.OpenDir(ctx, url, sc)
	if err != nil {
		return nil, fmt.Errorf("feature output %s: %w", url, err)
	}
	return &Output{url: url, store: b}, nil
}

// Close releases the object-store client, if any.
func (o *Output) Close() error {
	if o.store != nil {
		return o.store.Close()
	}
	return nil
}

// URL is the location the Output was opened with.
func (o *Output) URL() string { return o.url }

// Path is the URL of file name inside the output.
func (o *Output) Path(name string) string {
	if o.store == nil {
		return filepath.Join(o.dir, name)
	}
	return strings.TrimSuffix(o.url, "/") + "/" + name
}

// tempFile creates the temp file a feature file is written to before commit:
// beside the target for a local folder (so rename is atomic), in the system
// temp folder for an object store.
func (o *Output) tempFile(name string) (*os.File, error) {
	f, err := os.CreateTemp(o.dir, tempPattern(name))
	if err != nil {
		return nil, fmt.Errorf("feature output %s: create temp file: %w", o.Path(name), err)
	}
	// CreateTemp makes the file private; the committed file is readable by all.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("feature output %s: %w", o.Path(name), err)
	}
	return f, nil
}

// commit moves the finished temp file into place as name, only if the
// output holds no file of that name (local: store.RenameNoReplace; object
// store: UploadIfAbsent, If-None-Match: *), so that of racing attempts
// exactly one lands and a finished file is never replaced. A name taken
// first is an error wrapping store.ErrExists. The temp file is closed and
// removed whatever the outcome.
func (o *Output) commit(ctx context.Context, tmp *os.File, name string) error {
	if o.store == nil {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return fmt.Errorf("sync %s: %w", tmp.Name(), err)
		}
		if err := tmp.Close(); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("close %s: %w", tmp.Name(), err)
		}
		if err := store.RenameNoReplace(tmp.Name(), o.Path(name)); err != nil {
			os.Remove(tmp.Name())
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("commit %s: %w", o.Path(name), store.ErrExists)
			}
			return fmt.Errorf("commit %s: %w", o.Path(name), err)
		}
		return nil
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind %s: %w", tmp.Name(), err)
	}
	if err := o.store.UploadIfAbsent(ctx, name, tmp); err != nil {
		return fmt.Errorf("upload %s: %w", o.Path(name), err)
	}
	return nil
}

// abort drops an unfinished temp file.
func (o *Output) abort(tmp *os.File) {
	tmp.Close()
	os.Remove(tmp.Name())
}

// exists says whether the output holds file name.
func (o *Output) exists(ctx context.Context, name string) (bool, error) {
	if o.store == nil {
		_, err := os.Stat(o.Path(name))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, os.ErrNotExist):
			return false, nil
		default:
			return false, fmt.Errorf("stat %s: %w", o.Path(name), err)
		}
	}
	ok, err := o.store.Exists(ctx, name)
	if err != nil {
		return false, fmt.Errorf("check %s: %w", o.Path(name), err)
	}
	return ok, nil
}

// taken explains why file name, found already there when this attempt
// wanted to create it, stops the write: an error wrapping
// sinks.ErrWrittenByOther when it is a complete, intact feature file (its
// checksum footer verified) of the same shard, checkpoint, config hash and
// layout as want, else one wrapping sinks.ErrConflict that names what is
// there. It reads the file whole.
func (o *Output) taken(ctx context.Context, name string, want Metadata) error {
	path := o.Path(name)
	data, err := o.readAll(ctx, name)
	if err == nil {
		var rdr *file.Reader
		var md Metadata
		rdr, md, err = openParquetSafely(path, data)
		if rdr != nil {
			rdr.Close()
		}
		if err == nil {
			sameLayout := md.Layout.Kind == want.Layout.Kind && md.Layout.Arch == want.Layout.Arch && md.Layout.Dim == want.Layout.Dim
			if md.Shard == want.Shard && md.ConfigHash == want.ConfigHash && md.Checkpoint == want.Checkpoint && sameLayout {
				return fmt.Errorf("%s: %w", path, sinks.ErrWrittenByOther)
			}
			return fmt.Errorf("%s: %w: it holds shard %s, checkpoint %q, config %s, layout %+v; this attempt writes shard %s, checkpoint %q, config %s, layout %+v: use another output location",
				path, sinks.ErrConflict, md.Shard, md.Checkpoint, md.ConfigHash, md.Layout, want.Shard, want.Checkpoint, want.ConfigHash, want.Layout)
		}
	}
	return fmt.Errorf("%s: %w: a file is there that is not a complete feature file (%v); move it away to redo shard %s", path, sinks.ErrConflict, err, want.Shard)
}

// readAll returns file name's bytes (feature files are read whole: the
// Parquet reader needs random access and object stores serve ranges poorly
// for many small reads).
func (o *Output) readAll(ctx context.Context, name string) ([]byte, error) {
	if o.store == nil {
		return os.ReadFile(o.Path(name))
	}
	rc, err := o.store.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, rc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// featureFiles lists the *.parquet files of the output, sorted.
func (o *Output) featureFiles(ctx context.Context) ([]string, error) {
	var names []string
	if o.store == nil {
		ents, err := os.ReadDir(o.dir)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", o.dir, err)
		}
		for _, e := range ents {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".parquet") && !strings.HasPrefix(e.Name(), ".") {
				names = append(names, e.Name())
			}
		}
	} else {
		objs, err := store.List(ctx, o.store, "")
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", o.url, err)
		}
		for _, obj := range objs {
			if strings.HasSuffix(obj.Name, ".parquet") && !strings.Contains(obj.Name, "/") {
				names = append(names, obj.Name)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// FileName is the feature file name for an input shard URL: the shard's base
// name with its extension replaced by .parquet ("s3://b/train-000003.tar" →
// "train-000003.parquet").
func FileName(shard string) string {
	base := shard
	if i := strings.LastIndexAny(base, "/\\"); i >= 0 {
		base = base[i+1:]
	}
	if i := strings.Index(base, "."); i > 0 {
		base = base[:i]
	}
	if base == "" {
		base = "features"
	}
	return base + ".parquet"
}
