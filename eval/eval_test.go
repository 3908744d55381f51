package eval

import (
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/internal/testutil"
	"github.com/swavgo/swav/sinks"
	"github.com/swavgo/swav/sinks/parquet"
)

// clusters makes n rows of dim floats around `classes` random centres.
func clusters(seed uint64, n, dim, classes int, noise float64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	centres := make([]float64, classes*dim)
	crng := rand.New(rand.NewPCG(99, 2)) // same centres for train and test
	for i := range centres {
		centres[i] = crng.NormFloat64()
	}
	d := &Dataset{Name: "clusters", Dim: dim, Data: make([]float32, n*dim), Labels: make([]int64, n)}
	for i := range n {
		c := rng.IntN(classes)
		d.Labels[i] = int64(c)
		for j := range dim {
			d.Data[i*dim+j] = float32(centres[c*dim+j] + noise*rng.NormFloat64())
		}
	}
	return d
}

// bruteKNN is the protocol written plainly: all similarities, full sort,
// weighted votes.
func bruteKNN(train, test *Dataset, k int, t float64) Accuracy {
	classes := 0
	for _, l := range append(append([]int64{}, train.Labels...), test.Labels...) {
		classes = max(classes, int(l)+1)
	}
	tr, te := normalizedRows(train), normalizedRows(test)
	dim := train.Dim
	var top1, top5 int
	for i := range test.Rows() {
		type nb struct {
			s float64
			j int
		}
		all := make([]nb, train.Rows())
		for j := range all {
			var s float32
			for d := range dim {
				s += te[i*dim+d] * tr[j*dim+d]
			}
			all[j] = nb{float64(s), j}
		}
		sort.SliceStable(all, func(a, b int) bool { return all[a].s > all[b].s })
		votes := make([]float64, classes)
		for _, x := range all[:min(k, len(all))] {
			votes[train.Labels[x.j]] += math.Exp(x.s / t)
		}
		r := rankOf(votes, int(test.Labels[i]))
		if r < 1 {
			top1++
		}
		if r < 5 {
			top5++
		}
	}
	n := float64(test.Rows())
	return Accuracy{float64(top1) / n, float64(top5) / n}
}

func TestKNNMatchesBruteForce(t *testing.T) {
	cases := []struct {
		name               string
		ntrain, ntest, dim int
		classes            int
		noise              float64
		ks                 []int
		temp               float64
	}{
		{"easy", 300, 80, 8, 4, 0.5, []int{1, 5, 20}, 0.07},
		{"hard, 12 classes", 700, 300, 16, 12, 2.5, []int{10, 20, 50}, 0.07},
		{"k above train size", 30, 20, 5, 3, 1, []int{100}, 0.5},
		// more train rows than one similarity block, more test rows than one test block
		{"several blocks", 4500, 260, 4, 7, 1.5, []int{20}, 0.1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			train := clusters(1, tc.ntrain, tc.dim, tc.classes, tc.noise)
			test := clusters(2, tc.ntest, tc.dim, tc.classes, tc.noise)
			got, err := KNN(context.Background(), train, test, KNNOptions{Ks: tc.ks, Temperature: tc.temp, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			for i, k := range tc.ks {
				want := bruteKNN(train, test, k, tc.temp)
				// float32 BLAS vs scalar dot products may swap neighbours whose
				// similarities tie to within rounding: allow one test row.
				tol := 1.0/float64(tc.ntest) + 1e-12
				if got[i].K != k || math.Abs(got[i].Top1-want.Top1) > tol || math.Abs(got[i].Top5-want.Top5) > tol {
					t.Errorf("k=%d: got %+v, brute force %+v", k, got[i], want)
				}
			}
		})
	}
}

// TestKNNHandWorked checks the vote weights on a case worked by hand: the two
// nearest neighbours of the query have labels 1 (sim 1) and 0 (sim 0.8), the
// third has label 0 (sim 0.6). With k=3 and T=0.07 class 1 gets e^(1/0.07) =
// 1.6e6 and class 0 e^(0.8/0.07)+e^(0.6/0.07) = 9.2e4: top-1 is 1. With T=10
// the votes are nearly uniform (1.105 vs 2.14): top-1 is 0.
func TestKNNHandWorked(t *testing.T) {
	train := &Dataset{Name: "train", Dim: 2, Labels: []int64{1, 0, 0},
		Data: []float32{1, 0, 0.8, 0.6, 0.6, 0.8}}
	test := &Dataset{Name: "test", Dim: 2, Labels: []int64{1}, Data: []float32{2, 0}}
	for _, tc := range []struct {
		t    float64
		top1 float64
	}{{0.07, 1}, {10, 0}} {
		got, err := KNN(context.Background(), train, test, KNNOptions{Ks: []int{3}, Temperature: tc.t})
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Top1 != tc.top1 || got[0].Top5 != 1 {
			t.Errorf("T=%v: %+v, want top1 %v top5 1", tc.t, got[0], tc.top1)
		}
	}
}

func TestLinearSeparatesClusters(t *testing.T) {
	train := clusters(1, 2000, 16, 10, 0.8)
	test := clusters(2, 500, 16, 10, 0.8)
	var epochs []int
	res, err := Linear(context.Background(), train, test, LinearOptions{Epochs: 10, Seed: 1,
		Progress: func(e, _ int, _ float64) { epochs = append(epochs, e) }})
	if err != nil {
		t.Fatal(err)
	}
	knn, err := KNN(context.Background(), train, test, KNNOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("linear %+v, knn %+v", res, knn[0])
	if res.Top1 < 0.9 || res.Top5 < res.Top1 || len(epochs) != 10 {
		t.Fatalf("linear %+v after epochs %v; want top-1 >= 0.9", res, epochs)
	}
}

func TestBadInput(t *testing.T) {
	good := clusters(1, 20, 4, 3, 1)
	other := clusters(2, 20, 5, 3, 1)
	other.Name = "test-d5"
	good.Name = "train-d4"
	empty := &Dataset{Name: "empty", Dim: 4}
	unlabelled := clusters(3, 5, 4, 3, 1)
	unlabelled.Labels[2] = -1
	unlabelled.Name = "nolabels"
	cases := []struct {
		name        string
		train, test *Dataset
		opts        KNNOptions
		want        []string
		is          error
	}{
		{"dims differ", good, other, KNNOptions{}, []string{"train-d4 has dim 4", "test-d5 has dim 5"}, nil},
		{"empty train", empty, good, KNNOptions{}, []string{"train set empty"}, ErrEmpty},
		{"empty test", good, empty, KNNOptions{}, []string{"test set empty"}, ErrEmpty},
		{"unlabelled", good, unlabelled, KNNOptions{}, []string{"nolabels", "row 2 has no label"}, nil},
		{"k zero", good, good, KNNOptions{Ks: []int{0}}, []string{"k must be at least 1"}, nil},
		{"negative temperature", good, good, KNNOptions{Temperature: -1}, []string{"temperature"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := KNN(context.Background(), tc.train, tc.test, tc.opts)
			testutil.ErrorMentions(t, err, tc.is, tc.want...)
			if tc.opts.Ks == nil && tc.opts.Temperature == 0 {
				_, err = Linear(context.Background(), tc.train, tc.test, LinearOptions{Epochs: 1})
				testutil.ErrorMentions(t, err, tc.is, tc.want...)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	train := clusters(1, 100, 4, 3, 1)
	if _, err := KNN(ctx, train, train, KNNOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("knn: %v", err)
	}
	if _, err := Linear(ctx, train, train, LinearOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("linear: %v", err)
	}
}

// readIDX reads the first n images (as floats in [0,1]) and labels of a
// Fashion-MNIST split from Debian's dataset-fashion-mnist.
func readIDX(t *testing.T, split string, n int) *Dataset {
	t.Helper()
	dir := "/usr/share/datasets/fashion-mnist"
	open := func(name string) io.Reader {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Skipf("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): %v", err)
		}
		t.Cleanup(func() { f.Close() })
		z, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	img := open(split + "-images-idx3-ubyte.gz")
	lab := open(split + "-labels-idx1-ubyte.gz")
	var ih [4]uint32
	var lh [2]uint32
	if err := binary.Read(img, binary.BigEndian, &ih); err != nil {
		t.Fatal(err)
	}
	if err := binary.Read(lab, binary.BigEndian, &lh); err != nil {
		t.Fatal(err)
	}
	dim := int(ih[2] * ih[3])
	px := make([]byte, n*dim)
	if _, err := io.ReadFull(img, px); err != nil {
		t.Fatal(err)
	}
	ls := make([]byte, n)
	if _, err := io.ReadFull(lab, ls); err != nil {
		t.Fatal(err)
	}
	d := &Dataset{Name: split, Dim: dim, Data: make([]float32, n*dim), Labels: make([]int64, n)}
	for i, p := range px {
		d.Data[i] = float32(p) / 255
	}
	for i, l := range ls {
		d.Labels[i] = int64(l)
	}
	return d
}

// TestRawPixelsFashionMNIST runs both evaluations on real data: raw pixels
// of 6000 train and 1000 test images. Published raw-pixel kNN on the full set
// is about 85%; with a tenth of the train set it is a few points lower.
func TestRawPixelsFashionMNIST(t *testing.T) {
	train := readIDX(t, "train", 6000)
	test := readIDX(t, "t10k", 1000)
	knn, err := KNN(context.Background(), train, test, KNNOptions{Ks: []int{10, 20}})
	if err != nil {
		t.Fatal(err)
	}
	lin, err := Linear(context.Background(), train, test, LinearOptions{Epochs: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("raw pixels, 6k/1k: knn %+v, linear %+v", knn, lin)
	if knn[1].Top1 < 0.75 || knn[1].Top5 < 0.95 {
		t.Errorf("kNN k=20 %+v: want top-1 >= 0.75", knn[1])
	}
	if lin.Top1 < 0.75 {
		t.Errorf("linear %+v: want top-1 >= 0.75", lin)
	}
}

// TestLoadNamesFiles: dims that differ between a train and a test folder are
// reported with the feature files' names.
func TestLoadNamesFiles(t *testing.T) {
	ctx := context.Background()
	dirs := map[int]string{}
	for _, dim := range []int{3, 4} {
		dir := t.TempDir()
		out, err := parquet.OpenOutput(ctx, dir, store.Config{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := parquet.Create(ctx, out, fmt.Sprintf("split-d%d.parquet", dim), parquet.Metadata{Layout: parquet.Layout{Kind: "trunk", Dim: dim}}, parquet.WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Append([]string{"a"}, []int64{0}, make([]float32, dim)); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		dirs[dim] = dir
	}
	train, err := Load(ctx, sinks.ReadOptions{}, dirs[3])
	if err != nil {
		t.Fatal(err)
	}
	test, err := Load(ctx, sinks.ReadOptions{}, dirs[4])
	if err != nil {
		t.Fatal(err)
	}
	_, err = KNN(ctx, train, test, KNNOptions{})
	if err == nil || !strings.Contains(err.Error(), "split-d3.parquet has dim 3") || !strings.Contains(err.Error(), "split-d4.parquet has dim 4") {
		t.Fatalf("error %v", err)
	}
}
