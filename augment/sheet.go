package augment

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Sheet is a contact sheet: a dark-grey canvas on which decoded images are
// drawn as thumbnails (Pillow's antialiased resize, aspect kept) with short
// captions in a 7x13 bitmap font. It is the one drawing code of every PNG
// sheet: `augment preview` (ContactSheet), and `features clusters` and
// `features neighbours` (Grid). A Sheet is used by one goroutine.
type Sheet struct {
	img *image.RGBA
	z   resizer
}

// Sheet colours.
var (
	sheetBackground = color.RGBA{64, 64, 64, 255}
	// SheetText is the caption colour; SheetMissing fills the cell of an
	// image that could not be found or decoded.
	SheetText    = color.RGBA{235, 235, 235, 255}
	SheetMissing = color.RGBA{110, 30, 30, 255}
)

// NewSheet returns a w x h sheet filled with the background colour.
func NewSheet(w, h int) *Sheet {
	s := &Sheet{img: image.NewRGBA(image.Rect(0, 0, max(w, 1), max(h, 1)))}
	draw.Draw(s.img, s.img.Bounds(), &image.Uniform{sheetBackground}, image.Point{}, draw.Src)
	return s
}

// Image is the sheet's pixels (shared, not a copy).
func (s *Sheet) Image() *image.RGBA { return s.img }

// Thumb draws img fitted into the w x h box at (x, y), aspect kept, at the
// box's top-left corner. It costs one resize of img.
func (s *Sheet) Thumb(img *Image, x, y, w, h int) {
	tw, th := w, int(math.Round(float64(w)*float64(img.H)/float64(img.W)))
	if th > h {
		th, tw = h, max(1, int(math.Round(float64(h)*float64(img.W)/float64(img.H))))
	}
	th = max(th, 1)
	thumb := make([]uint8, 3*tw*th)
	s.z.resizeCrop(thumb, img, cropBox{W: img.W, H: img.H}, tw, th, false)
	s.PutRGB(x, y, tw, th, func(i, ch int) uint8 { return thumb[3*i+ch] })
}

// PutRGB draws a w x h block at (x0, y0) whose pixel i (row-major) has
// channel ch = at(i, ch).
func (s *Sheet) PutRGB(x0, y0, w, h int, at func(i, ch int) uint8) {
	for y := range h {
		for x := range w {
			i := y*w + x
			s.img.SetRGBA(x0+x, y0+y, color.RGBA{at(i, 0), at(i, 1), at(i, 2), 255})
		}
	}
}

// Fill paints a w x h block at (x, y) in c.
func (s *Sheet) Fill(x, y, w, h int, c color.RGBA) {
	draw.Draw(s.img, image.Rect(x, y, x+w, y+h), &image.Uniform{c}, image.Point{}, draw.Src)
}

// Text writes one line of text whose top-left corner is (x, y), clipped to
// the sheet; each character is 7 x 13 pixels.
func (s *Sheet) Text(x, y int, text string, c color.RGBA) {
	d := font.Drawer{Dst: s.img, Src: &image.Uniform{c}, Face: basicfont.Face7x13,
		Dot: fixed.P(x, y+basicfont.Face7x13.Ascent)}
	d.DrawString(text)
}

// TextWidth is the width in pixels of text in the sheet's font.
func TextWidth(text string) int { return 7 * len([]rune(text)) }

// GridCell is one image of a Grid row with its caption (drawn under it).
// A nil Image draws a SheetMissing cell.
type GridCell struct {
	Image   *Image
	Caption string
}

// GridRow is one row of a Grid: a caption on the left, then its cells.
type GridRow struct {
	Caption string
	Cells   []GridCell
}

// Grid draws rows of cell x cell thumbnails, each row led by its caption
// (up to two lines split at " | ") and each cell captioned underneath.
// Cost: one resize per cell.
func Grid(rows []GridRow, cell int) *Sheet {
	const gap, lineH = 6, 14
	capW, cols := 0, 0
	for _, r := range rows {
		for _, line := range splitCaption(r.Caption) {
			capW = max(capW, TextWidth(line))
		}
		cols = max(cols, len(r.Cells))
	}
	rowH := cell + lineH + gap
	s := NewSheet(gap+capW+gap+cols*(cell+gap), gap+len(rows)*rowH)
	for ri, r := range rows {
		y := gap + ri*rowH
		for li, line := range splitCaption(r.Caption) {
			s.Text(gap, y+li*lineH, line, SheetText)
		}
		for ci, c := range r.Cells {
			x := gap + capW + gap + ci*(cell+gap)
			if c.Image != nil {
				s.Thumb(c.Image, x, y, cell, cell)
			} else {
				s.Fill(x, y, cell, cell, SheetMissing)
			}
			cap := c.Caption
			for TextWidth(cap) > cell+gap && len(cap) > 1 {
				cap = cap[:len(cap)-1]
			}
			s.Text(x, y+cell+1, cap, SheetText)
		}
	}
	return s
}

func splitCaption(c string) []string {
	if c == "" {
		return nil
	}
	return strings.Split(c, " | ")
}
