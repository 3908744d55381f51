package eval_test

import (
	"context"
	"fmt"

	"github.com/swavgo/swav/eval"
)

// Two classes of 2-d features: the weighted kNN and the linear classifier
// both find them.
func Example() {
	train := &eval.Dataset{Name: "train", Dim: 2,
		Data:   []float32{1, 0.1, 0.9, -0.1, 1, 0, 0.1, 1, -0.1, 0.9, 0, 1},
		Labels: []int64{0, 0, 0, 1, 1, 1}}
	test := &eval.Dataset{Name: "test", Dim: 2,
		Data:   []float32{0.8, 0.2, 0.2, 0.8},
		Labels: []int64{0, 1}}
	knn, err := eval.KNN(context.Background(), train, test, eval.KNNOptions{Ks: []int{1, 3}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range knn {
		fmt.Printf("k=%d top-1 %.2f\n", r.K, r.Top1)
	}
	lin, err := eval.Linear(context.Background(), train, test, eval.LinearOptions{Epochs: 20, BatchSize: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("linear top-1 %.2f\n", lin.Top1)
	// Output:
	// k=1 top-1 1.00
	// k=3 top-1 1.00
	// linear top-1 1.00
}

// Prototype scores (one row per image, one column per prototype) give each
// image's cluster and, with labels, how well the clusters match them.
func ExampleAssign() {
	scores := &eval.Dataset{Name: "scores", Dim: 3, Data: []float32{
		0.9, 0.1, 0.0, // image 0: prototype 0
		0.8, 0.0, 0.1, // image 1: prototype 0
		0.0, 0.2, 0.7, // image 2: prototype 2
		0.1, 0.0, 0.6, // image 3: prototype 2
	}}
	a := eval.Assign(scores)
	st, _ := a.Stats([]int64{4, 4, 7, 7}, 0.1)
	fmt.Println(a.Cluster, a.Sizes)
	fmt.Printf("empty %d, purity %.2f, nmi %.2f\n", st.Empty, st.Purity, st.NMI)
	// Output:
	// [0 0 2 2] [2 0 2]
	// empty 1, purity 1.00, nmi 1.00
}
