package main

import (
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"strings"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/eval"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/sinks/parquet"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
	"github.com/swavgo/swav/train/model"
	"github.com/swavgo/swav/train/weights"
)

// What `features clusters` and `features neighbours` share: reading feature
// sets, finding the images of chosen keys in the shards, writing the PNG.

// readFeatures reads the feature files at urls; errors name the flag.
func readFeatures(ctx context.Context, flag string, sc store.Config, urls []string) (*parquet.Features, error) {
	if len(urls) == 0 {
		return nil, usageError{fmt.Errorf("%s DIR is required", flag)}
	}
	f, err := parquet.ReadFeatureSet(ctx, parquet.ReadOptions{Store: sc}, urls...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return f, nil
}

// dataset is f as an eval.Dataset named after its location.
func dataset(f *parquet.Features, urls []string) *eval.Dataset {
	return &eval.Dataset{Name: strings.Join(urls, ","), Data: f.Data, Labels: f.Labels, Dim: f.Dim}
}

// labelled reports whether every row has a label (>= 0).
func labelled(labels []int64) bool {
	for _, l := range labels {
		if l < 0 {
			return false
		}
	}
	return len(labels) > 0
}

// errAllFound stops the image scan once every wanted key is found.
var errAllFound = errors.New("every wanted image found")

// findImages reads the shards of cfg in order (one reader, no shuffle) and
// decodes the samples whose key is in want, stopping once all are found.
// Keys not found, and samples that do not decode, are missing from the
// result and told to notes (never an error: the sheet draws them as empty
// cells). It blocks for the read of the shards up to the last wanted key.
func findImages(ctx context.Context, cfg ingest.Config, want []string, notes io.Writer) (map[string]*augment.Image, error) {
	wanted := map[string]bool{}
	for _, k := range want {
		wanted[k] = true
	}
	got := map[string]*augment.Image{}
	remaining := len(wanted)
	if remaining == 0 {
		return got, nil
	}
	cfg.ShuffleBuffer, cfg.Workers = 0, 1
	src, err := ingest.NewSource(ctx, cfg, ingest.SourceOptions{Epochs: 1, Rank: 0, World: 1, Workers: 1})
	if err != nil {
		return nil, fmt.Errorf("--images: %w", err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bad []string
	err = src.Run(ctx, func(_ context.Context, item any) error {
		s, ok := item.(*ingest.Sample)
		if !ok {
			return nil
		}
		defer s.Release()
		if !wanted[s.Key] {
			return nil
		}
		wanted[s.Key] = false // the first sample of a key wins
		img, err := augment.Decode(nil, s.Data, augment.DefaultConfig().MaxPixels)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s of %s: %v", s.Key, s.Shard, err))
		} else {
			got[s.Key] = img
		}
		if remaining--; remaining == 0 {
			return errAllFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errAllFound) && !strings.Contains(err.Error(), errAllFound.Error()) {
		return nil, fmt.Errorf("--images: %w", err)
	}
	for _, b := range bad {
		fmt.Fprintf(notes, "note: image %s does not decode: drawn as an empty cell\n", b)
	}
	var missing []string
	for _, k := range want {
		if wanted[k] {
			missing = append(missing, k)
			wanted[k] = false // once per key
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(notes, "note: %d of the %d images to draw are not in --images %s (%s): drawn as empty cells\n",
			len(missing), len(want), strings.Join(cfg.Shards, ","), firstFew(missing, 5))
	}
	return got, nil
}

// firstFew lists up to n items and how many more there are.
func firstFew(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// writePNG writes the sheet to path (a temporary file renamed into place).
func writePNG(path string, s *augment.Sheet) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := png.Encode(f, s.Image()); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// loadHead reads the projection head and prototypes of a checkpoint: one of
// ours (a .swck file, or a folder: its newest) or a weights file of other
// tools (torch.save, safetensors).
func loadHead(ctx context.Context, url string, sc store.Config) (*eval.Head, error) {
	var (
		cfg    train.ModelConfig
		tensor func(name string) ([]float32, []int, bool)
	)
	if weights.NamesFile(url) {
		_, im, err := weights.Open(ctx, url, sc)
		if err != nil {
			return nil, err
		}
		if !im.HasHead || !im.HasPrototypes {
			return nil, fmt.Errorf("%s has no projection head or no prototypes: its features cannot be scored", url)
		}
		cfg = im.Model
		tensor = func(name string) ([]float32, []int, bool) {
			t, ok := im.Tensors[name]
			if !ok {
				return nil, nil, false
			}
			return t.Float, t.Shape, true
		}
	} else {
		st := checkpoint.Store{Config: sc}
		if !strings.HasSuffix(url, checkpoint.Extension) {
			latest, found, err := st.Latest(ctx, url)
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, fmt.Errorf("%s holds no checkpoint (*%s)", url, checkpoint.Extension)
			}
			url = latest
		}
		ck, err := st.Load(ctx, url)
		if err != nil {
			return nil, err
		}
		cfg = ck.Model
		byName := map[string]train.Tensor{}
		if ck.State != nil {
			for _, ts := range [][]train.Tensor{ck.State.Params, ck.State.Buffers} {
				for _, t := range ts {
					byName[t.Name] = t
				}
			}
		}
		tensor = func(name string) ([]float32, []int, bool) {
			t, ok := byName[name]
			return t.Data, t.Shape, ok
		}
	}
	arch, err := model.Build(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	h := &eval.Head{In: arch.TrunkDim, Hidden: cfg.HiddenMLP, FeatDim: arch.FeatDim, K: arch.K, Eps: model.BNEpsilon}
	get := func(name string, dst *[]float32, numel int) error {
		v, _, ok := tensor(name)
		if !ok {
			return fmt.Errorf("%s: no tensor %s", url, name)
		}
		if len(v) != numel {
			return fmt.Errorf("%s: %s has %d values, the %s network's has %d", url, name, len(v), cfg.Arch, numel)
		}
		*dst = v
		return nil
	}
	var errs []error
	if h.Hidden == 0 {
		errs = append(errs, get("head.weight", &h.W1, h.FeatDim*h.In), get("head.bias", &h.B1, h.FeatDim))
	} else {
		errs = append(errs,
			get("head.0.weight", &h.W0, h.Hidden*h.In), get("head.0.bias", &h.B0, h.Hidden),
			get("head.1.weight", &h.Gamma, h.Hidden), get("head.1.bias", &h.Beta, h.Hidden),
			get("head.1.running_mean", &h.Mean, h.Hidden), get("head.1.running_var", &h.Var, h.Hidden),
			get("head.3.weight", &h.W1, h.FeatDim*h.Hidden), get("head.3.bias", &h.B1, h.FeatDim))
	}
	errs = append(errs, get("prototypes.weight", &h.Prototypes, h.K*h.FeatDim))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return h, nil
}
