package configs_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/stages/demo"
	"github.com/swavgo/swav/train/cpu"
	"github.com/swavgo/swav/train/xla"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/field/fieldtest"
)

const demoYAML = `job: demo
out: runs/t
demo:
  dir: /tmp
  workers: 2
augment:
  crops:
    - {size: 224, count: 2, min_scale: 0.14, max_scale: 1.0}
    - {size: 96, count: 6, min_scale: 0.05, max_scale: 0.14}
`

func TestExamplesLoadAndValidate(t *testing.T) {
	ex := configs.Examples()
	for _, want := range []string{"imagenet_swav_bs4096.yaml", "imagenet_swav_bs256.yaml", "demo.yaml", "fashion_mnist_train.yaml", "linear.yaml", "finetune.yaml"} {
		if _, ok := ex[want]; !ok {
			t.Errorf("example %s is not embedded", want)
		}
	}
	for name, data := range ex {
		t.Run(name, func(t *testing.T) {
			if _, err := configs.LoadBytes(name, data, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestImageNetRecipes: the ImageNet configs hold SPEC §8's recipes, the
// whole batch in one process (world size 1: training across processes is
// refused until gradients are exchanged).
func TestImageNetRecipes(t *testing.T) {
	for _, tc := range []struct {
		file                  string
		batch, world, epochs  int
		baseLR, finalLR       float64
		warmup, queue, freeze int
	}{
		{"imagenet_swav_bs4096.yaml", 4096, 1, 800, 4.8, 0.0048, 10, 0, 313},
		{"imagenet_swav_bs256.yaml", 256, 1, 200, 0.6, 0.0006, 0, 3840, 5005},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := configs.Example(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			j, err := configs.LoadBytes(tc.file, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			tr := j.Train
			if tr.BatchSize != tc.batch || j.Data.WorldSize != tc.world || tr.Epochs != tc.epochs ||
				tr.Optim.BaseLR != tc.baseLR || tr.Optim.FinalLR != tc.finalLR || tr.Optim.WarmupEpochs != tc.warmup ||
				tr.SwAV.QueueLength != tc.queue || tr.SwAV.FreezePrototypesIters != tc.freeze {
				t.Fatalf("recipe differs from SPEC §8: %+v world %d", tr, j.Data.WorldSize)
			}
			if tr.Model.Arch != "resnet50" || tr.Model.Prototypes != 3000 || tr.Model.FeatDim != 128 || tr.Model.HiddenMLP != 2048 {
				t.Fatalf("model %+v", tr.Model)
			}
			c := j.Augment.Crops
			if len(c) != 2 || c[0].Size != 224 || c[0].Count != 2 || c[1].Size != 96 || c[1].Count != 6 ||
				c[0].MinScale != 0.14 || c[1].MinScale != 0.05 || c[1].MaxScale != 0.14 {
				t.Fatalf("crops %+v", c)
			}
		})
	}
}

func TestDefaultsFillWhatTheFileOmits(t *testing.T) {
	j, err := configs.LoadBytes("t.yaml", []byte(demoYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	def := configs.Default()
	if j.Seed != def.Seed || j.Progress != "auto" || j.ProgressInterval != def.ProgressInterval || demo.SettingsOf(j).Passes != 1 {
		t.Fatalf("defaults lost: %+v", j)
	}
	if demo.SettingsOf(j).Dir != "/tmp" || demo.SettingsOf(j).Workers != 2 {
		t.Fatalf("file values lost: %+v", demo.SettingsOf(j))
	}
	if j.Train.Optim.BaseLR != def.Train.Optim.BaseLR {
		t.Fatal("nested defaults lost")
	}
}

func TestOverrides(t *testing.T) {
	j, err := configs.LoadBytes("t.yaml", []byte(demoYAML), []string{
		"demo.workers=7",
		"augment.crops.1.size=128",
		"train.swav.crops_for_assign=[0, 2]",
		"progress_interval=250ms",
		"data.shards=[a.tar, b.tar]",
		"store.s3.path_style=true",
		"out=",
	})
	if err == nil {
		t.Fatal("out= (empty) should fail validation")
	}
	j, err = configs.LoadBytes("t.yaml", []byte(demoYAML), []string{
		"demo.workers=7",
		"augment.crops.1.size=128",
		"augment.crops.2={size: 32, count: 1, min_scale: 0.1, max_scale: 0.2}",
		"train.swav.crops_for_assign=[0, 2]",
		"progress_interval=250ms",
		"data.shards=[a.tar, b.tar]",
		"store.s3.path_style=true",
	})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case demo.SettingsOf(j).Workers != 7:
		t.Errorf("demo.workers %d", demo.SettingsOf(j).Workers)
	case j.Augment.Crops[1].Size != 128 || j.Augment.Crops[1].Count != 6:
		t.Errorf("crops[1] %+v", j.Augment.Crops[1])
	case len(j.Augment.Crops) != 3 || j.Augment.Crops[2].Size != 32:
		t.Errorf("appended crop %+v", j.Augment.Crops)
	case len(j.Train.SwAV.CropsForAssign) != 2 || j.Train.SwAV.CropsForAssign[1] != 2:
		t.Errorf("crops_for_assign %v", j.Train.SwAV.CropsForAssign)
	case j.ProgressInterval != 250*time.Millisecond:
		t.Errorf("interval %v", j.ProgressInterval)
	case len(j.Data.Shards) != 2 || j.Store.S3.PathStyle == nil || !*j.Store.S3.PathStyle:
		t.Errorf("data %+v, store %+v", j.Data, j.Store)
	}
}

// fieldErrors returns the FieldErrors inside err (joined or not).
func fieldErrors(err error) []*field.Error {
	var out []*field.Error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *field.Error
		if errors.As(e, &fe) {
			out = append(out, fe)
		}
	}
	walk(err)
	return out
}

func TestBadConfigsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		yaml  string
		sets  []string
		field string
		file  string
		line  int
		msg   string
	}{
		{"unknown key", "job: demo\ndemo:\n  dir: x\n  wokers: 3\n", nil, "demo.wokers", "t.yaml", 4, "unknown field"},
		{"unknown section", "job: demo\ndemoo: {}\n", nil, "demoo", "t.yaml", 2, "unknown field"},
		{"unknown nested key in list", demoYAML + "    - {size: 1, cnt: 1}\n", nil, "augment.crops[2].cnt", "t.yaml", 10, "unknown field"},
		{"wrong type", "job: demo\ndemo:\n  workers: many\n", nil, "demo.workers", "t.yaml", 3, "not a valid integer"},
		{"wrong shape", "job: demo\ndemo: [1, 2]\n", nil, "demo", "t.yaml", 2, "want a mapping"},
		{"list wanted", "job: train\ndata:\n  shards: {a: 1}\n", nil, "data.shards", "t.yaml", 3, "want a list"},
		{"bad duration", "job: demo\nprogress_interval: soon\n", nil, "progress_interval", "t.yaml", 2, "duration"},
		{"out of range", "job: demo\ndemo:\n  dir: x\n  passes: 0\n", nil, "demo.passes", "t.yaml", 4, "at least 1"},
		{"out of range in section", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  optim:\n    momentum: 1.5\n", nil, "train.optim.momentum", "t.yaml", 5, "[0, 1)"},
		{"out of range in list", demoYAML, []string{"augment.crops.0.size=0", "job=train", "data.shards=[a]"}, "augment.crops[0].size", "--set", 0, "1..4096"},
		{"top-level value", "job: demo\nprogress: loud\n", nil, "progress", "t.yaml", 2, "auto, bar, log or off"},
		{"unknown backend", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  backend: tpu\n", nil, "train.backend", "t.yaml", 4, `unknown backend "tpu" (built into this binary: cpu, xla)`},
		{"misspelt backend", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  backend: xal\n", nil, "train.backend", "t.yaml", 4, `did you mean "xla"?`},
		{"set unknown backend", "job: train\ndata: {shards: [a.tar]}\n", []string{"train.backend=cuda"}, "train.backend", "--set", 0, "built into this binary: cpu, xla"},
		{"fit without a budget", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  fit_to_budget: true\n", nil, "train.fit_to_budget", "t.yaml", 4, "needs max_seconds"},
		{"negative devices", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  backend: xla\n  xla:\n    devices: -1\n", nil, "train.xla.devices", "t.yaml", 6, "must not be negative"},
		{"bad precision", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  backend: xla\n  xla: {precision: fp16}\n", nil, "train.xla.precision", "t.yaml", 5, `must be float32 or bf16, got "fp16"`},
		{"negative threads", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  cpu:\n    threads: -1\n", nil, "train.cpu.threads", "t.yaml", 5, "must not be negative"},
		{"set bad precision", "job: train\ndata: {shards: [a.tar]}\n", []string{"train.backend=xla", "train.xla.precision=fp8"}, "train.xla.precision", "--set", 0, "must be float32 or bf16"},
		{"moved threads", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  threads: 2\n", nil, "train.threads", "t.yaml", 4, "moved to train.cpu.threads"},
		{"moved precision", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  backend: xla\n  precision: bf16\n", nil, "train.precision", "t.yaml", 5, "moved to train.xla.precision"},
		{"moved pjrt_plugin", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  pjrt_plugin: /x.so\n", nil, "train.pjrt_plugin", "t.yaml", 4, "moved to train.xla.pjrt_plugin"},
		{"moved devices", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  devices: 2\n", nil, "train.devices", "t.yaml", 4, "moved to train.xla.devices"},
		{"backend sub-section: wrong type", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  cpu:\n    threads: many\n", nil, "train.cpu.threads", "t.yaml", 5, "not a valid integer"},
		{"backend sub-section: unknown key", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  cpu:\n    thread: 2\n", nil, "train.cpu.thread", "t.yaml", 5, "unknown field (known here: precision, threads)"},
		{"backend sub-section: not a mapping", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  cpu: 3\n", nil, "train.cpu", "t.yaml", 4, "want a mapping"},
		{"backend sub-section: set unknown key", "job: train\ndata: {shards: [a.tar]}\n", []string{"train.xla.device=2"}, "train.xla.device", "--set", 0, "unknown field"},
		{"backend sub-section: set out of range", "job: train\ndata: {shards: [a.tar]}\n", []string{"train.cpu.threads=-2"}, "train.cpu.threads", "--set", 0, "must not be negative"},
		{"set moved threads", "job: train\ndata: {shards: [a.tar]}\n", []string{"train.threads=2"}, "train.threads", "--set", 0, "moved to train.cpu.threads"},
		{"set moved precision", "job: train\ndata: {shards: [a.tar]}\n", []string{"train.precision=bf16"}, "train.precision", "--set", 0, "moved to train.xla.precision"},
		{"moved quickstart", "job: quickstart\nextract:\n  quickstart:\n    knn: [5]\n", nil, "extract.quickstart", "t.yaml", 3, "moved to quickstart (the quickstart job's own section)"},
		{"set moved quickstart", "job: quickstart\n", []string{"extract.quickstart.knn=[5]"}, "extract.quickstart", "--set", 0, "moved to quickstart"},
		{"unknown extract arch", "job: extract\ndata: {shards: [a.tar]}\nextract:\n  checkpoint: init\n  arch: vit\n", nil, "extract.arch", "t.yaml", 5, "resnet50w5, got \"vit\""},
		{"wide train arch", "job: train\ndata: {shards: [a.tar]}\ntrain:\n  model:\n    arch: resnet50w3\n", nil, "train.model.arch", "t.yaml", 5, "resnet50w4 or resnet50w5"},
		{"set unknown key", "job: demo\n", []string{"demo.speed=3"}, "demo.speed", "--set", 0, "unknown field"},
		{"set wrong type", "job: demo\n", []string{"demo.workers=lots"}, "demo.workers", "--set", 0, "not a valid integer"},
		{"set into a value", "job: demo\n", []string{"seed.x=1"}, "seed.x", "--set", 0, "single value"},
		{"set bad index", "job: demo\n", []string{"augment.crops.9.size=1"}, "augment.crops[9].size", "--set", 0, "not an index"},
		{"set without value", "job: demo\n", []string{"demo.workers"}, "demo.workers", "--set", 0, "key=value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := configs.LoadBytes("t.yaml", []byte(tc.yaml), tc.sets)
			if err == nil {
				t.Fatal("no error")
			}
			fes := fieldErrors(err)
			if len(fes) == 0 {
				t.Fatalf("not a FieldError: %v", err)
			}
			fe := fes[0]
			if fe.Field != tc.field || fe.File != tc.file || fe.Line != tc.line || !strings.Contains(fe.Msg, tc.msg) {
				t.Fatalf("got %q (field %q file %q line %d), want field %q file %q line %d msg ~ %q",
					fe.Error(), fe.Field, fe.File, fe.Line, tc.field, tc.file, tc.line, tc.msg)
			}
		})
	}
}

func TestAllProblemsReportedTogether(t *testing.T) {
	_, err := configs.LoadBytes("t.yaml", []byte("job: demo\nfoo: 1\ndemo:\n  bar: 2\n  workers: x\n"), nil)
	if got := len(fieldErrors(err)); got != 3 {
		t.Fatalf("%d errors, want 3: %v", got, err)
	}
}

func TestAnchorsAndAliases(t *testing.T) {
	yml := "job: demo\ndemo: &d\n  dir: x\n  workers: 3\naugment:\n  crops:\n    - &big {size: 64, count: 2, min_scale: 0.2, max_scale: 1}\n    - *big\n"
	j, err := configs.LoadBytes("t.yaml", []byte(yml), []string{"augment.crops.1.size=32"})
	if err != nil {
		t.Fatal(err)
	}
	if c := j.Augment.Crops; len(c) != 2 || c[0].Size != 64 || c[1].Size != 32 || c[1].Count != 2 {
		t.Fatalf("crops %+v: an override of an alias must not change its anchor", c)
	}
}

func TestSyntaxAndDocumentErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"syntax", "job: [demo\n", "t.yaml: yaml: line"},
		{"not a mapping", "- a\n- b\n", "must be a mapping"},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n", "aliases"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := configs.LoadBytes("t.yaml", []byte(tc.yaml), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestBackendSubSections: each backend reads and validates its own
// sub-section of train, so a config keeps both and switches backend with
// --set; an old flat key says where it moved, even with the new key set too.
func TestBackendSubSections(t *testing.T) {
	data, err := configs.Example("imagenet_swav_bs256.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		sets    []string
		backend string
		threads int
		prec    string
		err     string
	}{
		{"as written", nil, "xla", 0, "bf16", ""},
		{"on the cpu", []string{"train.backend=cpu", "train.cpu.threads=3"}, "cpu", 3, "bf16", ""},
		{"xla settings", []string{"train.xla.precision=float32", "train.xla.devices=4"}, "xla", 0, "float32", ""},
		{"old and new", []string{"train.cpu.threads=3", "train.threads=3"}, "", 0, "", "--set: train.threads: moved to train.cpu.threads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := configs.LoadBytes("bs256.yaml", data, tc.sets)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tr := j.Train; tr.Backend != tc.backend || cpu.SettingsOf(&tr).Threads != tc.threads || xla.SettingsOf(&tr).Precision != tc.prec {
				t.Errorf("backend %q, cpu.threads %d, xla.precision %q", tr.Backend, cpu.SettingsOf(&tr).Threads, xla.SettingsOf(&tr).Precision)
			}
		})
	}
	def := configs.Default()
	if got := xla.SettingsOf(&def.Train).Precision; got != "float32" {
		t.Errorf("default train.xla.precision %q, want float32", got)
	}
}

func TestEmptyFileIsTheDefaultJob(t *testing.T) {
	_, err := configs.LoadBytes("empty.yaml", nil, nil)
	// The default job trains and so needs shards: the error says which.
	if fes := fieldErrors(err); len(fes) == 0 || fes[0].Field != "data.shards" {
		t.Fatalf("err %v", err)
	}
	if _, err := configs.LoadBytes("empty.yaml", nil, []string{"job=demo"}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := configs.Load("/nonexistent/x.yaml", nil); err == nil || !strings.Contains(err.Error(), "/nonexistent/x.yaml") {
		t.Fatalf("err %v", err)
	}
}

// TestKindChoosesTheSections: a kind's registration (configs.RegisterKind,
// which stages.Register calls) says which sections Validate checks, and its
// own section's settings are decoded into the registered type and
// validated by their own Validate; an unregistered kind is refused with
// the kinds there are.
// registerTestKinds registers the test kinds once per process (go test
// -count=N runs a test again in it).
var registerTestKinds = sync.OnceFunc(func() {
	configs.RegisterKind("test-kind-demo-only", configs.KindSpec{Sections: []string{"demo"}})
	configs.RegisterKind("test-kind-own", configs.KindSpec{Sections: []string{configs.SectionMetrics}, Settings: ownSection{Size: 3}})
})

func TestKindChoosesTheSections(t *testing.T) {
	registerTestKinds()
	j := configs.Default()
	j.Job = "test-kind-demo-only"
	if err := j.Validate(); err != nil { // data.shards is empty but not read
		t.Fatal(err)
	}
	j.Job = "unknown-kind"
	fieldtest.Want(t, j.Validate(), "job")

	got, err := configs.LoadBytes("k.yaml", []byte("job: test-kind-own\ntest-kind-own:\n  size: 5\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if own := configs.KindSettings[ownSection](got, "test-kind-own"); own.Size != 5 {
		t.Errorf("own section decoded as %+v", own)
	}
	for _, tc := range []struct {
		yaml, field string
		line        int
	}{
		{"job: test-kind-own\ntest-kind-own:\n  size: 0\n", "test-kind-own.size", 3},
		{"job: test-kind-own\ntest-kind-own:\n  sise: 2\n", "test-kind-own.sise", 3},
		{"job: test-kind-own\ntest-kind-own:\n  size: big\n", "test-kind-own.size", 3},
	} {
		_, err := configs.LoadBytes("k.yaml", []byte(tc.yaml), nil)
		if fe := fieldtest.Want(t, err, tc.field); fe.Line != tc.line || fe.File != "k.yaml" {
			t.Errorf("%q: %v, want line %d", tc.yaml, err, tc.line)
		}
	}
}

// ownSection is the own section of the test kind "test-kind-own".
type ownSection struct {
	Size int `yaml:"size"`
}

func (s *ownSection) Validate() error {
	if s.Size < 1 {
		return field.Errorf("size", "must be at least 1")
	}
	return nil
}

func ExampleLoadBytes() {
	data := []byte("job: demo\ndemo:\n  dir: images\n")
	job, err := configs.LoadBytes("demo.yaml", data, []string{"demo.workers=4"})
	if err != nil {
		panic(err)
	}
	fmt.Println(job.Job, demo.SettingsOf(job).Dir, demo.SettingsOf(job).Workers, job.Seed)

	_, err = configs.LoadBytes("demo.yaml", []byte("job: demo\ndemo:\n  dri: images\n"), nil)
	fmt.Println(err)
	// Output:
	// demo images 4 31
	// demo.yaml:3: demo.dri: unknown field (known here: decode, dir, passes, workers)
}

// TestEveryProblemAtOnce: unknown keys, wrong types and range errors of one
// file come back together, each naming its line and field; a mistyped job
// kind is named with a suggestion instead of the sections it would read.
func TestEveryProblemAtOnce(t *testing.T) {
	yml := "job: train\nout: runs/x\ndata:\n  shards: [a.tar]\n  wokers: 3\ntrain:\n  batch_size: many\n  epochs: 0\n  optim:\n    base_lr: -1\n"
	_, err := configs.LoadBytes("t.yaml", []byte(yml), nil)
	for _, want := range []string{"t.yaml:5: data.wokers: unknown field", `t.yaml:7: train.batch_size: "many" is not a valid integer`,
		"t.yaml:8: train.epochs: must be at least 1", "t.yaml:10: train.optim.base_lr: must be positive"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	_, err = configs.LoadBytes("t.yaml", []byte("job: trian\nout: x\n"), nil)
	if err == nil || !strings.Contains(err.Error(), `t.yaml:1: job: unknown job kind "trian"`) || !strings.Contains(err.Error(), `did you mean "train"?`) ||
		strings.Contains(err.Error(), "shards") {
		t.Errorf("job typo: %v", err)
	}
}

// TestBackendSettingsTyped: a backend's sub-section decodes into the type
// the backend registered (train/cpu's Config), defaults fill what the file
// omits, a copy edited by the owner leaves the job as it was, another
// backend's sub-section is not validated, and every problem of a
// sub-section comes with the others at once.
func TestBackendSettingsTyped(t *testing.T) {
	j, err := configs.LoadBytes("t.yaml", []byte("job: train\ndata: {shards: [a.tar]}\ntrain:\n  cpu: {threads: 3}\n  xla: {devices: -1}\n"), nil)
	if err != nil {
		t.Fatalf("another backend's sub-section was validated: %v", err)
	}
	if got := cpu.SettingsOf(&j.Train); got != (cpu.Config{Threads: 3, Precision: "bf16"}) {
		t.Errorf("train.cpu decoded as %+v", got)
	}
	if got := xla.SettingsOf(&j.Train); got.Devices != -1 || got.Precision != "float32" {
		t.Errorf("train.xla decoded as %+v", got)
	}
	tr := j.Train
	cpu.Edit(&tr).Threads = 9
	if cpu.SettingsOf(&j.Train).Threads != 3 || cpu.SettingsOf(&tr).Threads != 9 {
		t.Error("Edit on a copy of the section changed the job's settings")
	}
	_, err = configs.LoadBytes("t.yaml", []byte("job: train\ndata: {shards: [a.tar]}\ntrain:\n  batch_size: 0\n  cpu:\n    threads: x\n    speed: 2\n"), []string{"train.cpu.precision=fp8"})
	var got []string
	for _, fe := range fieldErrors(err) {
		got = append(got, fmt.Sprintf("%s:%d:%s", fe.File, fe.Line, fe.Field))
	}
	want := []string{"t.yaml:6:train.cpu.threads", "t.yaml:7:train.cpu.speed", "--set:0:train.cpu.precision", "t.yaml:4:train.batch_size"}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("errors %v lack %s (all: %v)", got, w, err)
		}
	}
}

// TestStoreSection: the S3 settings and retries live in the store section;
// data.s3 and data.retries, where they were, still work for one release
// (moved to the store section, errors at the old key's line), and setting
// both places is an error.
func TestStoreSection(t *testing.T) {
	const train = "job: train\ndata:\n  shards: [s3://b/a.tar]\n"
	for _, tc := range []struct {
		name     string
		yaml     string
		sets     []string
		endpoint string
		retries  int
		field    string
		line     int
		msg      string
	}{
		{"store section", train + "store:\n  s3: {endpoint: http://s3:9000}\n  retries: 4\n", nil, "http://s3:9000", 4, "", 0, ""},
		{"defaults", train, nil, "", 10, "", 0, ""},
		{"old keys still work", train + "  s3:\n    endpoint: http://old:9000\n  retries: 3\n", nil, "http://old:9000", 3, "", 0, ""},
		{"old key by --set", train, []string{"data.s3.endpoint=http://set:1"}, "http://set:1", 10, "", 0, ""},
		{"old key's error at its line", train + "  s3:\n    endpoint: http://old:9000\n    access_key_id: k\n", nil, "", 0, "store.s3.access_key_id", 6, "set together"},
		{"old and new", train + "  retries: 3\nstore:\n  retries: 4\n", nil, "", 0, "data.retries", 4, "moved to store.retries, which is set too"},
		{"bad retries", train + "store:\n  retries: 0\n", nil, "", 0, "store.retries", 5, "must be >= 1"},
		{"unknown store key", train + "store:\n  s4: {}\n", nil, "", 0, "store.s4", 5, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := configs.LoadBytes("t.yaml", []byte(tc.yaml), tc.sets)
			if tc.field != "" {
				fe := fieldtest.Want(t, err, tc.field, tc.msg)
				if fe.Line != tc.line || fe.File != "t.yaml" {
					t.Errorf("%v: want t.yaml:%d", err, tc.line)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if j.Store.S3.Endpoint != tc.endpoint || j.Store.Retries != tc.retries {
				t.Errorf("store %+v, want endpoint %q retries %d", j.Store, tc.endpoint, tc.retries)
			}
			if d := j.DataConfig(); d.Store.S3.Endpoint != tc.endpoint || d.Store.Retries != tc.retries {
				t.Errorf("DataConfig().Store %+v", d.Store)
			}
		})
	}
}

// TestFormatSubSections: a shard format's settings live in its own
// sub-section of data (data.parquet, data.folder), decoded into the type
// the format registered; the flat keys they had still work for one release.
func TestFormatSubSections(t *testing.T) {
	const train = "job: train\ndata:\n  shards: [a.parquet]\n"
	for _, tc := range []struct {
		name   string
		yaml   string
		sets   []string
		column string
		size   int
		field  string
		line   int
		msg    string
	}{
		{"sub-sections", train + "  parquet: {image_column: img}\n  folder:\n    shard_size: 50\n", nil, "img", 50, "", 0, ""},
		{"defaults", train, nil, "image", 1000, "", 0, ""},
		{"old flat keys still work", train + "  image_column: pic\n  folder_shard_size: 7\n", nil, "pic", 7, "", 0, ""},
		{"old key by --set", train, []string{"data.image_column=x"}, "x", 1000, "", 0, ""},
		{"old key's error at its line", train + "  folder_shard_size: 0\n", nil, "", 0, "data.folder.shard_size", 4, "must be >= 1"},
		{"unknown key in a format's sub-section", train + "  parquet:\n    image_col: x\n", nil, "", 0, "data.parquet.image_col", 5, "unknown field (known here: image_column, label_column)"},
		{"empty image column with format parquet", train + "  format: parquet\n  parquet: {image_column: \"\"}\n", nil, "", 0, "data.parquet.image_column", 5, "must name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := configs.LoadBytes("t.yaml", []byte(tc.yaml), tc.sets)
			if tc.field != "" {
				fe := fieldtest.Want(t, err, tc.field, tc.msg)
				if fe.Line != tc.line || fe.File != "t.yaml" {
					t.Errorf("%v: want t.yaml:%d", err, tc.line)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ingest.ParquetSettings(&j.Data).ImageColumn; got != tc.column {
				t.Errorf("image column %q, want %q", got, tc.column)
			}
			if got := ingest.FolderSettings(&j.Data).ShardSize; got != tc.size {
				t.Errorf("folder shard size %d, want %d", got, tc.size)
			}
		})
	}
}

// TestMovedKeyErrorsComeWithTheOthers: an old key set beside its new place
// is reported together with every other problem of the file.
func TestMovedKeyErrorsComeWithTheOthers(t *testing.T) {
	_, err := configs.LoadBytes("t.yaml", []byte("job: train\ndata:\n  shards: [a.tar]\n  retries: 3\nstore:\n  retries: 4\ntrain:\n  cpu: {speed: 2}\n  batch_size: 0\n"), nil)
	var got []string
	for _, fe := range fieldErrors(err) {
		got = append(got, fmt.Sprintf("%d:%s", fe.Line, fe.Field))
	}
	for _, want := range []string{"4:data.retries", "8:train.cpu.speed", "9:train.batch_size"} {
		if !slices.Contains(got, want) {
			t.Errorf("errors %v lack %s", got, want)
		}
	}
}
