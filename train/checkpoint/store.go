package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sourcegraph/conc"
	"github.com/swavgo/swav/ingest/store"
)

// Store reaches checkpoint folders through the store package's buckets:
// local folders (plain paths or file://) and s3:// prefixes. The zero Store
// takes S3 settings from the standard AWS environment; set Config to use a
// job's data.s3 section (ingest.Config.StoreConfig()). A Store is a value and
// safe for concurrent use; each call opens and closes its bucket.
type Store struct {
	Config store.Config
}

// Save is Store{}.Save: S3 settings from the environment.
func Save(ctx context.Context, dir string, ck *Checkpoint, keep int) (url string, err error) {
	return Store{}.Save(ctx, dir, ck, keep)
}

// Load is Store{}.Load: S3 settings from the environment.
func Load(ctx context.Context, url string) (*Checkpoint, error) { return Store{}.Load(ctx, url) }

// Latest is Store{}.Latest: S3 settings from the environment.
func Latest(ctx context.Context, dir string) (url string, found bool, err error) {
	return Store{}.Latest(ctx, dir)
}

// FileName is the name of the checkpoint at iteration iter.
func FileName(iter int) string { return fmt.Sprintf("ckpt-%010d%s", iter, Extension) }

// parseFileName returns the iteration of a checkpoint file name.
func parseFileName(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "ckpt-")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, Extension)
	if !ok || len(s) != 10 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// folder is one opened checkpoint folder.
type folder struct {
	dir    string       // as the caller wrote it; URLs are built from it
	bucket store.Bucket // the folder itself: names are checkpoint file names
}

func (s Store) open(ctx context.Context, dir string) (*folder, error) {
	if dir == "" {
		return nil, errors.New("checkpoint: empty checkpoint folder")
	}
	b, err := store.OpenDir(ctx, dir, s.Config)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return &folder{dir: dir, bucket: b}, nil
}

func (f *folder) url(name string) string { return strings.TrimSuffix(f.dir, "/") + "/" + name }

// iters returns the iterations of the folder's checkpoint files, ascending
// (files in sub-folders and foreign files are ignored).
func (f *folder) iters(ctx context.Context) ([]int, error) {
	objs, err := store.List(ctx, f.bucket, "")
	if err != nil {
		return nil, fmt.Errorf("checkpoint: list %s: %w", f.dir, err)
	}
	var iters []int
	for _, o := range objs {
		if it, ok := parseFileName(o.Name); ok && path.Base(o.Name) == o.Name {
			iters = append(iters, it)
		}
	}
	sort.Ints(iters)
	return iters, nil
}

// ErrTaken is wrapped by Save's error when dir already holds a checkpoint
// of ck's iteration: another trainer (a requeued job while the old one
// still runs, two jobs given one folder) has advanced the folder to it. The
// file there is left as it was; this trainer must stop, not overwrite it.
var ErrTaken = errors.New("checkpoint iteration already taken")

// Save writes ck to dir (a local folder, created if missing, or an s3://
// prefix) as FileName(ck.Iter), atomically and only if no checkpoint of
// that iteration exists (store.Bucket.UploadIfAbsent: a temporary file
// renamed with RENAME_NOREPLACE locally, PutObject with If-None-Match: * on
// S3), so each ckpt-<iter> is written once and a second trainer on the same
// folder stops with ErrTaken naming the folder and the iteration. A failed
// write (a full disk, an I/O error, a read-only folder, an S3 fault past
// the retries) leaves nothing of itself and the older checkpoints as they
// were. Then it deletes the oldest checkpoints of dir
// beyond the newest keep (keep <= 0 keeps all). It sets ck.Version,
// ck.Created (when zero) and ck.ConfigHash (when empty). It refuses a state
// holding NaN/Inf (ErrNonFinite), so a bad state never replaces a good
// checkpoint. It blocks for the whole write (a ResNet-50 state with momentum
// is about 200 MB; the encoder streams it, one goroutine, waited for); the
// caller must not modify ck.State meanwhile. It returns the new file's URL.
func (s Store) Save(ctx context.Context, dir string, ck *Checkpoint, keep int) (string, error) {
	if ck == nil {
		return "", errors.New("checkpoint: nil checkpoint")
	}
	if err := checkFinite(ck.State); err != nil {
		return "", fmt.Errorf("checkpoint: not saving iteration %d: %w", ck.Iter, err)
	}
	f, err := s.open(ctx, dir)
	if err != nil {
		return "", err
	}
	defer f.bucket.Close()
	if ck.Created.IsZero() {
		ck.Created = time.Now().UTC()
	}
	name := FileName(ck.Iter)
	pr, pw := io.Pipe()
	var wg conc.WaitGroup
	wg.Go(func() { pw.CloseWithError(Encode(pw, ck)) })
	upErr := f.bucket.UploadIfAbsent(ctx, name, pr)
	pr.CloseWithError(errors.New("upload ended")) // unblocks the encoder if Upload stopped early
	wg.Wait()
	if store.IsExist(upErr) {
		return "", fmt.Errorf("checkpoint: %s already holds iteration %d (%s), written by another trainer on the same folder; "+
			"stopping without overwriting it (give each job its own train.checkpoint.dir, or stop the other one): %w",
			f.dir, ck.Iter, name, ErrTaken)
	}
	if upErr != nil {
		return "", fmt.Errorf("checkpoint: save %s: %w", f.url(name), upErr)
	}
	if keep > 0 {
		iters, err := f.iters(ctx)
		if err != nil {
			return f.url(name), err
		}
		for i := 0; i < len(iters)-keep; i++ {
			if err := f.bucket.Delete(ctx, FileName(iters[i])); err != nil {
				return f.url(name), fmt.Errorf("checkpoint: prune %s: %w", f.url(FileName(iters[i])), err)
			}
		}
	}
	return f.url(name), nil
}

// Latest returns the URL of the newest checkpoint (highest iteration) in
// dir; found is false (and err nil) when dir is missing or holds none. It
// lists dir only; Load verifies the file.
func (s Store) Latest(ctx context.Context, dir string) (url string, found bool, err error) {
	f, err := s.open(ctx, dir)
	if err != nil {
		return "", false, err
	}
	defer f.bucket.Close()
	iters, err := f.iters(ctx)
	if err != nil || len(iters) == 0 {
		return "", false, err
	}
	return f.url(FileName(iters[len(iters)-1])), true, nil
}

// Load reads and verifies the checkpoint at url (a local path, file:// or
// s3:// URL): magic, version and both checksums. Errors name the file and
// wrap ErrCorrupt, ErrVersion or store.ErrNotExist. It blocks while reading
// (streaming) and allocates the whole state.
func (s Store) Load(ctx context.Context, url string) (*Checkpoint, error) {
	dir, name := ".", url
	if i := strings.LastIndex(url, "/"); i >= 0 {
		dir, name = url[:i+1], url[i+1:]
	}
	if name == "" {
		return nil, fmt.Errorf("checkpoint: %s: a folder, not a checkpoint file (use Latest)", url)
	}
	f, err := s.open(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer f.bucket.Close()
	rc, err := f.bucket.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: open %s: %w", url, err)
	}
	defer rc.Close()
	return Decode(rc, url)
}
