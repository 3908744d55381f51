package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
)

// storeFlags are the S3 settings shared by the shards subcommands. Keys come
// from the standard AWS environment/profile only, never from flags.
type storeFlags struct {
	endpoint, region, profile string
	pathStyle                 string
	createBucket              bool
}

func (f *storeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.endpoint, "s3-endpoint", "", "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / AWS)")
	cmd.Flags().StringVar(&f.region, "s3-region", "", "S3 region (default: AWS_REGION or us-east-1)")
	cmd.Flags().StringVar(&f.profile, "s3-profile", "", "AWS shared-config profile (default: AWS_PROFILE)")
	cmd.Flags().StringVar(&f.pathStyle, "s3-path-style", "auto", "path-style addressing: auto (on with a custom endpoint), true or false")
	cmd.Flags().BoolVar(&f.createBucket, "create-bucket", false, "create the destination S3 bucket when it does not exist")
}

func (f *storeFlags) config() (store.Config, error) {
	c := store.Config{S3: store.S3Config{Endpoint: f.endpoint, Region: f.region, Profile: f.profile}, Retries: 10}
	switch f.pathStyle {
	case "auto":
	case "true", "false":
		v := f.pathStyle == "true"
		c.S3.PathStyle = &v
	default:
		return c, usageError{fmt.Errorf("--s3-path-style must be auto, true or false, got %q", f.pathStyle)}
	}
	return c, nil
}

// shardListFlags name a list of shards to read: its store and its format
// (shards ls, shards check, features verify).
type shardListFlags struct {
	store  storeFlags
	format string
}

func (f *shardListFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.format, "format", ingest.AutoFormat,
		fmt.Sprintf("shard format: %s (by extension) or one of %s", ingest.AutoFormat, strings.Join(ingest.FormatNames(), ", ")))
	f.store.register(cmd)
}

// config is the data section that reads shards.
func (f *shardListFlags) config(shards []string) (ingest.Config, error) {
	sc, err := f.store.config()
	if err != nil {
		return ingest.Config{}, err
	}
	cfg := ingest.DefaultConfig()
	cfg.Shards, cfg.Format, cfg.Store = shards, f.format, sc
	return cfg, nil
}

// atLeastOneArg is a usage check: want names the command and what its
// arguments are ("shards ls: want at least one URL ...").
func atLeastOneArg(want string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usageError{errors.New(want)}
		}
		return nil
	}
}

// openOut opens a destination folder URL, creating the S3 bucket when asked.
func (f *storeFlags) openOut(ctx context.Context, url string) (store.Bucket, error) {
	sc, err := f.config()
	if err != nil {
		return nil, err
	}
	b, prefix, err := store.Open(ctx, url, sc)
	if err != nil {
		return nil, err
	}
	if s3b, ok := b.(*store.S3); ok && f.createBucket {
		if err := s3b.CreateBucket(ctx); err != nil {
			b.Close()
			return nil, err
		}
	}
	return store.Prefixed(b, prefix), nil
}

func newShardsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "shards",
		Short: "Make, upload and list WebDataset / Parquet shards",
	}
	cmd.AddCommand(newShardsMakeCmd(), newShardsUploadCmd(), newShardsLsCmd(), newShardsCheckCmd())
	return cmd
}

func init() { addCommand(nil, newShardsCmd()) }

func newShardsMakeCmd() *cobra.Command {
	var (
		sf                     storeFlags
		from, split, out, name string
		shardSize              int
	)
	cmd := &cobra.Command{
		Use:   "make --from fashion-mnist|DIR --out DIR|s3://BUCKET/PREFIX",
		Short: "Write WebDataset shards (%06d names, index.json sidecar) from Fashion-MNIST or an image folder",
		Long: `make writes WebDataset tar shards named <name>-%06d.tar with an index.json
sidecar holding the sample count of each shard (counting and exact resume then
need no reads). --from fashion-mnist reads the IDX files of the Debian package
dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, or $FASHION_MNIST_DIR)
and encodes each image as PNG with its .cls label; --from DIR reads an image
folder with one subdirectory per class (label = sorted class index) and keeps
the encoded bytes. --out may be a local folder or s3://bucket/prefix.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || out == "" {
				return usageError{errors.New("shards make: --from and --out are required")}
			}
			if shardSize < 1 {
				return usageError{fmt.Errorf("shards make: --shard-size must be >= 1, got %d", shardSize)}
			}
			if from == "fashion-mnist" && split != "train" && split != "test" {
				return usageError{fmt.Errorf("shards make: --split must be train or test for fashion-mnist, got %q", split)}
			}
			ctx := cmd.Context()
			b, err := sf.openOut(ctx, out)
			if err != nil {
				return err
			}
			defer b.Close()
			var st ingest.MakeStats
			if from == "fashion-mnist" {
				st, err = ingest.MakeFashionMNIST(ctx, split, b, shardSize)
			} else {
				src, oerr := store.OpenDir(ctx, from, store.Config{})
				if oerr != nil {
					return oerr
				}
				defer src.Close()
				if name == "" {
					name = "shard-" + split
				}
				st, err = ingest.MakeFromFolder(ctx, src, b, name, shardSize)
			}
			if err != nil {
				return fmt.Errorf("shards make: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d shards, %d samples, %d bytes to %s (index: %s)\n",
				len(st.Shards), st.Samples, st.Bytes, out, ingest.IndexName)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "fashion-mnist, or an image folder (class subdirectories)")
	cmd.Flags().StringVar(&split, "split", "train", "Fashion-MNIST split: train or test (also names folder shards)")
	cmd.Flags().StringVar(&out, "out", "", "output folder or s3://bucket/prefix")
	cmd.Flags().StringVar(&name, "name", "", "shard name stem for --from DIR (default shard-<split>)")
	cmd.Flags().IntVar(&shardSize, "shard-size", 1000, "samples per shard")
	sf.register(cmd)
	return cmd
}

func newShardsUploadCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "upload SRC DEST",
		Short: "Copy every object under SRC (a folder or URL prefix) to DEST (e.g. s3://bucket/prefix)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageError{fmt.Errorf("shards upload: want SRC and DEST, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			sc, err := sf.config()
			if err != nil {
				return err
			}
			src, err := store.OpenDir(ctx, args[0], sc)
			if err != nil {
				return err
			}
			defer src.Close()
			dst, err := sf.openOut(ctx, args[1])
			if err != nil {
				return err
			}
			defer dst.Close()
			n, bytes, err := store.Copy(ctx, src, dst)
			if err != nil {
				return fmt.Errorf("shards upload: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "uploaded %d objects, %d bytes to %s\n", n, bytes, args[1])
			return nil
		},
	}
	sf.register(cmd)
	return cmd
}

func newShardsLsCmd() *cobra.Command {
	var (
		flags shardListFlags
		quiet bool
	)
	cmd := &cobra.Command{
		Use:   "ls URL...",
		Short: "Count shards, samples and bytes; report unreadable and incomplete shards (exit 1 if any)",
		Long: `ls reads every shard and prints its format, samples, corrupt samples and bytes. A shard
that cannot be read is listed as UNREADABLE; a shard that stops before its end (a tar
without its end-of-archive blocks, cut inside a header, a member or its padding) or holds
fewer samples or bytes than the index.json beside it records is listed as INCOMPLETE,
with where it stops (its samples then count what a run would read and skip). The command
exits with 1 when any shard is unreadable or incomplete.`,
		Args: atLeastOneArg("shards ls: want at least one URL (folder, prefix, glob or brace range)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := flags.config(args)
			if err != nil {
				return err
			}
			return runShardsLs(cmd.Context(), cmd.OutOrStdout(), cfg, quiet)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only unreadable shards and the total")
	flags.register(cmd)
	return cmd
}

func runShardsLs(ctx context.Context, w io.Writer, cfg ingest.Config, quiet bool) error {
	var shards, samples, corrupt, bytes, bad, incomplete int64
	err := ingest.InspectShards(ctx, cfg, func(r ingest.ShardReport) error {
		shards++
		samples += r.Samples
		corrupt += r.Corrupt
		if r.Bytes > 0 {
			bytes += r.Bytes
		}
		if r.Err != nil {
			bad++
			fmt.Fprintf(w, "UNREADABLE %s: %v\n", r.URL, r.Err)
			return nil
		}
		if r.Incomplete != nil {
			incomplete++
			fmt.Fprintf(w, "INCOMPLETE %s: it %s (%d samples readable, %d would be skipped)\n", r.URL, r.Incomplete.Reason, r.Samples, r.Corrupt)
			return nil
		}
		if !quiet {
			fmt.Fprintf(w, "%-8s %8d samples %6d corrupt %12d bytes  %s\n", r.Format, r.Samples, r.Corrupt, r.Bytes, r.URL)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "total: %d shards, %d samples, %d corrupt samples, %d bytes, %d unreadable shards, %d incomplete shards\n", shards, samples, corrupt, bytes, bad, incomplete)
	switch {
	case bad > 0 && incomplete > 0:
		return fmt.Errorf("shards ls: %d of %d shards unreadable, %d incomplete", bad, shards, incomplete)
	case bad > 0:
		return fmt.Errorf("shards ls: %d of %d shards unreadable", bad, shards)
	case incomplete > 0:
		return fmt.Errorf("shards ls: %d of %d shards incomplete", incomplete, shards)
	}
	return nil
}
