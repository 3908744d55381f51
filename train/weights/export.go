package weights

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/sourcegraph/conc"

	"github.com/swavgo/swav/ingest/store"
	"github.com/swavgo/swav/train"
	"github.com/swavgo/swav/train/model"
)

// Export lists the network's tensors under another layout, ready for
// WriteSafetensors:
//
//   - LayoutTorchvision: the trunk as torchvision.models.resnet18/34/50
//     names it (a state dict that such a model with fc dropped loads with
//     strict=True), BatchNorm num_batches_tracked included (the file's
//     counters, 0 when it had none: SwAV's BatchNorm uses momentum 0.1, and
//     PyTorch reads the counter only without momentum).
//   - LayoutSwAV: facebookresearch/swav's names: the trunk, projection_head.*
//     and prototypes.weight; the file must have a head and prototypes.
//
// Values are the file's, bit for bit (float32; F16 and BF16 sources widened).
func (im *Imported) Export(layout string) ([]Tensor, error) {
	cfg := im.ModelFor(train.ModelConfig{HiddenMLP: 0, FeatDim: 1, Prototypes: 1})
	arch, err := model.Build(cfg)
	if err != nil {
		return nil, fmt.Errorf("weights: export %s: %w", im.Source, err)
	}
	switch layout {
	case LayoutTorchvision:
		if !model.Torchvision(cfg.Arch) {
			return nil, fmt.Errorf("weights: export %s: layout torchvision needs %s, the file holds %s (torchvision has no such model; --layout swav writes the reference's layout)", im.Source, model.TorchvisionList(), cfg.Arch)
		}
	case LayoutSwAV:
		if !im.HasHead || !im.HasPrototypes {
			return nil, fmt.Errorf("weights: export %s: layout swav needs the projection head and the prototypes, the file has only the trunk (use --layout torchvision)", im.Source)
		}
	default:
		return nil, fmt.Errorf("weights: export: unknown layout %q (want %s or %s)", layout, LayoutTorchvision, LayoutSwAV)
	}
	var out []Tensor
	for _, sec := range arch.Sections() {
		for i := range sec {
			l := &sec[i]
			if l.Name == "" {
				continue
			}
			section := Section(l.Name)
			if layout == LayoutTorchvision && section != "trunk" {
				continue
			}
			for _, spec := range append(l.Params(), l.Buffers()...) {
				t := im.Tensors[spec.Name]
				if t == nil {
					return nil, fmt.Errorf("weights: export %s: %w: %s missing", im.Source, ErrArchitecture, spec.Name)
				}
				if !slices.Equal(t.Shape, spec.Shape) {
					return nil, fmt.Errorf("weights: export %s: %w: %s: the %s network expects shape %v, the file has %v",
						im.Source, ErrArchitecture, im.FileName[spec.Name], describe(cfg), spec.Shape, t.Shape)
				}
				out = append(out, Tensor{Name: exportName(spec.Name), Shape: t.Shape, DType: F32, Float: t.Float})
			}
			if l.Op == model.OpBatchNorm {
				out = append(out, Tensor{Name: exportName(l.Name + ".num_batches_tracked"), Shape: []int{}, DType: I64,
					Int: []int64{im.BatchesTracked[l.Name]}})
			}
		}
	}
	return out, nil
}

// exportName turns our name into facebookresearch/swav's (which is
// torchvision's for the trunk).
func exportName(ours string) string {
	switch Section(ours) {
	case "trunk":
		return strings.TrimPrefix(ours, "trunk.")
	case "head":
		return "projection_head" + strings.TrimPrefix(ours, "head")
	}
	return ours
}

// ExportMetadata is the __metadata__ of an exported file.
func (im *Imported) ExportMetadata(layout string) map[string]string {
	return map[string]string{
		"format":        "pt",
		"layout":        layout,
		"arch":          im.Model.Arch,
		"small_stem":    strconv.FormatBool(im.Model.SmallStem),
		"source":        im.Source,
		"source_sha256": im.SHA256,
		"config_hash":   im.ConfigHash,
	}
}

// WriteExport writes the network in layout as safetensors to w.
func (im *Imported) WriteExport(w io.Writer, layout string) (int, error) {
	tensors, err := im.Export(layout)
	if err != nil {
		return 0, err
	}
	return len(tensors), WriteSafetensors(w, tensors, im.ExportMetadata(layout))
}

// ErrExportExists is wrapped by ExportTo's error when dst already exists.
var ErrExportExists = errors.New("the export destination already exists")

// ExportTo reads the weights file src (any format Read knows) and writes its
// network to dst (a path or s3:// URL) as safetensors in layout. The encoder
// streams into one atomic upload that never replaces a file (a temporary
// file renamed with RENAME_NOREPLACE locally, one PutObject with
// If-None-Match: * on S3), so dst is the whole export or untouched, and an
// existing dst is an error wrapping ErrExportExists that names it. It
// returns the number of tensors written.
func ExportTo(ctx context.Context, src, dst, layout string, sc store.Config) (int, error) {
	f, err := Read(ctx, src, sc)
	if err != nil {
		return 0, err
	}
	im, err := Import(f)
	if err != nil {
		return 0, err
	}
	if _, err := im.Export(layout); err != nil { // fail before creating anything
		return 0, err
	}
	b, key, err := store.Open(ctx, dst, sc)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	pr, pw := io.Pipe()
	var (
		n      int
		writer conc.WaitGroup // the encoder writes into the pipe the upload reads
	)
	writer.Go(func() {
		var err error
		n, err = im.WriteExport(pw, layout)
		pw.CloseWithError(err)
	})
	err = b.UploadIfAbsent(ctx, key, pr)
	pr.CloseWithError(err) // unblocks the encoder if the upload stopped early
	writer.Wait()
	if store.IsExist(err) {
		return 0, fmt.Errorf("weights: export to %s: %w: it is never overwritten (delete it or choose another name)", dst, ErrExportExists)
	}
	if err != nil {
		return 0, fmt.Errorf("weights: export to %s: %w", dst, err)
	}
	return n, nil
}
