package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// storageDTypes maps the allow-listed torch.*Storage classes to dtypes.
var storageDTypes = map[string]string{
	"FloatStorage": F32, "HalfStorage": F16, "BFloat16Storage": BF16, "DoubleStorage": F64,
	"LongStorage": I64, "IntStorage": I32, "ShortStorage": I16, "CharStorage": I8,
	"ByteStorage": U8, "BoolStorage": Bool,
}

// dtypeSize is the element size in bytes of each dtype.
var dtypeSize = map[string]int{F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, Bool: 1}

// storageClass is what the pickle's GLOBAL torch.XStorage evaluates to.
type storageClass struct{ dtype string }

// storage is one torch storage: a flat run of elements that tensors view.
type storage struct {
	key   string
	dtype string
	numel int
	raw   []byte    // the elements as stored (little-endian), once loaded
	float []float32 // raw widened to float32, made on first use
}

// tensorRef is a tensor as the pickle describes it: a strided view of a
// storage, materialised once every storage is loaded.
type tensorRef struct {
	st     *storage
	offset int
	shape  []int
	stride []int
}

// torchUnpickler unpickles a torch.save pickle under the allow-list; storages
// are created by the persistent-id callback and filled in by the caller.
type torchUnpickler struct {
	storages map[string]*storage
	legacy   bool
}

func newTorchUnpickler(legacy bool) *torchUnpickler {
	return &torchUnpickler{storages: map[string]*storage{}, legacy: legacy}
}

// load scans and unpickles the pickle at the start of data; it returns the
// object and the pickle's length.
func (tu *torchUnpickler) load(data []byte, what string) (any, int, error) {
	n, err := scanPickle(data)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	u := pickle.NewUnpickler(bytes.NewReader(data[:n]))
	u.FindClass = findClass
	u.PersistentLoad = tu.persistentLoad
	u.GetExtension = func(code int) (any, error) {
		return nil, fmt.Errorf("%w: extension code %d", ErrUnsafePickle, code)
	}
	obj, err := loadGuarded(&u)
	if err != nil {
		if errors.Is(err, ErrUnsafePickle) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrFormat) {
			return nil, 0, fmt.Errorf("%s: %w", what, err)
		}
		return nil, 0, fmt.Errorf("%s: %w: %v", what, ErrCorrupt, err)
	}
	return obj, n, nil
}

// loadGuarded runs gopickle's VM, whose opcode handlers index the stack
// without checking it (a DICT after an odd number of items, a REDUCE on an
// empty stack panic): such a malformed pickle is an ErrCorrupt, not a crash.
func loadGuarded(u *pickle.Unpickler) (obj any, err error) {
	defer func() {
		if p := recover(); p != nil {
			obj, err = nil, fmt.Errorf("%w: malformed pickle opcodes (%v)", ErrCorrupt, p)
		}
	}()
	return u.Load()
}

// findClass is the allow-list: only these globals resolve, and none of them
// runs anything but the construction of a tensor description.
// (collections.OrderedDict is resolved by gopickle itself.)
func findClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2":
		return callable(rebuildTensor), nil
	case "torch._utils._rebuild_parameter":
		return callable(func(args ...any) (any, error) {
			if len(args) < 1 {
				return nil, fmt.Errorf("%w: _rebuild_parameter without data", ErrCorrupt)
			}
			return args[0], nil
		}), nil
	case "torch.Size":
		return callable(func(args ...any) (any, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("%w: torch.Size takes one tuple", ErrCorrupt)
			}
			return args[0], nil
		}), nil
	}
	if module == "torch" {
		if dt, ok := storageDTypes[name]; ok {
			return &storageClass{dtype: dt}, nil
		}
	}
	return nil, fmt.Errorf("%w: %s.%s (allowed: collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.*Storage, torch.Size)",
		ErrUnsafePickle, module, name)
}

// callable adapts a function to gopickle's Callable.
type callable func(args ...any) (any, error)

func (c callable) Call(args ...any) (any, error) { return c(args...) }

// rebuildTensor is torch._utils._rebuild_tensor_v2(storage, storage_offset,
// size, stride, requires_grad, backward_hooks[, metadata]).
func rebuildTensor(args ...any) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("%w: _rebuild_tensor_v2 with %d arguments", ErrCorrupt, len(args))
	}
	st, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("%w: _rebuild_tensor_v2: first argument is %T, not a storage", ErrCorrupt, args[0])
	}
	offset, ok := args[1].(int)
	shape, ok2 := intTuple(args[2])
	stride, ok3 := intTuple(args[3])
	if !ok || !ok2 || !ok3 || len(shape) != len(stride) || offset < 0 {
		return nil, fmt.Errorf("%w: _rebuild_tensor_v2: bad offset, size or stride (%v, %v, %v)", ErrCorrupt, args[1], args[2], args[3])
	}
	return &tensorRef{st: st, offset: offset, shape: shape, stride: stride}, nil
}

// intTuple reads a tuple of non-negative ints.
func intTuple(v any) ([]int, bool) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, false
	}
	out := make([]int, t.Len())
	for i := range out {
		n, ok := t.Get(i).(int)
		if !ok || n < 0 {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// persistentLoad resolves a persistent id ('storage', class, key, location,
// numel[, view_metadata]) to a storage, shared by key.
func (tu *torchUnpickler) persistentLoad(pid any) (any, error) {
	t, ok := pid.(*types.Tuple)
	if !ok || t.Len() < 5 {
		return nil, fmt.Errorf("%w: persistent id %v is not a storage tuple", ErrCorrupt, pid)
	}
	kind, _ := t.Get(0).(string)
	class, ok1 := t.Get(1).(*storageClass)
	key, ok2 := t.Get(2).(string)
	numel, ok3 := t.Get(4).(int)
	if kind != "storage" || !ok1 || !ok2 || !ok3 || numel < 0 {
		return nil, fmt.Errorf("%w: persistent id %v is not ('storage', torch.XStorage, key, location, numel)", ErrCorrupt, pid)
	}
	if t.Len() > 5 && t.Get(5) != nil {
		return nil, fmt.Errorf("%w: storage %s is a view of another storage (legacy view metadata)", ErrFormat, key)
	}
	if st, ok := tu.storages[key]; ok {
		if st.dtype != class.dtype || st.numel != numel {
			return nil, fmt.Errorf("%w: storage %s declared twice with different types or sizes", ErrCorrupt, key)
		}
		return st, nil
	}
	st := &storage{key: key, dtype: class.dtype, numel: numel}
	tu.storages[key] = st
	return st, nil
}

// readTorchZip reads the zip format: <prefix>/data.pkl, the storages in
// <prefix>/data/<key> (stored, not compressed), <prefix>/byteorder.
func readTorchZip(r io.ReaderAt, size int64) (*File, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: zip: %v (truncated or not a torch.save file)", ErrCorrupt, err)
	}
	entries := map[string]*zip.File{}
	var pkl *zip.File
	for _, e := range zr.File {
		entries[e.Name] = e
		if e.Name == "data.pkl" || strings.HasSuffix(e.Name, "/data.pkl") && strings.Count(e.Name, "/") == 1 {
			pkl = e
		}
	}
	if pkl == nil {
		return nil, fmt.Errorf("%w: zip without <name>/data.pkl: not a torch.save file", ErrFormat)
	}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	if bo, ok := entries[prefix+"byteorder"]; ok {
		b, err := readEntry(bo, 16)
		if err != nil {
			return nil, err
		}
		if s := strings.TrimSpace(string(b)); s != "little" {
			return nil, fmt.Errorf("%w: byte order %q (only little-endian files are read)", ErrFormat, s)
		}
	}
	if pkl.UncompressedSize64 > uint64(size)*64 {
		return nil, fmt.Errorf("%w: %s claims %d bytes", ErrCorrupt, pkl.Name, pkl.UncompressedSize64)
	}
	data, err := readEntry(pkl, int64(pkl.UncompressedSize64))
	if err != nil {
		return nil, err
	}
	tu := newTorchUnpickler(false)
	obj, _, err := tu.load(data, pkl.Name)
	if err != nil {
		return nil, err
	}
	for _, key := range slices.Sorted(maps.Keys(tu.storages)) {
		st := tu.storages[key]
		e, ok := entries[prefix+"data/"+key]
		if !ok {
			return nil, fmt.Errorf("%w: storage %s: no entry %sdata/%s", ErrCorrupt, key, prefix, key)
		}
		if e.Method != zip.Store {
			return nil, fmt.Errorf("%w: storage entry %s is compressed (method %d); torch.save stores them uncompressed", ErrFormat, e.Name, e.Method)
		}
		want := uint64(st.numel) * uint64(dtypeSize[st.dtype])
		if e.UncompressedSize64 < want {
			return nil, fmt.Errorf("%w: storage %s declares %d %s elements (%d bytes), its entry holds %d bytes",
				ErrCorrupt, key, st.numel, st.dtype, want, e.UncompressedSize64)
		}
		if st.raw, err = readEntry(e, int64(want)); err != nil {
			return nil, err
		}
	}
	return collect(obj, FormatTorchZip, tu.storages)
}

// readEntry reads the first n bytes of a zip entry (n is bounded by the
// caller: stored entries lie inside the file).
func readEntry(e *zip.File, n int64) ([]byte, error) {
	rc, err := e.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, e.Name, err)
	}
	defer rc.Close()
	if n > int64(e.UncompressedSize64) {
		n = int64(e.UncompressedSize64)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, fmt.Errorf("%w: %s: %v (truncated)", ErrCorrupt, e.Name, err)
	}
	return buf, nil
}

// legacyMagic is torch.serialization's MAGIC_NUMBER.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// readTorchLegacy reads the legacy stream: pickles of the magic number, the
// protocol version (1001) and sys_info, then the object, then the list of
// storage keys; then, per key, an int64 element count and the raw elements.
//
// The pickles are read through a window that doubles until one fits; each
// storage is read straight into its own buffer, so a float32 storage costs
// its size once.
func readTorchLegacy(r io.ReaderAt, size int64) (*File, error) {
	tu := newTorchUnpickler(true)
	var pos int64
	next := func(what string) (any, error) {
		for window := int64(64 << 10); ; window *= 2 {
			last := pos+window >= size
			if last {
				window = size - pos
			}
			buf := make([]byte, window)
			if _, err := r.ReadAt(buf, pos); err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
			if _, err := scanPickle(buf); err != nil && !last {
				continue // the pickle may go on past the window
			}
			obj, n, err := tu.load(buf, what)
			pos += int64(n)
			return obj, err
		}
	}
	magic, err := next("magic number")
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, fmt.Errorf("%w: a pickle, but not a torch.save file (no magic number)", ErrFormat)
	}
	version, err := next("protocol version")
	if err != nil {
		return nil, err
	}
	if v, ok := version.(int); !ok || v != 1001 {
		return nil, fmt.Errorf("%w: torch.save legacy protocol version %v (want 1001)", ErrFormat, version)
	}
	sysInfo, err := next("sys_info")
	if err != nil {
		return nil, err
	}
	if d, ok := sysInfo.(*types.Dict); ok {
		if le, ok := d.Get("little_endian"); ok && le != true {
			return nil, fmt.Errorf("%w: written on a big-endian machine", ErrFormat)
		}
	}
	obj, err := next("object")
	if err != nil {
		return nil, err
	}
	keysObj, err := next("storage keys")
	if err != nil {
		return nil, err
	}
	keys, ok := keysObj.(*types.List)
	if !ok {
		return nil, fmt.Errorf("%w: storage key list is %T", ErrCorrupt, keysObj)
	}
	for _, k := range *keys {
		key, _ := k.(string)
		st, ok := tu.storages[key]
		if !ok {
			return nil, fmt.Errorf("%w: data for storage %q that no tensor uses", ErrCorrupt, key)
		}
		var head [8]byte
		if _, err := r.ReadAt(head[:], pos); err != nil {
			return nil, fmt.Errorf("%w: storage %s: file ends before its size (truncated)", ErrCorrupt, key)
		}
		n := binary.LittleEndian.Uint64(head[:])
		pos += 8
		elem := uint64(dtypeSize[st.dtype])
		if n != uint64(st.numel) || n > uint64(size-pos)/elem {
			return nil, fmt.Errorf("%w: storage %s: %d elements declared, %d recorded, %d bytes left in the file (truncated?)",
				ErrCorrupt, key, st.numel, n, size-pos)
		}
		st.raw = make([]byte, n*elem)
		if _, err := r.ReadAt(st.raw, pos); err != nil && !(errors.Is(err, io.EOF) && pos+int64(len(st.raw)) == size) {
			return nil, fmt.Errorf("%w: storage %s: %v", ErrCorrupt, key, err)
		}
		pos += int64(n * elem)
	}
	return collect(obj, FormatTorchLegacy, tu.storages)
}

// collect walks the unpickled object: dicts give dotted names, tensors are
// materialised, everything else is listed in File.Other.
//
// The tensors may together hold at most 4x the storages' elements plus 1 Mi
// (views of one storage covering it a few times, as tied weights do).
func collect(obj any, format string, storages map[string]*storage) (*File, error) {
	f := &File{Format: format}
	budget := 1 << 20
	for _, st := range storages {
		budget += 4 * st.numel
	}
	var walk func(prefix string, v any) error
	walk = func(prefix string, v any) error {
		join := func(k any) string {
			s := fmt.Sprint(k)
			if prefix == "" {
				return s
			}
			return prefix + "." + s
		}
		switch x := v.(type) {
		case *tensorRef:
			t, err := x.materialise(prefix, &budget)
			if err != nil {
				return err
			}
			f.Tensors = append(f.Tensors, t)
		case *types.Dict:
			for _, e := range *x {
				if err := walk(join(e.Key), e.Value); err != nil {
					return err
				}
			}
		case *types.OrderedDict:
			for el := x.List.Front(); el != nil; el = el.Next() {
				e := el.Value.(*types.OrderedDictEntry)
				if err := walk(join(e.Key), e.Value); err != nil {
					return err
				}
			}
		case *types.List:
			for i, e := range *x {
				if err := walk(join(strconv.Itoa(i)), e); err != nil {
					return err
				}
			}
		case *types.Tuple:
			for i, e := range *x {
				if err := walk(join(strconv.Itoa(i)), e); err != nil {
					return err
				}
			}
		default:
			if prefix != "" {
				f.Other = append(f.Other, prefix)
			}
		}
		return nil
	}
	if err := walk("", obj); err != nil {
		return nil, err
	}
	return f, nil
}

// materialise checks the view against its storage and copies it out,
// widened to float32 (or int64 for integer storages). A tensor that is its
// whole float32 storage shares the storage's memory instead of a copy.
// budget is what is left of the elements the tensors may materialise
// together (collect's limit), so views cannot make the reader allocate much
// more than the file holds.
func (ref *tensorRef) materialise(name string, budget *int) (Tensor, error) {
	st := ref.st
	if st.raw == nil && st.numel > 0 {
		return Tensor{}, fmt.Errorf("%w: tensor %s: storage %s has no data", ErrCorrupt, name, st.key)
	}
	t := Tensor{Name: name, Shape: ref.shape, DType: st.dtype}
	numel, last := 1, ref.offset
	for i, d := range ref.shape {
		if d == 0 {
			numel = 0
			break
		}
		s := ref.stride[i]
		if d > st.numel/numel || (s > 0 && d-1 > (st.numel-last)/s) {
			return Tensor{}, fmt.Errorf("%w: tensor %s: shape %v (stride %v, offset %d) needs more elements than its storage %s holds (%d)",
				ErrCorrupt, name, ref.shape, ref.stride, ref.offset, st.key, st.numel)
		}
		numel *= d
		last += (d - 1) * s
	}
	if numel > 0 && last >= st.numel {
		return Tensor{}, fmt.Errorf("%w: tensor %s: shape %v (stride %v, offset %d) needs more elements than its storage %s holds (%d)",
			ErrCorrupt, name, ref.shape, ref.stride, ref.offset, st.key, st.numel)
	}
	*budget -= numel
	if *budget < 0 {
		return Tensor{}, fmt.Errorf("%w: tensor %s: the tensors view more elements than the storages hold", ErrCorrupt, name)
	}
	contiguous := ref.offset == 0 && numel == st.numel && isContiguous(ref.shape, ref.stride)
	if isFloat(st.dtype) {
		src := st.floats()
		if contiguous {
			t.Float = src
			return t, nil
		}
		t.Float = make([]float32, numel)
		gather(ref, func(dst, srcIdx int) { t.Float[dst] = src[srcIdx] })
		return t, nil
	}
	t.Int = make([]int64, numel)
	gather(ref, func(dst, srcIdx int) { t.Int[dst] = st.intAt(srcIdx) })
	return t, nil
}

func isFloat(dt string) bool { return dt == F32 || dt == F16 || dt == BF16 || dt == F64 }

func isContiguous(shape, stride []int) bool {
	want := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && stride[i] != want {
			return false
		}
		want *= shape[i]
	}
	return true
}

// gather visits the view's elements in row-major order.
func gather(ref *tensorRef, put func(dst, src int)) {
	n := len(ref.shape)
	idx := make([]int, n)
	total := 1
	for _, d := range ref.shape {
		total *= d
	}
	for dst := 0; dst < total; dst++ {
		src := ref.offset
		for i := 0; i < n; i++ {
			src += idx[i] * ref.stride[i]
		}
		put(dst, src)
		for i := n - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < ref.shape[i] {
				break
			}
			idx[i] = 0
		}
	}
}

// floats widens the storage to float32 once.
func (st *storage) floats() []float32 {
	if st.float == nil {
		st.float = widen(st.raw, st.dtype, st.numel)
	}
	return st.float
}

// intAt reads element i of an integer (or bool) storage.
func (st *storage) intAt(i int) int64 {
	b := st.raw
	switch st.dtype {
	case I64:
		return int64(binary.LittleEndian.Uint64(b[8*i:]))
	case I32:
		return int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
	case I16:
		return int64(int16(binary.LittleEndian.Uint16(b[2*i:])))
	case I8:
		return int64(int8(b[i]))
	default:
		return int64(b[i])
	}
}
