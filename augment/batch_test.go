package augment

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestBatchBuilderLayoutAndLeaks(t *testing.T) {
	groups := []CropGroupConfig{{Size: 8, Count: 2, MinScale: 0.14, MaxScale: 1}, {Size: 4, Count: 3, MinScale: 0.05, MaxScale: 0.14}}
	for _, dtype := range []string{DTypeFloat32, DTypeUint8} {
		t.Run(dtype, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			b := NewBatchBuilder(mem, groups, dtype, 3)
			for batchNo := range 2 {
				for r := range 3 {
					row, err := b.Append(fmt.Sprintf("k%d-%d", batchNo, r), int64(r))
					if err != nil {
						t.Fatal(err)
					}
					for c := range b.NumCrops() {
						if dtype == DTypeFloat32 {
							v := b.Float32Crop(row, c)
							for i := range v {
								v[i] = float32(100*row + c)
							}
						} else {
							v := b.Uint8Crop(row, c)
							for i := range v {
								v[i] = uint8(10*row + c)
							}
						}
					}
				}
				if _, err := b.Append("overflow", 0); err == nil {
					t.Fatal("append to a full batch succeeded")
				}
				batch := b.Build(batchNo, batchNo*10, nil)
				if batch.Rows() != 3 || batch.NumCrops() != 5 || batch.DType() != dtype || batch.Epoch != batchNo {
					t.Fatalf("rows %d crops %d dtype %s epoch %d", batch.Rows(), batch.NumCrops(), batch.DType(), batch.Epoch)
				}
				if k := batch.Keys(); k[2] != fmt.Sprintf("k%d-2", batchNo) {
					t.Fatalf("keys %v", k)
				}
				if l := batch.Labels(); l[1] != 1 {
					t.Fatalf("labels %v", l)
				}
				for c := range 5 {
					shape, err := batch.CropShape(c)
					if err != nil {
						t.Fatal(err)
					}
					s := 8
					if c >= 2 {
						s = 4
					}
					if shape != [3]int{3, s, s} {
						t.Fatalf("crop %d shape %v", c, shape)
					}
					n := 3 * s * s
					if dtype == DTypeFloat32 {
						v, err := batch.CropFloat32(c)
						if err != nil {
							t.Fatal(err)
						}
						if len(v) != 3*n || v[n] != float32(100+c) || v[2*n+n-1] != float32(200+c) {
							t.Fatalf("crop %d values wrong (len %d)", c, len(v))
						}
						if _, err := batch.CropUint8(c); err == nil {
							t.Fatal("CropUint8 of a float32 batch succeeded")
						}
					} else {
						v, err := batch.CropUint8(c)
						if err != nil {
							t.Fatal(err)
						}
						if len(v) != 3*n || v[n] != uint8(10+c) {
							t.Fatalf("crop %d values wrong", c)
						}
					}
				}
				md := batch.Record.Schema().Metadata()
				if i := md.FindKey("std"); i < 0 || md.Values()[i] != "[0.228,0.224,0.225]" {
					t.Fatalf("schema metadata %v", md)
				}
				if f := batch.Record.Schema().Field(3); f.Metadata.Values()[f.Metadata.FindKey("group")] != "0" {
					t.Fatalf("field metadata %v", f.Metadata)
				}
				if batch.SizeBytes() <= 0 {
					t.Fatal("SizeBytes")
				}
				batch.Release()
				batch.Release() // idempotent
			}
			// A partial batch, then an abandoned one.
			if _, err := b.Append("p", 1); err != nil {
				t.Fatal(err)
			}
			partial := b.Build(5, nil, []string{"x: corrupt"})
			if partial.Rows() != 1 || len(partial.Skipped) != 1 {
				t.Fatalf("partial rows %d", partial.Rows())
			}
			partial.Release()
			if _, err := b.Append("q", 1); err != nil {
				t.Fatal(err)
			}
			b.Release()
		})
	}
}

func TestRecyclingAllocatorReuses(t *testing.T) {
	a := NewRecyclingAllocator()
	b := a.Allocate(1000)
	if len(b) != 1000 || cap(b)%64 != 0 {
		t.Fatalf("len %d cap %d", len(b), cap(b))
	}
	b[0] = 7
	a.Free(b)
	b = a.Reallocate(2000, a.Allocate(10))
	if len(b) != 2000 {
		t.Fatal("reallocate")
	}
	a.Free(b)
}

// Example of the batch contract: render crops straight into the Arrow
// buffers, Build, hand the batch on; its holder releases it once.
func ExampleBatchBuilder() {
	cfg := DefaultConfig()
	cfg.Crops = []CropGroupConfig{{Size: 4, Count: 2, MinScale: 0.5, MaxScale: 1}}
	b := NewBatchBuilder(memory.NewGoAllocator(), cfg.Crops, DTypeUint8, 2)
	for _, key := range []string{"a", "b"} {
		row, _ := b.Append(key, 0)
		for c := range b.NumCrops() {
			copy(b.Uint8Crop(row, c), make([]uint8, 3*4*4))
		}
	}
	batch := b.Build(0, nil, nil)
	defer batch.Release()
	shape, _ := batch.CropShape(1)
	fmt.Println(batch.Rows(), batch.NumCrops(), shape, batch.DType())
	// Output: 2 2 [3 4 4] uint8
}
