package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// helperEnv makes the test binary print Name() and exit, so that a test can
// open OpenBLAS in a fresh process with its own environment.
const helperEnv = "SWAV_BLAS_TEST_PRINT_NAME"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		fmt.Print(Name())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// padding is what the strided test matrices hold outside their blocks; Sgemm
// must leave it alone.
const padding = -7777

// strided returns rows x cols random values in a buffer of row stride
// cols+pad, the pad columns set to padding.
func strided(rng *rand.Rand, rows, cols, pad int) ([]float32, int) {
	ld := cols + pad
	x := make([]float32, rows*ld)
	for i := range x {
		if i%ld < cols {
			x[i] = rng.Float32()*2 - 1
		} else {
			x[i] = padding
		}
	}
	return x, ld
}

func TestSgemm(t *testing.T) {
	SetThreads(1)
	tests := []struct {
		name           string
		transA, transB bool
		m, n, k, pad   int
		alpha, beta    float32
	}{
		{"NN", false, false, 7, 5, 9, 0, 1, 0},
		{"NT", false, true, 33, 17, 64, 3, 1, 0},
		{"TN", true, false, 16, 40, 31, 2, 0.5, 1},
		{"TT", true, true, 9, 12, 20, 1, -1.5, -0.25},
		{"one by one", false, true, 1, 1, 1, 0, 2, 3},
		{"long k", false, false, 3, 4, 1000, 5, 1, 0.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.m*1000+tc.n)))
			ar, ac := tc.m, tc.k
			if tc.transA {
				ar, ac = ac, ar
			}
			br, bc := tc.k, tc.n
			if tc.transB {
				br, bc = bc, br
			}
			a, lda := strided(rng, ar, ac, tc.pad)
			b, ldb := strided(rng, br, bc, tc.pad)
			c, ldc := strided(rng, tc.m, tc.n, tc.pad)
			at := func(x []float32, ld int, trans bool, i, j int) float64 {
				if trans {
					i, j = j, i
				}
				return float64(x[i*ld+j])
			}
			want := make([]float64, tc.m*tc.n)
			for i := 0; i < tc.m; i++ {
				for j := 0; j < tc.n; j++ {
					var sum float64
					for p := 0; p < tc.k; p++ {
						sum += at(a, lda, tc.transA, i, p) * at(b, ldb, tc.transB, p, j)
					}
					want[i*tc.n+j] = float64(tc.alpha)*sum + float64(tc.beta)*float64(c[i*ldc+j])
				}
			}
			Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
			tol := 1e-5 * float64(tc.k)
			for i := 0; i < tc.m; i++ {
				for j := 0; j < ldc; j++ {
					got := float64(c[i*ldc+j])
					if j >= tc.n {
						if got != padding {
							t.Fatalf("padding C[%d][%d] = %v, want it untouched", i, j, got)
						}
						continue
					}
					if w := want[i*tc.n+j]; math.Abs(got-w) > tol {
						t.Fatalf("C[%d][%d] = %v, want %v (tolerance %v, %s)", i, j, got, w, tol, Name())
					}
				}
			}
		})
	}
}

func TestSgemmEmpty(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name    string
		m, n, k int
		beta    float32
		want    []float32 // C (2 x 2 block of a 2 x 3 buffer) afterwards
	}{
		{"m zero leaves C", 0, 2, 3, 0, []float32{nan, 2, padding, 3, 4, padding}},
		{"n zero leaves C", 2, 0, 3, 0, []float32{nan, 2, padding, 3, 4, padding}},
		{"k zero, beta 0 writes zeros", 2, 2, 0, 0, []float32{0, 0, padding, 0, 0, padding}},
		{"k zero scales by beta", 2, 2, 0, 2, []float32{nan, 4, padding, 6, 8, padding}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := []float32{nan, 2, padding, 3, 4, padding}
			Sgemm(false, false, tc.m, tc.n, tc.k, 1, nil, 1, nil, 1, tc.beta, c, 3)
			for i := range c {
				same := c[i] == tc.want[i] || (c[i] != c[i] && tc.want[i] != tc.want[i])
				if !same {
					t.Fatalf("C = %v, want %v", c, tc.want)
				}
			}
		})
	}
}

func TestName(t *testing.T) {
	got := Name()
	if !strings.HasPrefix(got, "openblas (") && !strings.HasPrefix(got, "gonum (pure Go)") {
		t.Fatalf("Name() = %q, want openblas (...) or gonum (pure Go)...", got)
	}
}

// TestKernelChoice opens OpenBLAS in fresh processes and checks that the
// kernel set follows SWAV_OPENBLAS_CORETYPE, then OPENBLAS_CORETYPE.
func TestKernelChoice(t *testing.T) {
	if !strings.HasPrefix(Name(), "openblas (") {
		t.Skipf("no OpenBLAS in this build: %s", Name())
	}
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"SWAV_OPENBLAS_CORETYPE", []string{"SWAV_OPENBLAS_CORETYPE=Haswell"}, "openblas (Haswell)"},
		{"SWAV_OPENBLAS_CORETYPE wins", []string{"SWAV_OPENBLAS_CORETYPE=Sandybridge", "OPENBLAS_CORETYPE=Haswell"}, "openblas (Sandybridge)"},
		{"OPENBLAS_CORETYPE kept", []string{"OPENBLAS_CORETYPE=Haswell"}, "openblas (Haswell)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(cleanEnv(), helperEnv+"=1")
			cmd.Env = append(cmd.Env, tc.env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got := strings.ToLower(string(out)); got != strings.ToLower(tc.want) {
				t.Fatalf("Name() = %q, want %q", out, tc.want)
			}
		})
	}
}

// cleanEnv is the environment without the variables that choose kernels.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWAV_OPENBLAS_CORETYPE=") && !strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") {
			env = append(env, kv)
		}
	}
	return env
}

// Sgemm with transB computes the dot products of every row of A with every
// row of B, as the kNN of eval does.
func ExampleSgemm() {
	a := []float32{1, 2, 3, 4} // 2 x 2
	b := []float32{5, 6, 7, 8} // 2 x 2, used transposed
	c := make([]float32, 4)
	Sgemm(false, true, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2)
	fmt.Println(c)
	// Output: [17 23 39 53]
}
