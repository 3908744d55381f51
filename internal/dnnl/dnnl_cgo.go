//go:build cgo

package dnnl

/*
#cgo CFLAGS: -I${SRCDIR}/include
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>

// Every oneDNN function is reached through a pointer found with dlsym, typed
// from the header, so that the binary does not need libdnnl to start.
#define SWAV_DNNL_FNS(X) \
	X(dnnl_engine_create) X(dnnl_stream_create) X(dnnl_stream_wait) \
	X(dnnl_memory_desc_init_by_tag) X(dnnl_memory_desc_equal) X(dnnl_memory_create) \
	X(dnnl_memory_set_data_handle) X(dnnl_memory_destroy) \
	X(dnnl_primitive_desc_create) X(dnnl_primitive_desc_destroy) X(dnnl_primitive_desc_query_md) \
	X(dnnl_primitive_create) X(dnnl_primitive_execute) X(dnnl_primitive_destroy) \
	X(dnnl_convolution_forward_desc_init) X(dnnl_convolution_backward_data_desc_init) \
	X(dnnl_convolution_backward_weights_desc_init) X(dnnl_reorder_primitive_desc_create) \
	X(dnnl_primitive_attr_create) X(dnnl_primitive_attr_destroy) X(dnnl_primitive_attr_set_post_ops) \
	X(dnnl_post_ops_create) X(dnnl_post_ops_destroy) X(dnnl_post_ops_append_eltwise) \
	X(dnnl_post_ops_append_sum) X(dnnl_version) \
	X(dnnl_batch_normalization_forward_desc_init) X(dnnl_batch_normalization_backward_desc_init) \
	X(dnnl_memory_get_memory_desc) X(dnnl_memory_desc_get_size) \
	X(dnnl_primitive_desc_query) X(dnnl_get_effective_cpu_isa) X(dnnl_memory_get_data_handle)

#define SWAV_DECL(f) static __typeof__(f) *p_##f;
SWAV_DNNL_FNS(SWAV_DECL)
static void (*p_omp_set_num_threads)(int);

static dnnl_engine_t swav_eng;
static dnnl_stream_t swav_stream;
static char swav_err[256];
static int swav_amx_perm;

// swav_dnnl_open returns 1 when oneDNN was opened and its CPU engine made.
// OpenMP's threads keep libgomp's default wait policy (spin a while after
// each call, then sleep), or the user's OMP_WAIT_POLICY / GOMP_SPINCOUNT.
// Measured on 2 cores with bench train, 3 alternating rounds: the default
// gives 1.17 / 1.04 / 0.98 / 0.97 x PyTorch (small b32, small b128,
// resnet18, resnet50) against 1.06 / 0.97 / 0.93 / 0.95 with
// OMP_WAIT_POLICY=passive: a sleeping worker wakes late for the next
// convolution. (Passive won, 208 against 153 img/s on the small net, while
// BatchNorm still ran in Go between the convolutions.)
static int swav_dnnl_open(void) {
	void* h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) h = dlopen("libdnnl.so", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) { snprintf(swav_err, sizeof swav_err, "%s", dlerror()); return 0; }
#define SWAV_LOAD(f) p_##f = (__typeof__(f)*)dlsym(h, #f); \
	if (p_##f == NULL) { snprintf(swav_err, sizeof swav_err, "libdnnl has no %s", #f); return 0; }
	SWAV_DNNL_FNS(SWAV_LOAD)
	void* g = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
	if (g != NULL) p_omp_set_num_threads = (void (*)(int))dlsym(g, "omp_set_num_threads");
	// AMX's tile registers need the kernel's permission (Linux 5.16+);
	// oneDNN only uses AMX once it is granted. On processors without AMX
	// the request fails and nothing changes.
	// (0x1023 is ARCH_REQ_XCOMP_PERM, 18 XFEATURE_XTILEDATA.)
	swav_amx_perm = syscall(SYS_arch_prctl, 0x1023, 18) == 0;
	if (p_dnnl_engine_create(&swav_eng, dnnl_cpu, 0) != dnnl_success) { snprintf(swav_err, sizeof swav_err, "no oneDNN CPU engine"); return 0; }
	if (p_dnnl_stream_create(&swav_stream, swav_eng, dnnl_stream_default_flags) != dnnl_success) { snprintf(swav_err, sizeof swav_err, "no oneDNN stream"); return 0; }
	return 1;
}

static const char* swav_dnnl_err(void) { return swav_err; }
static long swav_tid(void) { return syscall(SYS_gettid); }
static void swav_dnnl_version(int* v) {
	const dnnl_version_t* ver = p_dnnl_version();
	v[0] = ver->major; v[1] = ver->minor; v[2] = ver->patch;
}
static unsigned swav_dnnl_isa(void) { return (unsigned)p_dnnl_get_effective_cpu_isa(); }
static int swav_dnnl_amx_perm(void) { return swav_amx_perm; }
static void swav_dnnl_threads(int n) { if (p_omp_set_num_threads) p_omp_set_num_threads(n); }

// A convolution and its primitives. User memories (handle NULL between
// calls) hold the caller's buffers during one call; the primitives' own
// weight layouts get reorders from and to the user's OIHW. A bf16
// convolution computes on bf16 copies of its weights, and of its source and
// destination gradient where the caller's are float32 (reorders that
// convert, into the buffers below); its results are in the caller's types
// (bf16 where the caller asked for bf16 buffers), the weights gradient
// float32.
typedef struct {
	dnnl_memory_desc_t src, dst, wei, bias, any_w;
	dnnl_memory_desc_t src_bf, dst_bf; // bf16 NHWC copies (bf16 only)
	dnnl_dims_t strides, pad_l, pad_r;
	dnnl_memory_t m_src, m_dst, m_wei, m_bias;
	dnnl_primitive_desc_t fwd_pd;
	dnnl_primitive_t fwd, fwd_reorder;
	dnnl_memory_t fwd_w; // the forward's weights, when their layout differs
	dnnl_primitive_t bwd_d, bwd_d_reorder;
	dnnl_memory_t bwd_d_w;
	dnnl_primitive_t bwd_w, bwd_w_reorder;
	dnnl_memory_t bwd_w_dw;
	// bf16 only: the conversions of the source and of the destination
	// gradient, and memories for their results.
	dnnl_primitive_t src_cvt, ddst_cvt;
	dnnl_memory_t m_src_bf, m_ddst_bf;
	// The forward's weights kept in its own layout by swav_conv_set_weights
	// (NULL until then).
	dnnl_memory_t kept_w;
	// A bf16 training convolution keeps the bf16 copy of its last
	// forward's source (its own buffer) for the backward weights; last_src
	// is the float32 source it was made from.
	void* src_keep;
	const float* last_src;
	int training, has_bias, bf16, src_is_bf16;
} swav_conv;

#define SWAV_CHECK(call, what) do { dnnl_status_t st_ = (call); if (st_ != dnnl_success) { \
	snprintf(swav_err, sizeof swav_err, "%s: oneDNN status %d", what, (int)st_); return 0; } } while (0)

// swav_reorder_prim makes the reorder primitive from one layout to another.
static int swav_reorder_prim(const dnnl_memory_desc_t* from, const dnnl_memory_desc_t* to, dnnl_primitive_t* reorder, const char* what) {
	dnnl_primitive_desc_t pd;
	SWAV_CHECK(p_dnnl_reorder_primitive_desc_create(&pd, from, swav_eng, to, swav_eng, NULL), what);
	dnnl_status_t st = p_dnnl_primitive_create(reorder, pd);
	p_dnnl_primitive_desc_destroy(pd);
	SWAV_CHECK(st, what);
	return 1;
}

// swav_reorder_for makes mem (the primitive's layout md) and the reorder
// from user to it, or leaves both NULL when the layouts are the same.
// toUser reverses the direction.
static int swav_reorder_for(const dnnl_memory_desc_t* md, const dnnl_memory_desc_t* user, int toUser,
                            dnnl_memory_t* mem, dnnl_primitive_t* reorder) {
	*mem = NULL; *reorder = NULL;
	if (p_dnnl_memory_desc_equal(md, user)) return 1;
	SWAV_CHECK(p_dnnl_memory_create(mem, md, swav_eng, DNNL_MEMORY_NONE), "weights memory");
	return toUser ? swav_reorder_prim(md, user, reorder, "weights reorder") : swav_reorder_prim(user, md, reorder, "weights reorder");
}

static int swav_conv_backward_init(swav_conv* cv);

static int swav_conv_new(swav_conv** out, int n, int h, int w, int c, int oc, int oh, int ow,
                         int k, int stride, int pad, int training, int bias, int sum, int relu, int bf16,
                         int src_is_bf16, int dst_is_bf16) {
	swav_conv* cv = calloc(1, sizeof *cv);
	*out = cv;
	cv->training = training; cv->has_bias = bias; cv->bf16 = bf16;
	dnnl_data_type_t cdt = bf16 ? dnnl_bf16 : dnnl_f32; // what the primitives compute on
	dnnl_dims_t sd = {n, c, h, w}, dd = {n, oc, oh, ow}, wd = {oc, c, k, k}, bd = {oc};
	cv->strides[0] = cv->strides[1] = stride;
	cv->pad_l[0] = cv->pad_l[1] = pad;
	cv->pad_r[0] = (oh - 1) * stride + k - h - pad;
	cv->pad_r[1] = (ow - 1) * stride + k - w - pad;
	// The caller's source and destination are float32, or bf16 where the
	// caller keeps them so: then the source needs no conversion (and a
	// training convolution's backward reads the caller's source and writes
	// its gradient in bf16), and the destination's gradient is bf16 too.
	cv->src_is_bf16 = src_is_bf16;
	SWAV_CHECK(p_dnnl_memory_desc_init_by_tag(&cv->src, 4, sd, src_is_bf16 ? dnnl_bf16 : dnnl_f32, dnnl_nhwc), "source desc");
	SWAV_CHECK(p_dnnl_memory_desc_init_by_tag(&cv->dst, 4, dd, dst_is_bf16 ? dnnl_bf16 : dnnl_f32, dnnl_nhwc), "destination desc");
	SWAV_CHECK(p_dnnl_memory_desc_init_by_tag(&cv->wei, 4, wd, dnnl_f32, dnnl_oihw), "weights desc");
	SWAV_CHECK(p_dnnl_memory_desc_init_by_tag(&cv->any_w, 4, wd, cdt, dnnl_format_tag_any), "weights desc");
	SWAV_CHECK(p_dnnl_memory_desc_init_by_tag(&cv->bias, 1, bd, dnnl_f32, dnnl_x), "bias desc");
	SWAV_CHECK(p_dnnl_memory_desc_init_by_tag(&cv->src_bf, 4, sd, cdt, dnnl_nhwc), "source desc");
	SWAV_CHECK(p_dnnl_memory_desc_init_by_tag(&cv->dst_bf, 4, dd, cdt, dnnl_nhwc), "destination desc");
	// (The forward reads its source in NHWC: letting oneDNN pick the layout,
	// so that the backward weights could share it, made a ResNet-18 step
	// 80 times slower on oneDNN 2.6, measured.)
	dnnl_convolution_desc_t cd;
	SWAV_CHECK(p_dnnl_convolution_forward_desc_init(&cd, training ? dnnl_forward_training : dnnl_forward_inference,
		dnnl_convolution_direct, &cv->src_bf, &cv->any_w, bias ? &cv->bias : NULL, &cv->dst,
		cv->strides, cv->pad_l, cv->pad_r), "forward desc");
	dnnl_primitive_attr_t attr;
	dnnl_post_ops_t ops;
	SWAV_CHECK(p_dnnl_primitive_attr_create(&attr), "attributes");
	SWAV_CHECK(p_dnnl_post_ops_create(&ops), "post-ops");
	if (sum) SWAV_CHECK(p_dnnl_post_ops_append_sum(ops, 1.0f), "sum post-op");
	if (relu) SWAV_CHECK(p_dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f), "relu post-op");
	SWAV_CHECK(p_dnnl_primitive_attr_set_post_ops(attr, ops), "post-ops");
	dnnl_status_t st = p_dnnl_primitive_desc_create(&cv->fwd_pd, &cd, attr, swav_eng, NULL);
	p_dnnl_post_ops_destroy(ops);
	p_dnnl_primitive_attr_destroy(attr);
	SWAV_CHECK(st, "forward primitive desc");
	SWAV_CHECK(p_dnnl_primitive_create(&cv->fwd, cv->fwd_pd), "forward primitive");
	if (!swav_reorder_for(p_dnnl_primitive_desc_query_md(cv->fwd_pd, dnnl_query_weights_md, 0), &cv->wei, 0, &cv->fwd_w, &cv->fwd_reorder)) return 0;
	SWAV_CHECK(p_dnnl_memory_create(&cv->m_src, &cv->src, swav_eng, DNNL_MEMORY_NONE), "source memory");
	SWAV_CHECK(p_dnnl_memory_create(&cv->m_dst, &cv->dst, swav_eng, DNNL_MEMORY_NONE), "destination memory");
	SWAV_CHECK(p_dnnl_memory_create(&cv->m_wei, &cv->wei, swav_eng, DNNL_MEMORY_NONE), "weights memory");
	SWAV_CHECK(p_dnnl_memory_create(&cv->m_bias, &cv->bias, swav_eng, DNNL_MEMORY_NONE), "bias memory");
	if (bf16 && !src_is_bf16) {
		if (!swav_reorder_prim(&cv->src, &cv->src_bf, &cv->src_cvt, "source to bf16")) return 0;
		SWAV_CHECK(p_dnnl_memory_create(&cv->m_src_bf, &cv->src_bf, swav_eng, DNNL_MEMORY_NONE), "source memory");
	}
	if (bf16 && training && !src_is_bf16) {
		if (posix_memalign(&cv->src_keep, 64, p_dnnl_memory_desc_get_size(&cv->src_bf)) != 0) {
			cv->src_keep = NULL;
			snprintf(swav_err, sizeof swav_err, "out of memory for the bf16 source");
			return 0;
		}
	}
	return 1;
}

// swav_conv_backward_init builds the two backward primitives (once). Both
// read the destination gradient in NHWC, in the precision they compute in
// (a bf16 convolution converts the caller's float32 gradient once for
// both). The backward weights reads the forward's NHWC source (a bf16
// convolution's kept copy) and writes the weights gradient in its own
// layout and precision, which a reorder turns into the caller's float32
// OIHW: in bf16 that rounds each call's gradient to bf16, as PyTorch's
// autocast does. (Measured on avx512_core_bf16, oneDNN 2.6: with a bf16
// weights gradient the bf16 kernels on NHWC are as fast as on the blocked
// layouts oneDNN picks for a float32 one, strided convolutions included,
// where the float32-gradient kernels were 2 to 30 times slower; a
// ResNet-18 step at 96 px gains 5 to 10 %.)
static int swav_conv_backward_init(swav_conv* cv) {
	if (cv->bwd_d != NULL) return 1;
	dnnl_convolution_desc_t cd;
	dnnl_primitive_desc_t pd;
	dnnl_memory_desc_t any_dw;
	dnnl_dims_t wd = {cv->wei.dims[0], cv->wei.dims[1], cv->wei.dims[2], cv->wei.dims[3]};
	SWAV_CHECK(p_dnnl_memory_desc_init_by_tag(&any_dw, 4, wd, cv->bf16 ? dnnl_bf16 : dnnl_f32, dnnl_format_tag_any), "weights gradient desc");
	SWAV_CHECK(p_dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &cv->src_bf, &any_dw, NULL, &cv->dst_bf,
		cv->strides, cv->pad_l, cv->pad_r), "backward weights desc");
	SWAV_CHECK(p_dnnl_primitive_desc_create(&pd, &cd, NULL, swav_eng, cv->fwd_pd), "backward weights primitive desc");
	dnnl_status_t st = p_dnnl_primitive_create(&cv->bwd_w, pd);
	int ok = st == dnnl_success && swav_reorder_for(p_dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0), &cv->wei, 1, &cv->bwd_w_dw, &cv->bwd_w_reorder);
	p_dnnl_primitive_desc_destroy(pd);
	SWAV_CHECK(st, "backward weights primitive");
	if (!ok) return 0;
	SWAV_CHECK(p_dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &cv->src, &cv->any_w, &cv->dst_bf,
		cv->strides, cv->pad_l, cv->pad_r), "backward data desc");
	SWAV_CHECK(p_dnnl_primitive_desc_create(&pd, &cd, NULL, swav_eng, cv->fwd_pd), "backward data primitive desc");
	st = p_dnnl_primitive_create(&cv->bwd_d, pd);
	ok = st == dnnl_success && swav_reorder_for(p_dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), &cv->wei, 0, &cv->bwd_d_w, &cv->bwd_d_reorder);
	p_dnnl_primitive_desc_destroy(pd);
	SWAV_CHECK(st, "backward data primitive");
	if (!ok) return 0;
	if (cv->bf16 && !p_dnnl_memory_desc_equal(&cv->dst, &cv->dst_bf)) {
		if (!swav_reorder_prim(&cv->dst, &cv->dst_bf, &cv->ddst_cvt, "destination gradient to bf16")) return 0;
		SWAV_CHECK(p_dnnl_memory_create(&cv->m_ddst_bf, &cv->dst_bf, swav_eng, DNNL_MEMORY_NONE), "destination gradient memory");
	}
	return 1;
}

static int swav_exec(dnnl_primitive_t p, int n, dnnl_exec_arg_t* args, const char* what) {
	SWAV_CHECK(p_dnnl_primitive_execute(p, swav_stream, n, args), what);
	SWAV_CHECK(p_dnnl_stream_wait(swav_stream), what);
	return 1;
}

// A process-wide buffer that one call binds a memory to (calls run one at
// a time on the locked thread), grown to the largest request.
typedef struct { void* p; size_t size; } swav_buf;

// swav_bind points mem at buf, growing buf when mem needs more.
static int swav_bind(swav_buf* buf, dnnl_memory_t mem) {
	const dnnl_memory_desc_t* md;
	SWAV_CHECK(p_dnnl_memory_get_memory_desc(mem, &md), "memory desc");
	size_t need = p_dnnl_memory_desc_get_size(md);
	if (need > buf->size) {
		free(buf->p);
		buf->p = NULL;
		buf->size = 0;
		if (posix_memalign(&buf->p, 64, need) != 0) { buf->p = NULL; snprintf(swav_err, sizeof swav_err, "out of memory for %zu bytes", need); return 0; }
		buf->size = need;
	}
	SWAV_CHECK(p_dnnl_memory_set_data_handle(mem, buf->p), "buffer");
	return 1;
}

// Every primitive's own copy of its weights lives, for the length of one
// call, in one buffer (swav_wbuf) instead of one per convolution and
// direction: for a ResNet-50 that is one buffer of the largest layer's
// weights instead of three copies of all of them (282 MiB). A bf16
// convolution's copies of its source and destination gradient live in two
// more (the largest activation's size, in bf16).
static swav_buf swav_wbuf, swav_src_buf, swav_ddst_buf;

// swav_reorder runs a reorder (or conversion) from one memory to another.
static int swav_reorder(dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to) {
	dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
	return swav_exec(r, 2, a, "reorder");
}

// swav_conv_src is the source the primitives read: the user's (src), or
// its bf16 copy: converted into the shared buffer, or for a training
// convolution into its own, where the backward finds it (converted again
// only when given another source than the last forward's).
static dnnl_memory_t swav_conv_src(swav_conv* cv, const float* src, int backward, int* ok) {
	if (!cv->bf16 || cv->src_is_bf16) return cv->m_src;
	if (cv->src_keep == NULL) {
		*ok = swav_bind(&swav_src_buf, cv->m_src_bf) && swav_reorder(cv->src_cvt, cv->m_src, cv->m_src_bf);
		return cv->m_src_bf;
	}
	p_dnnl_memory_set_data_handle(cv->m_src_bf, cv->src_keep);
	if (!backward || src != cv->last_src) {
		*ok = swav_reorder(cv->src_cvt, cv->m_src, cv->m_src_bf);
		cv->last_src = *ok ? src : NULL;
	}
	return cv->m_src_bf;
}

static void swav_release(swav_conv* cv) {
	dnnl_memory_t ms[] = {cv->m_src, cv->m_dst, cv->m_wei, cv->m_bias, cv->m_src_bf, cv->m_ddst_bf};
	for (int i = 0; i < 6; i++) if (ms[i] != NULL) p_dnnl_memory_set_data_handle(ms[i], NULL);
}

// The calls set the user memories' handles to the caller's buffers for the
// call only (none is kept after it returns).
static int swav_conv_forward(swav_conv* cv, float* src, float* wei, float* bias, float* dst) {
	p_dnnl_memory_set_data_handle(cv->m_src, src);
	p_dnnl_memory_set_data_handle(cv->m_dst, dst);
	p_dnnl_memory_set_data_handle(cv->m_wei, wei);
	p_dnnl_memory_set_data_handle(cv->m_bias, bias);
	int ok = 1;
	dnnl_memory_t s = swav_conv_src(cv, src, 0, &ok);
	dnnl_memory_t w = cv->m_wei;
	if (wei == NULL) {
		w = cv->kept_w;
		if (w == NULL) { snprintf(swav_err, sizeof swav_err, "forward without weights before any were kept"); ok = 0; }
	} else if (ok && cv->fwd_reorder != NULL) { ok = swav_bind(&swav_wbuf, cv->fwd_w) && swav_reorder(cv->fwd_reorder, cv->m_wei, cv->fwd_w); w = cv->fwd_w; }
	if (ok) {
		dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, s}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, cv->m_dst}, {DNNL_ARG_BIAS, cv->m_bias}};
		ok = swav_exec(cv->fwd, cv->has_bias ? 4 : 3, a, "forward");
	}
	swav_release(cv);
	return ok;
}

// swav_conv_set_weights keeps a copy of wei in the forward's own layout
// (and precision), for the forward calls given no weights.
static int swav_conv_set_weights(swav_conv* cv, float* wei) {
	const dnnl_memory_desc_t* md = p_dnnl_primitive_desc_query_md(cv->fwd_pd, dnnl_query_weights_md, 0);
	if (cv->kept_w == NULL) SWAV_CHECK(p_dnnl_memory_create(&cv->kept_w, md, swav_eng, DNNL_MEMORY_ALLOCATE), "kept weights");
	int ok = 1;
	if (cv->fwd_reorder != NULL) {
		p_dnnl_memory_set_data_handle(cv->m_wei, wei);
		ok = swav_reorder(cv->fwd_reorder, cv->m_wei, cv->kept_w);
		p_dnnl_memory_set_data_handle(cv->m_wei, NULL);
	} else {
		void* h = NULL;
		SWAV_CHECK(p_dnnl_memory_get_data_handle(cv->kept_w, &h), "kept weights");
		memcpy(h, wei, p_dnnl_memory_desc_get_size(md));
	}
	return ok;
}

// swav_conv_backward writes the weights gradient into diff_wei and, when
// diff_src is not NULL, the source gradient: the destination gradient is
// read (and, in bf16, converted) once for both.
static int swav_conv_backward(swav_conv* cv, float* src, float* diff_dst, float* wei, float* diff_wei, float* diff_src) {
	if (!swav_conv_backward_init(cv)) return 0;
	p_dnnl_memory_set_data_handle(cv->m_src, src);
	p_dnnl_memory_set_data_handle(cv->m_dst, diff_dst);
	p_dnnl_memory_set_data_handle(cv->m_wei, diff_wei);
	int ok = 1;
	dnnl_memory_t dd = cv->m_dst, s = cv->m_src;
	if (cv->ddst_cvt != NULL) {
		ok = swav_bind(&swav_ddst_buf, cv->m_ddst_bf) && swav_reorder(cv->ddst_cvt, cv->m_dst, cv->m_ddst_bf);
		dd = cv->m_ddst_bf;
	}
	if (ok) s = swav_conv_src(cv, src, 1, &ok);
	dnnl_memory_t dw = cv->bwd_w_dw != NULL ? cv->bwd_w_dw : cv->m_wei;
	if (ok) {
		dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC, s}, {DNNL_ARG_DIFF_DST, dd}, {DNNL_ARG_DIFF_WEIGHTS, dw}};
		ok = (cv->bwd_w_dw == NULL || swav_bind(&swav_wbuf, cv->bwd_w_dw)) && swav_exec(cv->bwd_w, 3, a, "backward weights");
	}
	if (ok && cv->bwd_w_reorder != NULL) ok = swav_reorder(cv->bwd_w_reorder, cv->bwd_w_dw, cv->m_wei);
	if (ok && diff_src != NULL) {
		p_dnnl_memory_set_data_handle(cv->m_wei, wei);
		p_dnnl_memory_set_data_handle(cv->m_src, diff_src);
		dnnl_memory_t w = cv->m_wei;
		if (cv->bwd_d_reorder != NULL) { ok = swav_bind(&swav_wbuf, cv->bwd_d_w) && swav_reorder(cv->bwd_d_reorder, cv->m_wei, cv->bwd_d_w); w = cv->bwd_d_w; }
		if (ok) {
			dnnl_exec_arg_t a[3] = {{DNNL_ARG_DIFF_DST, dd}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, cv->m_src}};
			ok = swav_exec(cv->bwd_d, 3, a, "backward data");
		}
	}
	swav_release(cv);
	return ok;
}

// swav_conv_impl names the implementation oneDNN chose for the forward
// (e.g. "brgconv:avx512_core_bf16"), for tests and diagnostics.
static const char* swav_conv_impl(swav_conv* cv) {
	const char* s = NULL;
	if (p_dnnl_primitive_desc_query(cv->fwd_pd, dnnl_query_impl_info_str, 0, &s) != dnnl_success) return "";
	return s;
}

static void swav_conv_free(swav_conv* cv) {
	if (cv == NULL) return;
	dnnl_primitive_t ps[] = {cv->fwd, cv->fwd_reorder, cv->bwd_d, cv->bwd_d_reorder, cv->bwd_w, cv->bwd_w_reorder, cv->src_cvt, cv->ddst_cvt};
	for (int i = 0; i < 8; i++) if (ps[i] != NULL) p_dnnl_primitive_destroy(ps[i]);
	dnnl_memory_t ms[] = {cv->m_src, cv->m_dst, cv->m_wei, cv->m_bias, cv->fwd_w, cv->bwd_d_w, cv->bwd_w_dw, cv->m_src_bf, cv->m_ddst_bf, cv->kept_w};
	for (int i = 0; i < 10; i++) if (ms[i] != NULL) p_dnnl_memory_destroy(ms[i]);
	if (cv->fwd_pd != NULL) p_dnnl_primitive_desc_destroy(cv->fwd_pd);
	free(cv->src_keep);
	free(cv);
}
// A training BatchNorm over NHWC data (batch statistics), with the ReLU
// after it fused in when relu (its mask kept in the workspace for the
// backward). Its source, destination and their gradients are float32, or
// all bf16 when bf16 (statistics, scale and shift stay float32).
typedef struct {
	dnnl_memory_desc_t data, stat;
	dnnl_primitive_desc_t fwd_pd;
	dnnl_primitive_t fwd, bwd;
	dnnl_memory_t m_src, m_dst, m_scale, m_shift, m_mean, m_var, m_dsrc, m_ddst, m_dscale, m_dshift, ws;
	int relu;
} swav_bn;

static int swav_bn_new(swav_bn** out, int n, int h, int w, int c, float eps, int relu, int bf16) {
	swav_bn* bn = calloc(1, sizeof *bn);
	*out = bn;
	bn->relu = relu;
	dnnl_dims_t dd = {n, c, h, w}, sd = {c};
	SWAV_CHECK(p_dnnl_memory_desc_init_by_tag(&bn->data, 4, dd, bf16 ? dnnl_bf16 : dnnl_f32, dnnl_nhwc), "batchnorm data desc");
	SWAV_CHECK(p_dnnl_memory_desc_init_by_tag(&bn->stat, 1, sd, dnnl_f32, dnnl_x), "batchnorm statistics desc");
	unsigned flags = dnnl_use_scale | dnnl_use_shift | (relu ? dnnl_fuse_norm_relu : 0);
	dnnl_batch_normalization_desc_t d;
	SWAV_CHECK(p_dnnl_batch_normalization_forward_desc_init(&d, dnnl_forward_training, &bn->data, eps, flags), "batchnorm forward desc");
	SWAV_CHECK(p_dnnl_primitive_desc_create(&bn->fwd_pd, &d, NULL, swav_eng, NULL), "batchnorm forward primitive desc");
	SWAV_CHECK(p_dnnl_primitive_create(&bn->fwd, bn->fwd_pd), "batchnorm forward primitive");
	if (relu) {
		const dnnl_memory_desc_t* ws = p_dnnl_primitive_desc_query_md(bn->fwd_pd, dnnl_query_workspace_md, 0);
		SWAV_CHECK(p_dnnl_memory_create(&bn->ws, ws, swav_eng, DNNL_MEMORY_ALLOCATE), "batchnorm workspace");
	}
	SWAV_CHECK(p_dnnl_batch_normalization_backward_desc_init(&d, dnnl_backward, &bn->data, &bn->data, eps, flags), "batchnorm backward desc");
	dnnl_primitive_desc_t pd;
	SWAV_CHECK(p_dnnl_primitive_desc_create(&pd, &d, NULL, swav_eng, bn->fwd_pd), "batchnorm backward primitive desc");
	dnnl_status_t st = p_dnnl_primitive_create(&bn->bwd, pd);
	p_dnnl_primitive_desc_destroy(pd);
	SWAV_CHECK(st, "batchnorm backward primitive");
	dnnl_memory_t* data[] = {&bn->m_src, &bn->m_dst, &bn->m_dsrc, &bn->m_ddst};
	for (int i = 0; i < 4; i++) SWAV_CHECK(p_dnnl_memory_create(data[i], &bn->data, swav_eng, DNNL_MEMORY_NONE), "batchnorm memory");
	dnnl_memory_t* stat[] = {&bn->m_scale, &bn->m_shift, &bn->m_mean, &bn->m_var, &bn->m_dscale, &bn->m_dshift};
	for (int i = 0; i < 6; i++) SWAV_CHECK(p_dnnl_memory_create(stat[i], &bn->stat, swav_eng, DNNL_MEMORY_NONE), "batchnorm memory");
	return 1;
}

static int swav_bn_forward(swav_bn* bn, float* src, float* scale, float* shift, float* dst, float* mean, float* var) {
	dnnl_exec_arg_t a[7] = {{DNNL_ARG_SRC, bn->m_src}, {DNNL_ARG_SCALE, bn->m_scale}, {DNNL_ARG_SHIFT, bn->m_shift},
		{DNNL_ARG_DST, bn->m_dst}, {DNNL_ARG_MEAN, bn->m_mean}, {DNNL_ARG_VARIANCE, bn->m_var}, {DNNL_ARG_WORKSPACE, bn->ws}};
	void* ptrs[6] = {src, scale, shift, dst, mean, var};
	for (int i = 0; i < 6; i++) p_dnnl_memory_set_data_handle(a[i].memory, ptrs[i]);
	int ok = swav_exec(bn->fwd, bn->relu ? 7 : 6, a, "batchnorm forward");
	for (int i = 0; i < 6; i++) p_dnnl_memory_set_data_handle(a[i].memory, NULL);
	return ok;
}

// oneDNN 2.6 asks for the shift in the backward too, though the gradients
// do not depend on it.
static int swav_bn_backward(swav_bn* bn, float* src, float* diff_dst, float* scale, float* shift, float* mean, float* var,
                            float* diff_src, float* diff_scale, float* diff_shift) {
	dnnl_exec_arg_t a[10] = {{DNNL_ARG_SRC, bn->m_src}, {DNNL_ARG_DIFF_DST, bn->m_ddst}, {DNNL_ARG_SCALE, bn->m_scale},
		{DNNL_ARG_MEAN, bn->m_mean}, {DNNL_ARG_VARIANCE, bn->m_var}, {DNNL_ARG_DIFF_SRC, bn->m_dsrc},
		{DNNL_ARG_DIFF_SCALE, bn->m_dscale}, {DNNL_ARG_DIFF_SHIFT, bn->m_dshift}, {DNNL_ARG_SHIFT, bn->m_shift}, {DNNL_ARG_WORKSPACE, bn->ws}};
	void* ptrs[9] = {src, diff_dst, scale, mean, var, diff_src, diff_scale, diff_shift, shift};
	for (int i = 0; i < 9; i++) p_dnnl_memory_set_data_handle(a[i].memory, ptrs[i]);
	int ok = swav_exec(bn->bwd, bn->relu ? 10 : 9, a, "batchnorm backward");
	for (int i = 0; i < 9; i++) p_dnnl_memory_set_data_handle(a[i].memory, NULL);
	return ok;
}

static void swav_bn_free(swav_bn* bn) {
	if (bn == NULL) return;
	if (bn->fwd != NULL) p_dnnl_primitive_destroy(bn->fwd);
	if (bn->bwd != NULL) p_dnnl_primitive_destroy(bn->bwd);
	dnnl_memory_t ms[] = {bn->m_src, bn->m_dst, bn->m_scale, bn->m_shift, bn->m_mean, bn->m_var, bn->m_dsrc, bn->m_ddst, bn->m_dscale, bn->m_dshift, bn->ws};
	for (int i = 0; i < 11; i++) if (ms[i] != NULL) p_dnnl_memory_destroy(ms[i]);
	if (bn->fwd_pd != NULL) p_dnnl_primitive_desc_destroy(bn->fwd_pd);
	free(bn);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

var (
	openOnce  sync.Once
	openErr   error
	version   string
	isa       uint32 // oneDNN's effective ISA (dnnl_cpu_isa_t)
	calls     chan func()
	workerTID int64 // the locked worker's OS thread, set before open returns
)

// onWorker says whether the calling goroutine runs on the locked worker's
// thread (only the worker goroutine can: it never unlocks).
func onWorker() bool { return int64(C.swav_tid()) == workerTID }

func do(f func()) {
	if open() != nil {
		f()
		return
	}
	on(f)
}

// open starts the locked worker and opens oneDNN on it, once.
func open() error {
	openOnce.Do(func() {
		calls = make(chan func())
		started := make(chan struct{})
		go func() {
			runtime.LockOSThread() // the OpenMP pool belongs to this thread; it is never unlocked
			workerTID = int64(C.swav_tid())
			close(started)
			for f := range calls {
				f()
			}
		}()
		<-started
		on(func() {
			if C.swav_dnnl_open() != 1 {
				openErr = fmt.Errorf("dnnl: %s", C.GoString(C.swav_dnnl_err()))
				return
			}
			var v [3]C.int
			C.swav_dnnl_version(&v[0])
			isa = uint32(C.swav_dnnl_isa())
			version = fmt.Sprintf("onednn %d.%d.%d %s", v[0], v[1], v[2], isaName(isa))
			if isa&isaAMX == isaAMX && C.swav_dnnl_amx_perm() == 0 {
				version += " (AMX tile permission refused)"
			}
		})
	})
	return openErr
}

// on runs f on the locked worker and waits for it.
func on(f func()) {
	if onWorker() {
		f() // already there (inside Do)
		return
	}
	done := make(chan struct{})
	calls <- func() { f(); close(done) }
	<-done
}

func available() bool { return open() == nil }

func effectiveISA() uint32 {
	if open() != nil {
		return 0
	}
	return isa
}

func name() string {
	if err := open(); err != nil {
		return err.Error()
	}
	return version
}

func setThreads(n int) {
	if open() == nil {
		on(func() { C.swav_dnnl_threads(C.int(n)) })
	}
}

func lastError() error { return errors.New("dnnl: " + C.GoString(C.swav_dnnl_err())) }

type conv struct{ c *C.swav_conv }

func newConv(s ConvShape, o ConvOptions) (*Conv, error) {
	if err := open(); err != nil {
		return nil, err
	}
	var cv *C.swav_conv
	var err error
	on(func() {
		if C.swav_conv_new(&cv, C.int(s.N), C.int(s.H), C.int(s.W), C.int(s.C), C.int(s.OutC), C.int(s.OH), C.int(s.OW),
			C.int(s.Kernel), C.int(s.Stride), C.int(s.Pad), cbool(o.Training), cbool(o.Bias), cbool(o.Sum), cbool(o.ReLU), cbool(o.BF16),
			cbool(o.SrcBF16), cbool(o.DstBF16)) != 1 {
			err = fmt.Errorf("%w (convolution %s)", lastError(), s)
			C.swav_conv_free(cv)
			cv = nil
		}
	})
	if err != nil {
		return nil, err
	}
	c := &Conv{shape: s, opts: o, impl: conv{cv}}
	runtime.SetFinalizer(c, (*Conv).Close)
	return c, nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func ptr(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

func (c conv) forward(src, weights, bias, dst []float32) error {
	var ok C.int
	on(func() { ok = C.swav_conv_forward(c.c, ptr(src), ptr(weights), ptr(bias), ptr(dst)) })
	if ok != 1 {
		return lastError()
	}
	return nil
}

func (c conv) backward(src, diffDst, weights, diffWeights, diffSrc []float32) error {
	var ok C.int
	on(func() {
		ok = C.swav_conv_backward(c.c, ptr(src), ptr(diffDst), ptr(weights), ptr(diffWeights), ptr(diffSrc))
	})
	if ok != 1 {
		return lastError()
	}
	return nil
}

func (c conv) setWeights(weights []float32) error {
	var ok C.int
	on(func() { ok = C.swav_conv_set_weights(c.c, ptr(weights)) })
	if ok != 1 {
		return lastError()
	}
	return nil
}

func (c conv) impl() string {
	var s string
	on(func() { s = C.GoString(C.swav_conv_impl(c.c)) })
	return s
}

func (c conv) close() {
	if c.c != nil {
		on(func() { C.swav_conv_free(c.c) })
	}
}

type batchNorm struct{ b *C.swav_bn }

func newBatchNorm(s BatchNormShape, eps float32, o BatchNormOptions) (*BatchNorm, error) {
	if err := open(); err != nil {
		return nil, err
	}
	var bn *C.swav_bn
	var err error
	on(func() {
		if C.swav_bn_new(&bn, C.int(s.N), C.int(s.H), C.int(s.W), C.int(s.C), C.float(eps), cbool(o.ReLU), cbool(o.BF16)) != 1 {
			err = fmt.Errorf("%w (batchnorm %s)", lastError(), s)
			C.swav_bn_free(bn)
			bn = nil
		}
	})
	if err != nil {
		return nil, err
	}
	b := &BatchNorm{shape: s, opts: o, impl: batchNorm{bn}}
	runtime.SetFinalizer(b, (*BatchNorm).Close)
	return b, nil
}

func (b batchNorm) forward(src, scale, shift, dst, mean, variance []float32) error {
	var ok C.int
	on(func() {
		ok = C.swav_bn_forward(b.b, ptr(src), ptr(scale), ptr(shift), ptr(dst), ptr(mean), ptr(variance))
	})
	if ok != 1 {
		return lastError()
	}
	return nil
}

func (b batchNorm) backward(src, diffDst, scale, shift, mean, variance, diffSrc, diffScale, diffShift []float32) error {
	var ok C.int
	on(func() {
		ok = C.swav_bn_backward(b.b, ptr(src), ptr(diffDst), ptr(scale), ptr(shift), ptr(mean), ptr(variance), ptr(diffSrc), ptr(diffScale), ptr(diffShift))
	})
	if ok != 1 {
		return lastError()
	}
	return nil
}

func (b batchNorm) close() {
	if b.b != nil {
		on(func() { C.swav_bn_free(b.b) })
	}
}
