// Package augment decodes images and applies the SwAV multi-crop recipe,
// assembling the crops of B samples into one Arrow record batch.
//
// # Decoding
//
// Decode sniffs JPEG, PNG and WebP from the first bytes, reads the size from
// the header and refuses images over a pixel limit before decoding any pixel,
// and converts grayscale, paletted, CMYK and alpha images to RGB. JPEGs go
// through libjpeg-turbo when available (decode_turbo.go: cgo builds dlopen
// libturbojpeg.so.0 at start-up; CGO_ENABLED=0, `-tags noturbo`, a missing
// library or SWAV_JPEG_DECODER=stdlib fall back to image/jpeg).
// DecoderName says which one runs. Errors wrap ErrEmpty, ErrNotImage,
// ErrTooLarge, ErrTruncated or ErrCorrupt; SkipReason names them.
//
// # The recipe (SPEC §9), bit-exact with Pillow 9.4 / torchvision 0.14
//
// Per crop: RandomResizedCrop (torchvision's sampling), Pillow's antialiased
// bilinear resize straight from the decoded image (22-bit fixed point, the
// horizontal flip folded into the horizontal pass), ColorJitter in random
// order with Pillow's integer maths (brightness, contrast, saturation, hue
// through Pillow's 8-bit HSV), grayscale, Pillow's GaussianBlur (extended
// box, 3 passes per axis), then ToTensor+Normalize via a per-channel table
// (float32 CHW) or raw uint8 CHW for normalisation on the device. Every
// probability, strength and range comes from Config. testdata/gen.py makes
// the vectors the fidelity tests compare against: every operation matches
// Pillow/torchvision exactly on the same decoded pixels.
//
// # Speed
//
// The passes that combine whole rows (the vertical resample pass and every
// blur pass), the rows of the horizontal resample pass and the saturation
// blend run as SSE4.1 kernels on amd64 (internal/rowsum, Go assembly: it
// cannot live in this cgo package), with Go loops for the tails, for other
// platforms and for `-tags purego`; tests compare each kernel with its Go
// loop. The blur computes each box tap directly for the default sigmas (box
// radius 0 or 1) and runs the three horizontal passes row by row in place.
// The augment stage renders packed RGB crops (RenderPacked) and the batch
// stage normalises them straight into the Arrow buffers (WriteFloat32,
// WriteUint8), so the float32 values are written once.
//
// # Randomness
//
// Every draw of a crop comes from a xoshiro256** stream seeded from (seed,
// epoch, sample key, crop index): the same sample in the same epoch gets the
// same crops whatever the worker count or arrival order.
//
// # Buffers and ownership
//
// Cropper scratch buffers, decode targets (GetImage) and per-sample crops
// (Recipe.NewSampleCrops, Recipe.NewPackedCrops) are pooled. BatchBuilder renders into Arrow buffers
// and hands them to a Batch whose holder calls Release once;
// RecyclingAllocator reuses the buffers of released batches.
package augment
