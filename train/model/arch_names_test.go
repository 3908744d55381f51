package model_test

import (
	"testing"

	"github.com/swavgo/swav/train/model"
)

// TestArchProperties reads the properties of the one architecture list:
// which names torchvision has, and which are ResNet-50s of which width.
func TestArchProperties(t *testing.T) {
	for _, tc := range []struct {
		arch        string
		torchvision bool
		widen       int
	}{
		{"small", false, 0}, {"resnet8", false, 0}, {"resnet18", true, 0}, {"resnet34", true, 0},
		{"resnet50", true, 1}, {"resnet50w2", false, 2}, {"resnet50w5", false, 5}, {"vit_b", false, 0},
	} {
		if got := model.Torchvision(tc.arch); got != tc.torchvision {
			t.Errorf("Torchvision(%s) = %v", tc.arch, got)
		}
		if got := model.WideResNet50(tc.arch); got != tc.widen {
			t.Errorf("WideResNet50(%s) = %d", tc.arch, got)
		}
	}
	if got, want := model.TorchvisionList(), "resnet18, resnet34 or resnet50"; got != want {
		t.Errorf("TorchvisionList = %q, want %q", got, want)
	}
}
