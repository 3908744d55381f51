package classify

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
)

// Named errors of the evaluation jobs' inputs; each is wrapped with the
// file, shard, key or class at fault.
var (
	// ErrNoLabel: a training or validation sample carries no label.
	ErrNoLabel = errors.New("sample has no label")
	// ErrSubsetEntry: a subset file names an image the training shards do
	// not hold.
	ErrSubsetEntry = errors.New("subset entry not in the training shards")
	// ErrEmptyClass: the labelled subset leaves a class of the training
	// shards without an image.
	ErrEmptyClass = errors.New("subset leaves a class empty")
	// ErrLabelRange: a label is outside [0, classes).
	ErrLabelRange = errors.New("label outside the classifier's classes")
)

// entry is one training sample as the label pass saw it.
type entry struct {
	key, shard, ext string
	label           int64
	data            []byte // the encoded image, while the pass keeps them (memoryCap)
}

// scanLabels reads every sample of the job's training shards once (one
// reader, no shuffle, no decode: the cost is reading the bytes) and returns
// their keys and labels in shard order, with the encoded images when they
// all fit memoryCap (kept reports it). A sample without a label is
// ErrNoLabel naming its shard and key.
func scanLabels(ctx context.Context, job *configs.Job) (out []entry, kept bool, err error) {
	cfg := job.DataConfig()
	cfg.ShuffleBuffer, cfg.Workers = 0, 1
	src, err := ingest.NewSource(ctx, cfg, ingest.SourceOptions{Seed: job.Seed, Epochs: 1, Rank: 0, World: 1, Workers: 1})
	if err != nil {
		return nil, false, fmt.Errorf("data.shards: %w", err)
	}
	defer src.Close()
	kept = true
	var bytes int64
	err = src.Run(ctx, func(ctx context.Context, item any) error {
		smp, ok := item.(*ingest.Sample)
		if !ok {
			return nil
		}
		defer smp.Release()
		if smp.Label < 0 {
			return fmt.Errorf("data.shards: %s: sample %q: %w (the evaluation jobs need labelled training shards)", smp.Shard, smp.Key, ErrNoLabel)
		}
		e := entry{key: smp.Key, shard: smp.Shard, ext: smp.Ext, label: smp.Label}
		if bytes += int64(len(smp.Data)); kept && bytes <= memoryCap {
			e.data = slices.Clone(smp.Data)
		} else if kept {
			kept = false
			for i := range out {
				out[i].data = nil
			}
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if len(out) == 0 {
		return nil, false, errors.New("data.shards: no sample in the training shards")
	}
	return out, kept, nil
}

// classCount is the classifier's width: want when set (every label must be
// below it), else the largest label + 1.
func classCount(entries []entry, want int, field string) (int, error) {
	top := int64(-1)
	for _, e := range entries {
		if want > 0 && e.label >= int64(want) {
			return 0, fmt.Errorf("%s.classes is %d but %s: sample %q has label %d: %w", field, want, e.shard, e.key, e.label, ErrLabelRange)
		}
		top = max(top, e.label)
	}
	if want > 0 {
		return want, nil
	}
	if top < 1 {
		return 0, fmt.Errorf("data.shards: every label is %d; a classifier needs at least 2 classes", top)
	}
	return int(top) + 1, nil
}

// Subset is the labelled share of the training images a finetune run used,
// as report.json records it.
type Subset struct {
	// Source is the subset file or URL, or "seeded" (class-balanced, drawn
	// from Seed).
	Source string `json:"source"`
	// Fraction is finetune.label_fraction; Seed the job's seed (seeded only).
	Fraction float64 `json:"fraction"`
	Seed     int64   `json:"seed,omitempty"`
	// Images is how many training images are labelled, of Total.
	Images int `json:"images"`
	Total  int `json:"total"`
	// File is <out>/subset.txt (the keys, sorted, one a line) and SHA256
	// its digest: a rerun with the same shards and seed gives the same file.
	File   string `json:"file"`
	SHA256 string `json:"sha256"`

	keys map[string]bool
}

// Keep reports whether the sample key is in the subset.
func (s *Subset) Keep(key string) bool { return s == nil || s.keys[key] }

// seededSubset draws a class-balanced subset: of each class's n images, the
// max(1, round(fraction*n)) whose FNV-1a hash of (seed, key) is smallest, so
// the choice depends on the seed and the keys only, not on the shard order.
func seededSubset(entries []entry, fraction float64, seed int64) *Subset {
	byClass := map[int64][]entry{}
	for _, e := range entries {
		byClass[e.label] = append(byClass[e.label], e)
	}
	rank := func(key string) uint64 {
		h := fnv.New64a()
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(seed))
		h.Write(b[:])
		h.Write([]byte(key))
		return h.Sum64()
	}
	s := &Subset{Source: "seeded", Fraction: fraction, Seed: seed, Total: len(entries), keys: map[string]bool{}}
	for _, es := range byClass {
		k := max(1, int(math.Round(fraction*float64(len(es)))))
		slices.SortFunc(es, func(a, b entry) int {
			ra, rb := rank(a.key), rank(b.key)
			switch {
			case ra < rb:
				return -1
			case ra > rb:
				return 1
			}
			return strings.Compare(a.key, b.key)
		})
		for _, e := range es[:min(k, len(es))] {
			s.keys[e.key] = true
		}
	}
	s.Images = len(s.keys)
	return s
}

// stem is an image name without folders and extension: the part of a key
// or a subset entry that the two share ("n01440764_10026").
func stem(name string) string {
	name = path.Base(filepath.ToSlash(name))
	if ext := path.Ext(name); len(ext) > 1 && len(ext) <= 5 {
		name = strings.TrimSuffix(name, ext)
	}
	return name
}

// fileSubset reads the per-image list at url (a path, file://, s3:// or
// http(s)://; one image name a line, blank lines ignored) and matches each
// entry to the training sample of the same stem. An entry no sample
// matches is ErrSubsetEntry naming the file, the line and the entry.
func fileSubset(ctx context.Context, url string, entries []entry, fraction float64, sc store.Config) (*Subset, error) {
	rc, err := openList(ctx, url, sc)
	if err != nil {
		return nil, fmt.Errorf("finetune.subset: %w", err)
	}
	defer rc.Close()
	byStem := make(map[string]string, len(entries))
	for _, e := range entries {
		byStem[stem(e.key)] = e.key
	}
	s := &Subset{Source: url, Fraction: fraction, Total: len(entries), keys: map[string]bool{}}
	sc2 := bufio.NewScanner(rc)
	sc2.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc2.Scan() {
		line++
		name := strings.TrimSpace(sc2.Text())
		if name == "" {
			continue
		}
		key, ok := byStem[stem(name)]
		if !ok {
			return nil, fmt.Errorf("finetune.subset: %s:%d: %q: %w (%d training samples)", url, line, name, ErrSubsetEntry, len(entries))
		}
		s.keys[key] = true
	}
	if err := sc2.Err(); err != nil {
		return nil, fmt.Errorf("finetune.subset: %s: line %d: %w", url, line+1, err)
	}
	if len(s.keys) == 0 {
		return nil, fmt.Errorf("finetune.subset: %s lists no image", url)
	}
	s.Images = len(s.keys)
	return s, nil
}

// openList opens a subset list from a path, file:// or s3:// URL (the data
// section's S3 settings) or http(s)://.
func openList(ctx context.Context, url string, sc store.Config) (io.ReadCloser, error) {
	if strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return resp.Body, nil
	}
	if !strings.Contains(url, "://") {
		return os.Open(url)
	}
	b, key, err := store.Open(ctx, url, sc)
	if err != nil {
		return nil, err
	}
	rc, err := b.Get(ctx, key)
	if err != nil {
		b.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{rc, closers{rc, b}}, nil
}

type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// checkClasses fails with ErrEmptyClass when a class that the training
// shards hold has no image in s.
func (s *Subset) checkClasses(entries []entry) error {
	have := map[int64]int{}
	all := map[int64]bool{}
	for _, e := range entries {
		all[e.label] = true
		if s.keys[e.key] {
			have[e.label]++
		}
	}
	for _, c := range slices.Sorted(maps.Keys(all)) {
		if have[c] == 0 {
			return fmt.Errorf("finetune: class %d: %w (subset %s, %d images)", c, ErrEmptyClass, s.Source, s.Images)
		}
	}
	return nil
}

// write saves the subset's keys, sorted, to dir/subset.txt and records the
// file and its SHA-256.
func (s *Subset) write(dir string) error {
	keys := slices.Sorted(maps.Keys(s.keys))
	body := strings.Join(keys, "\n") + "\n"
	s.File = filepath.Join(dir, "subset.txt")
	sum := sha256.Sum256([]byte(body))
	s.SHA256 = hex.EncodeToString(sum[:])
	tmp := s.File + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		return fmt.Errorf("finetune: subset: %w", err)
	}
	return os.Rename(tmp, s.File)
}
