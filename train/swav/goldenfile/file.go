// Package goldenfile reads files in the layout of ../shared/swav/golden.json
// (SPEC §15) and runs every case they hold through the project's SwAV maths
// (train/swav), reporting the largest absolute deviation per quantity. The
// `pipeline golden` command and the package's golden tests share it.
package goldenfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/swavgo/swav/internal/repo"
)

// File is a golden file. Only SwAVCases is required; the other sections are
// nil when absent (a file holding only swav_cases is accepted).
type File struct {
	SwAVCases  []Case       `json:"swav_cases"`
	LRSchedule *LRSchedule  `json:"lr_schedule"`
	LARC       *LARCSection `json:"larc_sgd"`
	// DistributedSinkhornEquivalence carries only the reference's measured
	// deviation (no data); the property tests re-derive it.
	DistributedSinkhornEquivalence *struct {
		Description string  `json:"description"`
		MaxAbs      float64 `json:"maxabs_difference"`
	} `json:"distributed_sinkhorn_equivalence"`
}

// CaseConfig is a swav case's configuration.
type CaseConfig struct {
	Seed               int     `json:"seed"`
	NmbCrops           []int   `json:"nmb_crops"`
	Views              int     `json:"n_views"`
	Batch              int     `json:"batch_size"`
	Dim                int     `json:"feat_dim"`
	Prototypes         int     `json:"nmb_prototypes"`
	Epsilon            float64 `json:"epsilon"`
	SinkhornIterations int     `json:"sinkhorn_iterations"`
	Temperature        float64 `json:"temperature"`
	CropsForAssign     []int   `json:"crops_for_assign"`
	QueueLength        int     `json:"queue_length"`
	WorldSize          int     `json:"world_size"`
	Normalised         *bool   `json:"embeddings_l2_normalised"`
}

// Case is one entry of swav_cases.
type Case struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Config      CaseConfig `json:"config"`
	Inputs      struct {
		ProjectionOutputRaw Array `json:"projection_output_raw"`
		Embeddings          Array `json:"embeddings"`
		PrototypesRaw       Array `json:"prototypes_raw"`
		Prototypes          Array `json:"prototypes"`
		Queue               Array `json:"queue"` // absent: no queue
	} `json:"inputs"`
	Golden struct {
		Scores                  Array    `json:"scores"`
		Codes                   []Array  `json:"codes"`
		Loss                    *float64 `json:"loss"` // nil: reference non-finite
		GradEmbeddings          Array    `json:"grad_embeddings"`
		GradPrototypes          Array    `json:"grad_prototypes"`
		GradProjectionOutputRaw Array    `json:"grad_projection_output_raw"`
		GradScores              Array    `json:"grad_scores"`
		QueueUsed               []bool   `json:"queue_used"`
		QueueAfter              Array    `json:"queue_after"`
	} `json:"golden_float64"`
	// StabilityVariants maps "crop0", "crop1", ... (index into
	// crops_for_assign) to the reference's stability study of that crop.
	StabilityVariants map[string]StabilityVariant `json:"sinkhorn_stability_variants"`
}

// StabilityVariant is the part of a sinkhorn_stability_variants entry this
// package checks: the log-domain float64 codes, given even where the
// reference is NaN.
type StabilityVariant struct {
	LogDomainCodes      Array   `json:"log_domain_float64_codes"`
	MaxScoreOverEpsilon float64 `json:"max_score_over_epsilon"`
}

// LRSchedule is the lr_schedule section.
type LRSchedule struct {
	Cases []struct {
		Name   string    `json:"name"`
		Config LRConfig  `json:"config"`
		LR     []float64 `json:"lr"`
		Length int       `json:"length"`
	} `json:"cases"`
	RealRecipes []struct {
		Name              string   `json:"name"`
		ItersPerEpoch     int      `json:"iters_per_epoch"`
		Config            LRConfig `json:"config"`
		Length            int      `json:"length"`
		First             float64  `json:"first"`
		AtIter1           float64  `json:"at_iter_1"`
		LastWarmupOrFirst *float64 `json:"last_warmup_or_first"` // nil without warmup
		FirstCosine       float64  `json:"first_cosine"`
		MidpointCosine    float64  `json:"midpoint_cosine"`
		Last              float64  `json:"last"`
	} `json:"real_recipes"`
}

// LRConfig is a schedule's configuration (iters_per_epoch inside the small
// cases' config, beside it in the real recipes).
type LRConfig struct {
	BaseLR        float64 `json:"base_lr"`
	FinalLR       float64 `json:"final_lr"`
	StartWarmup   float64 `json:"start_warmup"`
	WarmupEpochs  int     `json:"warmup_epochs"`
	Epochs        int     `json:"epochs"`
	ItersPerEpoch int     `json:"iters_per_epoch"`
}

// LARCSection is the larc_sgd section.
type LARCSection struct {
	TwoStep []LARCCase `json:"two_step_cases"`
	// OneStep is the one-step case at wd 1e-6 and lr 4.8 from the first
	// two-step case's initial parameters and step-1 gradients.
	OneStep *struct {
		ParamsAfter map[string]Array        `json:"params_after"`
		Trace       []map[string]TraceEntry `json:"trace"`
	} `json:"one_step_wd1e-6_lr4.8"`
}

// LARCCase is one two-step LARC case.
type LARCCase struct {
	WeightDecay      float64                 `json:"weight_decay"`
	LRPerStep        []float64               `json:"lr_per_step"`
	Momentum         float64                 `json:"momentum"`
	TrustCoefficient float64                 `json:"trust_coefficient"`
	Eps              float64                 `json:"eps"`
	Clip             bool                    `json:"clip"`
	InitialParams    map[string]Array        `json:"initial_params"`
	GradsStep1       map[string]Array        `json:"grads_step1"` // null = no gradient
	GradsStep2       map[string]Array        `json:"grads_step2"`
	ParamsAfter      map[string]Array        `json:"params_after_step1_and_2"`
	MomentumAfter    map[string]Array        `json:"momentum_buffers_after_step2"`
	Trace            []map[string]TraceEntry `json:"per_step_trace"`
}

// TraceEntry is one tensor's LARC quantities at one step. AdaptiveLR is nil
// under the zero-norm rule; Skipped marks a tensor without gradient.
type TraceEntry struct {
	ParamNorm   *float64 `json:"param_norm"`
	GradNorm    *float64 `json:"grad_norm"`
	AdaptiveLR  *float64 `json:"adaptive_lr"`
	EffectiveLR *float64 `json:"effective_lr"`
	Skipped     bool     `json:"skipped"`
}

// ErrNoCases is returned by Load for a file without swav_cases.
var ErrNoCases = errors.New("no swav_cases")

// Load reads and validates a golden file; errors name the file, the case and
// the field.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse decodes and validates a golden file's bytes.
func Parse(b []byte) (*File, error) {
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("invalid JSON at byte offset %d: %w", se.Offset, err)
		}
		return nil, err
	}
	if len(f.SwAVCases) == 0 {
		return nil, ErrNoCases
	}
	for i := range f.SwAVCases {
		if err := f.SwAVCases[i].validate(); err != nil {
			return nil, fmt.Errorf("swav_cases[%d] (%s): %w", i, f.SwAVCases[i].Name, err)
		}
	}
	if f.LARC != nil {
		for i := range f.LARC.TwoStep {
			if err := f.LARC.TwoStep[i].validate(); err != nil {
				return nil, fmt.Errorf("larc_sgd.two_step_cases[%d]: %w", i, err)
			}
		}
		if f.LARC.OneStep != nil {
			if len(f.LARC.TwoStep) == 0 {
				return nil, fmt.Errorf("larc_sgd.one_step_wd1e-6_lr4.8: needs two_step_cases[0] for its inputs")
			}
			if err := matchParams("params_after", f.LARC.OneStep.ParamsAfter, f.LARC.TwoStep[0].InitialParams, false, false); err != nil {
				return nil, fmt.Errorf("larc_sgd.one_step_wd1e-6_lr4.8: %w", err)
			}
		}
	}
	if f.LRSchedule != nil {
		for i, c := range f.LRSchedule.Cases {
			if err := c.Config.validate(c.Config.ItersPerEpoch); err != nil {
				return nil, fmt.Errorf("lr_schedule.cases[%d] (%s): %w", i, c.Name, err)
			}
			if n := c.Config.ItersPerEpoch * c.Config.Epochs; len(c.LR) != n {
				return nil, fmt.Errorf("lr_schedule.cases[%d] (%s): lr has %d values, want iters_per_epoch*epochs = %d", i, c.Name, len(c.LR), n)
			}
		}
		for i, r := range f.LRSchedule.RealRecipes {
			if err := r.Config.validate(r.ItersPerEpoch); err != nil {
				return nil, fmt.Errorf("lr_schedule.real_recipes[%d] (%s): %w", i, r.Name, err)
			}
		}
	}
	return &f, nil
}

func (c LRConfig) validate(itersPerEpoch int) error {
	switch {
	case itersPerEpoch < 1:
		return fmt.Errorf("iters_per_epoch %d: must be at least 1", itersPerEpoch)
	case c.Epochs < 1:
		return fmt.Errorf("config.epochs %d: must be at least 1", c.Epochs)
	case c.WarmupEpochs < 0 || c.WarmupEpochs >= c.Epochs:
		return fmt.Errorf("config.warmup_epochs %d: must be in [0, epochs)", c.WarmupEpochs)
	}
	return nil
}

func (c *Case) validate() error {
	cfg := &c.Config
	v, b, d, k := cfg.Views, cfg.Batch, cfg.Dim, cfg.Prototypes
	switch {
	case v < 2:
		return fmt.Errorf("config.n_views %d: must be at least 2", v)
	case b < 1 || d < 1 || k < 1:
		return fmt.Errorf("config: batch_size %d, feat_dim %d, nmb_prototypes %d must be positive", b, d, k)
	case cfg.Temperature <= 0 || cfg.Epsilon <= 0:
		return fmt.Errorf("config: temperature %g and epsilon %g must be positive", cfg.Temperature, cfg.Epsilon)
	case len(cfg.CropsForAssign) == 0:
		return fmt.Errorf("config.crops_for_assign: empty")
	case cfg.WorldSize > 1:
		return fmt.Errorf("config.world_size %d: only 1 is supported", cfg.WorldSize)
	}
	for i, a := range cfg.CropsForAssign {
		if a < 0 || a >= v {
			return fmt.Errorf("config.crops_for_assign[%d] = %d: outside [0, n_views=%d)", i, a, v)
		}
	}
	in := &c.Inputs
	for _, x := range []struct {
		name  string
		a     *Array
		shape []int
	}{
		{"inputs.embeddings", &in.Embeddings, []int{v * b, d}},
		{"inputs.prototypes", &in.Prototypes, []int{k, d}},
		{"golden_float64.scores", &c.Golden.Scores, []int{v * b, k}},
	} {
		if err := x.a.want(x.name, x.shape...); err != nil {
			return err
		}
	}
	optional := []struct {
		name  string
		a     *Array
		shape []int
	}{
		{"inputs.projection_output_raw", &in.ProjectionOutputRaw, []int{v * b, d}},
		{"inputs.prototypes_raw", &in.PrototypesRaw, []int{k, d}},
		{"golden_float64.grad_embeddings", &c.Golden.GradEmbeddings, []int{v * b, d}},
		{"golden_float64.grad_prototypes", &c.Golden.GradPrototypes, []int{k, d}},
		{"golden_float64.grad_projection_output_raw", &c.Golden.GradProjectionOutputRaw, []int{v * b, d}},
		{"golden_float64.grad_scores", &c.Golden.GradScores, []int{v * b, k}},
	}
	if c.HasQueue() {
		a := len(cfg.CropsForAssign)
		if cfg.QueueLength < b || cfg.QueueLength%b != 0 {
			return fmt.Errorf("config.queue_length %d: must be a positive multiple of batch_size %d", cfg.QueueLength, b)
		}
		if err := in.Queue.want("inputs.queue", a, cfg.QueueLength, d); err != nil {
			return err
		}
		optional = append(optional, struct {
			name  string
			a     *Array
			shape []int
		}{"golden_float64.queue_after", &c.Golden.QueueAfter, []int{a, cfg.QueueLength, d}})
		if u := c.Golden.QueueUsed; u != nil && len(u) != a {
			return fmt.Errorf("golden_float64.queue_used: %d entries, want %d", len(u), a)
		}
	}
	for _, x := range optional {
		if !x.a.present() || x.a.Null {
			continue // absent, or the reference is non-finite
		}
		if err := x.a.want(x.name, x.shape...); err != nil {
			return err
		}
	}
	if len(c.Golden.Codes) != len(cfg.CropsForAssign) {
		return fmt.Errorf("golden_float64.codes: %d entries, want one per crop in crops_for_assign (%d)", len(c.Golden.Codes), len(cfg.CropsForAssign))
	}
	for i := range c.Golden.Codes {
		if c.Golden.Codes[i].Null {
			continue
		}
		if err := c.Golden.Codes[i].want(fmt.Sprintf("golden_float64.codes[%d]", i), b, k); err != nil {
			return err
		}
	}
	for name, sv := range c.StabilityVariants {
		i, ok := cropIndex(name)
		if !ok || i >= len(cfg.CropsForAssign) {
			return fmt.Errorf("sinkhorn_stability_variants.%s: want crop0 .. crop%d", name, len(cfg.CropsForAssign)-1)
		}
		if !sv.LogDomainCodes.present() || sv.LogDomainCodes.Null {
			continue
		}
		if err := sv.LogDomainCodes.want("sinkhorn_stability_variants."+name+".log_domain_float64_codes", b, k); err != nil {
			return err
		}
		c.StabilityVariants[name] = sv
	}
	return nil
}

// HasQueue reports whether the case runs with a queue.
func (c *Case) HasQueue() bool { return c.Config.QueueLength > 0 || c.Inputs.Queue.present() }

func cropIndex(name string) (int, bool) {
	var i int
	if _, err := fmt.Sscanf(name, "crop%d", &i); err != nil || fmt.Sprintf("crop%d", i) != name {
		return 0, false
	}
	return i, true
}

func (c *LARCCase) validate() error {
	if len(c.LRPerStep) != 2 {
		return fmt.Errorf("lr_per_step: %d values, want 2", len(c.LRPerStep))
	}
	if c.Clip {
		return fmt.Errorf("clip: true is not the reference's setting (SwAV uses clip=False)")
	}
	if err := decodeAll("initial_params", c.InitialParams); err != nil {
		return err
	}
	for name, p := range c.InitialParams {
		if p.Null {
			return fmt.Errorf("initial_params.%s: null", name)
		}
	}
	for _, m := range []struct {
		field    string
		set      map[string]Array
		nullable bool // null = no gradient / no buffer
		optional bool // a parameter may be missing
	}{
		{"grads_step1", c.GradsStep1, true, false},
		{"grads_step2", c.GradsStep2, true, false},
		{"params_after_step1_and_2", c.ParamsAfter, false, false},
		{"momentum_buffers_after_step2", c.MomentumAfter, true, true},
	} {
		if err := matchParams(m.field, m.set, c.InitialParams, m.nullable, m.optional); err != nil {
			return err
		}
	}
	return nil
}

// decodeAll decodes every array of set, naming field.name in errors.
func decodeAll(field string, set map[string]Array) error {
	for name, a := range set {
		if err := a.decode(field + "." + name); err != nil {
			return err
		}
		set[name] = a
	}
	return nil
}

// matchParams checks that set holds an array of each parameter's shape.
func matchParams(field string, set, params map[string]Array, nullable, optional bool) error {
	if err := decodeAll(field, set); err != nil {
		return err
	}
	for name, p := range params {
		g, ok := set[name]
		switch {
		case !ok && optional:
			continue
		case !ok:
			return fmt.Errorf("%s.%s: missing", field, name)
		case g.Null && nullable:
			continue
		}
		if err := g.want(field+"."+name, p.Shape...); err != nil {
			return err
		}
	}
	return nil
}

// DefaultPath returns the shared golden file, ../shared/swav/golden.json
// beside the repository root.
func DefaultPath() (string, error) {
	shared, err := repo.Shared()
	if err != nil {
		return "", fmt.Errorf("goldenfile: %w", err)
	}
	return filepath.Join(shared, "swav", "golden.json"), nil
}
