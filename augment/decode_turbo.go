//go:build cgo && !noturbo

// JPEG decoding through libjpeg-turbo's TurboJPEG API.
//
// Build tag and detection: this file is compiled when cgo is enabled and the
// tag `noturbo` is absent. It needs no header and no link-time library: at
// start-up it dlopen()s libturbojpeg.so.0 (Debian/Ubuntu package
// libturbojpeg0, pulled in by libturbojpeg0-dev) and looks up the six TurboJPEG
// functions it uses. When the library is missing, or SWAV_JPEG_DECODER=stdlib
// is set, JPEGs fall back to image/jpeg at run time. A CGO_ENABLED=0 build, or
// `go build -tags noturbo`, compiles decode_noturbo.go instead. DecoderName
// reports which decoder is in use ("libjpeg-turbo" or "stdlib").
//
// libjpeg-turbo with default flags (accurate integer DCT, fancy upsampling)
// is what Pillow uses on Debian, so decoded pixels equal PIL's.

package augment

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef void *tjhandle;
static void *swav_tj_lib;
static tjhandle (*swav_tjInitDecompress)(void);
static int (*swav_tjDecompressHeader3)(tjhandle, const unsigned char *, unsigned long, int *, int *, int *, int *);
static int (*swav_tjDecompress2)(tjhandle, const unsigned char *, unsigned long, unsigned char *, int, int, int, int, int);
static int (*swav_tjDestroy)(tjhandle);
static char *(*swav_tjGetErrorStr2)(tjhandle);
static int (*swav_tjGetErrorCode)(tjhandle);

// swav_tj_load opens the library; returns 0 on success.
static int swav_tj_load(const char *name) {
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return 1;
	swav_tjInitDecompress = (tjhandle (*)(void))dlsym(lib, "tjInitDecompress");
	swav_tjDecompressHeader3 = (int (*)(tjhandle, const unsigned char *, unsigned long, int *, int *, int *, int *))dlsym(lib, "tjDecompressHeader3");
	swav_tjDecompress2 = (int (*)(tjhandle, const unsigned char *, unsigned long, unsigned char *, int, int, int, int, int))dlsym(lib, "tjDecompress2");
	swav_tjDestroy = (int (*)(tjhandle))dlsym(lib, "tjDestroy");
	swav_tjGetErrorStr2 = (char *(*)(tjhandle))dlsym(lib, "tjGetErrorStr2");
	swav_tjGetErrorCode = (int (*)(tjhandle))dlsym(lib, "tjGetErrorCode");
	if (!swav_tjInitDecompress || !swav_tjDecompressHeader3 || !swav_tjDecompress2 ||
	    !swav_tjDestroy || !swav_tjGetErrorStr2 || !swav_tjGetErrorCode) {
		dlclose(lib);
		return 2;
	}
	swav_tj_lib = lib;
	return 0;
}
static tjhandle swav_tj_init(void) { return swav_tjInitDecompress(); }
static void swav_tj_destroy(tjhandle h) { swav_tjDestroy(h); }
// swav_tj_error copies the failure's error code and message into buf. It
// must run in the same cgo call as the failing TurboJPEG call: warnings are
// written only to a thread-local message (tjGetErrorStr2 returns it unless
// an instance error is flagged, and clears that flag), so a later call could
// run on another OS thread and read another decode's message or "No error".
static int swav_tj_error(tjhandle h, char *buf, int n) {
	int code = swav_tjGetErrorCode(h);
	const char *s = swav_tjGetErrorStr2(h);
	if (!s) s = "";
	strncpy(buf, s, n - 1);
	buf[n - 1] = 0;
	return code;
}
static int swav_tj_header(tjhandle h, const unsigned char *buf, unsigned long n, int *w, int *hh, int *sub, int *cs, char *ebuf, int en, int *code) {
	int rc = swav_tjDecompressHeader3(h, buf, n, w, hh, sub, cs);
	if (rc != 0) *code = swav_tj_error(h, ebuf, en);
	return rc;
}
static int swav_tj_decompress(tjhandle h, const unsigned char *buf, unsigned long n, unsigned char *dst, int w, int pitch, int hh, int pf, int flags, char *ebuf, int en, int *code) {
	int rc = swav_tjDecompress2(h, buf, n, dst, w, pitch, hh, pf, flags);
	if (rc != 0) *code = swav_tj_error(h, ebuf, en);
	return rc;
}
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"unsafe"

	"github.com/swavgo/swav/internal/buildinfo"
)

// TurboJPEG constants (turbojpeg.h, stable ABI).
const (
	tjpfRGB       = 0
	tjcsCMYK      = 3
	tjcsYCCK      = 4
	tjerrWarning  = 0
	tjflagLimScan = 32768 // TJFLAG_LIMITSCANS: refuse progressive JPEGs with > 500 scans
)

func init() {
	if os.Getenv("SWAV_JPEG_DECODER") == "stdlib" {
		return
	}
	name := C.CString("libturbojpeg.so.0")
	defer C.free(unsafe.Pointer(name))
	if C.swav_tj_load(name) == 0 {
		jpegDecoder = &turboDecoder{handles: make(chan C.tjhandle, 64)}
		buildinfo.AddFeature("libjpeg-turbo")
	}
}

// turboDecoder keeps a bounded free list of TurboJPEG handles (one handle is
// used by one goroutine at a time; handles beyond the list are destroyed).
type turboDecoder struct {
	handles chan C.tjhandle
}

func (t *turboDecoder) get() (C.tjhandle, error) {
	select {
	case h := <-t.handles:
		return h, nil
	default:
		h := C.swav_tj_init()
		if h == nil {
			return nil, fmt.Errorf("%w: jpeg: tjInitDecompress failed", ErrCorrupt)
		}
		return h, nil
	}
}

// put returns a handle to the free list. A handle whose last call failed is
// destroyed instead: libjpeg leaves its decompressor mid-way after an error,
// and the next header read on it would see the old state (0x0 images).
func (t *turboDecoder) put(h C.tjhandle, failed bool) {
	if failed {
		C.swav_tj_destroy(h)
		return
	}
	select {
	case t.handles <- h:
	default:
		C.swav_tj_destroy(h)
	}
}

func (t *turboDecoder) header(data []byte) (w, h int, ok bool, err error) {
	hd, err := t.get()
	if err != nil {
		return 0, 0, false, err
	}
	defer func() { t.put(hd, err != nil) }()
	var cw, ch, sub, cs, code C.int
	var ebuf turboMsg
	if C.swav_tj_header(hd, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), &cw, &ch, &sub, &cs, &ebuf[0], C.int(len(ebuf)), &code) != 0 {
		return 0, 0, false, turboError(ebuf.String(), "header")
	}
	if cs == tjcsCMYK || cs == tjcsYCCK {
		return int(cw), int(ch), false, nil
	}
	return int(cw), int(ch), true, nil
}

func (t *turboDecoder) decode(dst *Image, data []byte) (err error) {
	hd, err := t.get()
	if err != nil {
		return err
	}
	// A benign warning also leaves the handle mid-way: destroy it too.
	warned := false
	defer func() { t.put(hd, err != nil || warned) }()
	var code C.int
	var ebuf turboMsg
	rc := C.swav_tj_decompress(hd, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)),
		(*C.uchar)(unsafe.Pointer(&dst.Pix[0])), C.int(dst.W), C.int(3*dst.W), C.int(dst.H), tjpfRGB, tjflagLimScan,
		&ebuf[0], C.int(len(ebuf)), &code)
	if rc != 0 {
		msg := ebuf.String()
		if code == tjerrWarning && strings.Contains(msg, "extraneous bytes before marker") {
			// The one benign libjpeg warning (junk between segments, common
			// in real files): every pixel decoded, as Pillow accepts it.
			// Other warnings (bad Huffman code, premature end of a data
			// segment or of the file) mean lost pixels: the sample is
			// corrupt or truncated.
			warned = true
			return nil
		}
		return turboError(msg, "decode")
	}
	return nil
}

// turboMsg receives a failure's message from the failing cgo call itself.
type turboMsg [256]C.char

// String is the message; an empty one or "No error" (never a valid reason
// for a failure) becomes a fixed text.
func (m *turboMsg) String() string {
	msg := C.GoString(&m[0])
	if msg == "" || msg == "No error" {
		msg = "undescribed libjpeg-turbo failure"
	}
	return msg
}

// turboError classes a libjpeg-turbo message read by readTurboError.
func turboError(msg, stage string) error {
	if strings.Contains(msg, "Premature end") {
		return fmt.Errorf("%w: jpeg %s: libjpeg-turbo: %s", ErrTruncated, stage, msg)
	}
	return fmt.Errorf("%w: jpeg %s: libjpeg-turbo: %s", ErrCorrupt, stage, msg)
}
