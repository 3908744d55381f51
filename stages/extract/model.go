package extract

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/swavgo/swav/configs"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
	"github.com/swavgo/swav/train/model"
	"github.com/swavgo/swav/train/weights"
)

// FeatureRaw is the raw-pixel feature: the evaluation crop averaged over its
// channels (Crop x Crop values), computed without a network.
const FeatureRaw = "raw"

// ErrNoCheckpoint is returned (wrapped) when a network feature is asked for
// without extract.checkpoint.
var ErrNoCheckpoint = errors.New("extract.checkpoint is required")

// Model is what an extraction embeds with: a backend holding the weights
// (nil for raw pixels) and the description that goes into the files'
// metadata. The extraction chain owns the Model from Build on and closes it
// when the run ends.
type Model struct {
	// Backend runs the network in evaluation mode; nil for FeatureRaw.
	Backend train.Backend
	// Feature is "trunk", "projection", "scores" or "raw".
	Feature string
	// Layout is the feature column's description (Dim is D).
	Layout sinks.Layout
	// Checkpoint is the source of the weights: the checkpoint URL,
	// "init (seed N)" for the untrained network, "none" for raw pixels.
	Checkpoint string
	// CheckpointConfigHash is the training config hash the checkpoint records.
	CheckpointConfigHash string
}

// Close frees the backend.
func (m *Model) Close() error {
	if m.Backend == nil {
		return nil
	}
	err := m.Backend.Close()
	m.Backend = nil
	return err
}

// OpenModel prepares the model job.Extract asks for: the checkpoint's network
// (architecture taken from the checkpoint, weights loaded), the untrained
// network of job.Train.Model (checkpoint "init"), or raw pixels (feature
// "raw"). Errors name the checkpoint: unreadable or corrupt
// (checkpoint.ErrCorrupt), of another architecture than extract.arch
// (checkpoint.ErrArchitecture), or whose tensors do not fit its declared
// model. The caller owns the Model and closes it.
func OpenModel(ctx context.Context, job *configs.Job) (*Model, error) {
	ex := SettingsOf(job)
	if ex.Feature == FeatureRaw {
		crop := job.Augment.Eval.Crop
		return &Model{Feature: FeatureRaw, Checkpoint: "none",
			Layout: sinks.Layout{Kind: FeatureRaw, Dim: crop * crop}}, nil
	}
	cfg := job.Train
	var (
		state *train.State
		m     = &Model{Feature: ex.Feature}
	)
	switch ex.Checkpoint {
	case "":
		return nil, fmt.Errorf("%w for feature %q (a checkpoint URL, or %q for the untrained network)", ErrNoCheckpoint, ex.Feature, CheckpointInit)
	case CheckpointInit:
		m.Checkpoint = fmt.Sprintf("init (seed %d)", job.Seed)
	default:
		store := checkpoint.Store{Config: job.Store}
		if weights.NamesFile(ex.Checkpoint) {
			var err error
			if state, err = openWeights(ctx, job, &cfg, m); err != nil {
				return nil, err
			}
			break
		}
		url, err := resolveCheckpoint(ctx, store, ex.Checkpoint)
		if err != nil {
			return nil, err
		}
		ck, err := store.Load(ctx, url)
		if err != nil {
			return nil, fmt.Errorf("extract: %w", err)
		}
		ex.Checkpoint = url
		if ex.Arch != "" && ck.Model.Arch != ex.Arch {
			return nil, fmt.Errorf("extract: %s: %w: it holds a %s network, extract.arch asks for %s",
				ex.Checkpoint, checkpoint.ErrArchitecture, ck.Model.Arch, ex.Arch)
		}
		cfg.Model = ck.Model
		state = ck.State
		m.Checkpoint = ex.Checkpoint
		m.CheckpointConfigHash = ck.ConfigHash
	}
	arch, err := model.Build(cfg.Model)
	if err != nil {
		return nil, fmt.Errorf("extract: model of %s: %w", m.Checkpoint, err)
	}
	m.Layout = sinks.Layout{Kind: ex.Feature, Arch: cfg.Model.Arch}
	switch train.Feature(ex.Feature) {
	case train.FeatureTrunk:
		m.Layout.Dim = arch.TrunkDim
	case train.FeatureProjection:
		m.Layout.Dim = arch.FeatDim
	case train.FeatureScores:
		m.Layout.Dim = arch.K
	default:
		return nil, fmt.Errorf("extract: unknown feature %q", ex.Feature)
	}
	be, err := train.NewBackend(cfg, job.Seed)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	if state != nil {
		if err := be.Load(state); err != nil {
			be.Close()
			return nil, fmt.Errorf("extract: checkpoint %s does not fit the %s network it declares (%w): %w",
				m.Checkpoint, cfg.Model.Arch, checkpoint.ErrArchitecture, err)
		}
	}
	slog.Info("extraction backend", "backend", cfg.Backend, "engine", be.Engine(), "feature", ex.Feature)
	m.Backend = be
	return m, nil
}

// openWeights reads a PyTorch or safetensors file (package train/weights):
// the architecture is inferred from it and checked against extract.arch;
// cfg.Model becomes that architecture (head and prototype sizes from
// train.model where the file has none). The projection and scores features
// need the file's head (and prototypes). What the load ignored is logged.
func openWeights(ctx context.Context, job *configs.Job, cfg *train.Config, m *Model) (*train.State, error) {
	ex := SettingsOf(job)
	f, im, err := weights.Open(ctx, ex.Checkpoint, job.Store)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	if ex.Arch != "" && im.Model.Arch != ex.Arch {
		return nil, fmt.Errorf("extract: %s: %w: it holds a %s network, extract.arch asks for %s",
			ex.Checkpoint, checkpoint.ErrArchitecture, im.Model.Arch, ex.Arch)
	}
	switch {
	case train.Feature(ex.Feature) == train.FeatureProjection && !im.HasHead:
		return nil, fmt.Errorf("extract: %s: %w: feature projection needs a projection head, the file (%s layout) has only the trunk; use feature trunk",
			ex.Checkpoint, checkpoint.ErrArchitecture, im.Layout)
	case train.Feature(ex.Feature) == train.FeatureScores && (!im.HasHead || !im.HasPrototypes):
		return nil, fmt.Errorf("extract: %s: %w: feature scores needs the projection head and the prototypes, the file (%s layout) lacks them; use feature trunk",
			ex.Checkpoint, checkpoint.ErrArchitecture, im.Layout)
	}
	cfg.Model = im.ModelFor(job.Train.Model)
	state, rep, err := im.State(cfg.Model, job.Seed)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	weights.LogLoaded(slog.Default(), "weights loaded", f, im, rep, "arch", describeModel(cfg.Model))
	m.Checkpoint = ex.Checkpoint
	m.CheckpointConfigHash = "sha256:" + f.SHA256
	return state, nil
}

func describeModel(m train.ModelConfig) string {
	s := m.Arch
	if m.SmallStem {
		s += "/small-stem"
	}
	return s
}

// resolveCheckpoint turns a checkpoint folder into its latest checkpoint
// file; a file URL (ending in checkpoint.Extension) is returned as is.
func resolveCheckpoint(ctx context.Context, store checkpoint.Store, url string) (string, error) {
	if strings.HasSuffix(url, checkpoint.Extension) {
		return url, nil
	}
	latest, found, err := store.Latest(ctx, url)
	if err != nil {
		return "", fmt.Errorf("extract: find the latest checkpoint in %s: %w", url, err)
	}
	if !found {
		return "", fmt.Errorf("extract: %s holds no checkpoint (*%s)", url, checkpoint.Extension)
	}
	return latest, nil
}

// configHash identifies what determines the features: the weights, the
// feature kind and the evaluation transform. Files from another hash are
// never mixed into an output.
func configHash(job *configs.Job, m *Model) string {
	b, _ := json.Marshal(struct {
		Checkpoint, CheckpointConfig, Feature string
		Layout                                sinks.Layout
		Resize, Crop                          int
		Mean, Std                             []float64
	}{m.Checkpoint, m.CheckpointConfigHash, m.Feature, m.Layout,
		job.Augment.Eval.Resize, job.Augment.Eval.Crop, job.Augment.Mean, job.Augment.Std})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}
