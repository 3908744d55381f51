package demo_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/field/fieldtest"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/stages"
	"github.com/swavgo/swav/stages/demo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// folder writes a small image folder: 2 PNGs, 1 JPEG (in a subfolder) and
// one file that is not an image.
func folder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img := func(w, h int, gray uint8) image.Image {
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range m.Pix {
			m.Pix[i] = gray
			if i%4 == 3 {
				m.Pix[i] = 255
			}
		}
		return m
	}
	var buf bytes.Buffer
	for i, size := range [][2]int{{8, 6}, {20, 10}} {
		buf.Reset()
		if err := png.Encode(&buf, img(size[0], size[1], 100)); err != nil {
			t.Fatal(err)
		}
		write([]string{"a.png", "b.png"}[i], buf.Bytes())
	}
	buf.Reset()
	g := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range g.Pix {
		g.Pix[i] = 200
	}
	if err := jpeg.Encode(&buf, g, nil); err != nil {
		t.Fatal(err)
	}
	write("sub/c.jpg", buf.Bytes())
	write("notes.txt", []byte("not an image"))
	return dir
}

func loadJob(t *testing.T, dir string, sets ...string) *configs.Job {
	t.Helper()
	data, err := configs.Example("demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sets = append([]string{"demo.dir=" + dir, "out=" + t.TempDir(), "progress=off"}, sets...)
	job, err := configs.LoadBytes("demo.yaml", data, sets)
	if err != nil {
		t.Fatal(err)
	}
	return job
}

func readSummary(t *testing.T, job *configs.Job) demo.Summary {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(job.Out, demo.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	var s demo.Summary
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDemoSummarisesTheFolder(t *testing.T) {
	for _, tc := range []struct {
		name string
		sets []string
	}{
		{"full decode", nil},
		{"header only, 3 passes, 1 worker", []string{"demo.decode=false", "demo.passes=3", "demo.workers=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := loadJob(t, folder(t), tc.sets...)
			var table bytes.Buffer
			if err := stages.RunJob(t.Context(), job, pipeline.Options{Summary: &table}); err != nil {
				t.Fatal(err)
			}
			s := readSummary(t, job)
			passes := demo.SettingsOf(job).Passes
			if s.Files != 4*passes || s.Decoded != 3*passes || len(s.Failed) != passes {
				t.Fatalf("files %d decoded %d failed %d", s.Files, s.Decoded, len(s.Failed))
			}
			if !strings.HasSuffix(s.Failed[0].Path, "notes.txt") || !strings.Contains(s.Failed[0].Err, "not a decodable image") {
				t.Fatalf("failure %+v", s.Failed[0])
			}
			if s.Formats["png"] != 2*passes || s.Formats["jpeg"] != passes || s.MinSize != [2]int{8, 6} || s.MaxSize != [2]int{20, 16} {
				t.Fatalf("summary %+v", s)
			}
			if demo.SettingsOf(job).Decode && (s.MeanLuma < 100 || s.MeanLuma > 200) {
				t.Fatalf("mean luma %v", s.MeanLuma)
			}
			if !strings.Contains(table.String(), "bottleneck") {
				t.Fatalf("no summary table:\n%s", table.String())
			}
		})
	}
}

func TestDemoDigestIgnoresWorkerCount(t *testing.T) {
	dir := folder(t)
	digest := func(workers string) string {
		job := loadJob(t, dir, "demo.workers="+workers)
		if err := stages.RunJob(t.Context(), job, pipeline.Options{}); err != nil {
			t.Fatal(err)
		}
		return readSummary(t, job).Digest
	}
	if a, b := digest("1"), digest("4"); a != b {
		t.Fatalf("digest depends on workers: %s vs %s", a, b)
	}
}

func TestDemoStopWritesAPartialSummary(t *testing.T) {
	job := loadJob(t, folder(t), "demo.passes=1000")
	stop := make(chan struct{})
	close(stop)
	err := stages.RunJob(t.Context(), job, pipeline.Options{Stop: stop})
	if !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("err %v", err)
	}
	if s := readSummary(t, job); s.Files >= 4000 {
		t.Fatalf("stop did not stop intake: %d files", s.Files)
	}
}

func TestDemoBadFolder(t *testing.T) {
	for _, tc := range []struct{ name, dir, want string }{
		{"missing", filepath.Join(t.TempDir(), "nope"), "no such file"},
		{"empty", t.TempDir(), "holds no file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := stages.RunJob(t.Context(), loadJob(t, tc.dir), pipeline.Options{})
			fieldtest.Want(t, err, "demo.dir", tc.want)
		})
	}
}

func TestUnknownKind(t *testing.T) {
	job := configs.Default()
	job.Job = "nope"
	if err := stages.RunJob(t.Context(), &job, pipeline.Options{}); err == nil || !strings.Contains(err.Error(), "demo") {
		t.Fatalf("err %v: should list the known kinds", err)
	}
}
