#!/usr/bin/env bash
# GPU check (make gpu-check): on a machine with an NVIDIA GPU, CUDA 13 and a
# python3 that holds PyTorch with CUDA and jax-cuda13-pjrt, it
#   1. copies what it needs from ../shared into the ignored folder .gpu/,
#   2. builds (or, without a Go toolchain, uses binaries already in .gpu/),
#   3. finds the PJRT CUDA plugin and its NVIDIA libraries,
#   4. runs the xla backend's conformance tests on the GPU (against the cpu
#      backend and against a float64 PyTorch re-statement),
#   5. benchmarks the SwAV step (ResNet-50, batch 64, 2x224+6x96, bf16) and
#      PyTorch eager bf16 channels_last on the same model and batch,
#   6. with more than one GPU, checks data-parallel training against one GPU
#      and measures it with batch 64 per GPU,
#   7. prints the GPU model, both figures and their ratio.
# It works from a copy of the repository alone. About 5-8 minutes on an H100
# (most of it XLA compiling ResNet-50). Options (environment):
#   PJRT_PLUGIN=path      the plugin (default: found in python3's site-packages)
#   GPU_CHECK_STEPS=N     timed steps of each benchmark (default 10)
#   GPU_CHECK_BUILD_ONLY=1  build .gpu/ binaries and stop (run on a build machine,
#                         carry .gpu/ to a GPU machine without Go)
#   GPU_CHECK_SKIP_TESTS=1  benchmark only
#   GPU_CHECK_PIPELINE=1  measure ours with `pipeline bench train --backend xla`
#                         (train.NewBackend, the training stage's path) instead of
#                         the xla package's BenchmarkStep; both run the same Step
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
GPU_DIR=$ROOT/.gpu
mkdir -p "$GPU_DIR"
STEPS=${GPU_CHECK_STEPS:-10}
CONFORMANCE_FAILED=
PY=${PYTHON:-python3}

say() { printf '\n== %s\n' "$*"; }

# 1. Reference files.
if [ -f ../shared/bench/ref_train_step.py ]; then
	install -D -m 0644 ../shared/bench/ref_train_step.py "$GPU_DIR/ref_train_step.py"
	install -D -m 0644 ../shared/bench/ref_train_step.py "$GPU_DIR/shared/bench/ref_train_step.py"
fi

# 2. Build.
# The test binary embeds the cpu backend for the conformance test; noblas
# keeps it free of libopenblas (the GPU machine may not have it) and it stays
# small enough (about 20 MB) to carry to a machine without Go.
if command -v go >/dev/null 2>&1; then
	say "build"
	go test -c -tags noblas -ldflags='-s -w' -o "$GPU_DIR/xla.test" ./train/xla
	if [ -n "${GPU_CHECK_PIPELINE:-}" ]; then
		go build -o "$GPU_DIR/pipeline" ./cmd/pipeline
	fi
fi
if [ -n "${GPU_CHECK_BUILD_ONLY:-}" ]; then
	ls -l "$GPU_DIR"
	exit 0
fi
for f in xla.test ref_train_step.py; do
	if [ ! -e "$GPU_DIR/$f" ]; then
		echo "gpu-check: $GPU_DIR/$f is missing (no Go toolchain here? build with GPU_CHECK_BUILD_ONLY=1 elsewhere and copy .gpu/;" \
			"ref_train_step.py comes from ../shared/bench)" >&2
		exit 1
	fi
done

# 3. GPU, plugin, NVIDIA libraries.
say "GPU"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || {
	echo "gpu-check: nvidia-smi failed: no NVIDIA GPU here" >&2
	exit 1
}
SITE_DIRS=$("$PY" -c 'import site, sys; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null || true)
if [ -z "${PJRT_PLUGIN:-}" ]; then
	for d in $SITE_DIRS; do
		for p in "$d"/jax_plugins/xla_cuda*/xla_cuda_plugin.so; do
			[ -f "$p" ] && PJRT_PLUGIN=$p && break 2
		done
	done
fi
if [ -z "${PJRT_PLUGIN:-}" ] || [ ! -f "$PJRT_PLUGIN" ]; then
	echo "gpu-check: no PJRT CUDA plugin found (looked for jax_plugins/xla_cuda*/xla_cuda_plugin.so in: $SITE_DIRS);" \
		"pip install jax-cuda13-pjrt or set PJRT_PLUGIN" >&2
	exit 1
fi
export PJRT_PLUGIN
SITE=$(dirname "$(dirname "$(dirname "$PJRT_PLUGIN")")")
if [ -d "$SITE/nvidia" ]; then
	libs=$(find "$SITE/nvidia" -maxdepth 3 -type d -name lib | sort | paste -sd: -)
	export LD_LIBRARY_PATH=${libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	if [ -z "${SWAV_CUDA_DATA_DIR:-}" ]; then
		libdevice=$(find "$SITE/nvidia" -maxdepth 4 -type d -path '*nvvm/libdevice' | head -1)
		[ -n "$libdevice" ] && export SWAV_CUDA_DATA_DIR=$(dirname "$(dirname "$libdevice")")
	fi
fi
export XLA_FLAGS="${XLA_FLAGS:-}${SWAV_CUDA_DATA_DIR:+ --xla_gpu_cuda_data_dir=$SWAV_CUDA_DATA_DIR}"
export GOMLX_NO_AUTO_INSTALL=1
echo "plugin: $PJRT_PLUGIN"
echo "XLA_FLAGS: $XLA_FLAGS"
export SWAV_TORCH_PYTHON=$(command -v "$PY")

# 4. Conformance on the GPU.
if [ -z "${GPU_CHECK_SKIP_TESTS:-}" ]; then
	say "conformance (xla on the GPU vs cpu backend and vs PyTorch float64; data-parallel vs one GPU)"
	if ! (cd train/xla && "$GPU_DIR/xla.test" -test.v -test.count=1 -test.timeout=5m \
		-test.run 'TestConformsToCPUBackend|TestStepMatchesPyTorch|TestDataParallel') >"$GPU_DIR/conformance.log" 2>&1; then
		CONFORMANCE_FAILED=1
	fi
	grep -v '^=== RUN' "$GPU_DIR/conformance.log" | tail -40
fi

# 5. Benchmarks: ours, then PyTorch in the same run.
say "SwAV step: xla, ResNet-50, batch 64, 2x224+6x96, bf16"
OURS_LOG=$GPU_DIR/bench-xla.log
rm -f "$OURS_LOG"
if [ -n "${GPU_CHECK_PIPELINE:-}" ]; then
	"$GPU_DIR/pipeline" bench train --backend xla --bf16 --model resnet50 --batch 64 --crops 224x2,96x6 \
		--steps "$STEPS" --shared "$GPU_DIR/shared" 2>&1 | tee "$OURS_LOG" || true
fi
if ! grep -qE '^xla .*images/s=' "$OURS_LOG" 2>/dev/null; then
	(cd train/xla && SWAV_BENCH_MODEL=resnet50 SWAV_BENCH_BATCH=64 SWAV_BENCH_CROPS=224x2,96x6 SWAV_BENCH_BF16=1 \
		"$GPU_DIR/xla.test" -test.run '^$' -test.bench BenchmarkStep -test.benchtime "${STEPS}x" -test.timeout 8m) 2>&1 |
		tee "$OURS_LOG"
fi
say "SwAV step: PyTorch eager, ResNet-50, batch 64, 2x224+6x96, bf16 channels_last"
REF_LOG=$GPU_DIR/bench-torch.log
"$PY" "$GPU_DIR/ref_train_step.py" --device cuda --bf16 --model resnet50 --batch 64 --crops 224x2,96x6 \
	--steps "$STEPS" 2>&1 | tee "$REF_LOG"

# 6. Data parallelism over every GPU (batch 64 per GPU), when there are several.
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
	GPUS=$(echo "$CUDA_VISIBLE_DEVICES" | tr ',' '\n' | grep -c .)
else
	GPUS=$(nvidia-smi --query-gpu=name --format=csv,noheader | wc -l)
fi
dp=
if [ "$GPUS" -gt 1 ]; then
	say "SwAV step: xla data-parallel over $GPUS GPUs, batch $((64 * GPUS))"
	DP_LOG=$GPU_DIR/bench-xla-dp.log
	(cd train/xla && SWAV_BENCH_MODEL=resnet50 SWAV_BENCH_BATCH=$((64 * GPUS)) SWAV_BENCH_CROPS=224x2,96x6 SWAV_BENCH_BF16=1 \
		SWAV_BENCH_DEVICES=0 "$GPU_DIR/xla.test" -test.run '^$' -test.bench BenchmarkStep -test.benchtime "${STEPS}x" -test.timeout 8m) 2>&1 |
		tee "$DP_LOG" || true
	dp=$(grep -E '^xla .*images/s=' "$DP_LOG" 2>/dev/null | tail -1 | sed -E 's/.*images\/s=([0-9.]+).*/\1/')
fi

# 7. Summary.
ours=$(grep -E '^xla .*images/s=' "$OURS_LOG" 2>/dev/null | tail -1 | sed -E 's/.*images\/s=([0-9.]+).*/\1/')
ref=$(grep -E 'images/s=' "$REF_LOG" | tail -1 | sed -E 's/.*images\/s=([0-9.]+).*/\1/')
say "summary"
echo "GPU: $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
echo "xla (GoMLX/PJRT) bf16: ${ours:-?} images/s"
echo "PyTorch eager bf16:    ${ref:-?} images/s"
if [ -n "$dp" ] && [ -n "$ours" ]; then
	echo "xla data-parallel over $GPUS GPUs: $dp images/s ($(awk -v a="$dp" -v b="$ours" -v n="$GPUS" 'BEGIN { printf "%.2f", a / b / n }') scaling efficiency)"
fi
if [ -n "$ours" ] && [ -n "$ref" ]; then
	echo "RATIO gpu-train $(awk -v a="$ours" -v b="$ref" 'BEGIN { printf "%.3f", a / b }')"
else
	echo "gpu-check: could not read both figures (see $OURS_LOG and $REF_LOG)" >&2
	exit 1
fi
if [ -n "$CONFORMANCE_FAILED" ]; then
	echo "gpu-check: the conformance tests FAILED on the GPU (see $GPU_DIR/conformance.log)" >&2
	exit 1
fi
