package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"

	"github.com/sourcegraph/conc/pool"
	"github.com/spf13/cobra"

	"github.com/swavgo/swav/augment"
	"github.com/swavgo/swav/ingest"
)

func newShardsCheckCmd() *cobra.Command {
	var (
		flags     shardListFlags
		decode    bool
		maxPixels int64
	)
	cmd := &cobra.Command{
		Use:   "check URL... [--decode]",
		Short: "List every sample a run would skip and every incomplete shard, with the reason (exit 1 if any)",
		Long: `check reads every sample of the shards, in order, as a run does. It lists each sample
the reader would skip (a bad member or Parquet row; the sample a cut shard cut or may have
cut, and each sample its index.json lists that is not there) and, with --decode, each image
the augmentation would skip (corrupt, truncated, empty, oversized, not an image): shard,
key, class and reason. It lists each incomplete shard (a tar without its end-of-archive
blocks, or shorter than its index.json) as INCOMPLETE with where it stops. The command
exits with 1 when any sample would be skipped or any shard is incomplete. A shard that
cannot be read at all is an error naming it.`,
		Args: atLeastOneArg("shards check: want at least one URL (folder, prefix, glob or brace range)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := flags.config(args)
			if err != nil {
				return err
			}
			cfg.ShuffleBuffer, cfg.SkipBudget, cfg.Rank, cfg.WorldSize = 0, -1, 0, 1
			return runShardsCheck(cmd.Context(), cmd.OutOrStdout(), cfg, decode, maxPixels)
		},
	}
	cmd.Flags().BoolVar(&decode, "decode", false, "also decode every image as training does")
	cmd.Flags().Int64Var(&maxPixels, "max-pixels", augment.DefaultMaxPixels, "the decoder's pixel limit (augment.max_pixels)")
	flags.register(cmd)
	return cmd
}

// badSample is one sample a run would skip.
type badSample struct{ shard, key, class, reason string }

// runShardsCheck reads the shards once (one reader, no shuffle) and, with
// decode, decodes the images on every core; it prints the bad samples in
// shard and key order and a total.
func runShardsCheck(ctx context.Context, w io.Writer, cfg ingest.Config, decode bool, maxPixels int64) error {
	if ctx == nil {
		ctx = context.Background()
	}
	src, err := ingest.NewSource(ctx, cfg, ingest.SourceOptions{World: 1, Epochs: 1, Workers: 1})
	if err != nil {
		return err
	}
	defer src.Close()
	var (
		mu      sync.Mutex
		bad     []badSample
		samples int64
	)
	decoders := pool.New().WithContext(ctx).WithMaxGoroutines(runtime.GOMAXPROCS(0))
	err = src.Run(ctx, func(ctx context.Context, item any) error {
		s, ok := item.(*ingest.Sample)
		if !ok {
			return nil
		}
		samples++
		if !decode {
			return nil
		}
		decoders.Go(func(context.Context) error {
			img := augment.GetImage()
			defer augment.PutImage(img)
			if _, err := augment.Decode(img, s.Data, maxPixels); err != nil {
				mu.Lock()
				bad = append(bad, badSample{s.Shard, s.Key, augment.SkipReason(err), s.Where + ": " + err.Error()})
				mu.Unlock()
			}
			return nil
		})
		return nil
	})
	if werr := decoders.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("shards check: %w", err)
	}
	for _, sk := range src.Skipped() {
		bad = append(bad, badSample{sk.Shard, sk.Key, sk.Class, sk.Where + ": " + sk.Reason})
	}
	sort.Slice(bad, func(i, j int) bool {
		if bad[i].shard != bad[j].shard {
			return bad[i].shard < bad[j].shard
		}
		return bad[i].key < bad[j].key
	})
	for _, b := range bad {
		key := b.key
		if key == "" {
			key = "(missing)"
		}
		fmt.Fprintf(w, "SKIP %s %s: %s: %s\n", b.shard, key, b.class, b.reason)
	}
	incomplete := src.Incomplete()
	sort.Slice(incomplete, func(i, j int) bool { return incomplete[i].Shard < incomplete[j].Shard })
	for _, inc := range incomplete {
		fmt.Fprintf(w, "INCOMPLETE %s: it %s\n", inc.Shard, inc.Reason)
	}
	what := "readable"
	if decode {
		what = "readable and decodable"
	}
	fmt.Fprintf(w, "total: %d samples, %d would be skipped (the others are %s), %d incomplete shards\n", samples+int64(len(src.Skipped())), len(bad), what, len(incomplete))
	switch {
	case len(bad) > 0 && len(incomplete) > 0:
		return fmt.Errorf("shards check: %d samples would be skipped, %d shards are incomplete", len(bad), len(incomplete))
	case len(bad) > 0:
		return fmt.Errorf("shards check: %d samples would be skipped", len(bad))
	case len(incomplete) > 0:
		return fmt.Errorf("shards check: %d shards are incomplete", len(incomplete))
	}
	return nil
}
