package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/swavgo/swav/ingest/store"
)

// FashionMNISTDir is where Debian's dataset-fashion-mnist package puts the IDX
// files; $FASHION_MNIST_DIR overrides it.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// MakeStats summarises a `shards make`.
type MakeStats struct {
	Shards  []string // object names written (in the writer's bucket), in order
	Samples int64
	Bytes   int64
}

// ShardWriter writes samples into numbered WebDataset shards
// (fmt.Sprintf(pattern, i), e.g. "out/fmnist-train-%06d.tar") in a bucket,
// shardSize samples each, and merges their counts into the folder's index
// sidecar on Close. Each shard is spooled to a temporary file and uploaded
// atomically, so memory stays bounded whatever the shard size.
type ShardWriter struct {
	ctx       context.Context
	b         store.Bucket
	pattern   string
	shardSize int

	tmp   *os.File
	cw    *countingWriter
	wds   *WDSWriter
	index map[string]IndexEntry
	stats MakeStats
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// NewShardWriter returns a writer; pattern must contain one %d verb.
func NewShardWriter(ctx context.Context, b store.Bucket, pattern string, shardSize int) (*ShardWriter, error) {
	if shardSize < 1 {
		return nil, fmt.Errorf("shard writer: shard size must be >= 1, got %d", shardSize)
	}
	if strings.Count(pattern, "%") != 1 || !strings.Contains(pattern, "d") {
		return nil, fmt.Errorf("shard writer: pattern %q needs exactly one %%d verb", pattern)
	}
	return &ShardWriter{ctx: ctx, b: b, pattern: pattern, shardSize: shardSize, index: map[string]IndexEntry{}}, nil
}

// Write appends a sample, starting a new shard every shardSize samples.
func (w *ShardWriter) Write(s *Sample) error {
	if w.wds == nil {
		f, err := os.CreateTemp("", "swav-shard-*.tar")
		if err != nil {
			return fmt.Errorf("shard writer: %w", err)
		}
		w.tmp = f
		w.cw = &countingWriter{w: f}
		w.wds = NewWDSWriter(w.cw)
	}
	if err := w.wds.Write(s); err != nil {
		return err
	}
	if w.wds.Samples() == int64(w.shardSize) {
		return w.flush()
	}
	return nil
}

// flush finishes and uploads the current shard.
func (w *ShardWriter) flush() error {
	if w.wds == nil {
		return nil
	}
	defer func() {
		w.tmp.Close()
		os.Remove(w.tmp.Name())
		w.wds, w.tmp = nil, nil
	}()
	if err := w.wds.Close(); err != nil {
		return fmt.Errorf("shard writer: %w", err)
	}
	name := fmt.Sprintf(w.pattern, len(w.stats.Shards))
	if _, err := w.tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := w.b.Upload(w.ctx, name, w.tmp); err != nil {
		return err
	}
	w.index[path.Base(name)] = IndexEntry{Samples: w.wds.Samples(), Bytes: w.cw.n}
	w.stats.Shards = append(w.stats.Shards, name)
	w.stats.Samples += w.wds.Samples()
	w.stats.Bytes += w.cw.n
	return nil
}

// Close uploads the last partial shard and writes the index sidecar.
func (w *ShardWriter) Close() (MakeStats, error) {
	if err := w.flush(); err != nil {
		return w.stats, err
	}
	if len(w.stats.Shards) == 0 {
		return w.stats, nil
	}
	if err := WriteIndex(w.ctx, w.b, path.Dir(w.stats.Shards[0]), w.index); err != nil {
		return w.stats, err
	}
	return w.stats, nil
}

// Abort drops the shard in progress (already uploaded shards stay).
func (w *ShardWriter) Abort() {
	if w.tmp != nil {
		w.tmp.Close()
		os.Remove(w.tmp.Name())
		w.wds, w.tmp = nil, nil
	}
}

// MakeFashionMNIST writes the Fashion-MNIST split ("train": 60,000 images,
// "test": 10,000) as WebDataset shards "fmnist-<split>-%06d.tar" of
// shardSize PNG-encoded 28x28 grey images with .cls labels, plus the index
// sidecar, at the root of out (a folder: store.OpenDir or store.Prefixed).
// It reads the IDX files from $FASHION_MNIST_DIR or FashionMNISTDir.
func MakeFashionMNIST(ctx context.Context, split string, out store.Bucket, shardSize int) (MakeStats, error) {
	return MakeFashionMNISTFirst(ctx, split, out, shardSize, 0)
}

// MakeFashionMNISTFirst is MakeFashionMNIST for the first limit images of the
// split (all of them when limit <= 0): small real data sets for quick runs and
// tests. Keys and shard names are those of MakeFashionMNIST.
func MakeFashionMNISTFirst(ctx context.Context, split string, out store.Bucket, shardSize, limit int) (MakeStats, error) {
	imgs, labels, err := ReadFashionMNIST(split)
	if err != nil {
		return MakeStats{}, err
	}
	if limit > 0 && limit < len(imgs) {
		imgs = imgs[:limit]
	}
	w, err := NewShardWriter(ctx, out, "fmnist-"+split+"-%06d.tar", shardSize)
	if err != nil {
		return MakeStats{}, err
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngBuffers{}}
	for i, img := range imgs {
		if err := ctx.Err(); err != nil {
			w.Abort()
			return w.stats, err
		}
		buf.Reset()
		if err := enc.Encode(&buf, img); err != nil {
			w.Abort()
			return w.stats, fmt.Errorf("fashion-mnist %s image %d: png: %w", split, i, err)
		}
		s := &Sample{Key: fmt.Sprintf("%s_%06d", split, i), Ext: "png", Data: append([]byte(nil), buf.Bytes()...), Label: int64(labels[i])}
		if err := w.Write(s); err != nil {
			w.Abort()
			return w.stats, err
		}
	}
	return w.Close()
}

// ReadFashionMNIST decodes the IDX files of a split into grey images and
// labels.
func ReadFashionMNIST(split string) ([]*image.Gray, []uint8, error) {
	var stem string
	switch split {
	case "train":
		stem = "train"
	case "test":
		stem = "t10k"
	default:
		return nil, nil, fmt.Errorf("fashion-mnist: unknown split %q (want train or test)", split)
	}
	dir := FashionMNISTDir
	if d := os.Getenv("FASHION_MNIST_DIR"); d != "" {
		dir = d
	}
	imgPath := filepath.Join(dir, stem+"-images-idx3-ubyte.gz")
	lblPath := filepath.Join(dir, stem+"-labels-idx1-ubyte.gz")
	raw, dims, err := readIDX(imgPath, 3)
	if err != nil {
		return nil, nil, err
	}
	labels, ldims, err := readIDX(lblPath, 1)
	if err != nil {
		return nil, nil, err
	}
	if dims[0] != ldims[0] {
		return nil, nil, fmt.Errorf("fashion-mnist %s: %d images but %d labels", split, dims[0], ldims[0])
	}
	h, wd := dims[1], dims[2]
	imgs := make([]*image.Gray, dims[0])
	for i := range imgs {
		imgs[i] = &image.Gray{Pix: raw[i*h*wd : (i+1)*h*wd], Stride: wd, Rect: image.Rect(0, 0, wd, h)}
	}
	return imgs, labels, nil
}

// readIDX reads a gzip'd IDX file of unsigned bytes with rank dimensions.
func readIDX(p string, rank int) ([]byte, []int, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("fashion-mnist: %w (install the Debian package dataset-fashion-mnist, or set FASHION_MNIST_DIR)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(zr, hdr[:]); err != nil {
		return nil, nil, fmt.Errorf("%s: header: %w", p, err)
	}
	if hdr[0] != 0 || hdr[1] != 0 || hdr[2] != 0x08 || int(hdr[3]) != rank {
		return nil, nil, fmt.Errorf("%s: not an unsigned-byte IDX file of rank %d (magic % x)", p, rank, hdr)
	}
	dims := make([]int, rank)
	total := 1
	for i := range dims {
		var d uint32
		if err := binary.Read(zr, binary.BigEndian, &d); err != nil {
			return nil, nil, fmt.Errorf("%s: dimension %d: %w", p, i, err)
		}
		dims[i] = int(d)
		total *= int(d)
	}
	if total <= 0 || total > 1<<30 {
		return nil, nil, fmt.Errorf("%s: implausible size %v", p, dims)
	}
	data := make([]byte, total)
	if _, err := io.ReadFull(zr, data); err != nil {
		return nil, nil, fmt.Errorf("%s: data (%d bytes expected): %w", p, total, err)
	}
	return data, dims, nil
}

// MakeFromFolder writes the image folder src (one subdirectory per class,
// label = sorted class index) as WebDataset shards "<name>-%06d.tar" at the
// root of out, keeping each image's encoded bytes. src and out are folders
// (store.OpenDir or store.Prefixed).
func MakeFromFolder(ctx context.Context, src, out store.Bucket, name string, shardSize int) (MakeStats, error) {
	shards, err := listFolder(ctx, src, "", 1<<30)
	if err != nil {
		return MakeStats{}, err
	}
	w, err := NewShardWriter(ctx, out, name+"-%06d.tar", shardSize)
	if err != nil {
		return MakeStats{}, err
	}
	for _, sh := range shards {
		rd := newFolderReader(ctx, sh)
		for rd.Next() {
			rec := rd.Record()
			if rec.Sample == nil {
				w.Abort()
				return w.stats, fmt.Errorf("%s: %s: %s", rec.Shard, rec.Key, rec.Bad)
			}
			rec.Sample.Key = strings.NewReplacer(".", "_", "/", "_").Replace(rec.Sample.Key)
			if err := w.Write(rec.Sample); err != nil {
				w.Abort()
				return w.stats, err
			}
		}
		if err := rd.Err(); err != nil {
			w.Abort()
			return w.stats, err
		}
	}
	return w.Close()
}

// pngBuffers keeps one PNG encoder buffer (its zlib writer is the costly
// part) for the sequential encoding loop.
type pngBuffers struct{ b *png.EncoderBuffer }

func (p *pngBuffers) Get() *png.EncoderBuffer  { return p.b }
func (p *pngBuffers) Put(b *png.EncoderBuffer) { p.b = b }
