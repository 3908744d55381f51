package ingest_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/faultproxy"
)

// cutSamples are the samples of the shards cut below: three keys of an
// image and a label each, of sizes that leave padding after most members
// (and none after b.png, exactly one block).
var cutSamples = []tarMember{
	{"a.png", "PNG-" + strings.Repeat("a", 700)}, {"a.cls", "1"},
	{"b.png", "PNG-" + strings.Repeat("b", 508)}, {"b.cls", "2"},
	{"c.png", "PNG-" + strings.Repeat("c", 1300)}, {"c.cls", "3"},
}

// tarWriters write cutSamples as a tar with another tool: Go's archive/tar,
// Python's tarfile and GNU tar (the last two skip when absent).
var tarWriters = map[string]func(t *testing.T, dir string) []byte{
	"go": func(t *testing.T, _ string) []byte { return writeTar(t, "", cutSamples) },
	"python": func(t *testing.T, dir string) []byte {
		if _, err := exec.LookPath("python3"); err != nil {
			t.Skip("python3 not installed")
		}
		members, _ := json.Marshal(cutSamples)
		out := filepath.Join(dir, "python.tar")
		script := `import io, json, sys, tarfile
with tarfile.open(sys.argv[1], "w") as tf:
    for name, data in json.load(sys.stdin):
        b = data.encode("latin-1")
        ti = tarfile.TarInfo(name); ti.size = len(b)
        tf.addfile(ti, io.BytesIO(b))`
		cmd := exec.Command("python3", "-c", script, out)
		cmd.Stdin = bytes.NewReader(members)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("python tarfile: %v\n%s", err, msg)
		}
		return readFile(t, out)
	},
	"gnu": func(t *testing.T, dir string) []byte {
		if _, err := exec.LookPath("tar"); err != nil {
			t.Skip("GNU tar not installed")
		}
		src := filepath.Join(dir, "gnu-src")
		os.MkdirAll(src, 0o755)
		var names []string
		for _, m := range cutSamples {
			os.WriteFile(filepath.Join(src, m.name), []byte(m.data), 0o644)
			names = append(names, m.name)
		}
		out := filepath.Join(dir, "gnu.tar")
		if msg, err := exec.Command("tar", append([]string{"-cf", out, "-C", src}, names...)...).CombinedOutput(); err != nil {
			t.Fatalf("GNU tar: %v\n%s", err, msg)
		}
		return readFile(t, out)
	},
}

func (m tarMember) MarshalJSON() ([]byte, error) { return json.Marshal([]string{m.name, m.data}) }

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tarLayout is where a tar's members lie: each member's header start, data
// start and size, and the end of the last member's padding (where the
// end-of-archive blocks begin).
type tarLayout struct {
	members []struct {
		name              string
		header, data, len int64
	}
	end int64
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func layoutOf(t *testing.T, b []byte) tarLayout {
	cr := &countReader{r: bytes.NewReader(b)}
	tr := tar.NewReader(cr)
	var l tarLayout
	for {
		start := l.end
		h, err := tr.Next()
		if err == io.EOF {
			return l
		}
		if err != nil {
			t.Fatal(err)
		}
		l.members = append(l.members, struct {
			name              string
			header, data, len int64
		}{h.Name, start, cr.n, h.Size})
		l.end = cr.n + (h.Size+511)/512*512
	}
}

// cut is one place to cut a shard and what a reader must make of it: the
// keys read intact, whether the shard is incomplete and whether samples may
// be lost (then the sample being read is skipped).
type cut struct {
	name       string
	at         int64
	good       []string
	incomplete bool
	lost       bool
}

// cutsOf lists the cuts of every kind for a layout of cutSamples.
func cutsOf(l tarLayout, size int64) []cut {
	m := l.members // a.png a.cls b.png b.cls c.png c.cls
	all := []string{"a", "b", "c"}
	cs := []cut{
		{"inside the first header", m[0].header + 100, nil, true, true},
		{"inside a header", m[2].header + 100, nil, true, true},
		{"at a header", m[2].header, nil, true, true},
		{"inside a label header", m[3].header + 300, []string{"a"}, true, true},
		{"inside a member", m[2].data + 200, []string{"a"}, true, true},
		{"inside the last member", m[4].data + 1000, []string{"a", "b"}, true, true},
		{"right after a member's data", m[0].data + m[0].len, nil, true, true},
		{"inside the padding", m[0].data + m[0].len + 50, nil, true, true},
		{"inside the last padding", m[5].data + m[5].len + 50, []string{"a", "b"}, true, true},
		{"without end-of-archive blocks", l.end, []string{"a", "b"}, true, true},
		{"inside the first end block", l.end + 100, all, true, false},
		{"between the end blocks", l.end + 512, all, true, false},
		{"inside the second end block", l.end + 800, all, true, false},
		{"empty", 0, nil, true, true},
		{"whole", size, all, false, false},
	}
	if size > l.end+1024 {
		cs = append(cs, cut{"inside the record padding", l.end + 1024 + 100, all, false, false})
	}
	return cs
}

// TestCutShards cuts tars written by Go's archive/tar, Python's tarfile and
// GNU tar at every kind of place and reads each through a run's Source and
// through InspectShards (shards ls), with and without the index sidecar
// `shards make` writes. No cut shard reads as complete: it is reported
// incomplete, the sample it cut or may have cut is skipped (class
// cut-shard) and, with an index, so is every sample it lacks; the samples
// before the cut are read intact and the run goes on.
func TestCutShards(t *testing.T) {
	for writer, write := range tarWriters {
		t.Run(writer, func(t *testing.T) {
			dir := t.TempDir()
			whole := write(t, dir)
			l := layoutOf(t, whole)
			if len(l.members) != len(cutSamples) {
				t.Fatalf("%s wrote %d members", writer, len(l.members))
			}
			cuts := cutsOf(l, int64(len(whole)))
			index := ingest.ShardIndex{Version: 1, Shards: map[string]ingest.IndexEntry{}}
			for _, sub := range []string{"plain", "indexed"} {
				os.MkdirAll(filepath.Join(dir, sub), 0o755)
				for i, c := range cuts {
					name := fmt.Sprintf("cut-%02d.tar", i)
					os.WriteFile(filepath.Join(dir, sub, name), whole[:c.at], 0o644)
					index.Shards[name] = ingest.IndexEntry{Samples: 3, Bytes: int64(len(whole))}
				}
			}
			idx, _ := json.Marshal(index)
			os.WriteFile(filepath.Join(dir, "indexed", ingest.IndexName), idx, 0o644)
			for _, sub := range []string{"plain", "indexed"} {
				t.Run(sub, func(t *testing.T) { checkCuts(t, filepath.Join(dir, sub), cuts, sub == "indexed") })
			}
		})
	}
}

func checkCuts(t *testing.T, dir string, cuts []cut, indexed bool) {
	ctx := context.Background()
	cfg := oneShard(dir + "/")
	cfg.SkipBudget = -1
	src, err := ingest.NewSource(ctx, cfg, ingest.SourceOptions{World: 1, Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	good := map[string][]string{}
	err = src.Run(ctx, func(_ context.Context, item any) error {
		s := item.(*ingest.Sample)
		good[filepath.Base(s.Shard)] = append(good[filepath.Base(s.Shard)], s.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("the run stops: %v", err)
	}
	skips := map[string][]ingest.Skip{}
	for _, sk := range src.Skipped() {
		skips[filepath.Base(sk.Shard)] = append(skips[filepath.Base(sk.Shard)], sk)
	}
	incomplete := map[string]ingest.IncompleteShardError{}
	for _, inc := range src.Incomplete() {
		incomplete[filepath.Base(inc.Shard)] = inc
	}
	reports := map[string]ingest.ShardReport{}
	if err := ingest.InspectShards(ctx, cfg, func(r ingest.ShardReport) error {
		reports[filepath.Base(r.URL)] = r
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, c := range cuts {
		name := fmt.Sprintf("cut-%02d.tar", i)
		// With an index, a cut in the record padding after the end
		// blocks is short of its recorded bytes: incomplete, nothing lost.
		wantIncomplete := c.incomplete || (indexed && c.name != "whole")
		wantBad := 0
		switch {
		case indexed && c.name != "whole":
			wantBad = 3 - len(c.good)
		case c.lost:
			wantBad = 1
		}
		inc, isInc := incomplete[name]
		rep := reports[name]
		if !slices.Equal(good[name], c.good) || len(skips[name]) != wantBad || isInc != wantIncomplete ||
			rep.Err != nil || (rep.Incomplete != nil) != wantIncomplete || rep.Samples != int64(len(c.good)) || rep.Corrupt != int64(wantBad) {
			t.Errorf("cut %s (byte %d): read %v, %d skipped, incomplete %v (%s); ls: %d samples, %d corrupt, incomplete %v, err %v;\nwant %v, %d skipped, incomplete %v",
				c.name, c.at, good[name], len(skips[name]), isInc, inc.Reason, rep.Samples, rep.Corrupt, rep.Incomplete != nil, rep.Err,
				c.good, wantBad, wantIncomplete)
			continue
		}
		for _, sk := range skips[name] {
			if sk.Class != ingest.SkipClassCutShard || !strings.Contains(sk.Shard, name) || sk.Where == "" {
				t.Errorf("cut %s: skip %+v: want class %s, the shard and where", c.name, sk, ingest.SkipClassCutShard)
			}
		}
		if isInc && (inc.Lost != (wantBad > 0) || !strings.Contains(inc.Error(), name)) {
			t.Errorf("cut %s: %v: lost %v, want %v", c.name, &inc, inc.Lost, wantBad > 0)
		}
	}
	// The count a training run takes before reading agrees with the read.
	n, err := ingest.CountSamples(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var slots int64
	for _, r := range reports {
		slots += r.Samples + r.Corrupt
	}
	if n != slots {
		t.Errorf("CountSamples %d, the shards hold %d slots", n, slots)
	}
}

// TestCutShardBudget: a cut member is counted against data.skip_budget;
// past it the run stops with an error naming the shard and the member.
func TestCutShardBudget(t *testing.T) {
	dir := t.TempDir()
	whole := writeTar(t, "", cutSamples)
	l := layoutOf(t, whole)
	p := filepath.Join(dir, "cut.tar")
	os.WriteFile(p, whole[:l.members[2].data+200], 0o644)
	cfg := oneShard(p)
	cfg.SkipBudget = 0
	_, err := collect2(t, cfg)
	if !errors.Is(err, ingest.ErrSkipBudget) || !strings.Contains(err.Error(), "cut.tar") || !strings.Contains(err.Error(), `member "b.png" is cut`) {
		t.Fatalf("budget 0: %v", err)
	}
	cfg.SkipBudget = 1
	got, err := collect2(t, cfg)
	if err != nil || len(got) != 1 || !strings.HasPrefix(got[0], "a png 1") {
		t.Fatalf("budget 1: %q, %v", got, err)
	}
}

// runShards reads cfg's shards through a Source (skip budget unlimited) and
// returns the keys read, the skips (shard base name, key, class, where) and
// the incomplete shards' messages, sorted, with urlPrefix cut from them.
func runShards(t *testing.T, cfg ingest.Config, urlPrefix string) (keys, skips, incomplete []string, err error) {
	t.Helper()
	ctx := context.Background()
	cfg.SkipBudget = -1
	src, err := ingest.NewSource(ctx, cfg, ingest.SourceOptions{World: 1, Epochs: 1})
	if err != nil {
		return nil, nil, nil, err
	}
	defer src.Close()
	err = src.Run(ctx, func(_ context.Context, item any) error {
		s := item.(*ingest.Sample)
		keys = append(keys, filepath.Base(s.Shard)+"/"+s.Key)
		return nil
	})
	for _, sk := range src.Skipped() {
		skips = append(skips, fmt.Sprintf("%s/%s %s %s: %s", filepath.Base(sk.Shard), sk.Key, sk.Class, sk.Where, sk.Reason))
	}
	for _, inc := range src.Incomplete() {
		incomplete = append(incomplete, strings.ReplaceAll(inc.Error(), urlPrefix, ""))
	}
	slices.Sort(incomplete) // in the order the prefetching readers ended
	return keys, skips, incomplete, err
}

// TestS3ShortObjectIsNotACutConnection: on S3 a truly short object (a tar
// cut before it was uploaded) reads exactly as the same file does locally,
// incomplete, also through a proxy that cuts response bodies and resets
// connections (the reader resumes those by byte range and they cost
// nothing); a connection cut more often than data.retries allows is an
// I/O error naming the shard, never an incomplete shard or a skip.
func TestS3ShortObjectIsNotACutConnection(t *testing.T) {
	srv := needS3(t)
	ctx := context.Background()
	dir := t.TempDir()
	whole := writeTar(t, "", cutSamples)
	l := layoutOf(t, whole)
	os.WriteFile(filepath.Join(dir, "whole.tar"), whole, 0o644)
	os.WriteFile(filepath.Join(dir, "member.tar"), whole[:l.members[2].data+200], 0o644)
	os.WriteFile(filepath.Join(dir, "noend.tar"), whole[:l.end], 0o644)
	idx, _ := json.Marshal(ingest.ShardIndex{Version: 1, Shards: map[string]ingest.IndexEntry{
		"whole.tar": {Samples: 3, Bytes: int64(len(whole))}, "member.tar": {Samples: 3, Bytes: int64(len(whole))},
		"noend.tar": {Samples: 3, Bytes: int64(len(whole))}}})
	os.WriteFile(filepath.Join(dir, ingest.IndexName), idx, 0o644)
	local, _ := store.NewLocal(dir)
	b, err := srv.CreateBucket(ctx, "shortobjects")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Copy(ctx, local, b); err != nil {
		t.Fatal(err)
	}
	if err := b.Upload(ctx, "noindex/whole.tar", bytes.NewReader(whole)); err != nil {
		t.Fatal(err)
	}
	names := "{whole,member,noend}.tar"
	cfg := oneShard(dir + "/" + names)
	wantKeys, wantSkips, wantInc, err := runShards(t, cfg, "file://"+dir+"/")
	if err != nil || len(wantInc) != 2 || len(wantSkips) != 3 {
		t.Fatalf("local: %v, %d incomplete, skips %q", err, len(wantInc), wantSkips)
	}
	proxy, err := faultproxy.Start(srv.Endpoint, faultproxy.Faults{CutEvery: 2, ResetEvery: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	cfg.Shards = []string{"s3://shortobjects/" + names}
	cfg.Store.S3 = srv.S3Config()
	cfg.Store.S3.Endpoint = proxy.URL
	keys, skips, inc, err := runShards(t, cfg, "s3://shortobjects/")
	if err != nil || !slices.Equal(keys, wantKeys) || !slices.Equal(skips, wantSkips) || !slices.Equal(inc, wantInc) {
		t.Fatalf("through cut connections: %v\nkeys %q\nskips %q\nincomplete %q\nwant %q\n%q\n%q", err, keys, skips, inc, wantKeys, wantSkips, wantInc)
	}
	if proxy.Injected()["cut"] == 0 {
		t.Fatalf("no body was cut: %v", proxy.Injected())
	}

	// Every body cut, one attempt: the read fails as I/O.
	always, err := faultproxy.Start(srv.Endpoint, faultproxy.Faults{CutEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer always.Close()
	cfg.Shards = []string{"s3://shortobjects/noindex/whole.tar"}
	cfg.Store.S3.Endpoint = always.URL
	cfg.Store.Retries = 1
	_, skips, inc, err = runShards(t, cfg, "")
	if err == nil || errors.Is(err, ingest.ErrIncompleteShard) || len(skips) > 0 || len(inc) > 0 || !strings.Contains(err.Error(), "s3://shortobjects/noindex/whole.tar at byte") {
		t.Fatalf("connections always cut: err %v, skips %q, incomplete %q: want an I/O error naming the shard", err, skips, inc)
	}
	t.Logf("connections always cut: %v", err)
}
