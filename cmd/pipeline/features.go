package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/sinks/parquet"
)

func newFeaturesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "features",
		Short: "Check extracted feature files",
	}
	cmd.AddCommand(newFeaturesVerifyCmd(), newFeaturesDigestCmd())
	return cmd
}

func newFeaturesDigestCmd() *cobra.Command {
	var flags shardListFlags
	cmd := &cobra.Command{
		Use:   "digest OUTPUT...",
		Short: "Print the rows of an extraction as one SHA-256 (equal digests: the same keys, labels and feature bits)",
		Long: `digest reads every feature file of the OUTPUT locations (verifying checksums), sorts the rows by
key and prints "rows N sha256 HEX" over each row's key, label and feature floats (their bits):
two extractions of the same shards with the same network and transform give the same digest,
wherever they ran (make test-image compares the image's rows with the host binary's this way).`,
		Args: atLeastOneArg("features digest: want at least one OUTPUT location"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := flags.config(nil)
			if err != nil {
				return err
			}
			fs, err := parquet.ReadFeatureSet(cmd.Context(), parquet.ReadOptions{Store: store.Config{S3: cfg.S3}}, args...)
			if err != nil {
				return fmt.Errorf("features digest: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rows %d sha256 %s\n", fs.Rows(), rowsDigest(fs))
			return nil
		},
	}
	flags.register(cmd)
	return cmd
}

// rowsDigest hashes fs's rows in key order: key, NUL, label (8 bytes LE),
// then the row's float32 bits (4 bytes LE each).
func rowsDigest(fs *parquet.Features) string {
	idx := make([]int, fs.Rows())
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return fs.Keys[idx[a]] < fs.Keys[idx[b]] })
	h := sha256.New()
	var buf [8]byte
	for _, i := range idx {
		io.WriteString(h, fs.Keys[i])
		h.Write([]byte{0})
		binary.LittleEndian.PutUint64(buf[:], uint64(fs.Labels[i]))
		h.Write(buf[:])
		for _, v := range fs.Data[i*fs.Dim : (i+1)*fs.Dim] {
			binary.LittleEndian.PutUint32(buf[:4], math.Float32bits(v))
			h.Write(buf[:4])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func init() { addCommand(nil, newFeaturesCmd()) }

func newFeaturesVerifyCmd() *cobra.Command {
	var (
		flags shardListFlags
		data  []string
	)
	cmd := &cobra.Command{
		Use:   "verify OUTPUT... --data SHARDS",
		Short: "Check an extraction: every input shard once, row counts, one schema and config hash, checksums (exit 1 on any problem)",
		Long: `verify reads every feature file of the OUTPUT locations (folders or s3:// prefixes; several
when array tasks wrote one each), verifies each file's checksums, and checks the whole against
the input shards of --data: every shard has exactly one feature file, each file holds as many
rows as its shard has samples (fewer when samples were skipped: see skipped.jsonl), and every
file has the same feature layout and config hash. It prints one line per problem and a
summary; the exit status is 1 when there is any problem.`,
		Args: atLeastOneArg("features verify: want at least one OUTPUT location"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(data) == 0 {
				return usageError{errors.New("features verify: --data SHARDS is required (the extraction's data.shards)")}
			}
			cfg, err := flags.config(data)
			if err != nil {
				return err
			}
			return verifyFeatures(cmd.Context(), cmd.OutOrStdout(), args, cfg)
		},
	}
	cmd.Flags().StringSliceVar(&data, "data", nil, "the input shards (as data.shards: files, brace ranges, globs, prefixes; repeatable)")
	flags.register(cmd)
	return cmd
}

// verifyFeatures checks outputs against the shards of cfg.
func verifyFeatures(ctx context.Context, w io.Writer, outputs []string, cfg ingest.Config) error {
	if ctx == nil {
		ctx = context.Background()
	}
	var problems []string
	problem := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
		fmt.Fprintf(w, "PROBLEM "+format+"\n", args...)
	}
	samples := map[string]int64{} // shard (without file://) -> samples
	var order []string
	err := ingest.InspectShards(ctx, cfg, func(r ingest.ShardReport) error {
		key := strings.TrimPrefix(r.URL, "file://")
		if r.Err != nil {
			problem("input shard %s is unreadable: %v", r.URL, r.Err)
			return nil
		}
		samples[key] = r.Samples
		order = append(order, key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("features verify: %w", err)
	}
	infos, err := parquet.Inspect(ctx, parquet.ReadOptions{Store: store.Config{S3: cfg.S3}}, outputs...)
	if err != nil {
		return fmt.Errorf("features verify: %w", err)
	}
	files := map[string][]string{} // shard -> feature files
	var rows int64
	var layout, hash, first string
	for _, fi := range infos {
		if fi.Err != nil {
			problem("%v", fi.Err)
			continue
		}
		shard := strings.TrimPrefix(fi.Meta.Shard, "file://")
		files[shard] = append(files[shard], fi.Path)
		rows += fi.Meta.Rows
		l := fmt.Sprintf("%+v", fi.Meta.Layout)
		if first == "" {
			first, layout, hash = fi.Path, l, fi.Meta.ConfigHash
		}
		if l != layout {
			problem("%s: feature layout %s differs from %s's %s", fi.Path, l, first, layout)
		}
		if fi.Meta.ConfigHash != hash {
			problem("%s: config hash %s differs from %s's %s (other weights or transform)", fi.Path, fi.Meta.ConfigHash, first, hash)
		}
		n, ok := samples[shard]
		switch {
		case !ok:
			problem("%s: holds shard %s, which is not among the input shards", fi.Path, fi.Meta.Shard)
		case fi.Meta.Rows != n:
			problem("%s: %d rows, shard %s has %d samples", fi.Path, fi.Meta.Rows, fi.Meta.Shard, n)
		}
	}
	for _, shard := range order {
		switch got := files[shard]; {
		case len(got) == 0:
			problem("input shard %s has no feature file", shard)
		case len(got) > 1:
			problem("input shard %s has %d feature files: %s", shard, len(got), strings.Join(got, ", "))
		}
	}
	fmt.Fprintf(w, "verified %d feature files (%d rows) against %d input shards: %d problems\n", len(infos), rows, len(order), len(problems))
	if len(problems) > 0 {
		return fmt.Errorf("features verify: %d problems", len(problems))
	}
	return nil
}
