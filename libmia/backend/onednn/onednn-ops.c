/* onednn kernels other than convolution: GEMM (dnnl_sgemm), batch normalisation, eltwise,
 * pooling, softmax / log-softmax, binary add/mul, bias add/grad (binary broadcast / reduction),
 * channel multiply and layout conversion (reorder). axpy, scale, the optimiser steps and the
 * blocked channel multiply are elementwise loops: a oneDNN sum/linear primitive bakes alpha (the
 * learning rate) into the primitive, so every new value would add a cache entry. */
#include <string.h>

#include "../optim-kernel.h"
#include "../ref/ref.h"
#include "onednn-internal.h"

/* Cache kinds (conv uses 1..3). */
enum {
    K_BN_FWD = 10, K_BN_BWD, K_ELT_FWD, K_ELT_BWD, K_POOL_FWD, K_POOL_BWD, K_BINARY, K_BIAS_ADD,
    K_BIAS_GRAD, K_CHMUL_FWD, K_CHMUL_BWD, K_SM_FWD, K_SM_BWD, K_RELAYOUT
};

static mia_status make_pd(od_entry *e, dnnl_primitive_desc_t *pd, const void *d, od_ctx *c,
                          const_dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint,
                          const char *what)
{
    dnnl_status_t s = dnnl_primitive_desc_create(pd, d, attr, c->engine, hint);
    if (s == dnnl_success) return MIA_OK;
    *pd = NULL;
    if (s == dnnl_unimplemented) {
        e->fallback = true;
        return MIA_OK;
    }
    return mia__od_fail(s, what);
}

/* ---- GEMM --------------------------------------------------------------------------------- */

mia_status mia__od_gemm(mia_backend *be, const mia_gemm_args *a)
{
    mia__od_threads(be);
    OD_CHECK(dnnl_sgemm(a->trans_a ? 'T' : 'N', a->trans_b ? 'T' : 'N', a->m, a->n, a->k, a->alpha,
                        a->a, a->lda, a->b, a->ldb, a->beta, a->c, a->ldc));
    return MIA_OK;
}

/* ---- batch normalisation ------------------------------------------------------------------ */

static unsigned bn_flags(bool training)
{
    return dnnl_use_scale | dnnl_use_shift | (training ? 0u : (unsigned)dnnl_use_global_stats);
}

static mia_status bn_fwd_desc(const mia_batchnorm_args *a, bool training,
                              dnnl_batch_normalization_desc_t *d, dnnl_memory_desc_t *md)
{
    const int64_t dims[4] = {a->n, a->c, a->hw, 1};
    MIA_TRY(mia__od_md(md, 4, dims, a->blocked ? dnnl_nChw8c : dnnl_nchw));
    OD_CHECK(dnnl_batch_normalization_forward_desc_init(
        d, training ? dnnl_forward_training : dnnl_forward_inference, md, a->eps,
        bn_flags(training)));
    return MIA_OK;
}

static mia_status build_bn_fwd(od_ctx *c, od_entry *e, const void *args)
{
    const mia_batchnorm_args *a = args;
    dnnl_batch_normalization_desc_t d;
    dnnl_memory_desc_t md;
    MIA_TRY(bn_fwd_desc(a, a->training, &d, &md));
    dnnl_primitive_desc_t pd;
    MIA_TRY(make_pd(e, &pd, &d, c, c->attr, NULL, "batchnorm forward descriptor"));
    if (!pd) return MIA_OK;
    int st;
    mia_status s = mia__od_stage(c, e, pd, &st);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_SRC, 0, false, &md);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DST, 1, true, &md);
    const int args_[4] = {DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
    for (int i = 0; i < 4 && s == MIA_OK; i++)
        s = mia__od_internal(c, e, st, pd, args_[i], NULL, NULL, (void **)&e->aux[i]);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static void copy_or_fill(float *dst, const float *src, int64_t n, float v)
{
    if (src)
        memcpy(dst, src, (size_t)n * sizeof *dst);
    else
        for (int64_t i = 0; i < n; i++) dst[i] = v;
}

mia_status mia__od_batchnorm_fwd(mia_backend *be, const mia_batchnorm_args *a)
{
    mia__od_threads(be);
    od_key k;
    OD_KEY(&k, K_BN_FWD, a->n, a->c, a->hw, mia__od_fbits(a->eps), a->training, a->blocked);
    od_entry *e;
    MIA_TRY(mia__od_get(be, &k, build_bn_fwd, a, &e));
    if (e->fallback) return mia__ref_batchnorm_fwd(be, a);
    const int64_t C = a->c;
    copy_or_fill(e->aux[0], a->gamma, C, 1.0f);
    copy_or_fill(e->aux[1], a->beta, C, 0.0f);
    if (!a->training) {
        copy_or_fill(e->aux[2], a->running_mean, C, 0.0f);
        copy_or_fill(e->aux[3], a->running_var, C, 1.0f);
    }
    void *p[2] = {(void *)a->x, a->y};
    MIA_TRY(mia__od_run(be->ctx, e, p));
    if (!a->training) return MIA_OK;
    const float *mean = e->aux[2], *var = e->aux[3];
    if (a->save_mean) memcpy(a->save_mean, mean, (size_t)C * sizeof(float));
    if (a->save_var) memcpy(a->save_var, var, (size_t)C * sizeof(float));
    /* Running statistics exactly as ops.h / the ref kernel: momentum, unbiased variance. */
    const int64_t m = a->n * a->hw;
    const double mom = (double)a->momentum;
    for (int64_t ch = 0; ch < C; ch++) {
        if (a->running_mean)
            a->running_mean[ch] =
                (float)((1.0 - mom) * (double)a->running_mean[ch] + mom * (double)mean[ch]);
        if (a->running_var) {
            double v = (double)var[ch];
            double unbiased = m > 1 ? v * (double)m / (double)(m - 1) : v;
            a->running_var[ch] =
                (float)((1.0 - mom) * (double)a->running_var[ch] + mom * unbiased);
        }
    }
    return MIA_OK;
}

static mia_status build_bn_bwd(od_ctx *c, od_entry *e, const void *args)
{
    const mia_batchnorm_args *a = args;
    dnnl_batch_normalization_desc_t fd, bd;
    dnnl_memory_desc_t md;
    /* The hint is always a training forward (inference-mode hints are rejected for dnnl_backward
     * in some versions); use_global_stats in the backward flags selects the eval formula. */
    MIA_TRY(bn_fwd_desc(a, true, &fd, &md));
    dnnl_primitive_desc_t hint;
    MIA_TRY(make_pd(e, &hint, &fd, c, NULL, NULL, "batchnorm forward descriptor"));
    if (!hint) return MIA_OK;
    dnnl_status_t ds = dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &md, &md,
                                                                   a->eps, bn_flags(a->training));
    dnnl_primitive_desc_t pd = NULL;
    mia_status s = ds == dnnl_success ? make_pd(e, &pd, &bd, c, c->attr, hint,
                                                "batchnorm backward descriptor")
                                      : mia__od_fail(ds, "batchnorm backward descriptor");
    dnnl_primitive_desc_destroy(hint);
    if (s != MIA_OK || !pd) return s;
    int st;
    s = mia__od_stage(c, e, pd, &st);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_SRC, 0, false, &md);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DIFF_DST, 1, false, &md);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DIFF_SRC, 2, true, &md);
    /* oneDNN 2.6 requires the (unused) SHIFT argument when dnnl_use_shift is set: aux[5] stays 0 */
    const int args_[6] = {DNNL_ARG_SCALE, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_DIFF_SCALE,
                          DNNL_ARG_DIFF_SHIFT, DNNL_ARG_SHIFT};
    for (int i = 0; i < 6 && s == MIA_OK; i++)
        s = mia__od_internal(c, e, st, pd, args_[i], NULL, NULL, (void **)&e->aux[i]);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

mia_status mia__od_batchnorm_bwd(mia_backend *be, const mia_batchnorm_args *a)
{
    if (!a->dx || (a->training && (!a->save_mean || !a->save_var)))
        return mia__ref_batchnorm_bwd(be, a);
    mia__od_threads(be);
    od_key k;
    OD_KEY(&k, K_BN_BWD, a->n, a->c, a->hw, mia__od_fbits(a->eps), a->training, a->blocked);
    od_entry *e;
    MIA_TRY(mia__od_get(be, &k, build_bn_bwd, a, &e));
    if (e->fallback) return mia__ref_batchnorm_bwd(be, a);
    const int64_t C = a->c;
    copy_or_fill(e->aux[0], a->gamma, C, 1.0f);
    copy_or_fill(e->aux[1], a->training ? a->save_mean : a->running_mean, C, 0.0f);
    copy_or_fill(e->aux[2], a->training ? a->save_var : a->running_var, C, 1.0f);
    void *p[3] = {(void *)a->x, (void *)a->dy, a->dx};
    MIA_TRY(mia__od_run(be->ctx, e, p));
    if (a->dgamma) memcpy(a->dgamma, e->aux[3], (size_t)C * sizeof(float));
    if (a->dbeta) memcpy(a->dbeta, e->aux[4], (size_t)C * sizeof(float));
    return MIA_OK;
}

/* ---- eltwise ------------------------------------------------------------------------------ */

static mia_status elt_alg(const mia_eltwise_args *a, dnnl_alg_kind_t *alg, float *al, float *bt)
{
    *al = 0.0f;
    *bt = 0.0f;
    switch (a->act) {
    case MIA_ACT_RELU: *alg = dnnl_eltwise_relu; break;
    case MIA_ACT_LEAKY_RELU: *alg = dnnl_eltwise_relu; *al = a->alpha; break;
    case MIA_ACT_SILU: *alg = dnnl_eltwise_swish; *al = 1.0f; break;
    case MIA_ACT_SIGMOID: *alg = dnnl_eltwise_logistic; break;
    case MIA_ACT_TANH: *alg = dnnl_eltwise_tanh; break;
    case MIA_ACT_IDENTITY: *alg = dnnl_eltwise_linear; *al = 1.0f; break;
    default: return MIA_ERROR(MIA_ERR_INVALID, "eltwise: unknown activation %d", (int)a->act);
    }
    return MIA_OK;
}

static mia_status elt_fwd_desc(const mia_eltwise_args *a, dnnl_eltwise_desc_t *d,
                               dnnl_memory_desc_t *md)
{
    dnnl_alg_kind_t alg = dnnl_eltwise_relu;
    float al, bt;
    MIA_TRY(elt_alg(a, &alg, &al, &bt));
    MIA_TRY(mia__od_md(md, 1, &a->count, dnnl_a));
    OD_CHECK(dnnl_eltwise_forward_desc_init(d, dnnl_forward_training, alg, md, al, bt));
    return MIA_OK;
}

static mia_status build_elt_fwd(od_ctx *c, od_entry *e, const void *args)
{
    const mia_eltwise_args *a = args;
    dnnl_eltwise_desc_t d;
    dnnl_memory_desc_t md;
    MIA_TRY(elt_fwd_desc(a, &d, &md));
    dnnl_primitive_desc_t pd;
    MIA_TRY(make_pd(e, &pd, &d, c, c->attr, NULL, "eltwise forward descriptor"));
    if (!pd) return MIA_OK;
    int st;
    mia_status s = mia__od_stage(c, e, pd, &st);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_SRC, 0, false, &md);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DST, 1, true, &md);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static mia_status build_elt_bwd(od_ctx *c, od_entry *e, const void *args)
{
    const mia_eltwise_args *a = args;
    dnnl_eltwise_desc_t fd, bd;
    dnnl_memory_desc_t md;
    MIA_TRY(elt_fwd_desc(a, &fd, &md));
    dnnl_primitive_desc_t hint, pd = NULL;
    MIA_TRY(make_pd(e, &hint, &fd, c, NULL, NULL, "eltwise forward descriptor"));
    if (!hint) return MIA_OK;
    mia_status s = MIA_OK;
    dnnl_status_t ds =
        dnnl_eltwise_backward_desc_init(&bd, fd.alg_kind, &md, &md, fd.alpha, fd.beta);
    if (ds != dnnl_success)
        s = mia__od_fail(ds, "eltwise backward descriptor");
    else
        s = make_pd(e, &pd, &bd, c, c->attr, hint, "eltwise backward descriptor");
    dnnl_primitive_desc_destroy(hint);
    if (s != MIA_OK || !pd) return s;
    int st;
    s = mia__od_stage(c, e, pd, &st);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_SRC, 0, false, &md);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DIFF_DST, 1, false, &md);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DIFF_SRC, 2, true, &md);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static void elt_key(od_key *k, int kind, const mia_eltwise_args *a)
{
    OD_KEY(k, kind, (int64_t)a->act,
           a->act == MIA_ACT_LEAKY_RELU ? mia__od_fbits(a->alpha) : 0, a->count);
}

mia_status mia__od_eltwise_fwd(mia_backend *be, const mia_eltwise_args *a)
{
    mia__od_threads(be);
    od_key k;
    elt_key(&k, K_ELT_FWD, a);
    od_entry *e;
    MIA_TRY(mia__od_get(be, &k, build_elt_fwd, a, &e));
    if (e->fallback) return mia__ref_eltwise_fwd(be, a);
    void *p[2] = {(void *)a->x, a->y};
    return mia__od_run(be->ctx, e, p);
}

mia_status mia__od_eltwise_bwd(mia_backend *be, const mia_eltwise_args *a)
{
    mia__od_threads(be);
    od_key k;
    elt_key(&k, K_ELT_BWD, a);
    od_entry *e;
    MIA_TRY(mia__od_get(be, &k, build_elt_bwd, a, &e));
    if (e->fallback) return mia__ref_eltwise_bwd(be, a);
    void *p[3] = {(void *)a->x, (void *)a->dy, a->dx};
    return mia__od_run(be->ctx, e, p);
}

/* ---- pooling ------------------------------------------------------------------------------ */

static mia_status pool_desc(const mia_pool2d_args *a, bool training, dnnl_pooling_v2_desc_t *d,
                            dnnl_memory_desc_t *xmd, dnnl_memory_desc_t *ymd)
{
    const int64_t xd[4] = {a->n, a->c, a->h, a->w}, yd[4] = {a->n, a->c, a->oh, a->ow};
    const dnnl_format_tag_t tag = a->blocked ? dnnl_nChw8c : dnnl_nchw;
    MIA_TRY(mia__od_md(xmd, 4, xd, tag));
    MIA_TRY(mia__od_md(ymd, 4, yd, tag));
    dnnl_alg_kind_t alg;
    switch (a->kind) {
    case MIA_POOL_MAX: alg = dnnl_pooling_max; break;
    case MIA_POOL_AVG_INCLUDE_PAD: alg = dnnl_pooling_avg_include_padding; break;
    case MIA_POOL_AVG_EXCLUDE_PAD: alg = dnnl_pooling_avg_exclude_padding; break;
    default: return MIA_ERROR(MIA_ERR_INVALID, "pool2d: unknown kind %d", (int)a->kind);
    }
    dnnl_dims_t st = {a->sh, a->sw}, ker = {a->kh, a->kw}, dil = {0, 0};
    dnnl_dims_t pl = {a->pt, a->pl}, pr = {a->pb, a->pr};
    OD_CHECK(dnnl_pooling_v2_forward_desc_init(
        d, training ? dnnl_forward_training : dnnl_forward_inference, alg, xmd, ymd, st, ker, dil,
        pl, pr));
    return MIA_OK;
}

static mia_status build_pool_fwd(od_ctx *c, od_entry *e, const void *args)
{
    const mia_pool2d_args *a = args;
    dnnl_pooling_v2_desc_t d;
    dnnl_memory_desc_t xmd, ymd;
    MIA_TRY(pool_desc(a, false, &d, &xmd, &ymd));
    dnnl_primitive_desc_t pd;
    MIA_TRY(make_pd(e, &pd, &d, c, c->attr, NULL, "pooling forward descriptor"));
    if (!pd) return MIA_OK;
    int st;
    mia_status s = mia__od_stage(c, e, pd, &st);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_SRC, 0, false, &xmd);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DST, 1, true, &ymd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

/* Max: stage 0 re-runs the training forward to get the workspace (argmax), stage 1 is the
 * backward. Average: the backward alone. */
static mia_status build_pool_bwd(od_ctx *c, od_entry *e, const void *args)
{
    const mia_pool2d_args *a = args;
    dnnl_pooling_v2_desc_t fd, bd;
    dnnl_memory_desc_t xmd, ymd;
    MIA_TRY(pool_desc(a, true, &fd, &xmd, &ymd));
    dnnl_primitive_desc_t fpd, pd = NULL;
    MIA_TRY(make_pd(e, &fpd, &fd, c, c->attr, NULL, "pooling forward descriptor"));
    if (!fpd) return MIA_OK;
    mia_status s = MIA_OK;
    dnnl_memory_t ws = NULL;
    const bool is_max = a->kind == MIA_POOL_MAX;
    if (is_max) {
        int st;
        s = mia__od_stage(c, e, fpd, &st);
        if (s == MIA_OK) s = mia__od_user(c, e, st, fpd, DNNL_ARG_SRC, 0, false, &xmd);
        if (s == MIA_OK) s = mia__od_internal(c, e, st, fpd, DNNL_ARG_DST, NULL, NULL, NULL);
        if (s == MIA_OK) s = mia__od_internal(c, e, st, fpd, DNNL_ARG_WORKSPACE, NULL, &ws, NULL);
    }
    if (s == MIA_OK) {
        dnnl_dims_t str = {a->sh, a->sw}, ker = {a->kh, a->kw}, dil = {0, 0};
        dnnl_dims_t pl = {a->pt, a->pl}, pr = {a->pb, a->pr};
        dnnl_status_t ds = dnnl_pooling_v2_backward_desc_init(&bd, fd.alg_kind, &xmd, &ymd, str,
                                                              ker, dil, pl, pr);
        if (ds != dnnl_success)
            s = mia__od_fail(ds, "pooling backward descriptor");
        else
            s = make_pd(e, &pd, &bd, c, c->attr, fpd, "pooling backward descriptor");
    }
    dnnl_primitive_desc_destroy(fpd);
    if (s != MIA_OK || !pd) return s;
    int st;
    s = mia__od_stage(c, e, pd, &st);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DIFF_DST, 1, false, &ymd);
    if (s == MIA_OK && is_max) s = mia__od_borrow(e, st, DNNL_ARG_WORKSPACE, ws);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DIFF_SRC, 2, true, &xmd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static void pool_key(od_key *k, int kind, const mia_pool2d_args *a)
{
    OD_KEY(k, kind, (int64_t)a->kind, a->n, a->c, a->h, a->w, a->oh, a->ow, a->kh, a->kw, a->sh,
           a->sw, a->pt, a->pl, a->pb, a->pr, a->blocked);
}

mia_status mia__od_pool2d_fwd(mia_backend *be, const mia_pool2d_args *a)
{
    if (a->kind == MIA_POOL_MAX) return mia__od_maxpool_fwd(be, a); /* onednn-pool.c */
    mia__od_threads(be);
    od_key k;
    pool_key(&k, K_POOL_FWD, a);
    od_entry *e;
    MIA_TRY(mia__od_get(be, &k, build_pool_fwd, a, &e));
    if (e->fallback) return mia__ref_pool2d_fwd(be, a);
    void *p[2] = {(void *)a->x, a->y};
    return mia__od_run(be->ctx, e, p);
}

mia_status mia__od_pool2d_bwd(mia_backend *be, const mia_pool2d_args *a)
{
    if (a->kind == MIA_POOL_MAX) return mia__od_maxpool_bwd(be, a); /* onednn-pool.c */
    mia__od_threads(be);
    od_key k;
    pool_key(&k, K_POOL_BWD, a);
    od_entry *e;
    MIA_TRY(mia__od_get(be, &k, build_pool_bwd, a, &e));
    if (e->fallback) return mia__ref_pool2d_bwd(be, a);
    void *p[3] = {(void *)a->x, (void *)a->dy, a->dx};
    return mia__od_run(be->ctx, e, p);
}

/* ---- softmax ------------------------------------------------------------------------------ */

static mia_status sm_fwd_desc(const mia_softmax_args *a, dnnl_softmax_v2_desc_t *d,
                              dnnl_memory_desc_t *md)
{
    const int64_t dims[2] = {a->rows, a->cols};
    MIA_TRY(mia__od_md(md, 2, dims, dnnl_ab));
    OD_CHECK(dnnl_softmax_v2_forward_desc_init(d, dnnl_forward_training,
                                               a->log ? dnnl_softmax_log : dnnl_softmax_accurate,
                                               md, md, 1));
    return MIA_OK;
}

static mia_status build_sm_fwd(od_ctx *c, od_entry *e, const void *args)
{
    const mia_softmax_args *a = args;
    dnnl_softmax_v2_desc_t d;
    dnnl_memory_desc_t md;
    MIA_TRY(sm_fwd_desc(a, &d, &md));
    dnnl_primitive_desc_t pd;
    MIA_TRY(make_pd(e, &pd, &d, c, c->attr, NULL, "softmax forward descriptor"));
    if (!pd) return MIA_OK;
    int st;
    mia_status s = mia__od_stage(c, e, pd, &st);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_SRC, 0, false, &md);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DST, 1, true, &md);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static mia_status build_sm_bwd(od_ctx *c, od_entry *e, const void *args)
{
    const mia_softmax_args *a = args;
    dnnl_softmax_v2_desc_t fd, bd;
    dnnl_memory_desc_t md;
    MIA_TRY(sm_fwd_desc(a, &fd, &md));
    dnnl_primitive_desc_t hint, pd = NULL;
    MIA_TRY(make_pd(e, &hint, &fd, c, NULL, NULL, "softmax forward descriptor"));
    if (!hint) return MIA_OK;
    mia_status s;
    dnnl_status_t ds = dnnl_softmax_v2_backward_desc_init(
        &bd, a->log ? dnnl_softmax_log : dnnl_softmax_accurate, &md, &md, &md, 1);
    if (ds != dnnl_success)
        s = mia__od_fail(ds, "softmax backward descriptor");
    else
        s = make_pd(e, &pd, &bd, c, c->attr, hint, "softmax backward descriptor");
    dnnl_primitive_desc_destroy(hint);
    if (s != MIA_OK || !pd) return s;
    int st;
    s = mia__od_stage(c, e, pd, &st);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DST, 0, false, &md);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DIFF_DST, 1, false, &md);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DIFF_SRC, 2, true, &md);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

mia_status mia__od_softmax_fwd(mia_backend *be, const mia_softmax_args *a)
{
    mia__od_threads(be);
    od_key k;
    OD_KEY(&k, K_SM_FWD, a->rows, a->cols, a->log);
    od_entry *e;
    MIA_TRY(mia__od_get(be, &k, build_sm_fwd, a, &e));
    if (e->fallback) return mia__ref_softmax_fwd(be, a);
    void *p[2] = {(void *)a->x, a->out};
    return mia__od_run(be->ctx, e, p);
}

mia_status mia__od_softmax_bwd(mia_backend *be, const mia_softmax_args *a)
{
    mia__od_threads(be);
    od_key k;
    OD_KEY(&k, K_SM_BWD, a->rows, a->cols, a->log);
    od_entry *e;
    MIA_TRY(mia__od_get(be, &k, build_sm_bwd, a, &e));
    if (e->fallback) return mia__ref_softmax_bwd(be, a);
    void *p[3] = {(void *)a->y, (void *)a->dy, a->dx};
    return mia__od_run(be->ctx, e, p);
}

/* ---- binary, bias, channel multiply -------------------------------------------------------- */

/* One binary stage: dst = src0 (op) src1 with broadcasting of src1. */
static mia_status binary_stage(od_ctx *c, od_entry *e, dnnl_alg_kind_t alg,
                               const dnnl_memory_desc_t *m0, const dnnl_memory_desc_t *m1,
                               int i0, int i1, int idst, dnnl_memory_t *internal_dst)
{
    dnnl_binary_desc_t d;
    OD_CHECK(dnnl_binary_desc_init(&d, alg, m0, m1, m0));
    dnnl_primitive_desc_t pd;
    MIA_TRY(make_pd(e, &pd, &d, c, c->attr, NULL, "binary descriptor"));
    if (!pd) return MIA_OK;
    int st;
    mia_status s = mia__od_stage(c, e, pd, &st);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_SRC_0, i0, false, m0);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_SRC_1, i1, false, m1);
    if (s == MIA_OK) {
        if (internal_dst)
            s = mia__od_internal(c, e, st, NULL, DNNL_ARG_DST, m0, internal_dst, NULL);
        else
            s = mia__od_user(c, e, st, pd, DNNL_ARG_DST, idst, true, m0);
    }
    dnnl_primitive_desc_destroy(pd);
    return s;
}

typedef struct bin_spec {
    dnnl_alg_kind_t alg;
    int64_t d0[3], d1[3];
} bin_spec;

static mia_status build_binary(od_ctx *c, od_entry *e, const void *args)
{
    const bin_spec *b = args;
    dnnl_memory_desc_t m0, m1;
    MIA_TRY(mia__od_md(&m0, 3, b->d0, dnnl_abc));
    MIA_TRY(mia__od_md(&m1, 3, b->d1, dnnl_abc));
    return binary_stage(c, e, b->alg, &m0, &m1, 0, 1, 2, NULL);
}

static mia_status run_binary(mia_backend *be, int kind, bin_spec *b, void *const *p, bool *fb)
{
    mia__od_threads(be);
    od_key k;
    OD_KEY(&k, kind, (int64_t)b->alg, b->d0[0], b->d0[1], b->d0[2], b->d1[0], b->d1[1], b->d1[2]);
    od_entry *e;
    MIA_TRY(mia__od_get(be, &k, build_binary, b, &e));
    *fb = e->fallback;
    if (e->fallback) return MIA_OK;
    return mia__od_run(be->ctx, e, p);
}

static mia_status elementwise_binary(mia_backend *be, const mia_binary_args *a,
                                     dnnl_alg_kind_t alg, bool *fb)
{
    bin_spec b = {alg, {1, 1, a->count}, {1, 1, a->count}};
    /* oneDNN runs in place only for dst == src0; both ops commute. */
    const float *s0 = a->a, *s1 = a->b;
    if (a->y == a->b && a->y != a->a) {
        s0 = a->b;
        s1 = a->a;
    }
    void *p[3] = {(void *)s0, (void *)s1, a->y};
    return run_binary(be, K_BINARY, &b, p, fb);
}

mia_status mia__od_add(mia_backend *be, const mia_binary_args *a)
{
    bool fb;
    MIA_TRY(elementwise_binary(be, a, dnnl_binary_add, &fb));
    return fb ? mia__ref_add(be, a) : MIA_OK;
}

mia_status mia__od_mul(mia_backend *be, const mia_binary_args *a)
{
    bool fb;
    MIA_TRY(elementwise_binary(be, a, dnnl_binary_mul, &fb));
    return fb ? mia__ref_mul(be, a) : MIA_OK;
}

/* Elementwise loops: one element per iteration, so the result does not depend on threads. */
mia_status mia__od_axpy(mia_backend *be, const mia_binary_args *a)
{
    mia__od_threads(be);
    float *y = a->y;
    const float *x = a->a;
    const float al = a->alpha;
    const int64_t n = a->count;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) y[i] += al * x[i];
    return MIA_OK;
}

mia_status mia__od_scale(mia_backend *be, const mia_binary_args *a)
{
    mia__od_threads(be);
    float *y = a->y;
    const float *x = a->a;
    const float al = a->alpha;
    const int64_t n = a->count;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) y[i] = al * x[i];
    return MIA_OK;
}

mia_status mia__od_bias_add(mia_backend *be, const mia_bias_args *a)
{
    bin_spec b = {dnnl_binary_add, {a->outer, a->c, a->inner}, {1, a->c, 1}};
    void *p[3] = {a->y, (void *)a->b, a->y};
    bool fb;
    MIA_TRY(run_binary(be, K_BIAS_ADD, &b, p, &fb));
    return fb ? mia__ref_bias_add(be, a) : MIA_OK;
}

static mia_status reduction_stage(od_ctx *c, od_entry *e, const dnnl_memory_desc_t *src,
                                  const dnnl_memory_desc_t *dst, int isrc, dnnl_memory_t borrowed,
                                  int idst)
{
    if (dnnl_memory_desc_equal(src, dst)) { /* nothing to reduce: oneDNN rejects it */
        e->fallback = true;
        return MIA_OK;
    }
    dnnl_reduction_desc_t d;
    OD_CHECK(dnnl_reduction_desc_init(&d, dnnl_reduction_sum, src, dst, 0.0f, 0.0f));
    dnnl_primitive_desc_t pd;
    MIA_TRY(make_pd(e, &pd, &d, c, c->attr, NULL, "reduction descriptor"));
    if (!pd) return MIA_OK;
    int st;
    mia_status s = mia__od_stage(c, e, pd, &st);
    if (s == MIA_OK) {
        if (borrowed)
            s = mia__od_borrow(e, st, DNNL_ARG_SRC, borrowed);
        else
            s = mia__od_user(c, e, st, pd, DNNL_ARG_SRC, isrc, false, src);
    }
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DST, idst, true, dst);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static mia_status build_bias_grad(od_ctx *c, od_entry *e, const void *args)
{
    const mia_bias_args *a = args;
    const int64_t sd[3] = {a->outer, a->c, a->inner}, dd[3] = {1, a->c, 1};
    dnnl_memory_desc_t src, dst;
    MIA_TRY(mia__od_md(&src, 3, sd, dnnl_abc));
    MIA_TRY(mia__od_md(&dst, 3, dd, dnnl_abc));
    return reduction_stage(c, e, &src, &dst, 0, NULL, 1);
}

mia_status mia__od_bias_grad(mia_backend *be, const mia_bias_args *a)
{
    mia__od_threads(be);
    od_key k;
    OD_KEY(&k, K_BIAS_GRAD, a->outer, a->c, a->inner);
    od_entry *e;
    MIA_TRY(mia__od_get(be, &k, build_bias_grad, a, &e));
    if (e->fallback) return mia__ref_bias_grad(be, a);
    void *p[2] = {(void *)a->dy, a->db};
    return mia__od_run(be->ctx, e, p);
}

/* Channel multiply on blocked tensors: loops over (n, channel block), 8 lanes innermost. Each
 * output is one product and each ds one f64 sum in the ref kernel's order, so the results are
 * bit-identical to the ref backend for any thread count. */
static void chmul_fwd_blocked(const mia_chmul_args *a)
{
    const int64_t cb = a->c / MIA_BLOCK, hw = a->hw;
#pragma omp parallel for schedule(static) if (a->n * a->c * hw > 32768)
    for (int64_t p = 0; p < a->n * cb; p++) {
        const float *s = a->s + (p / cb) * a->c + (p % cb) * MIA_BLOCK;
        const float *x = a->x + p * hw * MIA_BLOCK;
        float *y = a->y + p * hw * MIA_BLOCK;
        for (int64_t i = 0; i < hw; i++)
            for (int l = 0; l < MIA_BLOCK; l++) y[i * MIA_BLOCK + l] = x[i * MIA_BLOCK + l] * s[l];
    }
}

static void chmul_bwd_blocked(const mia_chmul_args *a)
{
    const int64_t cb = a->c / MIA_BLOCK, hw = a->hw;
#pragma omp parallel for schedule(static) if (a->n * a->c * hw > 32768)
    for (int64_t p = 0; p < a->n * cb; p++) {
        const int64_t at = (p / cb) * a->c + (p % cb) * MIA_BLOCK;
        const float *s = a->s + at;
        const float *x = a->x + p * hw * MIA_BLOCK, *dy = a->dy + p * hw * MIA_BLOCK;
        float *dx = a->dx ? a->dx + p * hw * MIA_BLOCK : NULL;
        double acc[MIA_BLOCK] = {0};
        for (int64_t i = 0; i < hw; i++)
            for (int l = 0; l < MIA_BLOCK; l++) {
                const float g = dy[i * MIA_BLOCK + l];
                acc[l] += (double)g * (double)x[i * MIA_BLOCK + l];
                if (dx) dx[i * MIA_BLOCK + l] = g * s[l];
            }
        if (a->ds)
            for (int l = 0; l < MIA_BLOCK; l++) a->ds[at + l] = (float)acc[l];
    }
}

mia_status mia__od_chmul_fwd(mia_backend *be, const mia_chmul_args *a)
{
    if (a->blocked) {
        mia__od_threads(be);
        chmul_fwd_blocked(a);
        return MIA_OK;
    }
    bin_spec b = {dnnl_binary_mul, {a->n, a->c, a->hw}, {a->n, a->c, 1}};
    void *p[3] = {(void *)a->x, (void *)a->s, a->y};
    bool fb;
    MIA_TRY(run_binary(be, K_CHMUL_FWD, &b, p, &fb));
    return fb ? mia__ref_chmul_fwd(be, a) : MIA_OK;
}

/* dx = dy * s (binary, broadcast s); t = dy * x (binary, internal); ds = sum_hw t (reduction). */
static mia_status build_chmul_bwd(od_ctx *c, od_entry *e, const void *args)
{
    const mia_chmul_args *a = args;
    const int64_t fd[3] = {a->n, a->c, a->hw}, sd[3] = {a->n, a->c, 1};
    dnnl_memory_desc_t full, small;
    MIA_TRY(mia__od_md(&full, 3, fd, dnnl_abc));
    MIA_TRY(mia__od_md(&small, 3, sd, dnnl_abc));
    MIA_TRY(binary_stage(c, e, dnnl_binary_mul, &full, &small, 0, 1, 2, NULL));
    if (e->fallback) return MIA_OK;
    dnnl_memory_t t = NULL;
    MIA_TRY(binary_stage(c, e, dnnl_binary_mul, &full, &full, 0, 3, -1, &t));
    if (e->fallback) return MIA_OK;
    return reduction_stage(c, e, &full, &small, -1, t, 4);
}

mia_status mia__od_chmul_bwd(mia_backend *be, const mia_chmul_args *a)
{
    if (a->blocked) {
        mia__od_threads(be);
        chmul_bwd_blocked(a);
        return MIA_OK;
    }
    if (!a->dx || !a->ds || a->dx == a->dy) return mia__ref_chmul_bwd(be, a);
    mia__od_threads(be);
    od_key k;
    OD_KEY(&k, K_CHMUL_BWD, a->n, a->c, a->hw);
    od_entry *e;
    MIA_TRY(mia__od_get(be, &k, build_chmul_bwd, a, &e));
    if (e->fallback) return mia__ref_chmul_bwd(be, a);
    void *p[5] = {(void *)a->dy, (void *)a->s, a->dx, (void *)a->x, a->ds};
    return mia__od_run(be->ctx, e, p);
}

/* ---- layout conversion -------------------------------------------------------------------- */

static mia_status build_relayout(od_ctx *c, od_entry *e, const void *args)
{
    const mia_relayout_args *a = args;
    const int64_t d[4] = {a->n, a->c, a->hw, 1};
    dnnl_memory_desc_t plain, blk;
    MIA_TRY(mia__od_md(&plain, 4, d, dnnl_nchw));
    MIA_TRY(mia__od_md(&blk, 4, d, dnnl_nChw8c));
    const dnnl_memory_desc_t *from = a->to_blocked ? &plain : &blk, *to = a->to_blocked ? &blk : &plain;
    /* oneDNN reorders between any two plain / blocked layouts (as in mia__od_user) */
    dnnl_primitive_desc_t pd;
    OD_CHECK(dnnl_reorder_primitive_desc_create(&pd, from, c->engine, to, c->engine, c->attr));
    int st;
    mia_status s = mia__od_stage(c, e, pd, &st);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_FROM, 0, false, from);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_TO, 1, true, to);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

mia_status mia__od_relayout(mia_backend *be, const mia_relayout_args *a)
{
    mia__od_threads(be);
    od_key k;
    OD_KEY(&k, K_RELAYOUT, a->n, a->c, a->hw, a->to_blocked);
    od_entry *e;
    MIA_TRY(mia__od_get(be, &k, build_relayout, a, &e));
    void *p[2] = {(void *)a->x, a->y};
    return mia__od_run(be->ctx, e, p);
}

/* ---- optimiser steps ---------------------------------------------------------------------- */

/* The kernels of optim-kernel.h over fixed chunks in parallel: per-element, so bit-identical to
 * the ref backend at any thread count. Small tensors stay on the calling thread. */
#define OPTIM_CHUNK 16384

static void adam_chunk(const void *a, int64_t lo, int64_t hi) { mia__adam_range(a, lo, hi); }
static void sgd_chunk(const void *a, int64_t lo, int64_t hi) { mia__sgd_range(a, lo, hi); }

static void chunked(mia_backend *be, int64_t count, void (*fn)(const void *, int64_t, int64_t),
                    const void *a)
{
    mia__od_threads(be);
    const int64_t nchunk = (count + OPTIM_CHUNK - 1) / OPTIM_CHUNK;
#pragma omp parallel for schedule(static) if (nchunk > 1)
    for (int64_t k = 0; k < nchunk; k++) {
        const int64_t lo = k * OPTIM_CHUNK;
        fn(a, lo, lo + OPTIM_CHUNK < count ? lo + OPTIM_CHUNK : count);
    }
}

mia_status mia__od_adam_step(mia_backend *be, const mia_adam_args *a)
{
    chunked(be, a->count, adam_chunk, a);
    return MIA_OK;
}

mia_status mia__od_sgd_step(mia_backend *be, const mia_sgd_args *a)
{
    chunked(be, a->count, sgd_chunk, a);
    return MIA_OK;
}
