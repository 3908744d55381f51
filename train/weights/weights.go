// Package weights reads and writes network weights in the formats other tools
// use, so that extraction can run published networks and networks trained
// here can leave: PyTorch's torch.save files (the zip format of PyTorch >= 1.6
// and the legacy pickle stream), safetensors, and our own .swck checkpoints.
//
// Reading is in Go, without Python. A torch.save file is a pickle, and a
// pickle is a program: Read unpickles with github.com/nlpodyssey/gopickle
// under an allow-list of globals (collections.OrderedDict,
// torch._utils._rebuild_tensor_v2 and _rebuild_parameter, torch.*Storage,
// torch.Size; containers, numbers and strings are opcodes). Any other global is
// an ErrUnsafePickle naming it, never executed. Before gopickle runs, a scan of
// the opcode stream checks that every length it declares fits in the bytes
// that are there, so a hostile file cannot make the reader allocate more than
// the file's size.
//
// A File is a flat list of named tensors as the file stores them. Import maps
// one onto the SwAV network (layout, prefixes, architecture inference) and
// State turns that into a train.State; Export writes safetensors under
// torchvision's or facebookresearch/swav's names.
package weights

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sourcegraph/conc"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/train/checkpoint"
)

// Formats a File can come from.
const (
	FormatTorchZip    = "torch-zip"    // torch.save, PyTorch >= 1.6
	FormatTorchLegacy = "torch-legacy" // torch.save(..., _use_new_zipfile_serialization=False)
	FormatSafetensors = "safetensors"
	FormatCheckpoint  = "swck" // our own training checkpoint
)

// DTypes of tensors. Floating tensors are widened to float32 in Float;
// integer tensors (BatchNorm's num_batches_tracked) are kept in Int.
const (
	F32  = "F32"
	F16  = "F16"
	BF16 = "BF16"
	F64  = "F64"
	I64  = "I64"
	I32  = "I32"
	I16  = "I16"
	I8   = "I8"
	U8   = "U8"
	Bool = "BOOL"
)

// ErrCorrupt is wrapped by every error about a file that is damaged or
// inconsistent: truncated, bad offsets, a storage shorter than its tensor.
var ErrCorrupt = errors.New("corrupt weights file")

// ErrFormat is wrapped when a file is in none of the formats Read knows, or
// uses a part of one it does not support (big-endian, an unknown dtype).
var ErrFormat = errors.New("unsupported weights file")

// ErrUnsafePickle is wrapped when a pickle references a global that is not on
// the allow-list; nothing of it was executed.
var ErrUnsafePickle = errors.New("pickle global not on the allow-list")

// Tensor is one stored tensor. Exactly one of Float and Int holds its
// elements, row-major, as many as Shape implies.
type Tensor struct {
	// Name is the tensor's key in the file, nested dict keys joined with "."
	// ("state_dict.module.conv1.weight" stays as the file has it until
	// Import strips the nesting).
	Name  string
	Shape []int
	// DType is how the file stores it (F32, F16, BF16, I64, ...).
	DType string
	Float []float32
	Int   []int64
}

// Numel is the number of elements Shape implies.
func (t *Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is every tensor of a weights file, in file order.
type File struct {
	// Source is the path or URL it was read from.
	Source string
	// Format is one of the Format constants.
	Format string
	// Size is the file's size in bytes.
	Size int64
	// SHA256 is the hex SHA-256 of the file's bytes: it identifies the
	// weights in extraction outputs and exports.
	SHA256 string
	// Tensors are the file's tensors in file order; non-tensor values of a
	// torch.save dict (epoch numbers, strings) are listed in Other.
	Tensors []Tensor
	// Other names the non-tensor entries of a torch.save dict ("epoch",
	// "arch", ...), which are ignored.
	Other []string
	// Metadata is the safetensors __metadata__, or the header fields of our
	// checkpoints (arch, config_hash, iter).
	Metadata map[string]string
	// Checkpoint is set when the file is one of our own checkpoints.
	Checkpoint *checkpoint.Checkpoint
}

// Lookup returns the tensor with that name, or nil.
func (f *File) Lookup(name string) *Tensor {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i]
		}
	}
	return nil
}

// NamesFile says whether url (extract.checkpoint, train.init_from) names a
// weights file for Read rather than one of our checkpoint folders: a torch.save file
// (.pth, .pth.tar, .pt, .tar, .bin, .ckpt), a .safetensors file, or any
// existing local file that is not a .swck checkpoint (the format is then
// detected from its bytes).
func NamesFile(url string) bool {
	if strings.HasSuffix(url, checkpoint.Extension) {
		return false
	}
	for _, ext := range []string{".pth", ".pt", ".tar", ".bin", ".ckpt", ".safetensors"} {
		if strings.HasSuffix(strings.ToLower(url), ext) {
			return true
		}
	}
	if strings.Contains(url, "://") && !strings.HasPrefix(url, "file://") {
		return false
	}
	st, err := os.Stat(strings.TrimPrefix(url, "file://"))
	return err == nil && st.Mode().IsRegular()
}

// Read reads a weights file from a local path, file:// or s3:// URL and
// detects its format from its first bytes. S3 objects are read into memory
// (their size is asked first, so nothing larger is allocated); local zip
// files are read in place. Errors name the file and wrap ErrCorrupt,
// ErrFormat, ErrUnsafePickle or store.ErrNotExist. Peak memory is the
// tensors (as float32) plus, except for local zip files, the file itself.
func Read(ctx context.Context, url string, sc store.Config) (*File, error) {
	if !strings.Contains(url, "://") || strings.HasPrefix(url, "file://") {
		path := strings.TrimPrefix(url, "file://")
		fh, err := os.Open(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("weights: %s: %w", url, store.ErrNotExist)
			}
			return nil, fmt.Errorf("weights: %w", err)
		}
		defer fh.Close()
		st, err := fh.Stat()
		if err != nil {
			return nil, fmt.Errorf("weights: %w", err)
		}
		if st.IsDir() {
			return nil, fmt.Errorf("weights: %s is a folder, not a weights file", url)
		}
		// The digest is computed alongside the decoding (another core, the
		// page cache): together they take about as long as the slower one.
		var (
			hashing         conc.WaitGroup
			digest, hashErr = sha256.New(), error(nil)
		)
		hashing.Go(func() { _, hashErr = io.Copy(digest, io.NewSectionReader(fh, 0, st.Size())) })
		f, err := decode(fh, st.Size(), url)
		hashing.Wait()
		if err != nil {
			return nil, wrapName(err, url)
		}
		if hashErr != nil {
			return nil, fmt.Errorf("weights: %s: %w", url, hashErr)
		}
		h := digest
		f.SHA256 = hex.EncodeToString(h.Sum(nil))
		return f, nil
	}
	b, key, err := store.Open(ctx, url, sc)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	defer b.Close()
	attrs, err := b.Attributes(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", url, err)
	}
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", url, err)
	}
	defer rc.Close()
	data := make([]byte, attrs.Size)
	if _, err := io.ReadFull(rc, data); err != nil {
		return nil, fmt.Errorf("weights: read %s: %w", url, err)
	}
	f, err := Decode(data, url)
	return f, err
}

// Decode reads a weights file held in memory; name is used in errors.
func Decode(data []byte, name string) (*File, error) {
	f, err := decode(bytes.NewReader(data), int64(len(data)), name)
	if err != nil {
		return nil, wrapName(err, name)
	}
	sum := sha256.Sum256(data)
	f.SHA256 = hex.EncodeToString(sum[:])
	return f, nil
}

func wrapName(err error, name string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("weights: %s: %w", name, err)
}

// decode sniffs the format and reads the file; it never panics: a panic in a
// reader (a hostile pickle reaching a library bug) is returned as ErrCorrupt.
func decode(r io.ReaderAt, size int64, name string) (f *File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("%w: reader failed: %v", ErrCorrupt, p)
		}
	}()
	head := make([]byte, 16)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		f, err = readTorchZip(r, size)
	case bytes.HasPrefix(head, []byte(checkpoint.Magic)):
		f, err = readCheckpoint(r, size, name)
	case len(head) >= 2 && head[0] == 0x80 && head[1] <= 5:
		f, err = readTorchLegacy(r, size)
	case len(head) >= 9 && head[8] == '{':
		f, err = readSafetensors(r, size)
	case size < 16:
		return nil, fmt.Errorf("%w: %d bytes, too short to be a weights file", ErrCorrupt, size)
	default:
		return nil, fmt.Errorf("%w: not a torch.save file (zip or pickle), safetensors or %s checkpoint (starts with % x)",
			ErrFormat, checkpoint.Extension, head[:8])
	}
	if err != nil {
		return nil, err
	}
	f.Source, f.Size = name, size
	return f, nil
}

// readCheckpoint reads one of our own checkpoints: params and buffers under
// our names ("trunk.conv1.weight").
func readCheckpoint(r io.ReaderAt, size int64, name string) (*File, error) {
	ck, err := checkpoint.Decode(io.NewSectionReader(r, 0, size), name)
	if err != nil {
		return nil, err
	}
	f := &File{Format: FormatCheckpoint, Checkpoint: ck, Metadata: map[string]string{
		"arch": ck.Model.Arch, "config_hash": ck.ConfigHash, "iter": fmt.Sprint(ck.Iter)}}
	if ck.State != nil {
		for _, list := range [][]trainTensor{ck.State.Params, ck.State.Buffers} {
			for _, t := range list {
				f.Tensors = append(f.Tensors, Tensor{Name: t.Name, Shape: t.Shape, DType: F32, Float: t.Data})
			}
		}
	}
	return f, nil
}
