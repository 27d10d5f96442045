/* CUDA backend on a real GPU (suite gpu): every op against the ref oracle on random data,
 * bit-identical dropout masks and optimiser steps, determinism, the caching allocator, and the
 * deferred bad-label report. Exits 77 (meson: SKIP) when no CUDA device is present. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "backend/backend-impl.h"
#include "core/rng.h"
#include "mia-internal.h"
#include <mia/mia.h>

typedef struct fx {
    mia_backend *ref, *cu;
    uint64_t seed;
} fx;

/* A host array (ref operand) and its device twin (cuda operand). */
typedef struct buf {
    float *h;
    float *d;
    size_t n;
} buf;

#define MAX_BUFS 32
static buf g_bufs[MAX_BUFS];
static int g_nbufs;

static buf mk(fx *f, size_t n, float lo, float hi)
{
    buf b = {NULL, NULL, n};
    b.h = mia__malloc(n * sizeof(float));
    assert_non_null(b.h);
    mia_rng r;
    mia__rng_init(&r, ++f->seed, MIA_STREAM_NOISE);
    for (size_t i = 0; i < n; i++) b.h[i] = lo + (hi - lo) * mia__rng_uniform(&r);
    void *d = NULL;
    assert_int_equal(f->cu->ops->alloc(f->cu, n * sizeof(float), &d), MIA_OK);
    b.d = d;
    assert_int_equal(f->cu->ops->upload(f->cu, b.d, b.h, n * sizeof(float)), MIA_OK);
    assert_true(g_nbufs < MAX_BUFS);
    g_bufs[g_nbufs++] = b;
    return b;
}

static void free_bufs(fx *f)
{
    for (int i = 0; i < g_nbufs; i++) {
        f->cu->ops->release(f->cu, g_bufs[i].d);
        mia__free(g_bufs[i].h);
    }
    g_nbufs = 0;
}

/* |cuda - ref| <= atol + rtol |ref| element-wise; NaN must match NaN. */
static void cmp(fx *f, const buf *b, double atol, double rtol, const char *what)
{
    float *got = mia__malloc(b->n * sizeof(float));
    assert_non_null(got);
    assert_int_equal(mia_backend_synchronize(f->cu), MIA_OK);
    assert_int_equal(f->cu->ops->download(f->cu, got, b->d, b->n * sizeof(float)), MIA_OK);
    for (size_t i = 0; i < b->n; i++) {
        double r = b->h[i], g = got[i];
        int ok = (isnan(r) && isnan(g)) || fabs(g - r) <= atol + rtol * fabs(r);
        if (!ok) {
            mia__free(got);
            fail_msg("%s[%zu]: cuda %.9g vs ref %.9g", what, i, g, r);
        }
    }
    mia__free(got);
}

#define BIND(field, b)                                                                         \
    do {                                                                                       \
        hr.field = (b).h;                                                                      \
        dv.field = (b).d;                                                                      \
    } while (0)
#define RUN(op)                                                                                \
    do {                                                                                       \
        assert_int_equal(mia__##op(f->ref, &hr), MIA_OK);                                      \
        assert_int_equal(mia__##op(f->cu, &dv), MIA_OK);                                       \
    } while (0)

static int setup(void **state)
{
    fx *f = mia__calloc(1, sizeof *f);
    if (!f) return -1;
    if (mia_backend_create(&f->ref, "ref", NULL) != MIA_OK) return -1;
    if (mia_backend_create(&f->cu, "cuda", NULL) != MIA_OK) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    free_bufs(f);
    mia_backend_free(f->cu);
    mia_backend_free(f->ref);
    mia__free(f);
    return 0;
}

static void test_cuda__gemm_matches_ref(void **state)
{
    fx *f = *state;
    const int64_t m = 37, n = 29, k = 53;
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        mia_gemm_args hr = {0};
        hr.trans_a = ta;
        hr.trans_b = tb;
        hr.m = m;
        hr.n = n;
        hr.k = k;
        hr.alpha = 0.75f;
        hr.beta = t == 3 ? 0.5f : 0.0f;
        hr.lda = (ta ? m : k) + 3;
        hr.ldb = (tb ? k : n) + 1;
        hr.ldc = n + 2;
        mia_gemm_args dv = hr;
        buf a = mk(f, (size_t)((ta ? k : m) * hr.lda), -1, 1);
        buf b = mk(f, (size_t)((tb ? n : k) * hr.ldb), -1, 1);
        buf c = mk(f, (size_t)(m * hr.ldc), -1, 1);
        BIND(a, a);
        BIND(b, b);
        BIND(c, c);
        RUN(gemm);
        cmp(f, &c, 1e-4, 1e-4, "gemm");
        free_bufs(f);
    }
}

static void conv_case(fx *f, int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh,
                      int64_t kw, int64_t s, int64_t pt, int64_t pl, int64_t pb, int64_t pr,
                      int64_t groups)
{
    mia_conv2d_args hr = {0};
    hr.n = n; hr.c = c; hr.h = h; hr.w = w; hr.o = o; hr.kh = kh; hr.kw = kw;
    hr.sh = s; hr.sw = s; hr.pt = pt; hr.pl = pl; hr.pb = pb; hr.pr = pr; hr.groups = groups;
    hr.oh = (h + pt + pb - kh) / s + 1;
    hr.ow = (w + pl + pr - kw) / s + 1;
    mia_conv2d_args dv = hr;
    const size_t nx = (size_t)(n * c * h * w), ny = (size_t)(n * o * hr.oh * hr.ow);
    const size_t nw = (size_t)(o * (c / groups) * kh * kw);
    buf x = mk(f, nx, -1, 1), wt = mk(f, nw, -1, 1), b = mk(f, (size_t)o, -1, 1);
    buf y = mk(f, ny, 0, 0), dy = mk(f, ny, -1, 1), dx = mk(f, nx, 0, 0);
    buf dw = mk(f, nw, 0, 0), db = mk(f, (size_t)o, 0, 0);
    BIND(x, x); BIND(wt, wt); BIND(b, b); BIND(y, y); BIND(dy, dy); BIND(dx, dx);
    BIND(dw, dw); BIND(db, db);
    RUN(conv2d_fwd);
    RUN(conv2d_bwd_data);
    RUN(conv2d_bwd_weights);
    cmp(f, &y, 1e-4, 1e-4, "conv y");
    cmp(f, &dx, 1e-4, 1e-4, "conv dx");
    cmp(f, &dw, 1e-3, 1e-4, "conv dw");
    cmp(f, &db, 1e-3, 1e-4, "conv db");
    free_bufs(f);
}

static void test_cuda__conv_matches_ref(void **state)
{
    fx *f = *state;
    conv_case(f, 3, 4, 9, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1);  /* same padding */
    conv_case(f, 2, 6, 11, 10, 4, 3, 2, 2, 1, 0, 2, 1, 2); /* stride 2, asym pad, groups 2 */
    conv_case(f, 2, 5, 8, 8, 7, 1, 1, 1, 0, 0, 0, 0, 1);  /* 1x1 */
    conv_case(f, 2, 4, 9, 9, 4, 3, 3, 2, 1, 1, 1, 1, 4);  /* depthwise */
    conv_case(f, 2, 3, 7, 8, 6, 5, 3, 1, 2, 1, 2, 1, 3);  /* depthwise, multiplier 2 */
}

static void test_cuda__batchnorm_matches_ref(void **state)
{
    fx *f = *state;
    for (int training = 1; training >= 0; training--) {
        mia_batchnorm_args hr = {0};
        hr.n = 5; hr.c = 3; hr.hw = 37; hr.eps = 1e-5f; hr.momentum = 0.1f;
        hr.training = training;
        mia_batchnorm_args dv = hr;
        const size_t nx = (size_t)(hr.n * hr.c * hr.hw);
        buf x = mk(f, nx, -2, 3), g = mk(f, 3, 0.5f, 1.5f), be = mk(f, 3, -1, 1);
        buf dy = mk(f, nx, -1, 1), y = mk(f, nx, 0, 0), dx = mk(f, nx, 0, 0);
        buf rm = mk(f, 3, -0.5f, 0.5f), rv = mk(f, 3, 0.5f, 2), sm = mk(f, 3, 0, 0);
        buf sv = mk(f, 3, 0, 0), dg = mk(f, 3, 0, 0), dbt = mk(f, 3, 0, 0);
        BIND(x, x); BIND(gamma, g); BIND(beta, be); BIND(dy, dy); BIND(y, y); BIND(dx, dx);
        BIND(running_mean, rm); BIND(running_var, rv); BIND(save_mean, sm); BIND(save_var, sv);
        BIND(dgamma, dg); BIND(dbeta, dbt);
        RUN(batchnorm_fwd);
        RUN(batchnorm_bwd);
        cmp(f, &y, 1e-5, 1e-5, "bn y");
        cmp(f, &rm, 1e-6, 1e-6, "bn running_mean");
        cmp(f, &rv, 1e-6, 1e-6, "bn running_var");
        cmp(f, &dx, 1e-5, 1e-5, "bn dx");
        cmp(f, &dg, 1e-5, 1e-5, "bn dgamma");
        cmp(f, &dbt, 1e-5, 1e-5, "bn dbeta");
        if (training) {
            cmp(f, &sm, 1e-6, 1e-6, "bn save_mean");
            cmp(f, &sv, 1e-6, 1e-6, "bn save_var");
        }
        free_bufs(f);
    }
}

static void test_cuda__eltwise_matches_ref(void **state)
{
    fx *f = *state;
    for (int act = MIA_ACT_RELU; act <= MIA_ACT_IDENTITY; act++) {
        mia_eltwise_args hr = {0};
        hr.act = (mia_act)act;
        hr.alpha = 0.1f;
        hr.count = 1001;
        mia_eltwise_args dv = hr;
        buf x = mk(f, 1001, -6, 6), dy = mk(f, 1001, -1, 1), y = mk(f, 1001, 0, 0);
        buf dx = mk(f, 1001, 0, 0);
        BIND(x, x); BIND(dy, dy); BIND(y, y); BIND(dx, dx);
        RUN(eltwise_fwd);
        RUN(eltwise_bwd);
        cmp(f, &y, 1e-6, 1e-5, "eltwise y");
        cmp(f, &dx, 1e-6, 1e-5, "eltwise dx");
        free_bufs(f);
    }
}

static void test_cuda__pool_matches_ref(void **state)
{
    fx *f = *state;
    for (int kind = MIA_POOL_MAX; kind <= MIA_POOL_AVG_EXCLUDE_PAD; kind++) {
        mia_pool2d_args hr = {0};
        hr.kind = (mia_pool_kind)kind;
        hr.n = 2; hr.c = 3; hr.h = 9; hr.w = 8; hr.kh = 3; hr.kw = 3; hr.sh = 2; hr.sw = 2;
        hr.pt = 1; hr.pl = 1; hr.pb = 1; hr.pr = 0;
        hr.oh = (9 + 2 - 3) / 2 + 1;
        hr.ow = (8 + 1 - 3) / 2 + 1;
        mia_pool2d_args dv = hr;
        const size_t nx = 2 * 3 * 9 * 8, ny = (size_t)(2 * 3 * hr.oh * hr.ow);
        buf x = mk(f, nx, -1, 1), dy = mk(f, ny, -1, 1), y = mk(f, ny, 0, 0), dx = mk(f, nx, 0, 0);
        BIND(x, x); BIND(dy, dy); BIND(y, y); BIND(dx, dx);
        RUN(pool2d_fwd);
        RUN(pool2d_bwd);
        cmp(f, &y, 1e-6, 1e-6, "pool y");
        cmp(f, &dx, 1e-6, 1e-5, "pool dx");
        free_bufs(f);
    }
}

static void test_cuda__misc_ops_match_ref(void **state)
{
    fx *f = *state;
    { /* bias */
        mia_bias_args hr = {0};
        hr.outer = 4; hr.c = 5; hr.inner = 33;
        mia_bias_args dv = hr;
        buf b = mk(f, 5, -1, 1), y = mk(f, 660, -1, 1), dy = mk(f, 660, -1, 1), db = mk(f, 5, 0, 0);
        BIND(b, b); BIND(y, y); BIND(dy, dy); BIND(db, db);
        RUN(bias_add);
        RUN(bias_grad);
        cmp(f, &y, 0, 0, "bias y");
        cmp(f, &db, 1e-6, 1e-6, "bias db");
        free_bufs(f);
    }
    { /* binary: exact (same single f32 operation per element) */
        mia_binary_args hr = {0};
        hr.count = 777;
        hr.alpha = -1.25f;
        mia_binary_args dv = hr;
        buf a = mk(f, 777, -1, 1), b = mk(f, 777, -1, 1), y = mk(f, 777, -1, 1);
        BIND(a, a); BIND(b, b); BIND(y, y);
        RUN(axpy);
        cmp(f, &y, 0, 0, "axpy");
        RUN(add);
        cmp(f, &y, 0, 0, "add");
        RUN(mul);
        cmp(f, &y, 0, 0, "mul");
        RUN(scale);
        cmp(f, &y, 0, 0, "scale");
        free_bufs(f);
    }
    { /* chmul */
        mia_chmul_args hr = {0};
        hr.n = 3; hr.c = 4; hr.hw = 50;
        mia_chmul_args dv = hr;
        buf x = mk(f, 600, -1, 1), s = mk(f, 12, -1, 1), dy = mk(f, 600, -1, 1);
        buf y = mk(f, 600, 0, 0), dx = mk(f, 600, 0, 0), ds = mk(f, 12, 0, 0);
        BIND(x, x); BIND(s, s); BIND(dy, dy); BIND(y, y); BIND(dx, dx); BIND(ds, ds);
        RUN(chmul_fwd);
        RUN(chmul_bwd);
        cmp(f, &y, 0, 0, "chmul y");
        cmp(f, &dx, 0, 0, "chmul dx");
        cmp(f, &ds, 1e-6, 1e-6, "chmul ds");
        free_bufs(f);
    }
}

/* Dropout masks and values are bit-identical to ref (same Philox words, same f32 ops). */
static void test_cuda__dropout_is_bit_identical_to_ref(void **state)
{
    fx *f = *state;
    mia_dropout_args hr = {0};
    hr.count = 4099; /* not a multiple of 4 */
    hr.p = 0.3f;
    hr.seed = 1234567;
    hr.stream = 99;
    mia_dropout_args dv = hr;
    buf x = mk(f, 4099, -1, 1), dy = mk(f, 4099, -1, 1), y = mk(f, 4099, 0, 0);
    buf dx = mk(f, 4099, 0, 0);
    BIND(x, x); BIND(dy, dy); BIND(y, y); BIND(dx, dx);
    RUN(dropout_fwd);
    RUN(dropout_bwd);
    cmp(f, &y, 0, 0, "dropout y");
    cmp(f, &dx, 0, 0, "dropout dx");
    free_bufs(f);
}

static void test_cuda__softmax_and_xent_match_ref(void **state)
{
    fx *f = *state;
    for (int lg = 0; lg < 2; lg++) {
        mia_softmax_args hr = {0};
        hr.rows = 67; hr.cols = 300; hr.log = lg;
        mia_softmax_args dv = hr;
        buf x = mk(f, 20100, -8, 8), out = mk(f, 20100, 0, 0), dy = mk(f, 20100, -1, 1);
        buf dx = mk(f, 20100, 0, 0);
        BIND(x, x); BIND(out, out); BIND(dy, dy); BIND(dx, dx);
        RUN(softmax_fwd);
        cmp(f, &out, 1e-6, 1e-5, "softmax out");
        hr.y = out.h; /* bwd consumes the forward output */
        dv.y = out.d;
        RUN(softmax_bwd);
        cmp(f, &dx, 1e-6, 1e-4, "softmax dx");
        free_bufs(f);
    }
    mia_xent_args hr = {0};
    hr.rows = 50; hr.cols = 10; hr.smoothing = 0.1f; hr.grad_scale = 1.0f / 50;
    mia_xent_args dv = hr;
    buf lg = mk(f, 500, -5, 5), loss = mk(f, 50, 0, 0), dl = mk(f, 500, 0, 0);
    buf lab = mk(f, 50, 0, 0); /* int32 labels in a float-sized buffer */
    int32_t *labels = (int32_t *)(void *)lab.h;
    for (int i = 0; i < 50; i++) labels[i] = (i * 7) % 10;
    assert_int_equal(f->cu->ops->upload(f->cu, lab.d, labels, 50 * sizeof(int32_t)), MIA_OK);
    hr.labels = labels;
    dv.labels = (const int32_t *)(void *)lab.d;
    BIND(logits, lg); BIND(loss, loss); BIND(dlogits, dl);
    RUN(xent);
    cmp(f, &loss, 1e-5, 1e-5, "xent loss");
    cmp(f, &dl, 1e-7, 1e-5, "xent dlogits");
    free_bufs(f);
}

static void test_cuda__bad_label_is_reported_at_synchronize(void **state)
{
    fx *f = *state;
    mia_xent_args dv = {0};
    dv.rows = 2; dv.cols = 3; dv.grad_scale = 1;
    buf lg = mk(f, 6, -1, 1), loss = mk(f, 2, 0, 0), lab = mk(f, 2, 0, 0);
    int32_t labels[2] = {1, 3}; /* 3 is out of range */
    assert_int_equal(f->cu->ops->upload(f->cu, lab.d, labels, sizeof labels), MIA_OK);
    dv.logits = lg.d; dv.loss = loss.d; dv.labels = (const int32_t *)(void *)lab.d;
    assert_int_equal(mia__xent(f->cu, &dv), MIA_OK); /* asynchronous: no host round trip */
    assert_int_equal(mia_backend_synchronize(f->cu), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "label"));
    assert_int_equal(mia_backend_synchronize(f->cu), MIA_OK); /* reported once */
    free_bufs(f);
}

static void test_cuda__optimisers_are_bit_identical_to_ref(void **state)
{
    fx *f = *state;
    for (int64_t step = 1; step <= 3; step++) {
        mia_adam_args hr = {0};
        hr.count = 999; hr.step = step; hr.lr = 1e-3f; hr.beta1 = 0.9f; hr.beta2 = 0.999f;
        hr.eps = 1e-8f; hr.weight_decay = step == 2 ? 5e-4f : 0.0f;
        mia_adam_args dv = hr;
        buf p = mk(f, 999, -1, 1), m = mk(f, 999, -0.1f, 0.1f), v = mk(f, 999, 0, 0.01f);
        buf g = mk(f, 999, -1, 1);
        BIND(param, p); BIND(m, m); BIND(v, v); BIND(grad, g);
        RUN(adam_step);
        cmp(f, &p, 0, 0, "adam param");
        cmp(f, &m, 0, 0, "adam m");
        cmp(f, &v, 0, 0, "adam v");
        free_bufs(f);

        mia_sgd_args sr = {0};
        sr.count = 999; sr.step = step; sr.lr = 0.1f; sr.momentum = 0.9f; sr.dampening = 0.1f;
        sr.weight_decay = 5e-4f; sr.nesterov = step == 3;
        mia_sgd_args sd = sr;
        buf sp = mk(f, 999, -1, 1), sb = mk(f, 999, -1, 1), sg = mk(f, 999, -1, 1);
        sr.param = sp.h; sd.param = sp.d; sr.buf = sb.h; sd.buf = sb.d;
        sr.grad = sg.h; sd.grad = sg.d;
        assert_int_equal(mia__sgd_step(f->ref, &sr), MIA_OK);
        assert_int_equal(mia__sgd_step(f->cu, &sd), MIA_OK);
        cmp(f, &sp, 0, 0, "sgd param");
        cmp(f, &sb, 0, 0, "sgd buf");
        free_bufs(f);
    }
}

/* Two runs of the whole conv backward give the same bits (no atomics). */
static void test_cuda__conv_backward_is_deterministic(void **state)
{
    fx *f = *state;
    mia_conv2d_args a = {0};
    a.n = 16; a.c = 32; a.h = 16; a.w = 16; a.o = 32; a.kh = 3; a.kw = 3; a.sh = 1; a.sw = 1;
    a.pt = a.pl = a.pb = a.pr = 1; a.groups = 1; a.oh = 16; a.ow = 16;
    buf x = mk(f, 16 * 32 * 256, -1, 1), wt = mk(f, 32 * 32 * 9, -1, 1);
    buf dy = mk(f, 16 * 32 * 256, -1, 1), dw1 = mk(f, 32 * 32 * 9, 0, 0);
    buf dw2 = mk(f, 32 * 32 * 9, 0, 0), db1 = mk(f, 32, 0, 0), db2 = mk(f, 32, 0, 0);
    a.x = x.d; a.wt = wt.d; a.dy = dy.d; a.dw = dw1.d; a.db = db1.d;
    assert_int_equal(mia__conv2d_bwd_weights(f->cu, &a), MIA_OK);
    a.dw = dw2.d; a.db = db2.d;
    assert_int_equal(mia__conv2d_bwd_weights(f->cu, &a), MIA_OK);
    float h1[32 * 32 * 9], h2[32 * 32 * 9];
    assert_int_equal(mia_backend_synchronize(f->cu), MIA_OK);
    assert_int_equal(f->cu->ops->download(f->cu, h1, dw1.d, sizeof h1), MIA_OK);
    assert_int_equal(f->cu->ops->download(f->cu, h2, dw2.d, sizeof h2), MIA_OK);
    assert_memory_equal(h1, h2, sizeof h1);
    free_bufs(f);
}

static void test_cuda__allocator_reuses_and_zero_fills(void **state)
{
    fx *f = *state;
    void *p = NULL, *q = NULL;
    assert_int_equal(f->cu->ops->alloc(f->cu, 10000, &p), MIA_OK);
    assert_int_equal(mia__fill_f32(f->cu, p, 2500, 3.0f), MIA_OK);
    f->cu->ops->release(f->cu, p);
    assert_int_equal(f->cu->ops->alloc(f->cu, 9999, &q), MIA_OK);
    assert_ptr_equal(p, q); /* same rounded size class: the cached block comes back */
    float h[2500];
    assert_int_equal(f->cu->ops->download(f->cu, h, q, sizeof h), MIA_OK);
    for (int i = 0; i < 2500; i++) assert_true(h[i] == 0.0f); /* re-zeroed */
    assert_int_equal(mia__memset0(f->cu, q, sizeof h), MIA_OK);
    f->cu->ops->release(f->cu, q);
}

static void test_cuda__tensor_roundtrip_and_no_leaks(void **state)
{
    fx *f = *state;
    int64_t live = mia__alloc_live();
    mia_tensor *t = NULL;
    int64_t shape[2] = {3, 5};
    float in[15], out[15];
    for (int i = 0; i < 15; i++) in[i] = (float)i - 7.5f;
    assert_int_equal(mia_tensor_create(&t, f->cu, MIA_DTYPE_F32, 2, shape), MIA_OK);
    assert_null(mia_tensor_host_data(t)); /* device memory is never handed out */
    assert_int_equal(mia_tensor_upload(t, in, sizeof in), MIA_OK);
    assert_int_equal(mia_tensor_download(t, out, sizeof out), MIA_OK);
    assert_memory_equal(in, out, sizeof in);
    mia_tensor_free(t);
    assert_int_equal(mia_backend_live_tensors(f->cu), 0);
    assert_int_equal(mia__alloc_live(), live);
}

int main(void)
{
    if (!mia_backend_available("cuda")) {
        fprintf(stderr, "test-cuda: no CUDA device (or backend not compiled): skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cuda__gemm_matches_ref),
        cmocka_unit_test(test_cuda__conv_matches_ref),
        cmocka_unit_test(test_cuda__batchnorm_matches_ref),
        cmocka_unit_test(test_cuda__eltwise_matches_ref),
        cmocka_unit_test(test_cuda__pool_matches_ref),
        cmocka_unit_test(test_cuda__misc_ops_match_ref),
        cmocka_unit_test(test_cuda__dropout_is_bit_identical_to_ref),
        cmocka_unit_test(test_cuda__softmax_and_xent_match_ref),
        cmocka_unit_test(test_cuda__bad_label_is_reported_at_synchronize),
        cmocka_unit_test(test_cuda__optimisers_are_bit_identical_to_ref),
        cmocka_unit_test(test_cuda__conv_backward_is_deterministic),
        cmocka_unit_test(test_cuda__allocator_reuses_and_zero_fills),
        cmocka_unit_test(test_cuda__tensor_roundtrip_and_no_leaks),
    };
    return cmocka_run_group_tests_name("cuda", tests, setup, teardown);
}
