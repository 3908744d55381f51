package augment_test

import (
	"fmt"
	"os"

	"github.com/swavgo/swav/augment"
)

// The evaluation transform of feature extraction: Resize(256) +
// CenterCrop(224) + Normalize, here 40/32 on a small JPEG.
func ExampleEvalTransform() {
	data, err := os.ReadFile("testdata/dec_color.jpg")
	if err != nil {
		panic(err)
	}
	e := augment.EvalTransform{Resize: 40, Crop: 32} // nil Mean/Std: the reference's
	x, err := e.Apply(data, "jpg")
	if err != nil {
		panic(err)
	}
	fmt.Println(len(x), "values, CHW 3x32x32")
	// Output: 3072 values, CHW 3x32x32
}

// Decoding refuses bad input with a reason, before any pixel is decoded.
func ExampleDecode() {
	_, err := augment.Decode(nil, []byte("GIF89a..."), augment.DefaultMaxPixels)
	fmt.Println(augment.SkipReason(err))
	// Output: not-an-image
}

// The crops of one sample: the same (seed, epoch, key) always gives the
// same crops, whichever goroutine renders them.
func ExampleRecipe_Render() {
	data, _ := os.ReadFile("testdata/dec_color.jpg")
	img, err := augment.Decode(nil, data, augment.DefaultMaxPixels)
	if err != nil {
		panic(err)
	}
	r, err := augment.NewRecipe(augment.DefaultConfig(), 31)
	if err != nil {
		panic(err)
	}
	crops := r.NewSampleCrops()
	defer crops.Release()
	c := augment.GetCropper()
	defer augment.PutCropper(c)
	if err := r.Render(c, crops, img, 0, "n01440764_10026"); err != nil {
		panic(err)
	}
	fmt.Println(len(crops.F32), len(crops.F32[0]), len(crops.F32[7]))
	// Output: 8 150528 27648
}
