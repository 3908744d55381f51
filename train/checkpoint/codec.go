package checkpoint

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"unsafe"

	"github.com/swavgo/swav/train"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Limits that keep a corrupt header from asking for absurd allocations.
const (
	maxHeaderBytes = 256 << 20 // the header holds the job YAML and the loss history
	maxTotalFloats = 1 << 32   // 16 GiB of float32: far above resnet50 + momentum + queue
)

// tensorEntry is one tensor of the header's index. Offset counts float32
// elements from the start of the data section.
type tensorEntry struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Shape  []int  `json:"shape"`
	Offset int64  `json:"offset"`
}

// fileHeader is the JSON header: the checkpoint's scalar fields and the index.
type fileHeader struct {
	Checkpoint
	Tensors []tensorEntry `json:"tensors"`
}

// Encode writes ck in the checkpoint format to w. It sets ck.Version and,
// when empty, ck.ConfigHash. It fails without writing anything when a tensor
// holds NaN/Inf (ErrNonFinite) or its data does not match its shape. It
// streams the tensors: memory beyond the state is one 64 KiB buffer.
func Encode(w io.Writer, ck *Checkpoint) error {
	if ck == nil {
		return errors.New("checkpoint: nil checkpoint")
	}
	if err := checkFinite(ck.State); err != nil {
		return err
	}
	ck.Version = FormatVersion
	if ck.ConfigHash == "" && len(ck.Config) > 0 {
		ck.ConfigHash = HashConfig(ck.Config)
	}
	hdr := fileHeader{Checkpoint: *ck}
	var offset int64
	var shapeErr error
	eachTensor(ck.State, func(kind string, t *train.Tensor) bool {
		if t.Numel() != len(t.Data) {
			shapeErr = fmt.Errorf("checkpoint: %s %s has shape %v (%d values) but holds %d", kind, t.Name, t.Shape, t.Numel(), len(t.Data))
			return false
		}
		hdr.Tensors = append(hdr.Tensors, tensorEntry{Name: t.Name, Kind: kind, Shape: t.Shape, Offset: offset})
		offset += int64(len(t.Data))
		return true
	})
	if shapeErr != nil {
		return shapeErr
	}
	js, err := json.Marshal(&hdr)
	if err != nil {
		return fmt.Errorf("checkpoint: encode header: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var pre [16]byte
	copy(pre[:8], Magic)
	binary.LittleEndian.PutUint32(pre[8:], FormatVersion)
	binary.LittleEndian.PutUint32(pre[12:], uint32(len(js)))
	bw.Write(pre[:])
	bw.Write(js)
	bw.Write(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(js, castagnoli)))
	crc := crc32.New(castagnoli)
	out := io.MultiWriter(bw, crc)
	var buf [chunkFloats * 4]byte
	var werr error
	eachTensor(ck.State, func(_ string, t *train.Tensor) bool {
		for start := 0; start < len(t.Data); start += chunkFloats {
			chunk := t.Data[start:min(start+chunkFloats, len(t.Data))]
			if _, werr = out.Write(floatBytes(chunk, buf[:])); werr != nil {
				return false
			}
		}
		return true
	})
	if werr != nil {
		return fmt.Errorf("checkpoint: write tensors: %w", werr)
	}
	bw.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32()))
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("checkpoint: write: %w", err)
	}
	return nil
}

// Decode reads one checkpoint from r; name (a file path or URL) prefixes
// every error, which says what was wrong and at which byte offset. Errors
// about the file's content wrap ErrCorrupt or ErrVersion. It allocates the
// tensors only after the header's checksum has been verified.
func Decode(r io.Reader, name string) (*Checkpoint, error) {
	cr := &countingReader{R: bufio.NewReaderSize(r, 64<<10)}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("checkpoint %s: byte %d: %w: %s", name, cr.N, ErrCorrupt, fmt.Sprintf(format, args...))
	}
	readFull := func(p []byte, what string) error {
		if _, err := io.ReadFull(cr, p); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fail("truncated in the %s (file ends after %d bytes)", what, cr.N)
			}
			return fmt.Errorf("checkpoint %s: read %s: %w", name, what, err)
		}
		return nil
	}
	var pre [16]byte
	if err := readFull(pre[:], "preamble"); err != nil {
		return nil, err
	}
	if string(pre[:8]) != Magic {
		return nil, fmt.Errorf("checkpoint %s: byte 0: %w: magic is %q, want %q (not a checkpoint file)", name, ErrCorrupt, pre[:8], Magic)
	}
	if v := binary.LittleEndian.Uint32(pre[8:]); v != FormatVersion {
		return nil, fmt.Errorf("checkpoint %s: byte 8: %w %d (this build reads version %d)", name, ErrVersion, v, FormatVersion)
	}
	hlen := binary.LittleEndian.Uint32(pre[12:])
	if hlen == 0 || hlen > maxHeaderBytes {
		return nil, fail("header length %d out of range (1..%d)", hlen, maxHeaderBytes)
	}
	js := make([]byte, hlen)
	if err := readFull(js, "header"); err != nil {
		return nil, err
	}
	var sum [4]byte
	if err := readFull(sum[:], "header checksum"); err != nil {
		return nil, err
	}
	if got, want := crc32.Checksum(js, castagnoli), binary.LittleEndian.Uint32(sum[:]); got != want {
		return nil, fail("header checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	var hdr fileHeader
	if err := json.Unmarshal(js, &hdr); err != nil {
		return nil, fail("header JSON: %v", err)
	}
	ck := hdr.Checkpoint
	ck.Version = FormatVersion
	st, err := allocState(hdr.Tensors)
	if err != nil {
		return nil, fail("%v", err)
	}
	if st != nil {
		ck.State = st
	}
	crc := crc32.New(castagnoli)
	if err := readTensors(cr, crc, st, readFull); err != nil {
		return nil, err
	}
	if err := readFull(sum[:], "data checksum"); err != nil {
		return nil, err
	}
	if got, want := crc.Sum32(), binary.LittleEndian.Uint32(sum[:]); got != want {
		return nil, fail("data checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	var extra [1]byte
	if n, _ := cr.Read(extra[:]); n > 0 {
		return nil, fail("trailing bytes after the data checksum")
	}
	return &ck, nil
}

// allocState checks the index (contiguous offsets, sane shapes, known kinds)
// and allocates the state it describes; nil when the index is empty.
func allocState(index []tensorEntry) (*train.State, error) {
	if len(index) == 0 {
		return nil, nil
	}
	st := &train.State{}
	var offset int64
	for i, e := range index {
		if e.Offset != offset {
			return nil, fmt.Errorf("tensor %d (%s): offset %d, want %d", i, e.Name, e.Offset, offset)
		}
		n := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && n > maxTotalFloats/int64(d)) {
				return nil, fmt.Errorf("tensor %d (%s): bad shape %v", i, e.Name, e.Shape)
			}
			n *= int64(d)
		}
		offset += n
		if offset > maxTotalFloats {
			return nil, fmt.Errorf("tensor %d (%s): total size %d floats exceeds the limit %d", i, e.Name, offset, int64(maxTotalFloats))
		}
		t := train.Tensor{Name: e.Name, Shape: e.Shape}
		switch e.Kind {
		case kindParam:
			st.Params = append(st.Params, t)
		case kindBuffer:
			st.Buffers = append(st.Buffers, t)
		case kindMomentum:
			st.Momentum = append(st.Momentum, t)
		case kindQueue:
			if st.Queue != nil {
				return nil, fmt.Errorf("tensor %d (%s): a second queue", i, e.Name)
			}
			st.Queue = &t
		default:
			return nil, fmt.Errorf("tensor %d (%s): unknown kind %q", i, e.Name, e.Kind)
		}
	}
	// Allocate once the whole index is known to be consistent.
	eachTensor(st, func(_ string, t *train.Tensor) bool {
		t.Data = make([]float32, t.Numel())
		return true
	})
	return st, nil
}

// readTensors fills st's tensors from r in file order, feeding crc.
func readTensors(r io.Reader, crc hash.Hash32, st *train.State, readFull func([]byte, string) error) error {
	var buf [chunkFloats * 4]byte
	var err error
	eachTensor(st, func(kind string, t *train.Tensor) bool {
		for start := 0; start < len(t.Data); start += chunkFloats {
			chunk := t.Data[start:min(start+chunkFloats, len(t.Data))]
			b := buf[:4*len(chunk)]
			if littleEndianHost {
				b = unsafe.Slice((*byte)(unsafe.Pointer(&chunk[0])), 4*len(chunk))
			}
			if err = readFull(b, kind+" "+t.Name); err != nil {
				return false
			}
			crc.Write(b)
			if !littleEndianHost {
				for i := range chunk {
					chunk[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
				}
			}
		}
		return true
	})
	return err
}

// chunkFloats is how many float32 values are converted and checksummed at a
// time (256 KiB).
const chunkFloats = 64 << 10

// littleEndianHost is true when float32 memory already has the file's byte
// order, so tensors are written and read without conversion.
var littleEndianHost = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// floatBytes returns vs as little-endian bytes: a view of vs itself on a
// little-endian host, else converted into buf (len >= 4*len(vs)).
func floatBytes(vs []float32, buf []byte) []byte {
	if len(vs) == 0 {
		return nil
	}
	if littleEndianHost {
		return unsafe.Slice((*byte)(unsafe.Pointer(&vs[0])), 4*len(vs))
	}
	for i, v := range vs {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	return buf[:4*len(vs)]
}

// countingReader counts the bytes read through it, for errors that name a
// byte offset.
type countingReader struct {
	R io.Reader
	N int64 // bytes read so far
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	return n, err
}
