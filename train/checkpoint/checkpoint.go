// Package checkpoint saves and loads training checkpoints: the full
// train.State (weights, BatchNorm statistics, LARS momentum, queue), the
// iteration, the data cursor, the RNG states and the job YAML a run used.
//
// # File format (version 1)
//
// A checkpoint is one file, little-endian throughout:
//
//	magic       8 bytes  "SWAVCKPT"
//	version     uint32   FormatVersion
//	headerLen   uint32   length of the JSON header
//	header      JSON     the Checkpoint's scalar fields and the tensor index
//	headerCRC   uint32   CRC-32C of the header bytes
//	data        float32  every tensor of the index, in index order, raw
//	dataCRC     uint32   CRC-32C of the data bytes
//
// The header is checked before any tensor memory is allocated, so a corrupt
// or truncated file never makes Load allocate what the header claims. Files
// are named ckpt-<iteration, 10 digits>.swck and written atomically and
// once: to a temporary file in the same folder, synced, then renamed with
// RENAME_NOREPLACE (locally), or with one PutObject with If-None-Match: *
// (s3://); an iteration already there is ErrTaken.
package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/swavgo/swav/ingest"
	"github.com/swavgo/swav/train"
)

// FormatVersion is the version this package writes and the only one it reads.
const FormatVersion = 1

// Magic opens every checkpoint file.
const Magic = "SWAVCKPT"

// Extension is the file extension of checkpoint files.
const Extension = ".swck"

// Checkpoint is one saved point of a training run. Save writes it, Load
// returns it; State holds the tensors (nil State is saved as no tensors).
type Checkpoint struct {
	// Version is the format version (set by Save, checked by Load).
	Version int `json:"version"`
	// Iter is the global iteration the state is at: the number of steps
	// taken, i.e. the next step to run has StepInput.Iter == Iter.
	Iter int `json:"iter"`
	// Epoch is the epoch of the last step taken; Iter - Epoch*ItersPerEpoch
	// of its steps are done (ItersPerEpoch at an epoch end, and the next
	// step then belongs to epoch Epoch+1).
	Epoch int `json:"epoch"`
	// ItersPerEpoch is the schedule's iterations per epoch for this run.
	ItersPerEpoch int `json:"iters_per_epoch"`
	// ScheduleIters is the learning-rate schedule's total iterations when
	// train.fit_to_budget fixed it (0: epochs*ItersPerEpoch).
	ScheduleIters int `json:"schedule_iters,omitempty"`
	// ScheduleAnchorIter and ScheduleAnchorProgress are where the last fit
	// left the cosine: its progress (0..1) at that iteration.
	ScheduleAnchorIter     int     `json:"schedule_anchor_iter,omitempty"`
	ScheduleAnchorProgress float64 `json:"schedule_anchor_progress,omitempty"`
	// Cursor is the ingest position of the last sample of the last consumed
	// batch; a source opened at Cursor yields the batches that follow.
	Cursor ingest.Position `json:"cursor"`
	// Seed is the job's root seed.
	Seed int64 `json:"seed"`
	// Backend names the backend that wrote it ("cpu", "xla"); any backend
	// may load it.
	Backend string `json:"backend"`
	// Model is the architecture the tensors belong to.
	Model train.ModelConfig `json:"model"`
	// Config is the job YAML the run used.
	Config []byte `json:"config"`
	// ConfigHash is the hex SHA-256 of Config (HashConfig).
	ConfigHash string `json:"config_hash"`
	// RNG holds named random-generator states (stream name -> state).
	RNG map[string]uint64 `json:"rng,omitempty"`
	// Losses is the loss of every step taken so far, in order, so a
	// resumed run continues the curve.
	Losses []float64 `json:"losses,omitempty"`
	// Created is when the checkpoint was written (UTC).
	Created time.Time `json:"created"`
	// Extra is a job kind's own resumable state beyond the backend's (the
	// evaluation jobs' per-epoch accuracies), as JSON; nil for training.
	Extra json.RawMessage `json:"extra,omitempty"`
	// State is the backend state; not part of the JSON header.
	State *train.State `json:"-"`
}

// HashConfig is the hex SHA-256 of a job YAML, stored as ConfigHash.
func HashConfig(yaml []byte) string {
	h := sha256.Sum256(yaml)
	return hex.EncodeToString(h[:])
}

// ErrCorrupt is wrapped by every error about a file that is not a valid
// checkpoint (bad magic, checksum, truncation, inconsistent index).
var ErrCorrupt = errors.New("corrupt checkpoint")

// ErrVersion is wrapped when the file's format version is not FormatVersion.
var ErrVersion = errors.New("unsupported checkpoint version")

// ErrArchitecture is wrapped by CheckModel when a checkpoint was written for
// another model.
var ErrArchitecture = errors.New("checkpoint is for another model")

// ErrNonFinite is wrapped by Save when a tensor holds NaN or Inf: a bad
// state never replaces a good checkpoint.
var ErrNonFinite = errors.New("non-finite value in state")

// CheckModel reports whether the checkpoint was written for model m; the
// error names every differing field. Use it before Backend.Load for a clear
// message (Backend.Load also fails on the first name/shape mismatch).
func (ck *Checkpoint) CheckModel(m train.ModelConfig) error {
	var diffs []string
	a, b := reflect.ValueOf(ck.Model), reflect.ValueOf(m)
	for i := 0; i < a.NumField(); i++ {
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			name := a.Type().Field(i).Tag.Get("yaml")
			diffs = append(diffs, fmt.Sprintf("model.%s: checkpoint %v, config %v", name, a.Field(i).Interface(), b.Field(i).Interface()))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: %v", ErrArchitecture, diffs)
	}
	return nil
}

// checkFinite names the first NaN or Inf in the state.
func checkFinite(st *train.State) error {
	var err error
	eachTensor(st, func(kind string, t *train.Tensor) bool {
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				err = fmt.Errorf("%w: %s %s[%d] = %v", ErrNonFinite, kind, t.Name, i, v)
				return false
			}
		}
		return true
	})
	return err
}

// Tensor kinds in the index.
const (
	kindParam    = "param"
	kindBuffer   = "buffer"
	kindMomentum = "momentum"
	kindQueue    = "queue"
)

// eachTensor visits every tensor of st in file order until fn returns false.
func eachTensor(st *train.State, fn func(kind string, t *train.Tensor) bool) {
	if st == nil {
		return
	}
	groups := []struct {
		kind string
		ts   []train.Tensor
	}{{kindParam, st.Params}, {kindBuffer, st.Buffers}, {kindMomentum, st.Momentum}}
	for _, g := range groups {
		for i := range g.ts {
			if !fn(g.kind, &g.ts[i]) {
				return
			}
		}
	}
	if st.Queue != nil {
		fn(kindQueue, st.Queue)
	}
}
