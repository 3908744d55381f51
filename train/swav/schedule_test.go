package swav

import (
	"testing"

	"github.com/swavgo/swav/train"
)

var testOptim = train.OptimConfig{
	BaseLR: 4.8, FinalLR: 0.0048, WarmupEpochs: 2, StartWarmup: 0.3,
	WeightDecay: 1e-6, Momentum: 0.9, TrustCoefficient: 0.001,
}

func TestLRSchedule(t *testing.T) {
	cases := []struct {
		name        string
		cfg         train.OptimConfig
		ipe, epochs int
	}{
		{"warmup", testOptim, 7, 5},
		{"no warmup", train.OptimConfig{BaseLR: 0.6, FinalLR: 0.0006}, 5, 4},
		{"single warmup iteration", train.OptimConfig{BaseLR: 1, FinalLR: 0, StartWarmup: 0.1, WarmupEpochs: 1}, 1, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			table := LRSchedule(tc.cfg, tc.ipe, tc.epochs)
			if len(table) != tc.ipe*tc.epochs {
				t.Fatalf("%d values, want %d", len(table), tc.ipe*tc.epochs)
			}
			warm := tc.ipe * tc.cfg.WarmupEpochs
			for i, lr := range table {
				if got := LRAt(tc.cfg, tc.ipe, tc.epochs, i); got != lr {
					t.Fatalf("LRAt(%d) = %v, table %v", i, got, lr)
				}
				if i > warm && lr > table[i-1] {
					t.Fatalf("cosine rises at %d", i)
				}
				if lr <= tc.cfg.FinalLR {
					t.Fatalf("reaches final_lr at %d", i)
				}
			}
			if warm > 0 {
				if table[0] != tc.cfg.StartWarmup {
					t.Fatalf("first %v, want start_warmup", table[0])
				}
				if warm > 1 && table[warm-1] != tc.cfg.BaseLR {
					t.Fatalf("last warmup value %v, want base_lr", table[warm-1])
				}
			}
			if table[warm] != tc.cfg.BaseLR {
				t.Fatalf("first cosine value %v, want base_lr", table[warm])
			}
			if got := LRAt(tc.cfg, tc.ipe, tc.epochs, len(table)+10); got != table[len(table)-1] {
				t.Fatalf("past the end %v, want the last value", got)
			}
		})
	}
}

func TestPrototypesFrozen(t *testing.T) {
	cases := []struct {
		name         string
		iter, freeze int
		want         bool
	}{
		{"prototypes.weight", 0, 313, true},
		{"prototypes.weight", 312, 313, true},
		{"prototypes.weight", 313, 313, false},
		{"head.0.weight", 0, 313, false},
		{"prototypes.weight", 0, 0, false},
	}
	for _, tc := range cases {
		if got := PrototypesFrozen(tc.name, tc.iter, tc.freeze); got != tc.want {
			t.Errorf("PrototypesFrozen(%q, %d, %d) = %v", tc.name, tc.iter, tc.freeze, got)
		}
	}
}
