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
