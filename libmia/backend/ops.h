/*
 * Typed arguments of every compute op, and the dispatch functions that run them on a backend.
 * Not installed.
 *
 * Conventions (fixed once, for every backend):
 * - All pointers are backend memory (host pointers for host backends). f32 unless stated.
 * - Tensors are dense and row-major; images NCHW; conv weights OIHW with I = C / groups
 *   (PyTorch layout); transposed-conv weights are IOHW (PyTorch ConvTranspose2d layout).
 * - Dimensions and strides are counts of elements, never bytes.
 * - Every op overwrites its outputs (no accumulation) unless its comment says "+=".
 * - GEMM is row-major: C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, where op(A) = A^T
 *   when trans_a, A stored as m x k (lda >= k) or, transposed, as k x m (lda >= m).
 * - Backward ops of training-mode batchnorm use the batch statistics saved by the forward.
 * - Dropout masks come from mia__philox(seed, MIA_STREAM_DROPOUT ^ stream, i / 4)[i % 4] so
 *   every backend draws the same mask: keep element i iff unit(word) >= p.
 * - Blocked activations. A 4-D activation [n,c,h,w] with c % MIA_BLOCK == 0 may be stored
 *   channel-blocked ("nChw8c"): element (n,c,h,w) lives at
 *   ((n * c_total / 8 + c / 8) * h_total * w_total + h * w_total + w) * 8 + c % 8.
 *   It is the native layout of oneDNN's AVX2 kernels, so a graph that keeps its activations
 *   blocked between ops pays no reorder per op. Ops that take a `blocked` flag (conv, batchnorm,
 *   pooling, channel multiply) read and write the flagged tensors in it; gradients share the
 *   layout of the tensor they belong to. Elementwise ops (eltwise, add, axpy, mul, scale) are
 *   layout-agnostic. With h * w == 1 both layouts are the same bytes. Backends whose descriptor
 *   sets blocked_act get blocked activations from the graph; every host backend accepts the
 *   flags (the ref kernels convert to plain and back: they stay the oracle).
 */
#ifndef MIA_OPS_H
#define MIA_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "mia-internal.h"
#include <mia/backend.h>

#define MIA_BLOCK 8

typedef struct mia_gemm_args {
    bool trans_a, trans_b;
    int64_t m, n, k;
    float alpha, beta;
    const float *a;
    int64_t lda;
    const float *b;
    int64_t ldb;
    float *c;
    int64_t ldc;
} mia_gemm_args;

/* 2-D convolution. Output size must equal (h + pt + pb - kh) / sh + 1 (likewise for w).
 * fwd:          x[n,c,h,w], w[o,c/g,kh,kw], b[o] (nullable) -> y[n,o,oh,ow]
 * bwd_data:     dy, w -> dx
 * bwd_weights:  x, dy -> dw, db (db nullable)
 * x_blocked: x and dx are blocked (c % 8 == 0); y_blocked: y and dy are (o % 8 == 0).
 * relu (fwd only): y = max(conv + b, 0), the ref eltwise ReLU fused into the output. */
typedef struct mia_conv2d_args {
    int64_t n, c, h, w;
    int64_t o, oh, ow;
    int64_t kh, kw;
    int64_t sh, sw;
    int64_t pt, pl, pb, pr; /* zero padding: top, left, bottom, right */
    int64_t groups;
    bool x_blocked, y_blocked;
    bool relu;
    const float *x, *wt, *b, *dy;
    float *y, *dx, *dw, *db;
} mia_conv2d_args;

/* Batch normalisation over (n, hw) per channel c. Works for 2-D inputs with hw = 1.
 * fwd training: y from batch stats; save_mean/save_var get the batch mean and biased variance;
 *               running_mean/var are updated with momentum (unbiased variance), if non-NULL.
 * fwd eval:     y from running_mean/var.
 * bwd (training only): x, dy, gamma, save_mean, save_var -> dx, dgamma, dbeta.
 * blocked: x, y, dx, dy are blocked (c % 8 == 0). */
typedef struct mia_batchnorm_args {
    int64_t n, c, hw;
    float eps, momentum;
    bool training;
    bool blocked;
    const float *x, *gamma, *beta, *dy;
    float *y, *dx, *dgamma, *dbeta;
    float *running_mean, *running_var;
    float *save_mean, *save_var;
} mia_batchnorm_args;

typedef enum mia_act {
    MIA_ACT_RELU = 0,
    MIA_ACT_LEAKY_RELU = 1, /* alpha = negative slope */
    MIA_ACT_SILU = 2,
    MIA_ACT_SIGMOID = 3,
    MIA_ACT_TANH = 4,
    MIA_ACT_IDENTITY = 5
} mia_act;

/* Elementwise activation over count elements. fwd: x -> y. bwd: x, dy -> dx (from the input).
 * y may alias x in fwd, dx may alias dy in bwd. */
typedef struct mia_eltwise_args {
    mia_act act;
    float alpha;
    int64_t count;
    const float *x, *dy;
    float *y, *dx;
} mia_eltwise_args;

typedef enum mia_pool_kind {
    MIA_POOL_MAX = 0,
    MIA_POOL_AVG_INCLUDE_PAD = 1, /* PyTorch default count_include_pad=True */
    MIA_POOL_AVG_EXCLUDE_PAD = 2
} mia_pool_kind;

/* 2-D pooling. Padding counts as -inf for max. Max ties go to the first element in row-major
 * window order (PyTorch). bwd: x, dy -> dx (max recomputes the argmax from x).
 * blocked: x, y, dx, dy are blocked (c % 8 == 0).
 * relu_mask (max bwd only): x is a ReLU's output and dx is that ReLU's input gradient: the
 * pooling dx, then dx = x > 0 ? dx : 0 (the ref eltwise ReLU backward, fused). */
typedef struct mia_pool2d_args {
    mia_pool_kind kind;
    bool blocked;
    bool relu_mask;
    int64_t n, c, h, w, oh, ow;
    int64_t kh, kw, sh, sw;
    int64_t pt, pl, pb, pr;
    const float *x, *dy;
    float *y, *dx;
} mia_pool2d_args;

/* Bias over a (outer, c, inner) view. add: y[o,c,i] += b[c]. grad: db[c] = sum_{o,i} dy[o,c,i]. */
typedef struct mia_bias_args {
    int64_t outer, c, inner;
    const float *b, *dy;
    float *y, *db;
} mia_bias_args;

/* Elementwise binary ops over count elements.
 * add:   y = a + b          (y may alias a or b)
 * axpy:  y += alpha * a
 * mul:   y = a * b
 * scale: y = alpha * a      (y may alias a) */
typedef struct mia_binary_args {
    int64_t count;
    float alpha;
    const float *a, *b;
    float *y;
} mia_binary_args;

/* Channel-wise multiply (squeeze-excite): y[n,c,i] = x[n,c,i] * s[n,c].
 * bwd: dx = dy * s; ds[n,c] = sum_i dy[n,c,i] * x[n,c,i].
 * blocked: x, y, dx, dy are blocked (c % 8 == 0); s and ds are always plain [n,c]. */
typedef struct mia_chmul_args {
    int64_t n, c, hw;
    bool blocked;
    const float *x, *s, *dy;
    float *y, *dx, *ds;
} mia_chmul_args;

/* Layout conversion of an activation [n,c,hw] between plain and blocked (c % 8 == 0).
 * to_blocked: x plain -> y blocked; else x blocked -> y plain. y must not alias x. */
typedef struct mia_relayout_args {
    int64_t n, c, hw;
    bool to_blocked;
    const float *x;
    float *y;
} mia_relayout_args;

/* Inverted dropout with a counter-based mask (see header comment).
 * fwd: y = keep ? x / (1 - p) : 0.  bwd: dx = keep ? dy / (1 - p) : 0. 0 <= p < 1. */
typedef struct mia_dropout_args {
    int64_t count;
    float p;
    uint64_t seed, stream;
    const float *x, *dy;
    float *y, *dx;
} mia_dropout_args;

/* Row-wise softmax / log-softmax over rows x cols (max-shifted).
 * bwd takes the forward output y: softmax: dx = y * (dy - sum(dy * y));
 * log-softmax: dx = dy - exp(y) * sum(dy). */
typedef struct mia_softmax_args {
    int64_t rows, cols;
    bool log;
    const float *x, *y, *dy;
    float *out, *dx;
} mia_softmax_args;

/* Cross-entropy with label smoothing eps (target = (1-eps) onehot + eps/cols), per row:
 * loss[r] = -(1-eps) logp[r, label] - eps * mean_c logp[r, c].
 * dlogits (nullable) = grad_scale * (softmax - target); grad_scale is dL/dloss[r], e.g. 1/rows.
 * labels are int32 in [0, cols); an out-of-range label is a caller bug (checked in dispatch
 * for host backends). */
typedef struct mia_xent_args {
    int64_t rows, cols;
    float smoothing;
    float grad_scale;
    const float *logits;
    const int32_t *labels;
    float *loss, *dlogits;
} mia_xent_args;

/* Adam (PyTorch semantics, coupled L2): g = grad + wd * p; m = b1 m + (1-b1) g;
 * v = b2 v + (1-b2) g^2; p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps). step t >= 1. */
typedef struct mia_adam_args {
    int64_t count;
    int64_t step;
    float lr, beta1, beta2, eps, weight_decay;
    float *param, *m, *v;
    const float *grad;
} mia_adam_args;

/* SGD with momentum (PyTorch semantics): g = grad + wd * p; buf = step==1 ? g : mu buf + (1-damp) g;
 * g = nesterov ? g + mu buf : buf (when mu != 0); p -= lr * g. */
typedef struct mia_sgd_args {
    int64_t count;
    int64_t step;
    float lr, momentum, dampening, weight_decay;
    bool nesterov;
    float *param, *buf;
    const float *grad;
} mia_sgd_args;

/* ---- dispatch (libmia/backend/backend.c) ------------------------------------------------- */
/* Each returns MIA_OK, MIA_ERR_INVALID (bad dims; message names the field),
 * MIA_ERR_UNSUPPORTED (device backend lacks the op) or MIA_ERR_DEVICE/MIA_ERR_NOMEM. */

MIA_PRIVATE mia_status mia__gemm(mia_backend *be, const mia_gemm_args *a);
MIA_PRIVATE mia_status mia__conv2d_fwd(mia_backend *be, const mia_conv2d_args *a);
MIA_PRIVATE mia_status mia__conv2d_bwd_data(mia_backend *be, const mia_conv2d_args *a);
MIA_PRIVATE mia_status mia__conv2d_bwd_weights(mia_backend *be, const mia_conv2d_args *a);
MIA_PRIVATE mia_status mia__batchnorm_fwd(mia_backend *be, const mia_batchnorm_args *a);
MIA_PRIVATE mia_status mia__batchnorm_bwd(mia_backend *be, const mia_batchnorm_args *a);
MIA_PRIVATE mia_status mia__eltwise_fwd(mia_backend *be, const mia_eltwise_args *a);
MIA_PRIVATE mia_status mia__eltwise_bwd(mia_backend *be, const mia_eltwise_args *a);
MIA_PRIVATE mia_status mia__pool2d_fwd(mia_backend *be, const mia_pool2d_args *a);
MIA_PRIVATE mia_status mia__pool2d_bwd(mia_backend *be, const mia_pool2d_args *a);
MIA_PRIVATE mia_status mia__bias_add(mia_backend *be, const mia_bias_args *a);
MIA_PRIVATE mia_status mia__bias_grad(mia_backend *be, const mia_bias_args *a);
MIA_PRIVATE mia_status mia__add(mia_backend *be, const mia_binary_args *a);
MIA_PRIVATE mia_status mia__axpy(mia_backend *be, const mia_binary_args *a);
MIA_PRIVATE mia_status mia__mul(mia_backend *be, const mia_binary_args *a);
MIA_PRIVATE mia_status mia__scale(mia_backend *be, const mia_binary_args *a);
MIA_PRIVATE mia_status mia__chmul_fwd(mia_backend *be, const mia_chmul_args *a);
MIA_PRIVATE mia_status mia__chmul_bwd(mia_backend *be, const mia_chmul_args *a);
MIA_PRIVATE mia_status mia__relayout(mia_backend *be, const mia_relayout_args *a);
MIA_PRIVATE mia_status mia__dropout_fwd(mia_backend *be, const mia_dropout_args *a);
MIA_PRIVATE mia_status mia__dropout_bwd(mia_backend *be, const mia_dropout_args *a);
MIA_PRIVATE mia_status mia__softmax_fwd(mia_backend *be, const mia_softmax_args *a);
MIA_PRIVATE mia_status mia__softmax_bwd(mia_backend *be, const mia_softmax_args *a);
MIA_PRIVATE mia_status mia__xent(mia_backend *be, const mia_xent_args *a);
MIA_PRIVATE mia_status mia__adam_step(mia_backend *be, const mia_adam_args *a);
MIA_PRIVATE mia_status mia__sgd_step(mia_backend *be, const mia_sgd_args *a);
/* Whether graphs keep activations blocked on this backend (its descriptor's blocked_act). */
MIA_PRIVATE bool mia__backend_blocked_act(const mia_backend *be);
/* Raw memory helpers on backend memory. */
MIA_PRIVATE mia_status mia__memcpy_dd(mia_backend *be, void *dst, const void *src, size_t n);
MIA_PRIVATE mia_status mia__memset0(mia_backend *be, void *dst, size_t n);
MIA_PRIVATE mia_status mia__fill_f32(mia_backend *be, float *dst, int64_t count, float v);

#endif
