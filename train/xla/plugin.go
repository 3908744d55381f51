package xla

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/swavgo/swav/train"
)

// EnvPlugin is the environment variable naming the PJRT plugin when
// train.xla.pjrt_plugin is empty.
const EnvPlugin = "PJRT_PLUGIN"

// EnvCUDADataDir overrides the folder passed to XLA as
// --xla_gpu_cuda_data_dir (the folder holding nvvm/libdevice and bin/ptxas).
const EnvCUDADataDir = "SWAV_CUDA_DATA_DIR"

// EngineGo is the plugin value that selects GoMLX's pure-Go engine instead of
// a PJRT plugin: CPU only, slow, no cgo library needed. Tests and smoke runs
// use it; `PJRT_PLUGIN=go pipeline bench train --backend xla` works anywhere.
const EngineGo = "go"

// ErrNoPlugin is returned (wrapped) when neither the configuration nor the
// environment names a PJRT plugin.
var ErrNoPlugin = errors.New("no PJRT plugin configured")

// ErrPluginLoad is returned (wrapped) when the configured plugin is missing or
// cannot be loaded.
var ErrPluginLoad = errors.New("PJRT plugin cannot be loaded")

// pjrtLoader creates a compute backend from an absolute plugin path and the
// go-xla options string (",notf32" and the like). It is nil when the binary
// was built with the noxla tag; pjrt.go sets it.
var pjrtLoader func(path, options string) (compute.Backend, error)

// resolvePlugin returns the plugin named by train.xla.pjrt_plugin, else by
// $PJRT_PLUGIN, else an error wrapping ErrNoPlugin.
func resolvePlugin(cfg *train.Config) (string, error) {
	if p := strings.TrimSpace(SettingsOf(cfg).PJRTPlugin); p != "" {
		return p, nil
	}
	if p := strings.TrimSpace(os.Getenv(EnvPlugin)); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("train.xla.pjrt_plugin: %w: set train.xla.pjrt_plugin or $%s to the path of a PJRT plugin "+
		"(on a CUDA box: the xla_cuda_plugin.so of pip's jax-cuda13-pjrt, see train/xla/README.md), "+
		"or to %q for GoMLX's pure-Go CPU engine", ErrNoPlugin, EnvPlugin, EngineGo)
}

// testEngine, set by this package's tests, may supply the engine for a
// plugin name (ok true); it is nil in the binary.
var testEngine func(plugin string) (be compute.Backend, ok bool, err error)

// pjrtEngines keeps one PJRT client per (plugin, options) for the process:
// a CUDA client costs seconds and GPU memory to create, and several backends
// (tests, a trainer and an evaluator) share it. They are never finalised.
var (
	pjrtEnginesMu sync.Mutex
	pjrtEngines   = map[string]compute.Backend{}
)

// newEngine creates the compute backend for plugin: GoMLX's pure-Go engine
// for EngineGo (owned by the caller: shared is false), otherwise the PJRT
// plugin at that path (shared by the process: the caller must not finalise
// it). GoMLX's automatic plugin download is never used: the path is made
// absolute and the installer is switched off (see pjrt.go). In float32
// precision TF32 is disabled so results match the CPU backend.
func newEngine(plugin, precision string) (be compute.Backend, shared bool, err error) {
	if testEngine != nil {
		if be, ok, err := testEngine(plugin); ok {
			return be, false, err
		}
	}
	if plugin == EngineGo {
		// ops_sequential: graph nodes run one after the other, each op
		// parallel inside. compute v0.1.3's default (parallel nodes whose
		// convolutions also wait for the same worker pool) can deadlock on
		// ResNet-sized graphs when the pool fills with waiting convolutions.
		be, err := gobackend.New("ops_sequential")
		if err != nil {
			return nil, false, fmt.Errorf("xla: GoMLX go engine: %w", err)
		}
		return be, false, nil
	}
	be, err = loadPJRT(plugin, precision)
	return be, true, err
}

// loadPJRT returns the process's client for the plugin at path, creating it
// on first use (seconds: the plugin initialises CUDA).
func loadPJRT(plugin, precision string) (compute.Backend, error) {
	abs, err := filepath.Abs(plugin)
	if err != nil {
		return nil, fmt.Errorf("xla: plugin %q: %w: %v", plugin, ErrPluginLoad, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("xla: plugin %q: %w: %v", abs, ErrPluginLoad, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("xla: plugin %q: %w: it is a directory, want the plugin's .so file", abs, ErrPluginLoad)
	}
	if pjrtLoader == nil {
		return nil, fmt.Errorf("xla: plugin %q: %w: this binary was built with the noxla tag (no PJRT support)", abs, ErrPluginLoad)
	}
	if isCUDAPlugin(abs) {
		if err := setCUDADataDir(abs); err != nil {
			return nil, err
		}
	}
	options := ""
	if precision != "bf16" {
		options = ",notf32"
	}
	pjrtEnginesMu.Lock()
	defer pjrtEnginesMu.Unlock()
	if be, ok := pjrtEngines[abs+options]; ok {
		return be, nil
	}
	be, err := pjrtLoader(abs, options)
	if err != nil {
		return nil, fmt.Errorf("xla: plugin %q: %w: %v", abs, ErrPluginLoad, err)
	}
	pjrtEngines[abs+options] = be
	return be, nil
}

// isCUDAPlugin guesses from the file name, as go-xla does.
func isCUDAPlugin(path string) bool {
	up := strings.ToUpper(filepath.Base(path))
	return strings.Contains(up, "CUDA") || strings.Contains(up, "NVIDIA")
}

// setCUDADataDir puts --xla_gpu_cuda_data_dir into $XLA_FLAGS unless it is
// already there, so go-xla's driver check does not write its own hard-coded
// guess. The folder is $SWAV_CUDA_DATA_DIR or, for a plugin inside a Python
// site-packages (jax_plugins/xla_cuda13/xla_cuda_plugin.so), the folder under
// site-packages/nvidia that holds nvvm/libdevice.
func setCUDADataDir(plugin string) error {
	flags := os.Getenv("XLA_FLAGS")
	if strings.Contains(flags, "--xla_gpu_cuda_data_dir") {
		quietGoXLACUDACheck()
		return nil
	}
	dir := os.Getenv(EnvCUDADataDir)
	if dir == "" {
		dir = findCUDADataDir(plugin)
	}
	if dir == "" {
		// XLA falls back to its own search (and CUDA_DIR); say so rather than fail:
		// a system CUDA install may be on the default path.
		fmt.Fprintf(os.Stderr, "xla: no nvvm/libdevice found near %s; set $%s if XLA cannot find ptxas/libdevice\n",
			plugin, EnvCUDADataDir)
		return nil
	}
	flags = strings.TrimSpace(flags + " --xla_gpu_cuda_data_dir=" + dir)
	if err := os.Setenv("XLA_FLAGS", flags); err != nil {
		return fmt.Errorf("xla: set XLA_FLAGS: %w", err)
	}
	quietGoXLACUDACheck()
	return nil
}

// quietGoXLACUDACheck turns off go-xla's CUDA driver check once the data
// dir is set: it would only warn that nvidia/ is not beside the plugin's
// folder (the pip layout puts it one level higher) and guess a data dir.
func quietGoXLACUDACheck() {
	if os.Getenv("GOPJRT_CUDA_CHECKS") == "" {
		_ = os.Setenv("GOPJRT_CUDA_CHECKS", "0")
	}
}

// findCUDADataDir walks up from the plugin to a folder with an nvidia/
// subfolder (site-packages) and returns the first nvidia/** folder that holds
// nvvm/libdevice (nvidia/cu13 for CUDA 13 wheels, nvidia/cuda_nvcc for
// CUDA 12 wheels); "" when none.
func findCUDADataDir(plugin string) string {
	dir := filepath.Dir(plugin)
	for range 4 {
		nv := filepath.Join(dir, "nvidia")
		if st, err := os.Stat(nv); err == nil && st.IsDir() {
			for _, pattern := range []string{"nvvm/libdevice", "*/nvvm/libdevice", "*/*/nvvm/libdevice"} {
				matches, _ := filepath.Glob(filepath.Join(nv, pattern))
				if len(matches) > 0 {
					return filepath.Dir(filepath.Dir(matches[0]))
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return ""
}
