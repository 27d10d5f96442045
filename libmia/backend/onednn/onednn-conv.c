/* onednn convolution: forward, backward-data and backward-weights. The primitive descriptors use
 * format_tag any for src/weights/dst so oneDNN picks its fastest (blocked) layout; caller
 * buffers in another layout (plain NCHW, OIHW / GOIHW weights) are reordered into and out of
 * cached buffers inside the op. Activations the graph keeps blocked (nChw8c, ops.h) are what the
 * AVX2 kernels want, so for them no reorder runs. Algorithm: direct, except 3x3 stride-1 convs on
 * blocked activations, which run as Winograd F(2x2, 3x3) (onednn-wino.c: oneDNN has Winograd
 * only for AVX-512). */
#include <string.h>

#include "onednn-internal.h"

enum { CONV_FWD = 1, CONV_BWD_DATA = 2, CONV_BWD_WEIGHTS = 3 };

typedef struct conv_mds {
    dnnl_memory_desc_t x, w, y, b;          /* plain: the caller's layouts */
    dnnl_memory_desc_t xa, wa, ya;          /* format_tag any */
    dnnl_dims_t strides, pad_l, pad_r;
} conv_mds;

static mia_status conv_mds_init(const mia_conv2d_args *a, conv_mds *m)
{
    const int64_t xd[4] = {a->n, a->c, a->h, a->w}, yd[4] = {a->n, a->o, a->oh, a->ow};
    const int64_t g = a->groups;
    const int64_t wd5[5] = {g, a->o / g, a->c / g, a->kh, a->kw};
    const int64_t wd4[4] = {a->o, a->c, a->kh, a->kw};
    const int64_t bd[1] = {a->o};
    MIA_TRY(mia__od_md(&m->x, 4, xd, a->x_blocked ? dnnl_nChw8c : dnnl_nchw));
    MIA_TRY(mia__od_md(&m->y, 4, yd, a->y_blocked ? dnnl_nChw8c : dnnl_nchw));
    MIA_TRY(mia__od_md(&m->xa, 4, xd, dnnl_format_tag_any));
    MIA_TRY(mia__od_md(&m->ya, 4, yd, dnnl_format_tag_any));
    if (g > 1) {
        MIA_TRY(mia__od_md(&m->w, 5, wd5, dnnl_goihw));
        MIA_TRY(mia__od_md(&m->wa, 5, wd5, dnnl_format_tag_any));
    } else {
        MIA_TRY(mia__od_md(&m->w, 4, wd4, dnnl_oihw));
        MIA_TRY(mia__od_md(&m->wa, 4, wd4, dnnl_format_tag_any));
    }
    MIA_TRY(mia__od_md(&m->b, 1, bd, dnnl_a));
    m->strides[0] = a->sh;
    m->strides[1] = a->sw;
    m->pad_l[0] = a->pt;
    m->pad_l[1] = a->pl;
    m->pad_r[0] = a->pb;
    m->pad_r[1] = a->pr;
    return MIA_OK;
}

static mia_status fwd_pd(od_ctx *c, conv_mds *m, bool bias, dnnl_primitive_desc_t *pd,
                         const_dnnl_primitive_attr_t attr)
{
    dnnl_convolution_desc_t d;
    OD_CHECK(dnnl_convolution_forward_desc_init(&d, dnnl_forward_training, dnnl_convolution_direct,
                                                &m->xa, &m->wa, bias ? &m->b : NULL, &m->ya,
                                                m->strides, m->pad_l, m->pad_r));
    dnnl_status_t s = dnnl_primitive_desc_create(pd, &d, attr, c->engine, NULL);
    if (s != dnnl_success) {
        *pd = NULL;
        return s == dnnl_unimplemented ? MIA_OK : mia__od_fail(s, "conv forward descriptor");
    }
    return MIA_OK;
}

/* Indices into the per-call pointer array. */
enum { P_X, P_W, P_B, P_Y, P_DY, P_DX, P_DW, P_DB };

/* c->attr plus a ReLU post-op (caller destroys *out). */
static mia_status relu_attr(od_ctx *c, dnnl_primitive_attr_t *out)
{
    dnnl_post_ops_t po = NULL;
    *out = NULL;
    dnnl_status_t s = dnnl_primitive_attr_clone(out, c->attr);
    if (s == dnnl_success) s = dnnl_post_ops_create(&po);
    if (s == dnnl_success) s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(*out, po);
    if (po) dnnl_post_ops_destroy(po);
    if (s != dnnl_success) {
        if (*out) dnnl_primitive_attr_destroy(*out);
        *out = NULL;
        return mia__od_fail(s, "conv ReLU post-op");
    }
    return MIA_OK;
}

static mia_status build_fwd(od_ctx *c, od_entry *e, const void *args)
{
    const mia_conv2d_args *a = args;
    conv_mds m;
    MIA_TRY(conv_mds_init(a, &m));
    dnnl_primitive_desc_t pd;
    dnnl_primitive_attr_t attr = NULL;
    if (a->relu) MIA_TRY(relu_attr(c, &attr));
    mia_status ps = fwd_pd(c, &m, a->b != NULL, &pd, attr ? attr : c->attr);
    if (attr) dnnl_primitive_attr_destroy(attr);
    MIA_TRY(ps);
    if (!pd) {
        e->fallback = true;
        return MIA_OK;
    }
    int st;
    mia_status s = mia__od_stage(c, e, pd, &st);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_SRC, P_X, false, &m.x);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_WEIGHTS, P_W, false, &m.w);
    if (s == MIA_OK && a->b) s = mia__od_user(c, e, st, pd, DNNL_ARG_BIAS, P_B, false, &m.b);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DST, P_Y, true, &m.y);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static mia_status build_bwd_data(od_ctx *c, od_entry *e, const void *args)
{
    const mia_conv2d_args *a = args;
    conv_mds m;
    MIA_TRY(conv_mds_init(a, &m));
    dnnl_primitive_desc_t hint;
    MIA_TRY(fwd_pd(c, &m, false, &hint, NULL));
    if (!hint) {
        e->fallback = true;
        return MIA_OK;
    }
    dnnl_convolution_desc_t d;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t ds = dnnl_convolution_backward_data_desc_init(
        &d, dnnl_convolution_direct, &m.xa, &m.wa, &m.ya, m.strides, m.pad_l, m.pad_r);
    if (ds == dnnl_success) ds = dnnl_primitive_desc_create(&pd, &d, c->attr, c->engine, hint);
    dnnl_primitive_desc_destroy(hint);
    if (ds == dnnl_unimplemented) {
        e->fallback = true;
        return MIA_OK;
    }
    if (ds != dnnl_success) return mia__od_fail(ds, "conv backward-data descriptor");
    int st;
    mia_status s = mia__od_stage(c, e, pd, &st);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DIFF_DST, P_DY, false, &m.y);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_WEIGHTS, P_W, false, &m.w);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DIFF_SRC, P_DX, true, &m.x);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

/* Whether oneDNN picked its gemm-based convolution (im2col + GEMM, per group). */
static bool is_gemm(const_dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success)
        return false;
    return impl && strstr(impl, "gemm") != NULL;
}

static mia_status build_bwd_weights(od_ctx *c, od_entry *e, const void *args)
{
    const mia_conv2d_args *a = args;
    conv_mds m;
    MIA_TRY(conv_mds_init(a, &m));
    dnnl_primitive_desc_t hint;
    MIA_TRY(fwd_pd(c, &m, a->db != NULL, &hint, NULL));
    if (!hint) {
        e->fallback = true;
        return MIA_OK;
    }
    dnnl_convolution_desc_t d;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t ds = dnnl_convolution_backward_weights_desc_init(
        &d, dnnl_convolution_direct, &m.xa, &m.wa, a->db ? &m.b : NULL, &m.ya, m.strides,
        m.pad_l, m.pad_r);
    if (ds == dnnl_success) ds = dnnl_primitive_desc_create(&pd, &d, c->attr, c->engine, hint);
    dnnl_primitive_desc_destroy(hint);
    if (ds == dnnl_unimplemented) {
        e->fallback = true;
        return MIA_OK;
    }
    if (ds != dnnl_success) return mia__od_fail(ds, "conv backward-weights descriptor");
    if (mia__od_dw_applies(a) && is_gemm(pd)) {
        dnnl_primitive_desc_destroy(pd);
        e->custom = true;
        return MIA_OK;
    }
    int st;
    mia_status s = mia__od_stage(c, e, pd, &st);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_SRC, P_X, false, &m.x);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DIFF_DST, P_DY, false, &m.y);
    if (s == MIA_OK) s = mia__od_user(c, e, st, pd, DNNL_ARG_DIFF_WEIGHTS, P_DW, true, &m.w);
    if (s == MIA_OK && a->db)
        s = mia__od_user(c, e, st, pd, DNNL_ARG_DIFF_BIAS, P_DB, true, &m.b);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static void conv_key(od_key *k, int kind, const mia_conv2d_args *a, bool bias)
{
    OD_KEY(k, kind, a->n, a->c, a->h, a->w, a->o, a->oh, a->ow, a->kh, a->kw, a->sh, a->sw, a->pt,
           a->pl, a->pb, a->pr, a->groups, bias ? 1 : 0, a->x_blocked, a->y_blocked,
           kind == CONV_FWD && a->relu);
}

static mia_status conv_run(mia_backend *be, int kind, const mia_conv2d_args *a, bool bias,
                           od_build_fn fn, od_entry **e)
{
    mia__od_threads(be);
    od_key k;
    conv_key(&k, kind, a, bias);
    return mia__od_get(be, &k, fn, a, e);
}

#include "../ref/ref.h"

mia_status mia__od_conv2d_fwd(mia_backend *be, const mia_conv2d_args *a)
{
    if (mia__od_wino_applies(a)) return mia__od_wino_fwd(be, a);
    od_entry *e;
    MIA_TRY(conv_run(be, CONV_FWD, a, a->b != NULL, build_fwd, &e));
    if (e->fallback) return mia__ref_conv2d_fwd(be, a);
    void *p[8] = {(void *)a->x, (void *)a->wt, (void *)a->b, a->y};
    return mia__od_run(be->ctx, e, p);
}

mia_status mia__od_conv2d_bwd_data(mia_backend *be, const mia_conv2d_args *a)
{
    if (mia__od_wino_applies(a)) return mia__od_wino_bwd_data(be, a);
    od_entry *e;
    MIA_TRY(conv_run(be, CONV_BWD_DATA, a, false, build_bwd_data, &e));
    if (e->fallback) return mia__ref_conv2d_bwd_data(be, a);
    void *p[8] = {NULL, (void *)a->wt, NULL, NULL, (void *)a->dy, a->dx};
    return mia__od_run(be->ctx, e, p);
}

mia_status mia__od_conv2d_bwd_weights(mia_backend *be, const mia_conv2d_args *a)
{
    if (mia__od_wino_applies(a)) return mia__od_wino_bwd_weights(be, a);
    od_entry *e;
    MIA_TRY(conv_run(be, CONV_BWD_WEIGHTS, a, a->db != NULL, build_bwd_weights, &e));
    if (e->fallback) return mia__ref_conv2d_bwd_weights(be, a);
    if (e->custom) return mia__od_dw_bwd_weights(be, a); /* onednn-dw.c */
    void *p[8] = {(void *)a->x, NULL, NULL, NULL, (void *)a->dy, NULL, a->dw, a->db};
    return mia__od_run(be->ctx, e, p);
}
