package goldenfile

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/swav"
)

// Item is one compared quantity of a report.
type Item struct {
	// What names the quantity: "codes", "loss", "grad_scores", "queue_after",
	// "lr", "params", "momentum", ...
	What string
	// MaxAbs is the largest absolute deviation from the golden value; NaN or
	// +Inf when ours is non-finite where a finite value was expected.
	MaxAbs float64
	// Note qualifies the comparison, e.g. "vs log-domain codes (reference NaN)".
	Note string
}

// Report is the result of one golden case.
type Report struct {
	Section string // "swav_cases", "lr_schedule", "larc_sgd"
	Name    string
	Items   []Item
}

// Max is the largest deviation of the report (NaN when any item is NaN).
func (r Report) Max() float64 {
	m := 0.0
	for _, it := range r.Items {
		if math.IsNaN(it.MaxAbs) {
			return math.NaN()
		}
		m = math.Max(m, it.MaxAbs)
	}
	return m
}

// Within reports whether every item deviates by at most tol (NaN fails).
func (r Report) Within(tol float64) bool {
	m := r.Max()
	return m <= tol
}

// String is the report's one-line summary: section/name, then each item's
// largest deviation.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s:", r.Section, r.Name)
	for _, it := range r.Items {
		fmt.Fprintf(&b, " %s=%.3g", it.What, it.MaxAbs)
		if it.Note != "" {
			fmt.Fprintf(&b, " (%s)", it.Note)
		}
	}
	return b.String()
}

// Run runs every case of f through train/swav at precision T and returns one
// report per case, in file order: swav_cases, lr_schedule (always float64:
// the schedule is a float64 table), larc_sgd.
func Run[T swav.Float](f *File) []Report {
	var out []Report
	for i := range f.SwAVCases {
		out = append(out, RunCase[T](&f.SwAVCases[i]))
	}
	if f.LRSchedule != nil {
		out = append(out, runLR(f.LRSchedule)...)
	}
	if f.LARC != nil {
		out = append(out, runLARC[T](f.LARC)...)
	}
	return out
}

// RunCase runs one swav case at precision T: prototype and embedding
// normalisation (when the raw inputs are given), scores, codes with the
// queue, the loss and every gradient down to the raw head output, the queue
// after the update. Where the reference is non-finite (null in the file) the
// codes are compared with the log-domain codes of the stability variants and
// the loss and gradients must be finite.
func RunCase[T swav.Float](c *Case) Report {
	cfg := &c.Config
	rep := Report{Section: "swav_cases", Name: c.Name}
	add := func(what string, dev float64, note string) {
		rep.Items = append(rep.Items, Item{What: what, MaxAbs: dev, Note: note})
	}
	v, b, d, k := cfg.Views, cfg.Batch, cfg.Dim, cfg.Prototypes
	emb := convert[T](c.Inputs.Embeddings.Data)
	protos := convert[T](c.Inputs.Prototypes.Data)
	if raw := c.Inputs.PrototypesRaw; raw.Shape != nil && !raw.Null {
		p := convert[T](raw.Data)
		swav.NormalizeRows(p, k, d)
		add("prototypes_normalised", maxAbs(p, c.Inputs.Prototypes.Data), "")
	}
	normalised := cfg.Normalised == nil || *cfg.Normalised
	raw := c.Inputs.ProjectionOutputRaw
	hasRaw := raw.Shape != nil && !raw.Null
	if hasRaw && normalised {
		z := convert[T](raw.Data)
		swav.L2NormalizeRows(z, v*b, d)
		add("embeddings", maxAbs(z, c.Inputs.Embeddings.Data), "")
	}
	var q *swav.Queue[T]
	if c.HasQueue() {
		q = swav.NewQueue[T](len(cfg.CropsForAssign), cfg.QueueLength, b, d)
		if err := q.SetData(c.Inputs.Queue.Data); err != nil {
			add("queue", math.Inf(1), err.Error()) // validated by Parse; defensive
			return rep
		}
	}
	shape := swav.Shape{
		Views: v, Batch: b, Dim: d, Prototypes: k, CropsForAssign: cfg.CropsForAssign,
		Temperature: cfg.Temperature, Epsilon: cfg.Epsilon, SinkhornIterations: cfg.SinkhornIterations,
	}
	res := swav.Head(shape, emb, protos, q)
	add("scores", maxAbs(res.Scores, c.Golden.Scores.Data), "")

	// Codes: against the reference where it is finite, else (and also) the
	// log-domain codes of the stability study.
	codesDev, logDev := 0.0, 0.0
	nullCodes, haveLog := false, false
	for i, code := range res.Codes {
		if g := c.Golden.Codes[i]; !g.Null {
			codesDev = math.Max(codesDev, maxAbs(code, g.Data))
		} else {
			nullCodes = true
		}
		if sv, ok := c.StabilityVariants[fmt.Sprintf("crop%d", i)]; ok && sv.LogDomainCodes.Shape != nil && !sv.LogDomainCodes.Null {
			haveLog = true
			logDev = math.Max(logDev, maxAbs(code, sv.LogDomainCodes.Data))
		}
	}
	switch {
	case !nullCodes:
		add("codes", codesDev, "")
		if haveLog {
			add("codes_log_domain", logDev, "")
		}
	case haveLog:
		add("codes", logDev, "vs log-domain codes, reference non-finite")
	default:
		add("codes", finiteDev(res.Codes...), "reference non-finite, no log-domain codes: finiteness only")
	}
	rowDev := 0.0
	for _, code := range res.Codes {
		for r := 0; r < b; r++ {
			s := 0.0
			for _, x := range code[r*k : (r+1)*k] {
				s += float64(x)
			}
			rowDev = math.Max(rowDev, math.Abs(s-1))
			if math.IsNaN(s) {
				rowDev = math.NaN()
			}
		}
	}
	add("codes_row_sums", rowDev, "")

	if c.Golden.Loss != nil {
		add("loss", math.Abs(res.Loss-*c.Golden.Loss), "")
	} else {
		add("loss", finite(res.Loss), "reference non-finite: ours must be finite")
	}
	gradRaw := []T(nil)
	if hasRaw {
		gradRaw = swav.L2NormalizeRowsBackward(convert[T](raw.Data), res.GradEmbeddings, v*b, d)
	}
	for _, g := range []struct {
		name   string
		ours   []T
		golden Array
	}{
		{"grad_scores", res.GradScores, c.Golden.GradScores},
		{"grad_embeddings", res.GradEmbeddings, c.Golden.GradEmbeddings},
		{"grad_prototypes", res.GradPrototypes, c.Golden.GradPrototypes},
		{"grad_projection_output_raw", gradRaw, c.Golden.GradProjectionOutputRaw},
	} {
		switch {
		case g.golden.Null:
			if g.ours != nil {
				add(g.name, finiteDev(g.ours), "reference non-finite: ours must be finite")
			}
		case g.golden.Shape == nil:
			// not in the file
		case g.ours == nil:
			add(g.name, math.Inf(1), "needs inputs.projection_output_raw")
		default:
			add(g.name, maxAbs(g.ours, g.golden.Data), "")
		}
	}
	if q != nil {
		if want := c.Golden.QueueUsed; want != nil {
			dev := 0.0
			for i, u := range q.UsedLast() {
				if u != want[i] {
					dev = 1
				}
			}
			add("queue_used", dev, "")
		}
		if qa := c.Golden.QueueAfter; qa.Shape != nil && !qa.Null {
			add("queue_after", maxAbs(q.Data(), qa.Data), "")
		}
	}
	return rep
}

func runLR(s *LRSchedule) []Report {
	var out []Report
	for _, c := range s.Cases {
		cfg := optimConfig(c.Config)
		got := swav.LRSchedule(cfg, c.Config.ItersPerEpoch, c.Config.Epochs)
		dev := maxAbs(got, c.LR)
		if c.Length != 0 && c.Length != len(got) {
			dev = math.Inf(1)
		}
		out = append(out, Report{Section: "lr_schedule", Name: c.Name, Items: []Item{{What: "lr", MaxAbs: dev}}})
	}
	for _, r := range s.RealRecipes {
		cfg := optimConfig(r.Config)
		ipe, ep := r.ItersPerEpoch, r.Config.Epochs
		at := func(i int) float64 { return swav.LRAt(cfg, ipe, ep, i) }
		warm := ipe * r.Config.WarmupEpochs
		total := ipe * ep
		cosT := total - warm
		rep := Report{Section: "lr_schedule", Name: r.Name}
		lenDev := 0.0
		if r.Length != total {
			lenDev = math.Inf(1)
		}
		rep.Items = append(rep.Items, Item{What: "length", MaxAbs: lenDev})
		dev := math.Max(math.Abs(at(0)-r.First), math.Abs(at(1)-r.AtIter1))
		if r.LastWarmupOrFirst != nil {
			i := max(warm-1, 0)
			dev = math.Max(dev, math.Abs(at(i)-*r.LastWarmupOrFirst))
		}
		dev = math.Max(dev, math.Abs(at(warm)-r.FirstCosine))
		dev = math.Max(dev, math.Abs(at(warm+cosT/2)-r.MidpointCosine))
		dev = math.Max(dev, math.Abs(at(total-1)-r.Last))
		rep.Items = append(rep.Items, Item{What: "lr", MaxAbs: dev, Note: "first, iter 1, end of warmup, first/middle cosine, last"})
		out = append(out, rep)
	}
	return out
}

func optimConfig(c LRConfig) train.OptimConfig {
	return train.OptimConfig{BaseLR: c.BaseLR, FinalLR: c.FinalLR, StartWarmup: c.StartWarmup, WarmupEpochs: c.WarmupEpochs}
}

// oneStepLR and oneStepWeightDecay are the settings the one-step LARC case
// is named after (one_step_wd1e-6_lr4.8).
const (
	oneStepLR          = 4.8
	oneStepWeightDecay = 1e-6
)

func runLARC[T swav.Float](s *LARCSection) []Report {
	var out []Report
	for i := range s.TwoStep {
		c := &s.TwoStep[i]
		params, opt := larcSetup[T](c)
		rep := Report{Section: "larc_sgd", Name: fmt.Sprintf("two_step[%d] wd=%g", i, c.WeightDecay)}
		traceDev := 0.0
		for step, grads := range []map[string]Array{c.GradsStep1, c.GradsStep2} {
			setGrads(params, grads)
			if step < len(c.Trace) {
				traceDev = math.Max(traceDev, traceDeviation(opt, params, c.Trace[step], c.LRPerStep[step]))
			}
			opt.Step(params, c.LRPerStep[step])
		}
		rep.Items = append(rep.Items,
			Item{What: "params", MaxAbs: paramsDev(params, c.ParamsAfter)},
			Item{What: "momentum", MaxAbs: momentumDev(opt, params, c.MomentumAfter)},
			Item{What: "trace", MaxAbs: traceDev, Note: "norms, adaptive and effective lr per step"})
		out = append(out, rep)
	}
	if s.OneStep != nil && len(s.TwoStep) > 0 {
		c := s.TwoStep[0]
		c.WeightDecay = oneStepWeightDecay
		params, opt := larcSetup[T](&c)
		setGrads(params, c.GradsStep1)
		traceDev := 0.0
		if len(s.OneStep.Trace) > 0 {
			traceDev = traceDeviation(opt, params, s.OneStep.Trace[0], oneStepLR)
		}
		opt.Step(params, oneStepLR)
		out = append(out, Report{Section: "larc_sgd", Name: "one_step wd=1e-06 lr=4.8", Items: []Item{
			{What: "params", MaxAbs: paramsDev(params, s.OneStep.ParamsAfter)},
			{What: "trace", MaxAbs: traceDev},
		}})
	}
	return out
}

// larcSetup returns the case's parameters in name order and a fresh optimiser.
func larcSetup[T swav.Float](c *LARCCase) ([]swav.Param[T], *swav.LARS[T]) {
	names := make([]string, 0, len(c.InitialParams))
	for n := range c.InitialParams {
		names = append(names, n)
	}
	sort.Strings(names)
	params := make([]swav.Param[T], len(names))
	for i, n := range names {
		a := c.InitialParams[n]
		params[i] = swav.Param[T]{Name: n, Shape: a.Shape, Data: convert[T](a.Data)}
	}
	opt := swav.NewLARS[T](train.OptimConfig{WeightDecay: c.WeightDecay, Momentum: c.Momentum, TrustCoefficient: c.TrustCoefficient})
	return params, opt
}

func setGrads[T swav.Float](params []swav.Param[T], grads map[string]Array) {
	for i := range params {
		g, ok := grads[params[i].Name]
		if !ok || g.Null {
			params[i].Grad = nil
			continue
		}
		params[i].Grad = convert[T](g.Data)
	}
}

// traceDeviation compares the norms and LARC factors before a step with the
// reference's trace (relative for the effective lr, which is lr-scaled).
func traceDeviation[T swav.Float](opt *swav.LARS[T], params []swav.Param[T], trace map[string]TraceEntry, lr float64) float64 {
	dev := 0.0
	for _, p := range params {
		t, ok := trace[p.Name]
		if !ok {
			continue
		}
		if t.Skipped {
			if p.Grad != nil {
				return math.Inf(1)
			}
			continue
		}
		if p.Grad == nil {
			return math.Inf(1)
		}
		pn, gn := norm(p.Data), norm(p.Grad)
		if t.ParamNorm != nil {
			dev = math.Max(dev, math.Abs(pn-*t.ParamNorm))
		}
		if t.GradNorm != nil {
			dev = math.Max(dev, math.Abs(gn-*t.GradNorm))
		}
		a, scaled := opt.AdaptiveLR(pn, gn)
		switch {
		case t.AdaptiveLR == nil && scaled, t.AdaptiveLR != nil && !scaled:
			return math.Inf(1)
		case scaled:
			dev = math.Max(dev, math.Abs(a-*t.AdaptiveLR))
			if t.EffectiveLR != nil {
				dev = math.Max(dev, math.Abs(a*lr-*t.EffectiveLR))
			}
		}
	}
	return dev
}

func paramsDev[T swav.Float](params []swav.Param[T], want map[string]Array) float64 {
	dev := 0.0
	for _, p := range params {
		w, ok := want[p.Name]
		if !ok || w.Null {
			return math.Inf(1)
		}
		dev = math.Max(dev, maxAbs(p.Data, w.Data))
	}
	return dev
}

func momentumDev[T swav.Float](opt *swav.LARS[T], params []swav.Param[T], want map[string]Array) float64 {
	dev := 0.0
	for _, p := range params {
		w, ok := want[p.Name]
		buf := opt.Buffer(p.Name)
		switch {
		case !ok || w.Null:
			if buf != nil {
				return math.Inf(1)
			}
		case buf == nil:
			return math.Inf(1)
		default:
			dev = math.Max(dev, maxAbs(buf, w.Data))
		}
	}
	return dev
}

func convert[T swav.Float](x []float64) []T {
	out := make([]T, len(x))
	for i, v := range x {
		out[i] = T(v)
	}
	return out
}

func norm[T swav.Float](x []T) float64 {
	s := 0.0
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// maxAbs is the largest |ours - golden|: NaN when ours has a NaN, +Inf when
// the lengths differ or ours is infinite.
func maxAbs[T swav.Float](ours []T, golden []float64) float64 {
	if len(ours) != len(golden) {
		return math.Inf(1)
	}
	m := 0.0
	for i, v := range ours {
		d := math.Abs(float64(v) - golden[i])
		if math.IsNaN(d) {
			return math.NaN()
		}
		m = math.Max(m, d)
	}
	return m
}

// finite is 0 for a finite value, else the value's non-finiteness (NaN, Inf).
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return math.Abs(x)
	}
	return 0
}

func finiteDev[T swav.Float](xs ...[]T) float64 {
	for _, x := range xs {
		for _, v := range x {
			if d := finite(float64(v)); d != 0 {
				return d
			}
		}
	}
	return 0
}
