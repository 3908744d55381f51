package swav_test

import (
	"testing"

	"github.com/swavgo/swav/train/swav"
)

func TestQueueRows(t *testing.T) {
	for _, tc := range []struct{ length, batch, want int }{
		{3840, 256, 3840}, {3840, 64, 3840}, {1000, 64, 960}, {63, 64, 0}, {0, 64, 0}, {100, 0, 0},
	} {
		if got := swav.QueueRows(tc.length, tc.batch); got != tc.want {
			t.Errorf("QueueRows(%d, %d) = %d, want %d", tc.length, tc.batch, got, tc.want)
		}
	}
}
