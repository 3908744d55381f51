package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/sinks"
)

func newFeaturesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "features",
		Short: "Check extracted feature files and look at them: prototype clusters, nearest neighbours",
	}
	cmd.AddCommand(newFeaturesVerifyCmd(), newFeaturesClustersCmd(), newFeaturesNeighboursCmd(), newFeaturesDigestCmd())
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
			fs, err := sinks.ReadFeatures(cmd.Context(), sinks.ReadOptions{Store: cfg.Store}, args...)
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
func rowsDigest(fs *sinks.Features) string {
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
		flags   shardListFlags
		data    []string
		skipped []string
	)
	cmd := &cobra.Command{
		Use:   "verify OUTPUT... --data SHARDS [--skipped FILE]",
		Short: "Check an extraction: every input shard once, row counts, one schema and config hash, checksums (exit 1 on any problem)",
		Long: `verify reads every feature file of the OUTPUT locations (folders or s3:// prefixes; several
when array tasks wrote one each), verifies each file's checksums, and checks the whole against
the input shards of --data: every shard has exactly one feature file, each file holds as many
rows as its shard has readable samples, and every file has the same feature layout and config
hash. It prints one line per problem and a summary; the exit status is 1 when there is any
problem.

Skipped samples: a file may hold fewer rows than its shard has samples when the run skipped
samples that did not decode, and an input shard may be incomplete (a cut tar) when the run
recorded the samples it lost. Both are accepted when the run's skipped.jsonl lists them
(the missing rows of a shard at most as many as its listed skips); verify says how many rows
it accepted so. --skipped names the skipped.jsonl files (or the folders holding them) of the
extraction runs; without it, verify reads the skipped.jsonl found in each local OUTPUT folder
or the nearest folder above it (three levels at most: the quickstart's
out/features/<variant>/<split> finds out/skipped.jsonl).

Moved shards: a feature file records the URL of the shard it was extracted from. When that URL
is not among the --data shards (the shards were served from another place, such as the
quickstart's temporary s3:// server, and are now in a local folder), the file is matched to
the input shard of the same file name, provided exactly one has it; verify says how many files
it matched by name.`,
		Args: atLeastOneArg("features verify: want at least one OUTPUT location"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(data) == 0 {
				return usageError{errors.New("features verify: --data SHARDS is required (the extraction's data.shards, or where those shards are now)")}
			}
			cfg, err := flags.config(data)
			if err != nil {
				return err
			}
			return verifyFeatures(cmd.Context(), cmd.OutOrStdout(), args, cfg, skipped)
		},
	}
	cmd.Flags().StringSliceVar(&data, "data", nil, "the input shards (as data.shards: files, brace ranges, globs, prefixes; repeatable); shards recorded elsewhere match by file name")
	cmd.Flags().StringSliceVar(&skipped, "skipped", nil, "the runs' skipped.jsonl files or their folders, local (globs allowed; repeatable; default: found in or above each local OUTPUT)")
	flags.register(cmd)
	return cmd
}

// shardMatcher maps a recorded shard URL to an input shard: the same URL,
// else the one input shard of the same file name.
type shardMatcher struct {
	inputs map[string]bool     // input shard (without file://)
	byName map[string][]string // file name -> input shards
}

func (m *shardMatcher) add(shard string) {
	m.inputs[shard] = true
	m.byName[path.Base(shard)] = append(m.byName[path.Base(shard)], shard)
}

// match returns the input shard of a recorded URL and whether it was
// matched by name; "" when none (or several of that name) fit.
func (m *shardMatcher) match(recorded string) (string, bool) {
	recorded = strings.TrimPrefix(recorded, "file://")
	if m.inputs[recorded] {
		return recorded, false
	}
	if c := m.byName[path.Base(recorded)]; len(c) == 1 {
		return c[0], true
	}
	return "", false
}

// skipCounts are a shard's skipped samples as the runs listed them.
type skipCounts struct {
	decoded map[string]bool // keys skipped after reading (decode, transform)
	lost    int             // samples the reader skipped (corrupt, cut shard)
}

// verifyFeatures checks outputs against the shards of cfg, accepting the
// rows the skipped.jsonl files (skipFiles, or found beside the outputs)
// account for.
func verifyFeatures(ctx context.Context, w io.Writer, outputs []string, cfg ingest.Config, skipFiles []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	var problems []string
	problem := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
		fmt.Fprintf(w, "PROBLEM "+format+"\n", args...)
	}
	m := &shardMatcher{inputs: map[string]bool{}, byName: map[string][]string{}}
	reports := map[string]ingest.ShardReport{} // input shard -> its report
	var order []string
	err := ingest.InspectShards(ctx, cfg, func(r ingest.ShardReport) error {
		key := strings.TrimPrefix(r.URL, "file://")
		if r.Err != nil {
			problem("input shard %s is unreadable: %v", r.URL, r.Err)
			return nil
		}
		reports[key] = r
		order = append(order, key)
		m.add(key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("features verify: %w", err)
	}
	if len(skipFiles) == 0 {
		skipFiles = findSkipFiles(outputs)
	}
	skipMap, nskips, err := readSkipFiles(skipFiles, m)
	if err != nil {
		return fmt.Errorf("features verify: %w", err)
	}
	skips := func(shard string) skipCounts {
		if c := skipMap[shard]; c != nil {
			return *c
		}
		return skipCounts{}
	}
	if len(skipFiles) > 0 {
		fmt.Fprintf(w, "skipped samples: %d listed in %s\n", nskips, strings.Join(skipFiles, ", "))
	}
	infos, err := sinks.Inspect(ctx, sinks.ReadOptions{Store: cfg.Store}, outputs...)
	if err != nil {
		return fmt.Errorf("features verify: %w", err)
	}
	files := map[string][]string{} // input shard -> feature files
	var rows, accepted int64
	var byName int
	var movedExample string
	var layout, hash, first string
	for _, fi := range infos {
		if fi.Err != nil {
			problem("%v", fi.Err)
			continue
		}
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
		shard, named := m.match(fi.Meta.Shard)
		if shard == "" {
			problem("%s: holds shard %s, which is not among the input shards (nor is its file name, once)", fi.Path, fi.Meta.Shard)
			continue
		}
		if named {
			byName++
			if movedExample == "" {
				movedExample = fi.Meta.Shard + " as " + shard
			}
		}
		files[shard] = append(files[shard], fi.Path)
		n, listed := reports[shard].Samples, int64(len(skips(shard).decoded))
		switch missing := n - fi.Meta.Rows; {
		case missing < 0:
			problem("%s: %d rows, shard %s has %d samples", fi.Path, fi.Meta.Rows, fi.Meta.Shard, n)
		case missing > listed:
			problem("%s: %d rows, shard %s has %d samples and %d of them are listed as skipped", fi.Path, fi.Meta.Rows, fi.Meta.Shard, n, listed)
		default:
			accepted += missing
		}
	}
	for _, shard := range order {
		r := reports[shard]
		if inc := r.Incomplete; inc != nil {
			if r.Corrupt > 0 && skips(shard).lost == 0 {
				problem("input shard %s is incomplete (it %s) and no skipped.jsonl lists the %d samples it lost", shard, inc.Reason, r.Corrupt)
			} else {
				fmt.Fprintf(w, "NOTE input shard %s is incomplete: it %s (%d samples lost, listed as skipped: %d)\n", shard, inc.Reason, r.Corrupt, skips(shard).lost)
			}
		}
		switch got := files[shard]; {
		case len(got) == 0 && r.Samples <= int64(len(skips(shard).decoded)):
			accepted += r.Samples // every sample skipped: no file to write
		case len(got) == 0:
			problem("input shard %s has no feature file", shard)
		case len(got) > 1:
			problem("input shard %s has %d feature files: %s", shard, len(got), strings.Join(got, ", "))
		}
	}
	if byName > 0 {
		fmt.Fprintf(w, "NOTE matched %d feature files to the input shards by file name (their recorded shards are elsewhere, e.g. %s)\n", byName, movedExample)
	}
	if accepted > 0 {
		fmt.Fprintf(w, "NOTE accepted %d missing rows: samples listed as skipped\n", accepted)
	}
	fmt.Fprintf(w, "verified %d feature files (%d rows) against %d input shards: %d problems\n", len(infos), rows, len(order), len(problems))
	if len(problems) > 0 {
		return fmt.Errorf("features verify: %d problems", len(problems))
	}
	return nil
}

// findSkipFiles returns the skipped.jsonl of each local output folder or
// of the nearest folder above it (three levels at most), once each.
func findSkipFiles(outputs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range outputs {
		if strings.Contains(o, "://") && !strings.HasPrefix(o, "file://") {
			continue
		}
		dir := filepath.Clean(strings.TrimPrefix(o, "file://"))
		for range 4 {
			p := filepath.Join(dir, SkipsFile)
			if _, err := os.Stat(p); err == nil {
				if !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
				break
			}
			dir = filepath.Dir(dir)
		}
	}
	sort.Strings(out)
	return out
}

// readSkipFiles reads skipped.jsonl files (a folder stands for its
// skipped.jsonl; globs are expanded) into counts per input shard, and
// returns how many lines it read.
func readSkipFiles(names []string, m *shardMatcher) (map[string]*skipCounts, int, error) {
	out := map[string]*skipCounts{}
	get := func(shard string) *skipCounts {
		if out[shard] == nil {
			out[shard] = &skipCounts{decoded: map[string]bool{}}
		}
		return out[shard]
	}
	n := 0
	for _, name := range names {
		matches, err := filepath.Glob(name)
		if err != nil || len(matches) == 0 {
			matches = []string{name}
		}
		for _, p := range matches {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				p = filepath.Join(p, SkipsFile)
			}
			f, err := os.Open(p)
			if err != nil {
				return nil, 0, fmt.Errorf("skipped samples: %w", err)
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 64<<10), 16<<20)
			for line := 1; sc.Scan(); line++ {
				var s pipeline.Skipped
				if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
					f.Close()
					return nil, 0, fmt.Errorf("%s:%d: not a skip record: %w", p, line, err)
				}
				n++
				shard, _ := m.match(s.Shard)
				if shard == "" {
					continue // another run's shard
				}
				if s.Class == ingest.SkipClassUnreadable || s.Class == ingest.SkipClassCutShard {
					get(shard).lost++
				} else {
					get(shard).decoded[s.Key] = true
				}
			}
			err = sc.Err()
			f.Close()
			if err != nil {
				return nil, 0, fmt.Errorf("%s: %w", p, err)
			}
		}
	}
	return out, n, nil
}
