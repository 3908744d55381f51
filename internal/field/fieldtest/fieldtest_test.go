package fieldtest_test

import (
	"fmt"
	"testing"

	"github.com/swavgo/swav/internal/field"
	"github.com/swavgo/swav/internal/field/fieldtest"
)

func TestWant(t *testing.T) {
	fieldtest.Want(t, nil, "")
	err := fmt.Errorf("loading: %w", field.Errorf("train.batch_size", "must be at least 1, got %d", 0))
	if fe := fieldtest.Want(t, err, "train.batch_size", "at least 1", "got 0"); fe == nil {
		t.Fatal("Want returned no field error")
	}
}
