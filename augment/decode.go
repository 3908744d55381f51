package augment

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"strings"

	"golang.org/x/image/webp"
)

// Image is a decoded 8-bit RGB image: Pix holds W*H pixels, R, G, B packed,
// row-major (stride 3*W). Images from the decoders may be reused through
// GetImage/PutImage.
type Image struct {
	Pix  []uint8
	W, H int
}

// resize makes img hold w x h pixels, reusing its buffer when large enough.
func (img *Image) resize(w, h int) {
	n := 3 * w * h
	if cap(img.Pix) < n {
		img.Pix = make([]uint8, n)
	}
	img.Pix = img.Pix[:n]
	img.W, img.H = w, h
}

// Decode errors. Every error from Decode wraps exactly one of them, so that a
// skipped sample's reason is SkipReason(err).
var (
	ErrEmpty     = errors.New("zero-byte image")
	ErrNotImage  = errors.New("not an image")
	ErrTooLarge  = errors.New("image over the pixel limit")
	ErrTruncated = errors.New("truncated image")
	ErrCorrupt   = errors.New("corrupt image")
)

// SkipReason is the short reason a sample is skipped for ("zero-byte",
// "not-an-image", "oversized", "truncated", "corrupt"), or "error" for an
// error that is none of Decode's.
func SkipReason(err error) string {
	switch {
	case errors.Is(err, ErrEmpty):
		return "zero-byte"
	case errors.Is(err, ErrNotImage):
		return "not-an-image"
	case errors.Is(err, ErrTooLarge):
		return "oversized"
	case errors.Is(err, ErrTruncated):
		return "truncated"
	case errors.Is(err, ErrCorrupt):
		return "corrupt"
	}
	return "error"
}

// Format names an encoded image's container, sniffed from its first bytes
// (the file extension is not trusted).
type Format string

const (
	FormatJPEG Format = "jpeg"
	FormatPNG  Format = "png"
	FormatWebP Format = "webp"
)

// SniffFormat returns the format of data from its magic bytes.
func SniffFormat(data []byte) (Format, error) {
	switch {
	case len(data) == 0:
		return "", ErrEmpty
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return FormatJPEG, nil
	case len(data) >= 8 && string(data[:8]) == "\x89PNG\r\n\x1a\n":
		return FormatPNG, nil
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return FormatWebP, nil
	}
	return "", fmt.Errorf("%w (first bytes % x)", ErrNotImage, data[:min(len(data), 8)])
}

// jpegDecoder is the JPEG fast path (libjpeg-turbo, set by decode_turbo.go
// when the library loads); nil means the standard library decodes JPEGs.
var jpegDecoder interface {
	// header returns the size of a JPEG and whether the fast path handles it
	// (false: CMYK/YCCK, left to the standard library).
	header(data []byte) (w, h int, ok bool, err error)
	// decode decodes into dst, already sized to the header's w x h.
	decode(dst *Image, data []byte) error
}

// DecoderName names the JPEG decoder in use: "libjpeg-turbo" (cgo build with
// libturbojpeg.so.0 loadable at run time) or "stdlib" (image/jpeg). See
// decode_turbo.go for the build tag and the detection.
func DecoderName() string {
	if jpegDecoder != nil {
		return "libjpeg-turbo"
	}
	return "stdlib"
}

// Decode decodes a JPEG, PNG or WebP image to RGB (grayscale, paletted, CMYK
// and alpha sources are converted as Pillow's convert("RGB") does: alpha is
// dropped). The size is read from the header first and an image of more than
// maxPixels pixels is refused with ErrTooLarge before any pixel is decoded.
// dst is reused when non-nil. Errors wrap one of the Err* sentinels and never
// panic on malformed input.
func Decode(dst *Image, data []byte, maxPixels int64) (*Image, error) {
	if dst == nil {
		dst = new(Image)
	}
	format, err := SniffFormat(data)
	if err != nil {
		return nil, err
	}
	if format == FormatJPEG && jpegDecoder != nil {
		w, h, ok, err := jpegDecoder.header(data)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := checkPixels(format, w, h, maxPixels); err != nil {
				return nil, err
			}
			dst.resize(w, h)
			if err := jpegDecoder.decode(dst, data); err != nil {
				return nil, err
			}
			return dst, nil
		}
	}
	return decodeStdlib(dst, format, data, maxPixels)
}

func checkPixels(format Format, w, h int, maxPixels int64) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: %s header gives %dx%d", ErrCorrupt, format, w, h)
	}
	if int64(w)*int64(h) > maxPixels {
		return fmt.Errorf("%w: %s %dx%d = %d pixels > limit %d", ErrTooLarge, format, w, h, int64(w)*int64(h), maxPixels)
	}
	return nil
}

// stdlibError classifies an error of the standard decoders.
func stdlibError(format Format, stage string, err error) error {
	// image/jpeg reports a cut entropy-coded segment as "short Huffman
	// data", image/png a cut IDAT as "not enough pixel data".
	msg := err.Error()
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		strings.Contains(msg, "short Huffman data") || strings.Contains(msg, "not enough pixel data") {
		return fmt.Errorf("%w: %s %s: %v", ErrTruncated, format, stage, err)
	}
	return fmt.Errorf("%w: %s %s: %v", ErrCorrupt, format, stage, err)
}

func decodeStdlib(dst *Image, format Format, data []byte, maxPixels int64) (img *Image, err error) {
	// The x/image and stdlib decoders return errors for malformed input; a
	// panic would be a decoder bug, still turned into an error here so that one
	// bad sample never takes the run down.
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%w: %s decoder panicked: %v", ErrCorrupt, format, r)
		}
	}()
	var cfg image.Config
	var decode func(io.Reader) (image.Image, error)
	switch format {
	case FormatJPEG:
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
		decode = jpeg.Decode
	case FormatPNG:
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
		decode = png.Decode
	case FormatWebP:
		cfg, err = webp.DecodeConfig(bytes.NewReader(data))
		decode = webp.Decode
	}
	if err != nil {
		return nil, stdlibError(format, "header", err)
	}
	if err := checkPixels(format, cfg.Width, cfg.Height, maxPixels); err != nil {
		return nil, err
	}
	src, err := decode(bytes.NewReader(data))
	if err != nil {
		return nil, stdlibError(format, "decode", err)
	}
	toRGB(dst, src)
	return dst, nil
}

// dropAlpha copies w x h pixels of 4-byte RGBA rows (stride bytes apart)
// into packed RGB.
func dropAlpha(out, pix []uint8, stride, w, h int) {
	for y := range h {
		row := pix[y*stride : y*stride+4*w]
		o := out[3*w*y : 3*w*(y+1)]
		for x := range w {
			o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
}

// toRGB converts any image to packed RGB, with fast paths for the types the
// decoders return.
func toRGB(dst *Image, src image.Image) {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	dst.resize(w, h)
	switch s := src.(type) {
	case *image.Gray:
		for y := range h {
			row := s.Pix[(y)*s.Stride : y*s.Stride+w]
			out := dst.Pix[3*w*y : 3*w*(y+1)]
			for x, v := range row {
				out[3*x], out[3*x+1], out[3*x+2] = v, v, v
			}
		}
	case *image.NRGBA:
		dropAlpha(dst.Pix, s.Pix, s.Stride, w, h)
	case *image.RGBA: // our decoders return it for opaque images only
		dropAlpha(dst.Pix, s.Pix, s.Stride, w, h)
	case *image.YCbCr:
		i := 0
		for y := range h {
			for x := range w {
				yi, ci := s.YOffset(b.Min.X+x, b.Min.Y+y), s.COffset(b.Min.X+x, b.Min.Y+y)
				dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2] = color.YCbCrToRGB(s.Y[yi], s.Cb[ci], s.Cr[ci])
				i += 3
			}
		}
	default:
		// Paletted, CMYK, 16-bit, NYCbCrA...: through the colour model.
		// Alpha is dropped as Pillow's RGBA->RGB does (no premultiplication).
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBAModel.Convert(src.At(x, y)).(color.NRGBA)
				dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2] = c.R, c.G, c.B
				i += 3
			}
		}
	}
}
