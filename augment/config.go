package augment

import (
	"math"
	"strconv"

	"github.com/swavgo/swav/internal/field"
)

// CropGroupConfig is one group of crops of one size (SPEC §9).
type CropGroupConfig struct {
	Size     int     `yaml:"size"`
	Count    int     `yaml:"count"`
	MinScale float64 `yaml:"min_scale"`
	MaxScale float64 `yaml:"max_scale"`
}

// JitterConfig is torchvision's RandomApply([ColorJitter(b, c, s, h)], p).
// A strength of 0 disables that operation (torchvision's None).
type JitterConfig struct {
	// P is the probability of applying the jitter to a crop.
	P          float64 `yaml:"p"`
	Brightness float64 `yaml:"brightness"`
	Contrast   float64 `yaml:"contrast"`
	Saturation float64 `yaml:"saturation"`
	// Hue is at most 0.5 (a factor in [-Hue, Hue] of a full turn).
	Hue float64 `yaml:"hue"`
}

// BlurConfig is SwAV's PIL Gaussian blur: applied with probability P, sigma
// drawn uniformly in [SigmaMin, SigmaMax] output pixels.
type BlurConfig struct {
	P        float64 `yaml:"p"`
	SigmaMin float64 `yaml:"sigma_min"`
	SigmaMax float64 `yaml:"sigma_max"`
}

// EvalConfig is the evaluation transform: resize the shorter side to Resize,
// centre-crop Crop x Crop, normalise (feature extraction, linear evaluation).
type EvalConfig struct {
	Resize int `yaml:"resize"`
	Crop   int `yaml:"crop"`
}

// Config is the augment section of a job. (Owned by the augment package; the
// fields below are the contract other packages rely on.)
type Config struct {
	Crops []CropGroupConfig `yaml:"crops"`
	// DType is "float32" (normalised crops) or "uint8" (normalise on the device).
	DType string `yaml:"dtype"`
	// Workers is the number of augmentation goroutines (0: GOMAXPROCS).
	Workers int `yaml:"workers"`

	// Ratio is RandomResizedCrop's aspect-ratio range [min, max] (3/4, 4/3).
	Ratio []float64 `yaml:"ratio"`
	// FlipP is the probability of a horizontal flip.
	FlipP float64 `yaml:"flip_p"`
	// Jitter is the colour jitter (ops in random order, Pillow maths).
	Jitter JitterConfig `yaml:"jitter"`
	// GrayscaleP is the probability of converting a crop to grey (3 channels).
	GrayscaleP float64    `yaml:"grayscale_p"`
	Blur       BlurConfig `yaml:"blur"`
	// Mean and Std normalise each channel after ToTensor's /255 (3 values each).
	Mean []float64 `yaml:"mean"`
	Std  []float64 `yaml:"std"`

	// MaxPixels refuses images whose header announces more pixels than this
	// (decompression bombs), before decoding.
	MaxPixels int64 `yaml:"max_pixels"`
	// SkipBudget is how many undecodable samples (corrupt, truncated, empty,
	// oversized, not an image) a run may skip; one more fails the run with an
	// error naming the sample. A negative budget skips without limit.
	SkipBudget int `yaml:"skip_budget"`
	// DropLast drops the last, partial batch of the input (training batches
	// must be full). When false the last batch has fewer rows.
	DropLast bool `yaml:"drop_last"`

	Eval EvalConfig `yaml:"eval"`
}

// DefaultMaxPixels is Pillow's decompression-bomb error threshold
// (2 x Image.MAX_IMAGE_PIXELS).
const DefaultMaxPixels = 2 * 89478485

// DefaultConfig is the SwAV recipe 2x224 (0.14-1) + 6x96 (0.05-0.14) with
// flip 0.5, jitter 0.8/0.8/0.8/0.2 at p 0.8, grayscale 0.2, blur 0.5 with
// sigma 0.1-2 and the reference's normalisation (std 0.228, SPEC §9).
func DefaultConfig() Config {
	return Config{
		Crops: []CropGroupConfig{{Size: 224, Count: 2, MinScale: 0.14, MaxScale: 1}, {Size: 96, Count: 6, MinScale: 0.05, MaxScale: 0.14}},
		DType: DTypeFloat32,

		Ratio:      []float64{3.0 / 4.0, 4.0 / 3.0},
		FlipP:      0.5,
		Jitter:     JitterConfig{P: 0.8, Brightness: 0.8, Contrast: 0.8, Saturation: 0.8, Hue: 0.2},
		GrayscaleP: 0.2,
		Blur:       BlurConfig{P: 0.5, SigmaMin: 0.1, SigmaMax: 2.0},
		Mean:       []float64{0.485, 0.456, 0.406},
		Std:        []float64{0.228, 0.224, 0.225},
		MaxPixels:  DefaultMaxPixels,
		SkipBudget: 100,
		DropLast:   true,
		Eval:       EvalConfig{Resize: 256, Crop: 224},
	}
}

// NumCrops is V, the total number of crops per sample.
func (c *Config) NumCrops() int {
	n := 0
	for _, g := range c.Crops {
		n += g.Count
	}
	return n
}

// Validate checks the section and names the first bad field (relative to "augment").
func (c *Config) Validate() error {
	if len(c.Crops) == 0 {
		return field.Errorf("crops", "must list at least one crop group")
	}
	for i, g := range c.Crops {
		f := func(name string) string { return "crops[" + itoa(i) + "]." + name }
		switch {
		case g.Size < 1 || g.Size > 4096:
			return field.Errorf(f("size"), "must be in 1..4096, got %d", g.Size)
		case g.Count < 1:
			return field.Errorf(f("count"), "must be at least 1, got %d", g.Count)
		case !(g.MinScale > 0 && g.MinScale <= 1):
			return field.Errorf(f("min_scale"), "must be in (0, 1], got %v", g.MinScale)
		case !(g.MaxScale >= g.MinScale && g.MaxScale <= 1):
			return field.Errorf(f("max_scale"), "must be in [min_scale, 1], got %v", g.MaxScale)
		}
	}
	switch c.DType {
	case DTypeFloat32, DTypeUint8:
	default:
		return field.Errorf("dtype", "must be %q or %q, got %q", DTypeFloat32, DTypeUint8, c.DType)
	}
	if c.Workers < 0 {
		return field.Errorf("workers", "must be >= 0 (0: GOMAXPROCS), got %d", c.Workers)
	}
	if len(c.Ratio) != 2 || !(c.Ratio[0] > 0) || !(c.Ratio[1] >= c.Ratio[0]) || math.IsInf(c.Ratio[1], 0) {
		return field.Errorf("ratio", "must be [min, max] with 0 < min <= max, got %v", c.Ratio)
	}
	probs := []struct {
		name string
		v    float64
	}{{"flip_p", c.FlipP}, {"jitter.p", c.Jitter.P}, {"grayscale_p", c.GrayscaleP}, {"blur.p", c.Blur.P}}
	for _, p := range probs {
		if !(p.v >= 0 && p.v <= 1) {
			return field.Errorf(p.name, "is a probability, must be in [0, 1], got %v", p.v)
		}
	}
	strengths := []struct {
		name string
		v    float64
		max  float64
	}{{"jitter.brightness", c.Jitter.Brightness, 1e6}, {"jitter.contrast", c.Jitter.Contrast, 1e6},
		{"jitter.saturation", c.Jitter.Saturation, 1e6}, {"jitter.hue", c.Jitter.Hue, 0.5}}
	for _, s := range strengths {
		if !(s.v >= 0 && s.v <= s.max) {
			return field.Errorf(s.name, "must be in [0, %v], got %v", s.max, s.v)
		}
	}
	if !(c.Blur.SigmaMin > 0 && c.Blur.SigmaMax >= c.Blur.SigmaMin && c.Blur.SigmaMax <= 100) {
		return field.Errorf("blur", "needs 0 < sigma_min <= sigma_max <= 100, got %v..%v", c.Blur.SigmaMin, c.Blur.SigmaMax)
	}
	if len(c.Mean) != 3 {
		return field.Errorf("mean", "must hold 3 values (R, G, B), got %d", len(c.Mean))
	}
	if len(c.Std) != 3 {
		return field.Errorf("std", "must hold 3 values (R, G, B), got %d", len(c.Std))
	}
	for i, s := range c.Std {
		if !(s > 0) || math.IsInf(s, 0) {
			return field.Errorf("std["+itoa(i)+"]", "must be positive, got %v", s)
		}
	}
	if c.MaxPixels < 1 {
		return field.Errorf("max_pixels", "must be at least 1, got %d", c.MaxPixels)
	}
	if c.Eval.Resize < 1 || c.Eval.Crop < 1 || c.Eval.Crop > c.Eval.Resize {
		return field.Errorf("eval", "needs 1 <= crop <= resize, got resize %d crop %d", c.Eval.Resize, c.Eval.Crop)
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }
