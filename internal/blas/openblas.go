//go:build cgo && !noblas

package blas

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// OpenBLAS is opened at run time rather than linked, so that the kernel set
// can be chosen before its constructor runs: Debian's OpenBLAS 0.3.21 does not
// recognise AVX-512 Zen 4/5 cores and falls back to its Haswell (AVX2)
// kernels, which run our GEMM shapes at half the speed of its SkylakeX ones.
// A binary built with this file also runs (on gonum) where OpenBLAS is absent.

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float*, int,
                         const float*, int, float, float*, int);
static sgemm_fn swav_sgemm;
static void (*swav_set_threads)(int);
static char* (*swav_corename)(void);

static int swav_avx512(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

// swav_openblas_open returns 1 when OpenBLAS's cblas_sgemm was found. The
// kernel set is SWAV_OPENBLAS_CORETYPE when set, else OPENBLAS_CORETYPE when
// set (the user's choice is kept), else SkylakeX on CPUs with AVX-512
// F/BW/DQ/VL, else OpenBLAS's own detection. threads > 0 starts OpenBLAS
// with that many threads unless OPENBLAS_NUM_THREADS is set; 0 leaves
// OpenBLAS its default. The environment is restored after the library has
// read it.
static int swav_openblas_open(int threads) {
	const char* want = getenv("SWAV_OPENBLAS_CORETYPE");
	const char* had = getenv("OPENBLAS_CORETYPE");
	char* saved = had ? strdup(had) : NULL;
	int setCore = 0;
	if (want != NULL && want[0] != 0) {
		setenv("OPENBLAS_CORETYPE", want, 1);
		setCore = 1;
	} else if (had == NULL && swav_avx512()) {
		setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
		setCore = 1;
	}
	int setThreads = threads > 0 && getenv("OPENBLAS_NUM_THREADS") == NULL;
	if (setThreads) {
		char n[16];
		snprintf(n, sizeof n, "%d", threads);
		setenv("OPENBLAS_NUM_THREADS", n, 1);
	}
	void* h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) h = dlopen("libopenblas.so", RTLD_NOW | RTLD_LOCAL);
	if (setCore) {
		if (saved) setenv("OPENBLAS_CORETYPE", saved, 1); else unsetenv("OPENBLAS_CORETYPE");
	}
	free(saved);
	if (setThreads) unsetenv("OPENBLAS_NUM_THREADS");
	if (h == NULL) return 0;
	swav_sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
	swav_set_threads = (void (*)(int))dlsym(h, "openblas_set_num_threads");
	swav_corename = (char* (*)(void))dlsym(h, "openblas_get_corename");
	return swav_sgemm != NULL;
}

static void swav_set_num_threads(int n) { if (swav_set_threads) swav_set_threads(n); }
static const char* swav_core(void) { return swav_corename ? swav_corename() : "unknown"; }

// CBLAS: CblasRowMajor 101, CblasNoTrans 111, CblasTrans 112.
static void swav_call_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
                            const float* b, int ldb, float beta, float* c, int ldc) {
	swav_sgemm(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
*/
import "C"

import "sync"

var (
	openblasOnce sync.Once
	openblasOK   bool
)

// haveOpenBLAS opens OpenBLAS once (about a millisecond) and reports whether
// it is usable. threads is the count OpenBLAS starts with when this call
// opens it (0: OpenBLAS's default); later calls ignore it.
func haveOpenBLAS(threads int) bool {
	openblasOnce.Do(func() { openblasOK = C.swav_openblas_open(C.int(threads)) == 1 })
	return openblasOK
}

func name() string {
	if haveOpenBLAS(0) {
		return "openblas (" + C.GoString(C.swav_core()) + ")"
	}
	return "gonum (pure Go): libopenblas.so.0 not found"
}

func setThreads(n int) {
	if haveOpenBLAS(max(n, 0)) {
		C.swav_set_num_threads(C.int(n))
	}
}

// sgemm is Sgemm for m, n, k > 0: OpenBLAS's cblas_sgemm, or gonum's GEMM
// without OpenBLAS.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !haveOpenBLAS(0) {
		gonumSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	ta, tb := C.int(0), C.int(0)
	if transA {
		ta = 1
	}
	if transB {
		tb = 1
	}
	C.swav_call_sgemm(ta, tb, C.int(m), C.int(n), C.int(k), C.float(alpha), (*C.float)(&a[0]), C.int(lda),
		(*C.float)(&b[0]), C.int(ldb), C.float(beta), (*C.float)(&c[0]), C.int(ldc))
}
