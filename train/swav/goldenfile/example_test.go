package goldenfile_test

import (
	"fmt"

	"github.com/swavgo/swav/train/swav/goldenfile"
)

// Run checks every case of a golden file through train/swav; here the
// shared golden.json at float64.
func ExampleRun() {
	path, err := goldenfile.DefaultPath()
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := goldenfile.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	within := 0
	reports := goldenfile.Run[float64](f)
	for _, r := range reports {
		if r.Within(1e-10) {
			within++
		}
	}
	fmt.Printf("%d of %d cases within 1e-10\n", within, len(reports))
	fmt.Println(reports[0].Section, reports[0].Name, reports[0].Items[len(reports[0].Items)-1].What)
	// Output:
	// 13 of 13 cases within 1e-10
	// swav_cases base_2x_4x_eps0.05_it3 grad_projection_output_raw
}
