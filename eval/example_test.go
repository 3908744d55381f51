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
