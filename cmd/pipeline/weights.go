package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/weights"
)

// newWeightsCmd groups the tools for weights files of other formats
// (`pipeline weights inspect FILE`, `pipeline weights export CKPT --out F`).
func newWeightsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "weights",
		Short: "Inspect PyTorch / safetensors weights files, export a network as safetensors",
	}
	cmd.AddCommand(newWeightsInspectCmd(), newWeightsExportCmd())
	return cmd
}

func init() { addCommand(nil, newWeightsCmd()) }

func newWeightsInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE",
		Short: "List a weights file's tensors (name, shape, dtype), the architecture inferred from them and what a load would ignore",
		Long: `inspect reads a torch.save file (zip or legacy), a safetensors file or one of
our .swck checkpoints (a path or s3:// URL), lists every tensor, and says which
layout (facebookresearch/swav, torchvision, ours) and architecture it holds and
which tensors extraction or train.init_from would not use.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspectWeights(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
}

func inspectWeights(ctx context.Context, w io.Writer, url string) error {
	f, err := weights.Read(ctx, url, store.Config{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %s, %d bytes, sha256 %s\n", f.Source, f.Format, f.Size, f.SHA256)
	for _, k := range slices.Sorted(maps.Keys(f.Metadata)) {
		fmt.Fprintf(w, "metadata %s: %s\n", k, f.Metadata[k])
	}
	if len(f.Other) > 0 {
		fmt.Fprintf(w, "other entries (ignored): %s\n", strings.Join(f.Other, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "tensor\tshape\tdtype\n")
	for _, t := range f.Tensors {
		fmt.Fprintf(tw, "%s\t%v\t%s\n", t.Name, t.Shape, t.DType)
	}
	tw.Flush()
	im, err := weights.Import(f)
	if err != nil {
		return err
	}
	m := im.Model
	fmt.Fprintf(w, "layout: %s\narch: %s (small stem: %v)\n", im.Layout, m.Arch, m.SmallStem)
	if im.HasHead {
		fmt.Fprintf(w, "projection head: hidden_mlp %d, feat_dim %d\n", m.HiddenMLP, m.FeatDim)
	} else {
		fmt.Fprintf(w, "projection head: none (features: trunk only)\n")
	}
	if im.HasPrototypes {
		fmt.Fprintf(w, "prototypes: %d\n", m.Prototypes)
	} else {
		fmt.Fprintf(w, "prototypes: none\n")
	}
	_, rep, err := im.State(im.ModelFor(train.DefaultConfig().Model), 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "a load uses %d tensors\n", rep.Loaded)
	for _, n := range rep.Notes() {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

func newWeightsExportCmd() *cobra.Command {
	var out, layout string
	cmd := &cobra.Command{
		Use:   "export CKPT --out FILE.safetensors --layout torchvision|swav",
		Short: "Write a network (our checkpoint, a torch.save or safetensors file) as float32 safetensors under torchvision's or facebookresearch/swav's names",
		Long: `export writes the network of CKPT (a .swck checkpoint or any file inspect reads)
as safetensors, float32:

  --layout torchvision  the trunk only (resnet18/34/50), under the names that
                        torchvision.models.resnetXX() loads with strict=True once
                        its fc is dropped (model.fc = nn.Identity()), BatchNorm
                        num_batches_tracked included;
  --layout swav         facebookresearch/swav's names: trunk, projection_head.*,
                        prototypes.weight.

The values are bit for bit those of CKPT. __metadata__ records the layout, the
architecture, the source and its SHA-256, and the training config hash of our
checkpoints. The output (a path or s3:// URL) is written atomically.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageError{fmt.Errorf("--out is required")}
			}
			n, err := weights.ExportTo(cmd.Context(), args[0], out, layout, store.Config{})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d tensors, layout %s\n", out, n, layout)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "output .safetensors file (path or s3:// URL)")
	cmd.Flags().StringVar(&layout, "layout", weights.LayoutTorchvision, "tensor names: torchvision (trunk) or swav (trunk, head, prototypes)")
	return cmd
}
