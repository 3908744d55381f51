package augment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pngWithSize returns a valid 1x1 PNG whose IHDR claims w x h (CRC fixed):
// the header check must refuse it before decoding any pixel.
func pngWithSize(t testing.TB, w, h uint32) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// IHDR data starts at 16: width, height; its CRC covers bytes 12..29.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// jpegWithSize patches the SOF0 frame size of a JPEG.
func jpegWithSize(t testing.TB, data []byte, w, h uint16) []byte {
	b := append([]byte(nil), data...)
	for i := 2; i+9 < len(b); {
		if b[i] != 0xFF {
			t.Fatal("jpeg: lost marker sync")
		}
		m := b[i+1]
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if m >= 0xC0 && m <= 0xC2 {
			binary.BigEndian.PutUint16(b[i+5:], h)
			binary.BigEndian.PutUint16(b[i+7:], w)
			return b
		}
		i += 2 + n
	}
	t.Fatal("jpeg: no SOF marker")
	return nil
}

func TestDecodeBadInput(t *testing.T) {
	jpg := readTestdata(t, "dec_color.jpg")
	pngData := readTestdata(t, "dec_gray.png")
	webpData := readTestdata(t, "dec_lossless.webp")
	corrupt := append([]byte(nil), jpg...)
	for i := len(corrupt) / 3; i < len(corrupt)/3+200; i++ {
		corrupt[i] = 0xFF // a run of markers in the entropy-coded data
	}
	cases := []struct {
		name      string
		data      []byte
		maxPixels int64
		want      error
	}{
		{"zero-byte", nil, DefaultMaxPixels, ErrEmpty},
		{"text file", []byte("hello, this is not an image\n"), DefaultMaxPixels, ErrNotImage},
		{"one byte", []byte{0xFF}, DefaultMaxPixels, ErrNotImage},
		{"jpeg magic only", []byte{0xFF, 0xD8, 0xFF}, DefaultMaxPixels, nil},
		{"truncated jpeg", jpg[:len(jpg)/2], DefaultMaxPixels, ErrTruncated},
		{"jpeg header only", jpg[:200], DefaultMaxPixels, nil},
		{"corrupt jpeg", corrupt, DefaultMaxPixels, nil},
		{"jpeg over the pixel limit", jpg, 80*60 - 1, ErrTooLarge},
		{"jpeg bomb header", jpegWithSize(t, jpg, 65000, 65000), DefaultMaxPixels, ErrTooLarge},
		{"truncated png", pngData[:len(pngData)/2], DefaultMaxPixels, nil},
		{"png bomb header", pngWithSize(t, 100000, 100000), DefaultMaxPixels, ErrTooLarge},
		{"png zero width", pngWithSize(t, 0, 10), DefaultMaxPixels, nil},
		{"truncated webp", webpData[:len(webpData)/2], DefaultMaxPixels, nil},
		{"riff not webp", []byte("RIFF\x10\x00\x00\x00WAVEfmt "), DefaultMaxPixels, ErrNotImage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := Decode(nil, c.data, c.maxPixels)
			if err == nil {
				t.Fatalf("decoded %dx%d, want an error", img.W, img.H)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("error %q does not wrap %q", err, c.want)
			}
			if SkipReason(err) == "error" {
				t.Fatalf("error %q has no skip reason", err)
			}
			t.Logf("%s: %v", SkipReason(err), err)
		})
	}
}

// TestDecodeReusesBuffer: decoding into a used Image gives the same pixels.
func TestDecodeReusesBuffer(t *testing.T) {
	a, err := Decode(nil, readTestdata(t, "dec_color.jpg"), DefaultMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]uint8(nil), a.Pix...)
	if _, err := Decode(a, readTestdata(t, "dec_gray.png"), DefaultMaxPixels); err != nil {
		t.Fatal(err)
	}
	if a.W != 28 || a.H != 28 {
		t.Fatalf("got %dx%d", a.W, a.H)
	}
	if _, err := Decode(a, readTestdata(t, "dec_color.jpg"), DefaultMaxPixels); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Pix, want) {
		t.Fatal("pixels differ after reuse")
	}
}

func TestDecoderName(t *testing.T) {
	switch n := DecoderName(); n {
	case "libjpeg-turbo", "stdlib":
		t.Logf("JPEG decoder: %s", n)
	default:
		t.Fatalf("unknown decoder %q", n)
	}
}

// FuzzDecode: no input panics, every error carries a skip reason.
// go test -fuzz FuzzDecode -fuzztime 30s ./augment
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"dec_color.jpg", "dec_gray.jpg", "dec_cmyk.jpg", "dec_gray.png", "dec_pal.png", "dec_lossless.webp"} {
		b := readTestdata(f, name)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(nil, data, 1<<20)
		if err != nil {
			if SkipReason(err) == "error" {
				t.Fatalf("error without skip reason: %v", err)
			}
			return
		}
		if img.W < 1 || img.H < 1 || len(img.Pix) != 3*img.W*img.H {
			t.Fatalf("bad image %dx%d with %d bytes", img.W, img.H, len(img.Pix))
		}
	})
}
