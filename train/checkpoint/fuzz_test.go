package checkpoint_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/checkpoint"
	"github.com/swavgo/swav/train/model"
)

// FuzzDecode feeds arbitrary bytes to the checkpoint decoder: no panic, and
// every error is ErrCorrupt or ErrVersion.
func FuzzDecode(f *testing.F) {
	m := train.ModelConfig{Arch: "small", HiddenMLP: 8, FeatDim: 4, Prototypes: 3}
	st, err := model.Init(m, 1)
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := checkpoint.Encode(&buf, &checkpoint.Checkpoint{Iter: 3, Model: m, Config: []byte("job: train\n"), State: st}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		// An input that takes seconds is a finding too: the panic makes the
		// fuzzer keep it.
		watchdog := time.AfterFunc(20*time.Second, func() { panic("checkpoint FuzzDecode: one input took over 20 s") })
		defer watchdog.Stop()
		ck, err := checkpoint.Decode(bytes.NewReader(data), "fuzz.swck")
		if err != nil {
			if !errors.Is(err, checkpoint.ErrCorrupt) && !errors.Is(err, checkpoint.ErrVersion) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if ck.State != nil {
			for _, ts := range [][]train.Tensor{ck.State.Params, ck.State.Buffers} {
				for _, tn := range ts {
					if len(tn.Data) != tn.Numel() {
						t.Fatalf("%s: shape %v with %d values", tn.Name, tn.Shape, len(tn.Data))
					}
				}
			}
		}
	})
}
