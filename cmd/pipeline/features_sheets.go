package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/swavgo/swav/eval"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
	"github.com/swavgo/swav/train/model"
	"github.com/swavgo/swav/train/weights"
)

// What `features clusters` and `features neighbours` share: reading feature
// sets and a checkpoint's head (the sheets themselves: eval/sheet).

// readFeatures reads the feature files at urls; errors name the flag.
func readFeatures(ctx context.Context, flag string, sc store.Config, urls []string) (*sinks.Features, error) {
	if len(urls) == 0 {
		return nil, usageError{fmt.Errorf("%s DIR is required", flag)}
	}
	f, err := sinks.ReadFeatures(ctx, sinks.ReadOptions{Store: sc}, urls...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return f, nil
}

// dataset is f as an eval.Dataset named after its location.
func dataset(f *sinks.Features, urls []string) *eval.Dataset {
	return &eval.Dataset{Name: strings.Join(urls, ","), Data: f.Data, Labels: f.Labels, Dim: f.Dim}
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
			byName = ck.State.Network()
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
	h, err := eval.NewHead(arch.TrunkDim, cfg.HiddenMLP, arch.FeatDim, arch.K, model.BNEpsilon, func(name string) ([]float32, bool) {
		v, _, ok := tensor(name)
		return v, ok
	})
	if err != nil {
		return nil, fmt.Errorf("%s (a %s network): %w", url, cfg.Arch, err)
	}
	return h, nil
}
