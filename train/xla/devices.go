package xla

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/distributed"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/swavgo/swav/train"
)

// Data parallelism: with more than one device the step graph is compiled
// once for all of them with GoMLX's AutoSharding (XLA Shardy). Every crop
// group's rows [C*B, 3, S, S] are split along axis 0 across the 1-D mesh
// "data"; the state (params, buffers, momentum, queue) and the scalars are
// replicated, and so are all outputs. The graph is the single-device graph:
// XLA partitions it and inserts the all-reduces, so BatchNorm statistics,
// Sinkhorn's sums and the gradients are over the whole batch (SyncBN and the
// reference's all-reduced Sinkhorn), and the result equals one device's up
// to the order of floating-point sums.

// dataAxis is the mesh axis the crop rows are split over.
const dataAxis = "data"

// deviceCount resolves train.xla.devices against the engine's device count
// (0: all of them).
func deviceCount(want, have int, engine string) (int, error) {
	switch {
	case want < 0:
		return 0, fmt.Errorf("xla: train.xla.devices: must not be negative, got %d", want)
	case want == 0:
		return max(have, 1), nil
	case want > have:
		return 0, fmt.Errorf("xla: train.xla.devices: %d requested, but %s has %d device(s) (CUDA_VISIBLE_DEVICES limits what a process sees)", want, engine, have)
	}
	return want, nil
}

// planDevices is the number of devices a backend on engine trains on
// (train.xla.devices resolved) and their sharding: nil on one device.
func planDevices(want int, engine compute.Backend) (int, *dataParallel, error) {
	n, err := deviceCount(want, engine.NumDevices(), engine.Name())
	if err != nil || n == 1 {
		return n, nil, err
	}
	dp, err := newDataParallel(n)
	return n, dp, err
}

// dataParallel is the sharding of the step over n > 1 devices.
type dataParallel struct {
	mesh       *distributed.DeviceMesh
	replicated *distributed.ShardingSpec
	rows       *distributed.ShardingSpec // axis 0 over dataAxis
}

func newDataParallel(n int) (*dataParallel, error) {
	mesh, err := distributed.NewDeviceMesh([]int{n}, []string{dataAxis})
	if err != nil {
		return nil, fmt.Errorf("xla: device mesh of %d: %w", n, err)
	}
	rows, err := distributed.BuildSpec(mesh).S(dataAxis).Done()
	if err != nil {
		return nil, fmt.Errorf("xla: row sharding: %w", err)
	}
	return &dataParallel{mesh: mesh, replicated: distributed.NewReplicatedShardingSpec(mesh), rows: rows}, nil
}

// inputSpecs are the step's input shardings in stepLayout order: every
// state and scalar input replicated, then the crop groups split by rows
// (GoMLX repeats the last spec for the remaining inputs).
func (dp *dataParallel) inputSpecs(groupsAt int) []*distributed.ShardingSpec {
	specs := make([]*distributed.ShardingSpec, groupsAt+1)
	for i := range groupsAt {
		specs[i] = dp.replicated
	}
	specs[groupsAt] = dp.rows
	return specs
}

// checkShardable names the first crop group whose rows do not split evenly
// over n devices (always fine on one).
func checkShardable(n int, groups []train.CropGroup, batch int) error {
	for i, g := range groups {
		if rows := g.Count * batch; rows%n != 0 {
			return fmt.Errorf("xla: step input: group %d (%d crops of %d px, batch %d): %d rows do not split over %d devices; "+
				"make train.batch_size a multiple of %d or set train.xla.devices", i, g.Count, g.Size, batch, rows, n, n)
		}
	}
	return nil
}

// shardRows returns device d's share of n of a row-major tensor of rows
// rows (data holds rows * rowLen values): rows/n consecutive rows. It
// aliases data.
func shardRows(data []float32, rows, n, d int) []float32 {
	rowLen := len(data) / rows
	per := rows / n
	return data[d*per*rowLen : (d+1)*per*rowLen]
}

// splitByDevice cuts the flat device-major output list of a graph run on n
// devices into one list per device (GoMLX returns device 0's outputs, then
// device 1's, ...).
func splitByDevice(outs []*tensors.Tensor, n int) ([][]*tensors.Tensor, error) {
	if n < 1 || len(outs)%n != 0 {
		return nil, fmt.Errorf("xla: %d outputs do not split over %d devices", len(outs), n)
	}
	per := len(outs) / n
	split := make([][]*tensors.Tensor, n)
	for d := range n {
		split[d] = outs[d*per : (d+1)*per]
	}
	return split, nil
}
