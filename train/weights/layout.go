package weights

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
	"github.com/swavgo/swav/train/model"
)

// Layouts of tensor names.
const (
	// LayoutSwAV is facebookresearch/swav's: torchvision's trunk names,
	// projection_head.{0,1,3}.* (or projection_head.* for one Linear) and
	// prototypes.weight (prototypes.prototypes{i}.weight for several heads).
	LayoutSwAV = "swav"
	// LayoutTorchvision is torchvision's ResNet: trunk names and fc.*.
	LayoutTorchvision = "torchvision"
	// LayoutOurs is ours: trunk.*, head.*, prototypes.weight.
	LayoutOurs = "swavgo"
)

// ErrArchitecture is wrapped when a file's tensors do not fit the network
// asked for; the message names the first tensor that does not fit. It is
// checkpoint.ErrArchitecture, so one errors.Is covers both kinds of file.
var ErrArchitecture = checkpoint.ErrArchitecture

// Imported is a File mapped onto the SwAV network's names ("trunk.conv1.weight",
// "head.0.weight", "prototypes.weight").
type Imported struct {
	// Source and Format are the file's.
	Source, Format string
	// Layout is the naming the file used (Layout constants).
	Layout string
	// Model is the architecture inferred from names and shapes. HiddenMLP,
	// FeatDim and Prototypes are zero when the file has no head (resp. no
	// prototypes).
	Model train.ModelConfig
	// HasHead and HasPrototypes say whether those sections are in the file.
	HasHead, HasPrototypes bool
	// Tensors maps our names to the file's float tensors.
	Tensors map[string]*Tensor
	// FileName maps our names back to the names in the file (for messages).
	FileName map[string]string
	// BatchesTracked holds the BatchNorm num_batches_tracked counters by our
	// layer name ("trunk.bn1"); we do not train with them but export them.
	BatchesTracked map[string]int64
	// Ignored lists the file's tensors that no load uses, each with the
	// reason ("fc.weight: torchvision classifier").
	Ignored []string
	// ConfigHash is the training config hash when the file is one of our
	// checkpoints; SHA256 is the file's digest.
	ConfigHash, SHA256 string
}

var (
	multiPrototypes = regexp.MustCompile(`^prototypes\.prototypes(\d+)\.weight$`)
	// stateDictKeys are the dict keys a state dict is nested under; a
	// {"module": ...} dict reads as the DDP prefix "module.", which add strips.
	stateDictKeys = []string{"state_dict", "model", "teacher"}
)

// Import maps f's tensors onto our names: it picks the state dict out of
// nested dicts (state_dict, model, teacher), drops the DDP prefix
// "module.", recognises facebookresearch/swav's, torchvision's and our names,
// and infers the architecture from names and shapes.
func Import(f *File) (*Imported, error) {
	im := &Imported{Source: f.Source, Format: f.Format, SHA256: f.SHA256, Tensors: map[string]*Tensor{},
		FileName: map[string]string{}, BatchesTracked: map[string]int64{}}
	if f.Checkpoint != nil {
		im.ConfigHash = f.Checkpoint.ConfigHash
	}
	// The state dict: descend into the first nesting key that holds tensors.
	names := make([]string, len(f.Tensors))
	for i := range f.Tensors {
		names[i] = f.Tensors[i].Name
	}
	prefix := ""
	for {
		found := false
		for _, k := range stateDictKeys {
			p := prefix + k + "."
			if anyHasPrefix(names, p) {
				prefix, found = p, true
				break
			}
		}
		if !found {
			break
		}
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		name, ok := strings.CutPrefix(t.Name, prefix)
		if !ok {
			im.Ignored = append(im.Ignored, t.Name+": outside the state dict ("+strings.TrimSuffix(prefix, ".")+")")
			continue
		}
		if err := im.add(t, name); err != nil {
			return nil, err
		}
	}
	if len(im.Tensors) == 0 {
		return nil, fmt.Errorf("weights: %s: %w: no network tensors (%d tensors, none under the names of facebookresearch/swav, torchvision or ours)",
			f.Source, ErrArchitecture, len(f.Tensors))
	}
	if err := im.infer(); err != nil {
		return nil, fmt.Errorf("weights: %s: %w", f.Source, err)
	}
	return im, nil
}

func anyHasPrefix(names []string, p string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// add maps one state-dict entry to our name.
func (im *Imported) add(t *Tensor, name string) error {
	fileName := t.Name
	name = strings.TrimPrefix(name, "module.")
	var ours string
	switch {
	case strings.HasPrefix(name, "trunk.") || strings.HasPrefix(name, "head.") || name == "head.weight" || name == "head.bias":
		im.Layout = LayoutOurs
		ours = name
	case strings.HasPrefix(name, "projection_head."):
		im.Layout = LayoutSwAV
		ours = "head." + strings.TrimPrefix(name, "projection_head.")
	case name == "prototypes.weight":
		if im.Layout != LayoutOurs {
			im.Layout = LayoutSwAV
		}
		ours = name
	case multiPrototypes.MatchString(name):
		im.Layout = LayoutSwAV
		if multiPrototypes.FindStringSubmatch(name)[1] != "0" {
			im.Ignored = append(im.Ignored, fileName+": prototype head other than the first (multi-prototype model; the first is used)")
			return nil
		}
		ours = "prototypes.weight"
	case strings.HasPrefix(name, "fc."):
		if im.Layout == "" {
			im.Layout = LayoutTorchvision
		}
		im.Ignored = append(im.Ignored, fileName+": torchvision classifier (not part of the SwAV network)")
		return nil
	default:
		ours = "trunk." + name
	}
	if layer, ok := strings.CutSuffix(ours, ".num_batches_tracked"); ok {
		if t.Int != nil && len(t.Int) == 1 {
			im.BatchesTracked[layer] = t.Int[0]
		}
		return nil
	}
	if t.Float == nil {
		im.Ignored = append(im.Ignored, fmt.Sprintf("%s: %s tensor (not a weight)", fileName, t.DType))
		return nil
	}
	if prev, dup := im.FileName[ours]; dup {
		return fmt.Errorf("weights: %s: %w: %s and %s are both %s", im.Source, ErrArchitecture, prev, fileName, ours)
	}
	im.Tensors[ours], im.FileName[ours] = t, fileName
	return nil
}

// infer sets Model, HasHead and HasPrototypes from names and shapes.
func (im *Imported) infer() error {
	if im.Layout == "" {
		im.Layout = LayoutTorchvision
	}
	has := func(n string) bool { return im.Tensors[n] != nil }
	shape := func(n string) []int {
		if t := im.Tensors[n]; t != nil {
			return t.Shape
		}
		return nil
	}
	m := &im.Model
	switch {
	case has("trunk.0.weight"):
		m.Arch = "small"
	case has("trunk.layer4.0.conv1.weight"):
		var blocks [4]int
		for s := range blocks {
			for has(fmt.Sprintf("trunk.layer%d.%d.conv1.weight", s+1, blocks[s])) {
				blocks[s]++
			}
		}
		bottleneck := has("trunk.layer1.0.conv3.weight")
		switch {
		case blocks == [4]int{2, 2, 2, 2} && !bottleneck:
			m.Arch = "resnet18"
		case blocks == [4]int{3, 4, 6, 3} && !bottleneck:
			m.Arch = "resnet34"
		case blocks == [4]int{3, 4, 6, 3} && bottleneck:
			// facebookresearch/swav's wide ResNet-50s scale every width,
			// the stem's included: the stem's channels give the multiplier.
			stem := shape("trunk.conv1.weight")
			if len(stem) != 4 || stem[0]%64 != 0 || model.ResNet50Name(stem[0]/64) == "" {
				return fmt.Errorf("%w: a ResNet-50 whose stem (trunk.conv1.weight) has shape %v; read: 64, 128, 256 or 320 output channels (resnet50, resnet50w2, w4, w5)", ErrArchitecture, stem)
			}
			m.Arch = model.ResNet50Name(stem[0] / 64)
		default:
			kind := "basic"
			if bottleneck {
				kind = "bottleneck"
			}
			return fmt.Errorf("%w: a ResNet with %v %s blocks per stage (read: resnet18, resnet34, resnet50 and its wide w2, w4, w5)", ErrArchitecture, blocks, kind)
		}
		if s := shape("trunk.conv1.weight"); len(s) == 4 && s[2] == 3 {
			m.SmallStem = true
		}
	case has("trunk.layer3.0.conv1.weight") && !has("trunk.layer1.1.conv1.weight"):
		m.Arch = "resnet8"
	default:
		names := slices.Sorted(maps.Keys(im.Tensors))
		if len(names) > 5 {
			names = names[:5]
		}
		return fmt.Errorf("%w: cannot tell the architecture from the tensor names (first: %s)", ErrArchitecture, strings.Join(names, ", "))
	}
	switch {
	case has("head.0.weight") && len(shape("head.0.weight")) == 2 && len(shape("head.3.weight")) == 2:
		m.HiddenMLP, m.FeatDim = shape("head.0.weight")[0], shape("head.3.weight")[0]
		im.HasHead = true
	case has("head.weight") && len(shape("head.weight")) == 2:
		m.FeatDim = shape("head.weight")[0]
		im.HasHead = true
	}
	if s := shape("prototypes.weight"); len(s) == 2 {
		m.Prototypes = s[0]
		im.HasPrototypes = true
		if m.FeatDim == 0 {
			m.FeatDim = s[1]
		}
	}
	return nil
}

// LoadReport says what State did with the file.
type LoadReport struct {
	// Loaded is the number of tensors taken from the file.
	Loaded int
	// Initialised lists the sections absent from the file and initialised
	// from the seed instead ("head", "prototypes").
	Initialised []string
	// Unused lists the file's tensors the network does not have.
	Unused []string
	// Ignored is Imported.Ignored.
	Ignored []string
}

// Notes is the report as lines for a log.
func (r *LoadReport) Notes() []string {
	var out []string
	if len(r.Initialised) > 0 {
		out = append(out, fmt.Sprintf("not in the file, initialised from the seed: %s", strings.Join(r.Initialised, ", ")))
	}
	if len(r.Unused) > 0 {
		out = append(out, fmt.Sprintf("%d tensors of the file unused: %s", len(r.Unused), abbreviate(r.Unused, 8)))
	}
	if len(r.Ignored) > 0 {
		out = append(out, fmt.Sprintf("%d tensors ignored: %s", len(r.Ignored), abbreviate(r.Ignored, 8)))
	}
	return out
}

func abbreviate(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, "; ")
	}
	return strings.Join(list[:n], "; ") + fmt.Sprintf("; ... (%d more)", len(list)-n)
}

// Section returns "trunk", "head" or "prototypes" for one of our names.
func Section(name string) string {
	s, _, _ := strings.Cut(name, ".")
	return s
}

// State builds the train.State of the network cfg describes from the file:
// every tensor must have the shape cfg implies, or the error names the first
// one that does not (file name, expected shape, found shape). The whole trunk
// must be in the file (missing tensors are listed); the head and the
// prototypes are taken from the file when it has them and otherwise
// initialised from seed (model.Init), as LoadReport.Initialised says; a
// section present in part is an error. Momentum and queue stay empty (a
// fresh optimiser). The State's tensors share the file's memory.
func (im *Imported) State(cfg train.ModelConfig, seed int64) (*train.State, *LoadReport, error) {
	arch, err := model.Build(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("weights: %s: %w", im.Source, err)
	}
	rep := &LoadReport{Ignored: im.Ignored}
	used := map[string]bool{}
	missing := map[string][]string{}
	take := func(specs []model.TensorSpec) ([]train.Tensor, error) {
		out := make([]train.Tensor, len(specs))
		for i, spec := range specs {
			out[i] = train.Tensor{Name: spec.Name, Shape: spec.Shape}
			t := im.Tensors[spec.Name]
			if t == nil {
				sec := Section(spec.Name)
				missing[sec] = append(missing[sec], spec.Name)
				continue
			}
			if !slices.Equal(t.Shape, spec.Shape) {
				return nil, fmt.Errorf("weights: %s: %w: %s: the %s network expects shape %v, the file has %v",
					im.Source, ErrArchitecture, im.FileName[spec.Name], describe(cfg), spec.Shape, t.Shape)
			}
			out[i].Data = t.Float
			used[spec.Name] = true
		}
		return out, nil
	}
	st := &train.State{}
	if st.Params, err = take(arch.Params()); err != nil {
		return nil, nil, err
	}
	if st.Buffers, err = take(arch.Buffers()); err != nil {
		return nil, nil, err
	}
	if m := missing["trunk"]; len(m) > 0 {
		return nil, nil, fmt.Errorf("weights: %s: %w: %d trunk tensors of the %s network are missing: %s",
			im.Source, ErrArchitecture, len(m), describe(cfg), abbreviate(m, 8))
	}
	var init *train.State
	for _, sec := range []string{"head", "prototypes"} {
		m := missing[sec]
		if len(m) == 0 {
			continue
		}
		total := 0
		for _, spec := range append(arch.Params(), arch.Buffers()...) {
			if Section(spec.Name) == sec {
				total++
			}
		}
		if len(m) < total {
			return nil, nil, fmt.Errorf("weights: %s: %w: %s tensors missing: %s", im.Source, ErrArchitecture, sec, abbreviate(m, 8))
		}
		if init == nil {
			init = arch.Init(seed)
		}
		rep.Initialised = append(rep.Initialised, sec)
	}
	if init != nil {
		fill := func(dst, src []train.Tensor) {
			for i := range dst {
				if dst[i].Data == nil {
					dst[i].Data = src[i].Data
				}
			}
		}
		fill(st.Params, init.Params)
		fill(st.Buffers, init.Buffers)
	}
	rep.Loaded = len(used)
	for _, n := range slices.Sorted(maps.Keys(im.Tensors)) {
		if !used[n] {
			rep.Unused = append(rep.Unused, im.FileName[n])
		}
	}
	sort.Strings(rep.Unused)
	return st, rep, nil
}

// ModelFor completes the inferred architecture with defaults for what the
// file lacks (the head's and prototypes' sizes of def when the file has no
// head or no prototypes).
func (im *Imported) ModelFor(def train.ModelConfig) train.ModelConfig {
	m := im.Model
	if !im.HasHead {
		m.HiddenMLP, m.FeatDim = def.HiddenMLP, def.FeatDim
		if im.HasPrototypes {
			m.FeatDim = im.Model.FeatDim
		}
	}
	if !im.HasPrototypes {
		m.Prototypes = def.Prototypes
	}
	return m
}

func describe(m train.ModelConfig) string {
	s := m.Arch
	if m.SmallStem && strings.HasPrefix(m.Arch, "resnet") && m.Arch != "resnet8" {
		s += " (small stem)"
	}
	return s
}
