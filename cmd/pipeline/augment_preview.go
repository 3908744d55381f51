package main

import (
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/stages/quickstart"
)

// augmentCmd groups the augment tools (`pipeline augment preview`).
var augmentCmd = &cobra.Command{
	Use:   "augment",
	Short: "Augmentation tools",
}

func newAugmentPreviewCmd() *cobra.Command {
	var (
		out     string
		samples int
		images  string
		epoch   int
		sets    []string
	)
	cmd := &cobra.Command{
		Use:   "preview [CONFIG]",
		Short: "Write a PNG contact sheet of the crops of a few samples",
		Long: `preview renders the multi-crop recipe of CONFIG's augment section (the
defaults without CONFIG) on the first samples of its data (or of the image
files in --images DIR) and writes a PNG: one row per sample, the source image
then every crop, de-normalised back to 8-bit RGB as the training stage
receives it.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if samples < 1 {
				return usageError{fmt.Errorf("--samples must be at least 1")}
			}
			job := configs.Default()
			if len(args) == 1 {
				j, err := loadConfig(args[0], sets)
				if err != nil {
					return err
				}
				job = *j
			} else if images == "" {
				return usageError{errors.New("give a CONFIG or --images DIR")}
			}
			recipe, err := augment.NewRecipe(job.Augment, job.Seed)
			if err != nil {
				return err
			}
			var picked []augment.PreviewSample
			if images != "" {
				picked, err = previewFromFolder(images, samples, job.Augment.MaxPixels)
			} else {
				picked, err = previewFromSource(cmd.Context(), &job, samples)
			}
			if err != nil {
				return err
			}
			sheet, err := augment.ContactSheet(recipe, picked, epoch)
			if err != nil {
				return err
			}
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			if err := png.Encode(f, sheet); err != nil {
				f.Close()
				return fmt.Errorf("write %s: %w", out, err)
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d samples x %d crops (%dx%d px, JPEG decoder %s)\n",
				out, len(picked), recipe.NumCrops(), sheet.Bounds().Dx(), sheet.Bounds().Dy(), augment.DecoderName())
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "crops.png", "output PNG file")
	cmd.Flags().IntVar(&samples, "samples", 4, "number of samples (rows)")
	cmd.Flags().StringVar(&images, "images", "", "read images from this folder instead of the config's data")
	cmd.Flags().IntVar(&epoch, "epoch", 0, "epoch of the random draws")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a config key (augment.crops.1.count=4); repeatable")
	return cmd
}

// previewFromFolder decodes the first n images of dir (sorted by name),
// skipping files that are not images.
func previewFromFolder(dir string, n int, maxPixels int64) ([]augment.PreviewSample, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []augment.PreviewSample
	for _, name := range names {
		if len(out) == n {
			break
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		img, err := augment.Decode(nil, data, maxPixels)
		if err != nil {
			fmt.Fprintf(os.Stderr, "preview: skip %s: %v\n", name, err)
			continue
		}
		out = append(out, augment.PreviewSample{Key: name, Image: img})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("preview: no decodable image in %s", dir)
	}
	return out, nil
}

var errEnoughSamples = errors.New("enough samples")

// previewFromSource reads the first n decodable samples of the job's data
// through the ingest source (epoch 0, the job's seed).
func previewFromSource(ctx context.Context, job *configs.Job, n int) ([]augment.PreviewSample, error) {
	if job.Job == quickstart.JobKind && len(job.Data.Shards) == 0 {
		// The quickstart fills its data section itself: its cached train
		// shards (made here, once, when the cache has none yet).
		qs := quickstart.SettingsOf(job)
		sh, err := quickstart.MakeShards(ctx, qs.Cache, "train", qs.TrainImages, qs.ShardSize)
		if err != nil {
			return nil, err
		}
		job.Data.Shards, job.Data.Format = []string{sh.Local()}, "wds"
	}
	if len(job.Data.Shards) == 0 {
		return nil, field.Errorf("data.shards", "must list at least one shard (or give --images DIR)")
	}
	src, err := ingest.NewSource(ctx, job.DataConfig(), ingest.SourceOptions{Seed: job.Seed, Epochs: 1})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var out []augment.PreviewSample
	err = src.Run(ctx, func(_ context.Context, item any) error {
		s, ok := item.(*ingest.Sample)
		if !ok {
			return fmt.Errorf("preview: source gave %T", item)
		}
		img, err := augment.Decode(nil, s.Data, job.Augment.MaxPixels)
		if err != nil {
			fmt.Fprintf(os.Stderr, "preview: skip %s of %s: %v\n", s.Key, s.Shard, err)
			return nil
		}
		out = append(out, augment.PreviewSample{Key: s.Key, Image: img})
		if len(out) == n {
			return errEnoughSamples
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnoughSamples) && !strings.Contains(err.Error(), errEnoughSamples.Error()) {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("preview: the data has no decodable sample")
	}
	return out, nil
}

func init() {
	addCommand(nil, augmentCmd)
	addCommand(augmentCmd, newAugmentPreviewCmd())
}
