package augment

import "testing"

// TestContactSheetDenormalises: the sheet's crop pixels are the crops'
// 8-bit values (de-normalisation inverts ToTensor+Normalize exactly).
func TestContactSheetDenormalises(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Crops = []CropGroupConfig{{Size: 32, Count: 1, MinScale: 0.5, MaxScale: 1}, {Size: 16, Count: 2, MinScale: 0.1, MaxScale: 0.3}}
	r, err := NewRecipe(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	img := loadImage(t, "dec_color.jpg")
	sheet, err := ContactSheet(r, []PreviewSample{{Key: "a", Image: img}, {Key: "b", Image: img}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := GetCropper()
	defer PutCropper(c)
	want := r.CropRGB(c, nil, img, 0, "b", 0)
	// Row 1 (key b), first crop at x = gap + thumbW + gap, y = gap + 32 + gap.
	x0, y0 := 6+32*4/3+6, 6+32+6
	for y := range 32 {
		for x := range 32 {
			p := sheet.RGBAAt(x0+x, y0+y)
			i := 3 * (32*y + x)
			if p.R != want[i] || p.G != want[i+1] || p.B != want[i+2] {
				t.Fatalf("pixel (%d,%d) = %v, crop has %v", x, y, p, want[i:i+3])
			}
		}
	}
	if _, err := ContactSheet(r, nil, 0); err == nil {
		t.Fatal("empty sheet accepted")
	}
}

// TestGrid: rows of captioned thumbnails; a missing image is a filled cell,
// a thumbnail is the same pixels Sheet.Thumb draws, the sheet fits every
// row and column.
func TestGrid(t *testing.T) {
	img := loadImage(t, "dec_color.jpg")
	rows := []GridRow{
		{Caption: "prototype 3 | 12 images", Cells: []GridCell{{Image: img, Caption: "label 1"}, {Caption: "missing"}}},
		{Caption: "p 4", Cells: []GridCell{{Image: img}}},
	}
	s := Grid(rows, 16)
	capW := TextWidth("prototype 3")
	if b := s.Image().Bounds(); b.Dx() != 6+capW+6+2*(16+6) || b.Dy() != 6+2*(16+14+6) {
		t.Fatalf("sheet %v", b)
	}
	x0 := 6 + capW + 6
	if got := s.Image().RGBAAt(x0+16+6+8, 6+8); got != SheetMissing {
		t.Fatalf("missing cell drawn %v", got)
	}
	ref := NewSheet(16, 16)
	ref.Thumb(img, 0, 0, 16, 16)
	for y := range 16 {
		for x := range 16 {
			if a, b := s.Image().RGBAAt(x0+x, 6+y), ref.Image().RGBAAt(x, y); a != b && b != sheetBackground {
				t.Fatalf("thumbnail pixel (%d,%d) %v, want %v", x, y, a, b)
			}
		}
	}
}
