package eval

import (
	"context"
	"math"
	"testing"
)

// scoresFor builds rows of k scores whose highest column is clusters[i].
func scoresFor(clusters []int, k int) *Dataset {
	d := &Dataset{Name: "scores", Dim: k, Data: make([]float32, len(clusters)*k)}
	for i, c := range clusters {
		d.Data[i*k+c] = 1 + float32(i)/100
	}
	return d
}

func TestClusterStats(t *testing.T) {
	for _, tc := range []struct {
		name     string
		clusters []int
		k        int
		labels   []int64
		empty    int
		large    int
		purity   float64
		nmi      float64
		labelled bool
	}{
		// scikit-learn: normalized_mutual_info_score([0,0,0,1,1,1], [0,0,1,1,2,2]) = 0.5158037429793889.
		{"sklearn example", []int{0, 0, 1, 1, 2, 2}, 4, []int64{0, 0, 0, 1, 1, 1}, 1, 3, 5.0 / 6, 0.5158037429793889, true},
		{"perfect", []int{2, 2, 0, 0}, 3, []int64{5, 5, 1, 1}, 1, 2, 1, 1, true},
		{"one cluster", []int{1, 1, 1, 1}, 2, []int64{0, 1, 0, 1}, 1, 1, 0.5, 0, true},
		{"no labels", []int{0, 1}, 2, nil, 0, 2, 0, 0, false},
		{"unlabelled row", []int{0, 1}, 2, []int64{0, -1}, 0, 2, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Assign(scoresFor(tc.clusters, tc.k))
			for i, c := range tc.clusters {
				if int(a.Cluster[i]) != c {
					t.Fatalf("row %d in cluster %d, want %d", i, a.Cluster[i], c)
				}
			}
			st, err := a.Stats(tc.labels, 0.25)
			if err != nil {
				t.Fatal(err)
			}
			if st.Empty != tc.empty || st.Large != tc.large || st.Labelled != tc.labelled ||
				math.Abs(st.Purity-tc.purity) > 1e-12 || math.Abs(st.NMI-tc.nmi) > 1e-12 {
				t.Fatalf("stats %+v, want empty %d large %d purity %v nmi %v labelled %v", st, tc.empty, tc.large, tc.purity, tc.nmi, tc.labelled)
			}
		})
	}
}

func TestNeighbours(t *testing.T) {
	bank := &Dataset{Name: "bank", Dim: 2, Data: []float32{1, 0, 0, 1, 1, 1, -1, 0}}
	q := &Dataset{Name: "q", Dim: 2, Data: []float32{2, 0.1, 0, -3}}
	got, err := Neighbours(context.Background(), bank, q, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got[0][0].Index != 0 || got[0][1].Index != 2 || got[1][0].Index != 0 && got[1][0].Index != 3 {
		t.Fatalf("%+v", got)
	}
	if _, err := Neighbours(context.Background(), bank, &Dataset{Name: "q3", Dim: 3, Data: make([]float32, 3)}, 2); err == nil {
		t.Fatal("dims that differ: no error")
	}
}
