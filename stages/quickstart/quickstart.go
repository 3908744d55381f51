// Package quickstart is the job kind "quickstart": the whole loop on real
// data in one command. It
//
//  1. writes Fashion-MNIST (Debian's dataset-fashion-mnist) as WebDataset
//     shards once, into a cache folder reused by later runs;
//  2. serves them from a local S3 server it starts (versitygw), or reads
//     them from the cache folder with quickstart.local;
//  3. pre-trains SwAV on the train split for train.max_seconds (the train
//     job's chain: checkpoints, metrics.jsonl and loss.png in <out>);
//  4. extracts train and test features (Parquet) with the trained network,
//     with the same network untrained (model.Init: the random-init
//     baseline) and as raw pixels (the raw-pixel baseline);
//  5. runs the same kNN evaluation on the three and prints them side by
//     side, writing <out>/report.json;
//  6. shows what the network learned: the prototype clusters of the test
//     images for the trained and the untrained network (PNG sheets,
//     cluster sizes, purity and NMI against the labels) and the nearest
//     train images of a few test images (a PNG sheet).
package quickstart

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/swavgo/swav/internal/settings"
	"github.com/swavgo/swav/train/cpu"

	"gopkg.in/yaml.v3"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/eval"
	"github.com/swavgo/swav/eval/sheet"
	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/ingest/store/s3local"
	"github.com/swavgo/swav/pipeline"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/sinks/tensorboard"
	"github.com/swavgo/swav/stages"
	"github.com/swavgo/swav/stages/extract"
	stagestrain "github.com/swavgo/swav/stages/train"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
)

// JobKind is the job kind this package registers.
const JobKind = "quickstart"

// bucket is the S3 bucket the shards are served from.
const bucket = "fmnist"

func init() {
	stages.Register(JobKind, stages.Kind{
		Run: func(ctx context.Context, job *configs.Job, opts pipeline.Options) error {
			_, err := Run(ctx, job, opts, os.Stdout)
			return err
		},
		// It fills the data section itself.
		Sections: []string{configs.SectionStore, configs.SectionAugment, configs.SectionTrain, configs.SectionExtract, configs.SectionMetrics},
		Settings: DefaultConfig(),
		// The quickstart pre-trains: the train kind's checks apply (it
		// fills the data and extract sections itself).
		Check: stagestrain.Check,
	})
}

// Report is what the quickstart writes to <out>/report.json.
type Report struct {
	KNNTop1SwAV       float64 `json:"knn_top1_swav"`
	KNNTop1RandomInit float64 `json:"knn_top1_random_init"`
	KNNTop1RawPixels  float64 `json:"knn_top1_raw_pixels"`
	KNNTop5SwAV       float64 `json:"knn_top5_swav"`
	KNNTop5RandomInit float64 `json:"knn_top5_random_init"`
	KNNTop5RawPixels  float64 `json:"knn_top5_raw_pixels"`
	// K and Temperature are the headline kNN's settings.
	K           int     `json:"k"`
	Temperature float64 `json:"temperature"`
	// KNN holds every k for the three feature sets.
	KNN map[string][]eval.KNNResult `json:"knn"`
	// TrainSeconds is the wall time of the pre-training run; Epochs the
	// epochs it reached (fractional), ImagesSeen the images it stepped on
	// (iterations x batch size), Iterations the steps.
	TrainSeconds float64 `json:"train_seconds"`
	Epochs       float64 `json:"epochs"`
	ImagesSeen   int64   `json:"images_seen"`
	Iterations   int     `json:"iterations"`
	// RecipeHash identifies the recipe: the augment and train sections
	// without what does not change the weights (checkpointing, threads, the
	// kNN monitor) and without the seed, so two seeds of one recipe share it.
	RecipeHash string `json:"recipe_hash"`
	// Seed is the job's seed.
	Seed       int64  `json:"seed"`
	Checkpoint string `json:"checkpoint"`
	// TrainImages and TestImages are the sizes of the two splits used.
	TrainImages int `json:"train_images"`
	TestImages  int `json:"test_images"`
	// Served says where the shards were read from ("s3 (versitygw)" or "local").
	Served string `json:"served"`
	// Seconds is the wall time of the whole quickstart.
	Seconds float64 `json:"seconds"`
	// Config is the job the quickstart ran (YAML).
	Config string `json:"config"`
	// NMISwAV and NMIRandomInit are the normalised mutual information
	// between the test images' prototype (highest score) and their labels,
	// for the trained and the untrained network; Clusters holds all the
	// cluster numbers of both ("swav", "random_init").
	NMISwAV       float64                      `json:"nmi_swav"`
	NMIRandomInit float64                      `json:"nmi_random_init"`
	Clusters      map[string]eval.ClusterStats `json:"clusters"`
	// ClusterSheets are the PNG sheets of those clusters (one row per
	// prototype, its best-scoring test images); NeighbourSheet shows test
	// images with their nearest train images (SwAV trunk features, cosine)
	// and NeighbourSameLabel the share of those neighbours with the query's
	// label.
	ClusterSheets      map[string]string `json:"cluster_sheets"`
	NeighbourSheet     string            `json:"neighbour_sheet"`
	NeighbourSameLabel float64           `json:"neighbour_same_label"`
	// Tensorboard is the folder of the pre-training's TensorBoard event file.
	Tensorboard string `json:"tensorboard,omitempty"`
}

// Run runs the quickstart of job, printing progress lines and the final
// table to w. It blocks for about train.max_seconds plus extraction and
// evaluation. The job's out folder receives everything; shards are cached in
// quickstart.cache.
//
// It reads as the steps it prints: make the shards, serve them, pre-train,
// extract and evaluate each feature set, show the clusters and the
// neighbours, report.
func Run(ctx context.Context, job *configs.Job, opts pipeline.Options, w io.Writer) (*Report, error) {
	start := time.Now()
	r, err := newRun(job, opts, w)
	if err != nil {
		return nil, err
	}
	if err := r.makeShards(ctx); err != nil {
		return nil, err
	}
	stopServing, err := r.serveShards(ctx)
	if err != nil {
		return nil, err
	}
	defer stopServing()
	ckURL, err := r.pretrain(ctx)
	if err != nil {
		return nil, err
	}
	variants := r.variants(ckURL)
	for i, v := range variants {
		dirs, err := r.extract(ctx, i, v)
		if err != nil {
			return nil, err
		}
		if err := r.evaluate(ctx, i, v, dirs); err != nil {
			return nil, err
		}
	}
	if err := r.showClusters(ctx, variants[:2]); err != nil {
		return nil, err
	}
	if err := r.showNeighbours(ctx, variants[0]); err != nil {
		return nil, err
	}
	return r.report(start)
}

// run is one quickstart's state, filled in by its steps in order; each
// step reads what the ones before it left. Used by one goroutine.
type run struct {
	job  *configs.Job
	opts pipeline.Options
	w    io.Writer
	rep  *Report
	// splits are the train and test shards (makeShards), their url set by
	// serveShards.
	splits map[string]*Shards
	// base is the job every later step copies: its data section reads the
	// shards where serveShards put them.
	base configs.Job
	// nothingLeft is set when the pre-training found its checkpoint
	// already at the end of the schedule (a rerun).
	nothingLeft error
}

// newRun makes the out folder and starts the report with what the job
// alone says (kNN settings, recipe hash, seed, the config as YAML).
func newRun(job *configs.Job, opts pipeline.Options, w io.Writer) (*run, error) {
	qs := SettingsOf(job)
	if err := os.MkdirAll(job.Out, 0o755); err != nil {
		return nil, fmt.Errorf("quickstart: output folder %s: %w", job.Out, err)
	}
	rep := &Report{K: qs.KNN[0], Temperature: qs.Temperature, KNN: map[string][]eval.KNNResult{},
		RecipeHash: RecipeHash(job), Seed: job.Seed}
	if cfgYAML, err := stagestrain.JobYAML(job); err == nil {
		rep.Config = string(cfgYAML)
	}
	return &run{job: job, opts: opts, w: w, rep: rep}, nil
}

// say prints one progress line.
func (r *run) say(format string, args ...any) {
	fmt.Fprintf(r.w, "quickstart: "+format+"\n", args...)
}

// makeShards is step 1: the train and test splits as WebDataset shards in
// quickstart.cache, made once (MakeShards; seconds the first time, a stat
// after).
func (r *run) makeShards(ctx context.Context) error {
	qs := SettingsOf(r.job)
	r.say("step 1/6: Fashion-MNIST shards in %s", qs.Cache)
	r.splits = map[string]*Shards{}
	for _, split := range []string{"train", "test"} {
		limit := qs.TrainImages
		if split == "test" {
			limit = qs.TestImages
		}
		sh, err := MakeShards(ctx, qs.Cache, split, limit, qs.ShardSize)
		if err != nil {
			return err
		}
		r.splits[split] = sh
		r.say("  %s: %d images in %d shards%s", split, sh.Images, sh.Count, map[bool]string{true: " (cached)", false: ""}[sh.Cached])
	}
	r.rep.TrainImages, r.rep.TestImages = r.splits["train"].Images, r.splits["test"].Images
	return nil
}

// serveShards is step 2: it points base's data section at the shards,
// read from the cache folder (quickstart.local) or served by a local S3
// server (versitygw) that it starts. The returned stop ends the server; the
// caller calls it once the last step has read the shards.
func (r *run) serveShards(ctx context.Context) (stop func(), err error) {
	qs := SettingsOf(r.job)
	stop = func() {}
	r.base = *r.job
	if qs.Local {
		r.rep.Served = "local"
		for _, sh := range r.splits {
			sh.url = sh.Local()
		}
		r.say("step 2/6: reading the shards from %s (quickstart.local)", qs.Cache)
	} else {
		srv, err := s3local.Start(ctx, qs.Cache)
		if err != nil {
			return nil, fmt.Errorf("quickstart: start the local S3 server (or --set quickstart.local=true): %w", err)
		}
		stop = srv.Stop
		r.base.Store.S3 = srv.S3Config()
		r.base.Store.Retries = srv.StoreConfig().Retries
		r.rep.Served = "s3 (versitygw)"
		for _, sh := range r.splits {
			rel, _ := filepath.Rel(filepath.Join(qs.Cache, bucket), sh.Dir)
			sh.url = "s3://" + bucket + "/" + filepath.ToSlash(filepath.Join(rel, sh.Pattern))
		}
		r.say("step 2/6: serving the shards from a local S3 server at %s (bucket %s)", srv.Endpoint, bucket)
	}
	r.base.Data.Shards = []string{r.splits["train"].url}
	r.base.Data.Format = "wds"
	return stop, nil
}

// pretrain is step 3: the train job on the train split (checkpoints in
// <out>/checkpoints unless train.checkpoint.dir says otherwise, the kNN
// monitor on the two splits with quickstart.monitor). It blocks for the
// whole pre-training, about train.max_seconds, then loads the newest
// checkpoint for the report and returns its URL. A rerun whose checkpoint
// already ends the schedule trains nothing and goes on with it.
func (r *run) pretrain(ctx context.Context) (string, error) {
	job, qs, rep := r.job, SettingsOf(r.job), r.rep
	trainJob := r.base
	trainJob.Job = stagestrain.JobKind
	if trainJob.Train.Checkpoint.Dir == "" {
		trainJob.Train.Checkpoint.Dir = filepath.Join(job.Out, "checkpoints")
	}
	if mon := &trainJob.Train.Monitor; qs.Monitor && !mon.Enabled() {
		mon.Bank, mon.Queries = []string{r.splits["train"].url}, []string{r.splits["test"].url}
	}
	budget := fmt.Sprintf("for at most %.0f s", trainJob.Train.MaxSeconds)
	if trainJob.Train.FitToBudget {
		budget += ", the schedule fitted to it"
	}
	if trainJob.Train.MaxSeconds == 0 {
		budget = "with no time budget"
	}
	r.say("step 3/6: pre-training SwAV (%s, %s backend) %s; loss curve in %s",
		trainJob.Train.Model.Arch, trainJob.Train.Backend, budget, filepath.Join(job.Out, "loss.png"))
	t0 := time.Now()
	if err := stages.RunJob(ctx, &trainJob, r.opts); errors.Is(err, stages.ErrNothingLeft) {
		r.nothingLeft = err
		r.say("  %v", err)
	} else if err != nil {
		return "", fmt.Errorf("quickstart: pre-training: %w", err)
	}
	rep.TrainSeconds = time.Since(t0).Seconds()
	store := checkpoint.Store{Config: trainJob.Store}
	ckURL, found, err := store.Latest(ctx, trainJob.Train.Checkpoint.Dir)
	if err != nil || !found {
		return "", fmt.Errorf("quickstart: no checkpoint in %s after training (found %v): %w", trainJob.Train.Checkpoint.Dir, found, err)
	}
	ck, err := store.Load(ctx, ckURL)
	if err != nil {
		return "", fmt.Errorf("quickstart: %w", err)
	}
	rep.Checkpoint, rep.Iterations = ckURL, ck.Iter
	rep.ImagesSeen = int64(ck.Iter) * int64(trainJob.Train.BatchSize)
	if ck.ItersPerEpoch > 0 {
		rep.Epochs = float64(ck.Iter) / float64(ck.ItersPerEpoch)
	}
	r.say("  trained %d iterations (%.2f epochs, %d images) in %.0f s", ck.Iter, rep.Epochs, rep.ImagesSeen, rep.TrainSeconds)
	if trainJob.Train.Tensorboard != stagestrain.TensorboardOff {
		rep.Tensorboard = tensorboard.Dir(trainJob.Train.Tensorboard, trainJob.Out)
	}
	return ckURL, nil
}

// variant is one of the three feature sets the quickstart compares: the
// network's feature from a checkpoint (or its random init), or the raw
// pixels; dir is its folder under <out>/features, top where its headline
// top-1 and top-5 go in the report.
type variant struct {
	name, feature, checkpoint, dir string
	top                            *[2]*float64
}

// variants are the three feature sets: the pre-trained network (the
// checkpoint at ckURL), the same network untrained, and the raw pixels.
func (r *run) variants(ckURL string) []variant {
	rep := r.rep
	return []variant{
		{"swav", "trunk", ckURL, "swav-" + strings.TrimSuffix(filepath.Base(ckURL), checkpoint.Extension), &[2]*float64{&rep.KNNTop1SwAV, &rep.KNNTop5SwAV}},
		{"random_init", "trunk", extract.CheckpointInit, "random-init", &[2]*float64{&rep.KNNTop1RandomInit, &rep.KNNTop5RandomInit}},
		{"raw_pixels", extract.FeatureRaw, "", "raw-pixels", &[2]*float64{&rep.KNNTop1RawPixels, &rep.KNNTop5RawPixels}},
	}
}

// extractJob is base as an extract job of the split's shards: the feature
// from the checkpoint into the output folder.
func (r *run) extractJob(split, feature, ckpt, output string) configs.Job {
	ex := r.base
	ex.Job = extract.JobKind
	ex.Data.Shards = []string{r.splits[split].url}
	e := extract.Edit(&ex)
	e.Feature, e.Checkpoint, e.Output = feature, ckpt, output
	return ex
}

// extract is step 4 for the i-th variant: its features of the train and
// test images, written as Parquet under <out>/features/<dir>/<split>. It
// blocks for both extractions (a rerun redoes only the shards not written
// yet) and returns the two folders by split.
func (r *run) extract(ctx context.Context, i int, v variant) (map[string]string, error) {
	r.say("step 4/6 (%d/3): extracting %s features of train and test", i+1, strings.ReplaceAll(v.name, "_", " "))
	dirs := map[string]string{}
	for _, split := range []string{"train", "test"} {
		ex := r.extractJob(split, v.feature, v.checkpoint, filepath.Join(r.job.Out, "features", v.dir, split))
		dirs[split] = extract.SettingsOf(&ex).Output
		m, err := extract.OpenModel(ctx, &ex)
		if err != nil {
			return nil, fmt.Errorf("quickstart: %s features: %w", v.name, err)
		}
		t1 := time.Now()
		res, err := extract.Run(ctx, &ex, m, r.opts)
		if err != nil {
			return nil, fmt.Errorf("quickstart: extract %s %s features: %w", split, v.name, err)
		}
		r.say("  %s: %d rows written in %.1f s to %s", split, res.Rows, time.Since(t1).Seconds(), extract.SettingsOf(&ex).Output)
	}
	return dirs, nil
}

// evaluate is step 5 for the i-th variant: the weighted kNN of its test
// features against its train features for every k of quickstart.knn, into
// the report. It loads both feature sets into memory.
func (r *run) evaluate(ctx context.Context, i int, v variant, dirs map[string]string) error {
	qs := SettingsOf(r.job)
	r.say("step 5/6 (%d/3): kNN of %s features (k=%v, T=%g)", i+1, strings.ReplaceAll(v.name, "_", " "), qs.KNN, qs.Temperature)
	trainSet, err := eval.Load(ctx, sinks.ReadOptions{}, dirs["train"])
	if err != nil {
		return fmt.Errorf("quickstart: %w", err)
	}
	testSet, err := eval.Load(ctx, sinks.ReadOptions{}, dirs["test"])
	if err != nil {
		return fmt.Errorf("quickstart: %w", err)
	}
	res, err := eval.KNN(ctx, trainSet, testSet, eval.KNNOptions{Ks: qs.KNN, Temperature: qs.Temperature})
	if err != nil {
		return fmt.Errorf("quickstart: kNN of %s features: %w", v.name, err)
	}
	r.rep.KNN[v.name] = res
	*v.top[0], *v.top[1] = res[0].Top1, res[0].Top5
	return nil
}

// showClusters is the first half of step 6: for each variant (the trained
// and the untrained network), the prototype scores of the test images
// (extracted under <out>/features/<dir>-scores/test), their cluster
// numbers against the labels and a PNG sheet of the clusters, into the
// report. It blocks for the extractions and reads the test images again
// for the sheets.
func (r *run) showClusters(ctx context.Context, variants []variant) error {
	job, rep := r.job, r.rep
	r.say("step 6/6: prototype clusters of the test images (SwAV and random init) and their nearest train images")
	rep.Clusters, rep.ClusterSheets = map[string]eval.ClusterStats{}, map[string]string{}
	testImages := r.base.DataConfig()
	testImages.Shards = []string{r.splits["test"].url}
	for _, v := range variants {
		ex := r.extractJob("test", string(train.FeatureScores), v.checkpoint, filepath.Join(job.Out, "features", v.dir+"-scores", "test"))
		m, err := extract.OpenModel(ctx, &ex)
		if err != nil {
			return fmt.Errorf("quickstart: %s prototype scores: %w", v.name, err)
		}
		if _, err := extract.Run(ctx, &ex, m, r.opts); err != nil {
			return fmt.Errorf("quickstart: extract %s prototype scores: %w", v.name, err)
		}
		f, err := sinks.ReadFeatures(ctx, sinks.ReadOptions{}, extract.SettingsOf(&ex).Output)
		if err != nil {
			return fmt.Errorf("quickstart: %w", err)
		}
		png := filepath.Join(job.Out, "clusters-"+strings.ReplaceAll(v.name, "_", "-")+".png")
		var nums strings.Builder
		st, err := sheet.Clusters(ctx, &nums, sheet.ClusterOptions{
			Scores: &eval.Dataset{Name: extract.Edit(&ex).Output, Data: f.Data, Labels: f.Labels, Dim: f.Dim},
			Keys:   f.Keys, Labels: f.Labels, Images: testImages, Out: png,
			Rows: 10, PerRow: 8, LargeShare: 0.1, Cell: 56,
		})
		if err != nil {
			return fmt.Errorf("quickstart: %s clusters: %w", v.name, err)
		}
		rep.Clusters[v.name], rep.ClusterSheets[v.name] = st, png
		r.say("  %s: %d of %d prototypes empty, largest %.1f%% of the images, purity %.4f, nmi %.4f; sheet %s",
			strings.ReplaceAll(v.name, "_", " "), st.Empty, st.Prototypes, 100*float64(st.Largest)/float64(max(st.Rows, 1)), st.Purity, st.NMI, png)
	}
	rep.NMISwAV, rep.NMIRandomInit = rep.Clusters["swav"].NMI, rep.Clusters["random_init"].NMI
	return nil
}

// showNeighbours is the second half of step 6: a few test images beside
// their nearest train images by v's features (cosine), as a PNG sheet, and
// the share of neighbours with the query's label, into the report. It
// reads v's train and test features (step 4) and the images again.
func (r *run) showNeighbours(ctx context.Context, v variant) error {
	job, rep := r.job, r.rep
	bothImages := r.base.DataConfig()
	bothImages.Shards = []string{r.splits["test"].url, r.splits["train"].url}
	bank, err := sinks.ReadFeatures(ctx, sinks.ReadOptions{}, filepath.Join(job.Out, "features", v.dir, "train"))
	if err != nil {
		return fmt.Errorf("quickstart: %w", err)
	}
	queries, err := sinks.ReadFeatures(ctx, sinks.ReadOptions{}, filepath.Join(job.Out, "features", v.dir, "test"))
	if err != nil {
		return fmt.Errorf("quickstart: %w", err)
	}
	rep.NeighbourSheet = filepath.Join(job.Out, "neighbours-swav.png")
	var nbOut strings.Builder
	nb, err := sheet.Neighbours(ctx, &nbOut, sheet.NeighbourOptions{Bank: bank, Queries: queries, Images: bothImages,
		Out: rep.NeighbourSheet, K: 8, N: 10, Cell: 56})
	if err != nil {
		return fmt.Errorf("quickstart: neighbours: %w", err)
	}
	rep.NeighbourSameLabel = nb.SameLabel
	r.say("  nearest neighbours: %d test images x %d train images, %.1f%% of them of the query's class; sheet %s",
		nb.Queries, nb.K, 100*nb.SameLabel, rep.NeighbourSheet)
	return nil
}

// report closes the run: the whole quickstart's wall time since start,
// <out>/report.json (written atomically), the comparison table on w and,
// on a rerun that trained nothing, a line saying which checkpoint the
// table evaluates.
func (r *run) report(start time.Time) (*Report, error) {
	r.rep.Seconds = time.Since(start).Seconds()
	if err := writeReport(filepath.Join(r.job.Out, "report.json"), r.rep); err != nil {
		return nil, err
	}
	printTable(r.w, r.rep, r.job.Out)
	if r.nothingLeft != nil {
		r.say("%v (the table evaluates that checkpoint)", r.nothingLeft)
	}
	return r.rep, nil
}

// RecipeHash is the first 16 hex digits of the SHA-256 of the recipe: the
// job's augment and train sections as YAML, less the settings that do not
// change the trained weights (train.checkpoint, train.cpu.threads,
// train.monitor, the time budget, train.tensorboard) and less the seed. Of
// the backends' sub-sections only the chosen backend's counts, so the hash
// does not depend on which other backends the binary links.
func RecipeHash(job *configs.Job) string {
	tr := job.Train
	own := settings.Set{}
	if v, ok := tr.Backends[tr.Backend]; ok {
		own[tr.Backend] = v
	}
	tr.Backends = own
	if tr.Backend == cpu.Name {
		cpu.Edit(&tr).Threads = 0
	}
	tr.Checkpoint, tr.Monitor, tr.MaxSeconds, tr.Tensorboard = train.CheckpointConfig{}, train.MonitorConfig{}, 0, ""
	b, _ := yaml.Marshal(struct {
		Augment any `yaml:"augment"`
		Train   any `yaml:"train"`
	}{job.Augment, tr})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// printTable prints the headline comparison.
func printTable(w io.Writer, rep *Report, out string) {
	fmt.Fprintf(w, "\nFashion-MNIST test set, weighted kNN (k=%d, T=%g, cosine) on %d train / %d test images:\n",
		rep.K, rep.Temperature, rep.TrainImages, rep.TestImages)
	fmt.Fprintf(w, "  %-34s %7s %7s\n", "features", "top-1", "top-5")
	rows := []struct {
		name       string
		top1, top5 float64
	}{
		{fmt.Sprintf("SwAV (%.2f epochs, %.0f s)", rep.Epochs, rep.TrainSeconds), rep.KNNTop1SwAV, rep.KNNTop5SwAV},
		{"same network, random init", rep.KNNTop1RandomInit, rep.KNNTop5RandomInit},
		{"raw pixels", rep.KNNTop1RawPixels, rep.KNNTop5RawPixels},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "  %-34s %6.2f%% %6.2f%%\n", r.name, 100*r.top1, 100*r.top5)
	}
	if sw, ri := rep.Clusters["swav"], rep.Clusters["random_init"]; sw.Rows > 0 {
		fmt.Fprintf(w, "prototype clusters of the %d test images (K=%d) against their labels:\n", sw.Rows, sw.Prototypes)
		fmt.Fprintf(w, "  %-34s %7s %7s %7s %8s\n", "network", "NMI", "purity", "empty", "largest")
		for _, r := range []struct {
			name string
			st   eval.ClusterStats
		}{{"SwAV", sw}, {"same network, random init", ri}} {
			fmt.Fprintf(w, "  %-34s %7.4f %7.4f %7d %7.1f%%\n", r.name, r.st.NMI, r.st.Purity, r.st.Empty, 100*float64(r.st.Largest)/float64(max(r.st.Rows, 1)))
		}
		fmt.Fprintf(w, "sheets: %s, %s, %s\n", rep.ClusterSheets["swav"], rep.ClusterSheets["random_init"], rep.NeighbourSheet)
	}
	fmt.Fprintf(w, "report: %s, loss plot: %s, features: %s\n",
		filepath.Join(out, "report.json"), filepath.Join(out, "loss.png"), filepath.Join(out, "features"))
	if rep.Tensorboard != "" {
		fmt.Fprintf(w, "tensorboard --logdir %s\n", rep.Tensorboard)
	}
}

func writeReport(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("quickstart: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("quickstart: write %s: %w", path, err)
	}
	return nil
}

// Shards is one split's shards in the cache.
type Shards struct {
	Dir     string // local folder holding the shards and the index
	Pattern string // brace-range file pattern inside Dir
	Images  int
	Count   int
	Cached  bool   // made by an earlier run
	url     string // what the data section reads (local path or s3://)
}

// Local is the shard list as a local brace-range path.
func (s *Shards) Local() string { return filepath.Join(s.Dir, s.Pattern) }

// MakeShards writes (once) the first limit images (0: all) of a
// Fashion-MNIST split as shards of shardSize under
// cache/fmnist/<split>-<n>/. The folder is built under a temp name and
// renamed into place, so an interrupted run leaves no half-made cache.
func MakeShards(ctx context.Context, cache, split string, limit, shardSize int) (*Shards, error) {
	imgs, _, err := ingest.ReadFashionMNIST(split)
	if err != nil {
		return nil, fmt.Errorf("quickstart: %w", err)
	}
	n := len(imgs)
	if limit > 0 && limit < n {
		n = limit
	}
	count := (n + shardSize - 1) / shardSize
	dir := filepath.Join(cache, bucket, fmt.Sprintf("%s-%d-by-%d", split, n, shardSize))
	sh := &Shards{Dir: dir, Images: n, Count: count,
		Pattern: fmt.Sprintf("fmnist-%s-{%06d..%06d}.tar", split, 0, count-1)}
	if _, err := os.Stat(filepath.Join(dir, ingest.IndexName)); err == nil {
		sh.Cached = true
		return sh, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("quickstart: cache folder: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".making-*")
	if err != nil {
		return nil, fmt.Errorf("quickstart: cache folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	b, err := store.OpenDir(ctx, tmp+"/", store.Config{})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	if n == 0 {
		err = errNoImages
	} else {
		_, err = ingest.MakeFashionMNISTFirst(ctx, split, b, shardSize, n)
	}
	if err != nil {
		return nil, fmt.Errorf("quickstart: make %s shards: %w", split, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, ingest.IndexName)); statErr == nil {
			return sh, nil // another run made it meanwhile
		}
		return nil, fmt.Errorf("quickstart: cache folder: %w", err)
	}
	return sh, nil
}

var errNoImages = errors.New("no images")
