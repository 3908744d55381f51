package configs_test

import (
	"strings"
	"testing"

	"github.com/swavgo/swav/configs"
)

// FuzzLoadBytes feeds arbitrary YAML (and one --set override) to the config
// loader: no panic, and every error names the file.
func FuzzLoadBytes(f *testing.F) {
	for name, data := range configs.Examples() {
		f.Add(data, "seed=3")
		_ = name
	}
	f.Add([]byte("job: demo\ndemo:\n  workers: many\n"), "augment.crops.1.size=128")
	f.Fuzz(func(t *testing.T, data []byte, set string) {
		_, err := configs.LoadBytes("fuzz.yaml", data, []string{set})
		if err != nil && !strings.Contains(err.Error(), "fuzz.yaml") && !strings.Contains(err.Error(), "--set") && !strings.Contains(err.Error(), set) {
			t.Fatalf("error names neither the file nor the override: %v", err)
		}
	})
}
