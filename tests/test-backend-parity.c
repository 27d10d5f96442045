/* Backend parity: every op of MIA_OP_LIST, forward and backward, on every compiled backend other
 * than ref (cuda only when a device is present), compared with the ref backend (the oracle) on
 * random inputs drawn with mia_rng. Each backend also runs every case twice: the outputs must be
 * bit-identical (determinism at a fixed thread count; the second run also hits the primitive
 * cache).
 *
 * Tolerances: max_i |got_i - ref_i| <= tol * scale, where scale = max_i |ref_i| of that output
 * (at least 1e-6; at least 1 for softmax outputs, which are O(1)). ref accumulates in f64, the backends in f32.
 *   gemm, conv (fwd, bwd-data, bwd-weights), batchnorm     tol 1e-4
 *   softmax, log-softmax, xent, eltwise, bias grad, chmul  tol 1e-5
 *   pooling, binary ops, bias add, dropout, adam, sgd      tol 1e-6
 * Output buffers are pre-filled with NaN, so an output a backend fails to write fails the test.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/backend-impl.h"
#include "core/rng.h"
#include <mia/backend.h>

/* ---- backends under test ------------------------------------------------------------------- */

#define MAX_BE 8
static mia_backend *g_ref;
static mia_backend *g_be[MAX_BE];
static int g_nbe;

static int group_setup(void **state)
{
    (void)state;
    if (mia_backend_create(&g_ref, "ref", NULL) != MIA_OK) return -1;
    for (size_t i = 0; i < mia_backend_count() && g_nbe < MAX_BE; i++) {
        const char *name = mia_backend_name(i);
        if (strcmp(name, "ref") == 0) continue;
        if (!mia_backend_available(name)) {
            fprintf(stderr, "parity: backend %s has no device here, skipped\n", name);
            continue;
        }
        mia_backend_opts o;
        mia_backend_opts_init(&o);
        o.n_threads = 2;
        o.deterministic = true;
        if (mia_backend_create(&g_be[g_nbe], name, &o) != MIA_OK) {
            fprintf(stderr, "parity: cannot create %s: %s\n", name, mia_last_error());
            return -1;
        }
        g_nbe++;
    }
    if (g_nbe == 0) fprintf(stderr, "parity: no backend besides ref is compiled in\n");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < g_nbe; i++) mia_backend_free(g_be[i]);
    mia_backend_free(g_ref);
    return 0;
}

/* ---- host data ----------------------------------------------------------------------------- */

#define MAX_HOST 64
static void *g_host[MAX_HOST];
static int g_nhost;
static mia_rng g_rng;

static void *host_alloc(size_t bytes)
{
    assert_true(g_nhost < MAX_HOST);
    void *p = calloc(1, bytes ? bytes : 4);
    assert_non_null(p);
    g_host[g_nhost++] = p;
    return p;
}

static void host_free_all(void)
{
    for (int i = 0; i < g_nhost; i++) free(g_host[i]);
    g_nhost = 0;
}

static float *randn(int64_t n, double mean, double sd)
{
    float *p = host_alloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = (float)(mean + sd * mia__rng_normal(&g_rng));
    return p;
}

static float *randu(int64_t n, double lo, double hi)
{
    float *p = host_alloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * mia__rng_uniform_f64(&g_rng));
    return p;
}

/* A placeholder for an output field: the runner allocates it on the backend. */
static float g_out_marker;
#define OUTBUF (&g_out_marker)

/* ---- generic runner ------------------------------------------------------------------------ */

enum { IN = 1, OUT = 2 };
#define MAX_F 10

typedef struct field {
    const char *name;
    size_t off;          /* offset of the pointer member in the args struct */
    int64_t count;       /* elements (4 bytes each) */
    int flags;           /* IN, OUT or both */
    const void *host;    /* input data (IN), NULL for a NULL pointer argument, OUTBUF otherwise */
    int alias;           /* index of an earlier field whose buffer this one shares, or -1 */
} field;

#define FLD(T, m, n, fl, h) {#m, offsetof(T, m), (n), (fl), (h), -1}
#define FLD_ALIAS(T, m, n, fl, a) {#m, offsetof(T, m), (n), (fl), OUTBUF, (a)}

typedef mia_status (*op_fn)(mia_backend *be, const void *args);
#define WRAP_(name, args)                                                                      \
    static mia_status call_##name(mia_backend *be, const void *a)                              \
    {                                                                                          \
        return mia__##name(be, (const args *)a);                                               \
    }
MIA_OP_LIST(WRAP_)
#undef WRAP_

/* Runs op on be; res[i] receives a malloc'ed copy of output field i (NULL for others). */
static void run_op(mia_backend *be, op_fn fn, const void *args, size_t size, const field *f,
                   int nf, float **res)
{
    _Alignas(16) unsigned char local[512];
    assert_true(size <= sizeof local);
    memcpy(local, args, size);
    void *dev[MAX_F] = {0};
    for (int i = 0; i < nf; i++) {
        res[i] = NULL;
        if (!f[i].host) continue;
        size_t bytes = (size_t)f[i].count * 4;
        if (f[i].alias >= 0) {
            dev[i] = dev[f[i].alias];
        } else {
            assert_int_equal(be->ops->alloc(be, bytes, &dev[i]), MIA_OK);
            float *init = malloc(bytes);
            assert_non_null(init);
            if (f[i].flags & IN)
                memcpy(init, f[i].host, bytes);
            else
                for (int64_t k = 0; k < f[i].count; k++) init[k] = NAN;
            assert_int_equal(be->ops->upload(be, dev[i], init, bytes), MIA_OK);
            free(init);
        }
        memcpy(local + f[i].off, &dev[i], sizeof(void *));
    }
    mia_status s = fn(be, local);
    if (s != MIA_OK) fail_msg("%s: op failed: %s", be->ops->name, mia_last_error());
    assert_int_equal(mia_backend_synchronize(be), MIA_OK);
    for (int i = 0; i < nf; i++) {
        if (!f[i].host || !(f[i].flags & OUT)) continue;
        size_t bytes = (size_t)f[i].count * 4;
        res[i] = malloc(bytes);
        assert_non_null(res[i]);
        assert_int_equal(be->ops->download(be, res[i], dev[i], bytes), MIA_OK);
    }
    for (int i = 0; i < nf; i++)
        if (dev[i] && f[i].alias < 0) be->ops->release(be, dev[i]);
}

/* Smallest scale of an output (softmax outputs are O(1) by nature: log-softmax of a single
 * column is exactly 0, and an absolute error of ~1e-6 there is fine). */
static double g_scale_floor = 1e-6;

static void expect_close(const char *be, const char *op, const char *what, const float *got,
                         const float *want, int64_t n, double tol)
{
    double scale = g_scale_floor;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(want[i]) && fabs((double)want[i]) > scale) scale = fabs((double)want[i]);
    double worst = 0.0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(want[i]) != isnan(got[i]))
            fail_msg("%s %s %s[%lld]: got %g, ref %g", be, op, what, (long long)i, (double)got[i],
                     (double)want[i]);
        if (isnan(want[i])) continue;
        double d = fabs((double)got[i] - (double)want[i]);
        if (d > worst) {
            worst = d;
            at = i;
        }
    }
    if (worst > tol * scale)
        fail_msg("%s %s %s: max |diff| %.3g at %lld (got %.9g, ref %.9g) > tol %.1g * scale %.3g",
                 be, op, what, worst, (long long)at, (double)got[at], (double)want[at], tol,
                 scale);
}

/* Run on ref and on every backend under test (twice), compare. */
static void check(const char *op, op_fn fn, const void *args, size_t size, const field *f,
                  int nf, double tol)
{
    float *ref[MAX_F], *r1[MAX_F], *r2[MAX_F];
    run_op(g_ref, fn, args, size, f, nf, ref);
    for (int b = 0; b < g_nbe; b++) {
        const char *bn = g_be[b]->ops->name;
        run_op(g_be[b], fn, args, size, f, nf, r1);
        run_op(g_be[b], fn, args, size, f, nf, r2);
        for (int i = 0; i < nf; i++) {
            if (!ref[i]) continue;
            expect_close(bn, op, f[i].name, r1[i], ref[i], f[i].count, tol);
            if (memcmp(r1[i], r2[i], (size_t)f[i].count * 4) != 0)
                fail_msg("%s %s %s: two runs with the same inputs differ", bn, op, f[i].name);
            free(r1[i]);
            free(r2[i]);
        }
    }
    for (int i = 0; i < nf; i++) free(ref[i]);
}

#define CHECK(op, T, args, fields, tol)                                                        \
    check(#op, call_##op, &(args), sizeof(T), (fields), (int)(sizeof(fields) / sizeof(field)), \
          (tol))

static void seed(uint64_t s) { mia__rng_init(&g_rng, 20220700u + s, 0); }

/* ---- gemm ---------------------------------------------------------------------------------- */

static void gemm_case(int64_t m, int64_t n, int64_t k, bool ta, bool tb, float alpha, float beta,
                      int64_t pad)
{
    mia_gemm_args a = {.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k, .alpha = alpha,
                       .beta = beta};
    a.lda = (ta ? m : k) + pad;
    a.ldb = (tb ? k : n) + pad;
    a.ldc = n + pad;
    int64_t na = (ta ? k : m) * a.lda, nb = (tb ? n : k) * a.ldb, nc = m * a.ldc;
    /* beta == 0: C must not be read, so it starts as NaN (OUT only). */
    field f[] = {FLD(mia_gemm_args, a, na, IN, randn(na, 0, 1)),
                 FLD(mia_gemm_args, b, nb, IN, randn(nb, 0, 1)),
                 FLD(mia_gemm_args, c, nc, beta == 0.0f ? OUT : IN | OUT, randn(nc, 0, 1))};
    if (pad && beta == 0.0f) f[2].flags = IN | OUT; /* padding columns must stay untouched */
    CHECK(gemm, mia_gemm_args, a, f, 1e-4);
    host_free_all();
}

static void test_backend_parity__gemm(void **state)
{
    (void)state;
    seed(1);
    gemm_case(17, 33, 9, false, false, 1.0f, 0.0f, 0);
    gemm_case(17, 33, 9, true, false, 0.5f, 0.7f, 3);
    gemm_case(5, 64, 257, false, true, 1.0f, 1.0f, 0);
    gemm_case(64, 10, 100, true, true, -2.0f, 0.0f, 1);
    gemm_case(1, 1, 1, false, false, 1.0f, 0.0f, 0);
}

/* ---- convolution --------------------------------------------------------------------------- */

typedef struct conv_shape {
    int64_t n, c, h, w, o, kh, kw, sh, sw, pt, pl, pb, pr, g;
    bool bias;
    bool xb, yb; /* x / y blocked (ops.h) */
} conv_shape;

static void conv_case(conv_shape s)
{
    mia_conv2d_args a = {.n = s.n, .c = s.c, .h = s.h, .w = s.w, .o = s.o, .kh = s.kh, .kw = s.kw,
                         .sh = s.sh, .sw = s.sw, .pt = s.pt, .pl = s.pl, .pb = s.pb, .pr = s.pr,
                         .groups = s.g, .x_blocked = s.xb, .y_blocked = s.yb};
    a.oh = (s.h + s.pt + s.pb - s.kh) / s.sh + 1;
    a.ow = (s.w + s.pl + s.pr - s.kw) / s.sw + 1;
    int64_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.o * a.oh * a.ow;
    int64_t nw = s.o * (s.c / s.g) * s.kh * s.kw;
    float *x = randn(nx, 0, 1), *w = randn(nw, 0, 0.3), *b = randn(s.o, 0, 1);
    float *dy = randn(ny, 0, 1);
    field ff[] = {FLD(mia_conv2d_args, x, nx, IN, x), FLD(mia_conv2d_args, wt, nw, IN, w),
                  FLD(mia_conv2d_args, b, s.o, IN, s.bias ? b : NULL),
                  FLD(mia_conv2d_args, y, ny, OUT, OUTBUF)};
    CHECK(conv2d_fwd, mia_conv2d_args, a, ff, 1e-4);
    a.relu = true; /* fused ReLU (forward only) */
    check("conv2d_fwd(relu)", call_conv2d_fwd, &a, sizeof a, ff, 4, 1e-4);
    a.relu = false;
    field fd[] = {FLD(mia_conv2d_args, dy, ny, IN, dy), FLD(mia_conv2d_args, wt, nw, IN, w),
                  FLD(mia_conv2d_args, dx, nx, OUT, OUTBUF)};
    CHECK(conv2d_bwd_data, mia_conv2d_args, a, fd, 1e-4);
    field fw[] = {FLD(mia_conv2d_args, x, nx, IN, x), FLD(mia_conv2d_args, dy, ny, IN, dy),
                  FLD(mia_conv2d_args, dw, nw, OUT, OUTBUF),
                  FLD(mia_conv2d_args, db, s.o, OUT, s.bias ? OUTBUF : NULL)};
    CHECK(conv2d_bwd_weights, mia_conv2d_args, a, fw, 1e-4);
    host_free_all();
}

static void test_backend_parity__conv2d(void **state)
{
    (void)state;
    seed(2);
    /* n  c  h   w  o kh kw sh sw pt pl pb pr g bias */
    conv_case((conv_shape){2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, false, false});      /* odd sizes */
    conv_case((conv_shape){1, 8, 11, 10, 16, 3, 3, 2, 2, 2, 2, 2, 2, 1, false, false, false});  /* s2 p2 n1 */
    conv_case((conv_shape){2, 16, 9, 9, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16, true, false, false});   /* depthwise */
    conv_case((conv_shape){2, 32, 15, 15, 32, 5, 5, 2, 2, 2, 2, 2, 2, 32, false, false, false});/* dw 5x5 s2 */
    conv_case((conv_shape){3, 12, 8, 7, 18, 3, 3, 2, 2, 1, 0, 2, 1, 3, true, false, false});    /* grouped, asym */
    conv_case((conv_shape){4, 32, 5, 5, 24, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, false, false});    /* 1x1 */
    conv_case((conv_shape){2, 4, 13, 6, 6, 5, 3, 2, 1, 2, 1, 0, 1, 1, false, false, false});    /* 5x3 asym */
    conv_case((conv_shape){8, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, false, false});  /* 64 channels */
    conv_case((conv_shape){2, 3, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, false, false});  /* 3-ch stem */
    /* blocked activations (ops.h): the ref kernels convert, the others read them in place */
    conv_case((conv_shape){4, 32, 9, 9, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, true, true});
    conv_case((conv_shape){2, 3, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, false, true});
    conv_case((conv_shape){4, 3, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, false, true});
    conv_case((conv_shape){2, 16, 8, 8, 24, 1, 1, 2, 2, 0, 0, 0, 0, 1, false, true, false});
    conv_case((conv_shape){2, 32, 15, 15, 32, 5, 5, 2, 2, 2, 2, 2, 2, 32, false, true, true});
    conv_case((conv_shape){2, 16, 9, 9, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16, true, true, false});
    conv_case((conv_shape){2, 8, 1, 1, 16, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, true, true});
    /* depthwise 5x5 on 2x2 / 4x4 stride 2 (late EfficientNet stages): oneDNN picks its gemm
     * fallback for backward-weights, onednn-dw.c runs instead */
    conv_case((conv_shape){4, 16, 2, 2, 16, 5, 5, 1, 1, 2, 2, 2, 2, 16, true, true, true});
    conv_case((conv_shape){4, 24, 4, 4, 24, 5, 5, 2, 2, 2, 2, 2, 2, 24, false, true, true});
    conv_case((conv_shape){4, 16, 2, 2, 16, 5, 5, 1, 1, 2, 2, 2, 2, 16, true, false, false});
    /* 3x3 stride 1 on blocked tensors run as Winograd F(2x2, 3x3) on onednn (onednn-wino.c):
     * odd output sizes (half tiles), asymmetric and 0 / 2 padding, 64 channels in several
     * image chunks (4 forward, 2 backward-weights), and the R18 4x4 512-channel stage */
    conv_case((conv_shape){3, 16, 7, 9, 24, 3, 3, 1, 1, 0, 2, 2, 0, 1, true, true, true});
    conv_case((conv_shape){2, 16, 5, 6, 16, 3, 3, 1, 1, 2, 2, 2, 2, 1, true, true, true});
    conv_case((conv_shape){2, 24, 6, 5, 16, 3, 3, 1, 1, 0, 0, 0, 0, 1, false, true, true});
    conv_case((conv_shape){16, 64, 24, 24, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, true, true});
    conv_case((conv_shape){4, 512, 4, 4, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, true, true});
}

/* ---- batch normalisation ------------------------------------------------------------------- */

static void bn_case_b(int64_t n, int64_t c, int64_t hw, bool with_gamma, bool blocked)
{
    const int64_t cnt = n * c * hw;
    float *x = randn(cnt, 0.5, 2.0), *dy = randn(cnt, 0, 1);
    float *gamma = with_gamma ? randn(c, 1, 0.3) : NULL, *beta = with_gamma ? randn(c, 0, 1) : NULL;
    float *rm = randn(c, 0, 1), *rv = randu(c, 0.5, 1.5);
    /* batch statistics for the backward, in f64 */
    float *sm = host_alloc((size_t)c * 4), *sv = host_alloc((size_t)c * 4);
    for (int64_t ch = 0; ch < c; ch++) {
        double s = 0, ss = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) s += x[(i * c + ch) * hw + j];
        double mean = s / (double)(n * hw);
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) {
                double d = x[(i * c + ch) * hw + j] - mean;
                ss += d * d;
            }
        sm[ch] = (float)mean;
        sv[ch] = (float)(ss / (double)(n * hw));
    }
    typedef mia_batchnorm_args T;
    T a = {.n = n, .c = c, .hw = hw, .eps = 1e-5f, .momentum = 0.1f, .training = true,
           .blocked = blocked};
    field ft[] = {FLD(T, x, cnt, IN, x), FLD(T, gamma, c, IN, gamma), FLD(T, beta, c, IN, beta),
                  FLD(T, y, cnt, OUT, OUTBUF), FLD(T, running_mean, c, IN | OUT, rm),
                  FLD(T, running_var, c, IN | OUT, rv), FLD(T, save_mean, c, OUT, OUTBUF),
                  FLD(T, save_var, c, OUT, OUTBUF)};
    CHECK(batchnorm_fwd, T, a, ft, 1e-4);
    a.training = false;
    field fe[] = {FLD(T, x, cnt, IN, x), FLD(T, gamma, c, IN, gamma), FLD(T, beta, c, IN, beta),
                  FLD(T, y, cnt, OUT, OUTBUF), FLD(T, running_mean, c, IN, rm),
                  FLD(T, running_var, c, IN, rv)};
    CHECK(batchnorm_fwd, T, a, fe, 1e-4);
    a.training = true;
    field fb[] = {FLD(T, x, cnt, IN, x), FLD(T, dy, cnt, IN, dy), FLD(T, gamma, c, IN, gamma),
                  FLD(T, save_mean, c, IN, sm), FLD(T, save_var, c, IN, sv),
                  FLD(T, dx, cnt, OUT, OUTBUF), FLD(T, dgamma, c, OUT, OUTBUF),
                  FLD(T, dbeta, c, OUT, OUTBUF)};
    CHECK(batchnorm_bwd, T, a, fb, 1e-4);
    a.training = false; /* eval-mode backward: running stats are constants */
    field fbe[] = {FLD(T, x, cnt, IN, x), FLD(T, dy, cnt, IN, dy), FLD(T, gamma, c, IN, gamma),
                   FLD(T, running_mean, c, IN, rm), FLD(T, running_var, c, IN, rv),
                   FLD(T, dx, cnt, OUT, OUTBUF), FLD(T, dgamma, c, OUT, OUTBUF),
                   FLD(T, dbeta, c, OUT, OUTBUF)};
    CHECK(batchnorm_bwd, T, a, fbe, 1e-4);
    host_free_all();
}

static void bn_case(int64_t n, int64_t c, int64_t hw, bool with_gamma)
{
    bn_case_b(n, c, hw, with_gamma, false);
}

static void test_backend_parity__batchnorm(void **state)
{
    (void)state;
    seed(3);
    bn_case(4, 3, 25, true);
    bn_case(1, 5, 49, true);  /* batch 1 */
    bn_case(8, 16, 1, true);  /* 2-D input */
    bn_case(6, 32, 64, true);
    bn_case(3, 7, 9, false);  /* no affine */
    bn_case_b(6, 32, 64, true, true); /* blocked */
    bn_case_b(3, 16, 7, false, true);
    bn_case_b(4, 64, 1024, true, true); /* ResNet-18 stem */
    bn_case_b(4, 512, 16, true, true);
}

/* ---- eltwise ------------------------------------------------------------------------------- */

static void elt_case(mia_act act, float alpha, int64_t count, bool in_place)
{
    typedef mia_eltwise_args T;
    T a = {.act = act, .alpha = alpha, .count = count};
    float *x = randn(count, 0, 2), *dy = randn(count, 0, 1);
    char name[64];
    snprintf(name, sizeof name, "eltwise_fwd(act %d%s)", (int)act, in_place ? ", in place" : "");
    field ff[] = {FLD(T, x, count, IN, x), FLD(T, y, count, OUT, OUTBUF)};
    field ffi[] = {FLD(T, x, count, IN | OUT, x), FLD_ALIAS(T, y, count, OUT, 0)};
    check(name, call_eltwise_fwd, &a, sizeof a, in_place ? ffi : ff, 2, 1e-5);
    snprintf(name, sizeof name, "eltwise_bwd(act %d%s)", (int)act, in_place ? ", in place" : "");
    field fb[] = {FLD(T, x, count, IN, x), FLD(T, dy, count, IN, dy),
                  FLD(T, dx, count, OUT, OUTBUF)};
    field fbi[] = {FLD(T, x, count, IN, x), FLD(T, dy, count, IN | OUT, dy),
                   FLD_ALIAS(T, dx, count, OUT, 1)};
    check(name, call_eltwise_bwd, &a, sizeof a, in_place ? fbi : fb, 3, 1e-5);
    host_free_all();
}

static void test_backend_parity__eltwise(void **state)
{
    (void)state;
    seed(4);
    const mia_act acts[] = {MIA_ACT_RELU, MIA_ACT_LEAKY_RELU, MIA_ACT_SILU, MIA_ACT_SIGMOID,
                            MIA_ACT_TANH, MIA_ACT_IDENTITY};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        elt_case(acts[i], 0.1f, 1000, false);
        elt_case(acts[i], 0.01f, 17, false);
        elt_case(acts[i], 0.2f, 4099, true);
    }
}

/* ---- pooling ------------------------------------------------------------------------------- */

static bool g_pool_blocked; /* pool_case runs on blocked tensors */

static void pool_case(mia_pool_kind kind, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh,
                      int64_t kw, int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t pb,
                      int64_t pr)
{
    typedef mia_pool2d_args T;
    T a = {.kind = kind, .blocked = g_pool_blocked, .n = n, .c = c, .h = h, .w = w, .kh = kh, .kw = kw, .sh = sh, .sw = sw,
           .pt = pt, .pl = pl, .pb = pb, .pr = pr};
    a.oh = (h + pt + pb - kh) / sh + 1;
    a.ow = (w + pl + pr - kw) / sw + 1;
    int64_t nx = n * c * h * w, ny = n * c * a.oh * a.ow;
    float *x = randn(nx, 0, 1), *dy = randn(ny, 0, 1);
    field ff[] = {FLD(T, x, nx, IN, x), FLD(T, y, ny, OUT, OUTBUF)};
    CHECK(pool2d_fwd, T, a, ff, 1e-6);
    field fb[] = {FLD(T, x, nx, IN, x), FLD(T, dy, ny, IN, dy), FLD(T, dx, nx, OUT, OUTBUF)};
    CHECK(pool2d_bwd, T, a, fb, 1e-6);
    if (kind == MIA_POOL_MAX) {
        /* relu_mask: x is a ReLU's output (windows of zeros exercise the tie rule) */
        float *xr = host_alloc((size_t)nx * sizeof(float));
        for (int64_t i = 0; i < nx; i++) xr[i] = x[i] > 0.0f ? x[i] : 0.0f;
        a.relu_mask = true;
        field fr[] = {FLD(T, x, nx, IN, xr), FLD(T, dy, ny, IN, dy), FLD(T, dx, nx, OUT, OUTBUF)};
        check("pool2d_bwd(relu_mask)", call_pool2d_bwd, &a, sizeof a, fr, 3, 1e-6);
        /* and on ref it is, bit for bit, the pooling backward followed by the ReLU backward */
        float *fused = host_alloc((size_t)nx * sizeof(float));
        float *split = host_alloc((size_t)nx * sizeof(float));
        T r = a;
        r.x = xr;
        r.dy = dy;
        r.dx = fused;
        assert_int_equal(mia__pool2d_bwd(g_ref, &r), MIA_OK);
        r.relu_mask = false;
        r.dx = split;
        assert_int_equal(mia__pool2d_bwd(g_ref, &r), MIA_OK);
        mia_eltwise_args e = {.act = MIA_ACT_RELU, .count = nx, .x = xr, .dy = split, .dx = split};
        assert_int_equal(mia__eltwise_bwd(g_ref, &e), MIA_OK);
        assert_memory_equal(fused, split, (size_t)nx * sizeof(float));
    }
    host_free_all();
}

static void test_backend_parity__pool2d(void **state)
{
    (void)state;
    seed(5);
    pool_case(MIA_POOL_MAX, 2, 3, 9, 11, 3, 3, 2, 2, 1, 1, 1, 1);
    pool_case(MIA_POOL_MAX, 1, 4, 8, 8, 2, 2, 2, 2, 0, 0, 0, 0);     /* batch 1 */
    pool_case(MIA_POOL_MAX, 2, 16, 7, 7, 3, 3, 1, 1, 2, 2, 2, 2);    /* pad 2 */
    pool_case(MIA_POOL_AVG_INCLUDE_PAD, 2, 3, 9, 10, 3, 3, 1, 1, 1, 1, 1, 1);
    pool_case(MIA_POOL_AVG_EXCLUDE_PAD, 3, 5, 9, 8, 3, 3, 2, 2, 1, 0, 0, 1); /* asym */
    pool_case(MIA_POOL_AVG_INCLUDE_PAD, 4, 32, 4, 4, 4, 4, 1, 1, 0, 0, 0, 0); /* global */
    g_pool_blocked = true;
    pool_case(MIA_POOL_MAX, 2, 16, 8, 8, 2, 2, 2, 2, 0, 0, 0, 0);    /* 2x2/2 fast path */
    pool_case(MIA_POOL_MAX, 2, 16, 9, 7, 2, 2, 2, 2, 0, 0, 0, 0);    /* odd sizes */
    pool_case(MIA_POOL_MAX, 2, 8, 9, 11, 3, 3, 2, 2, 1, 1, 1, 1);    /* overlapping */
    pool_case(MIA_POOL_AVG_INCLUDE_PAD, 2, 16, 9, 10, 3, 3, 1, 1, 1, 1, 1, 1);
    pool_case(MIA_POOL_AVG_INCLUDE_PAD, 4, 32, 4, 4, 4, 4, 1, 1, 0, 0, 0, 0); /* global */
    pool_case(MIA_POOL_AVG_INCLUDE_PAD, 4, 512, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0); /* ResNet-18 head */
    g_pool_blocked = false;
}

/* ---- bias, binary ops, channel multiply ---------------------------------------------------- */

static void test_backend_parity__bias(void **state)
{
    (void)state;
    seed(6);
    const int64_t shapes[][3] = {{3, 5, 7}, {64, 10, 1}, {2, 64, 256}, {1, 1, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        typedef mia_bias_args T;
        T a = {.outer = shapes[i][0], .c = shapes[i][1], .inner = shapes[i][2]};
        int64_t cnt = a.outer * a.c * a.inner;
        field fa[] = {FLD(T, b, a.c, IN, randn(a.c, 0, 1)), FLD(T, y, cnt, IN | OUT, randn(cnt, 0, 1))};
        CHECK(bias_add, T, a, fa, 1e-6);
        field fg[] = {FLD(T, dy, cnt, IN, randn(cnt, 0, 1)), FLD(T, db, a.c, OUT, OUTBUF)};
        CHECK(bias_grad, T, a, fg, 1e-5);
        host_free_all();
    }
}

static void test_backend_parity__binary(void **state)
{
    (void)state;
    seed(7);
    typedef mia_binary_args T;
    const int64_t counts[] = {1, 1001, 65536 + 3};
    for (size_t i = 0; i < 3; i++) {
        int64_t n = counts[i];
        T a = {.count = n, .alpha = -0.37f};
        float *x = randn(n, 0, 1), *y = randn(n, 0, 1);
        field f3[] = {FLD(T, a, n, IN, x), FLD(T, b, n, IN, y), FLD(T, y, n, OUT, OUTBUF)};
        CHECK(add, T, a, f3, 1e-6);
        CHECK(mul, T, a, f3, 1e-6);
        field fa[] = {FLD(T, a, n, IN | OUT, x), FLD(T, b, n, IN, y), FLD_ALIAS(T, y, n, OUT, 0)};
        CHECK(add, T, a, fa, 1e-6); /* y aliases a */
        field fb[] = {FLD(T, a, n, IN, x), FLD(T, b, n, IN | OUT, y), FLD_ALIAS(T, y, n, OUT, 1)};
        CHECK(add, T, a, fb, 1e-6); /* y aliases b */
        CHECK(mul, T, a, fb, 1e-6);
        field fx[] = {FLD(T, a, n, IN, x), FLD(T, y, n, IN | OUT, y)};
        CHECK(axpy, T, a, fx, 1e-6);
        field fs[] = {FLD(T, a, n, IN, x), FLD(T, y, n, OUT, OUTBUF)};
        CHECK(scale, T, a, fs, 1e-6);
        host_free_all();
    }
}

static void test_backend_parity__chmul(void **state)
{
    (void)state;
    seed(8);
    /* the last two run blocked */
    const int64_t shapes[][3] = {{2, 5, 9}, {3, 32, 49}, {1, 7, 1}, {3, 32, 49}, {2, 16, 1}};
    for (size_t i = 0; i < 5; i++) {
        typedef mia_chmul_args T;
        T a = {.n = shapes[i][0], .c = shapes[i][1], .hw = shapes[i][2], .blocked = i >= 3};
        int64_t cnt = a.n * a.c * a.hw, ns = a.n * a.c;
        float *x = randn(cnt, 0, 1), *s = randu(ns, 0, 1), *dy = randn(cnt, 0, 1);
        field ff[] = {FLD(T, x, cnt, IN, x), FLD(T, s, ns, IN, s), FLD(T, y, cnt, OUT, OUTBUF)};
        CHECK(chmul_fwd, T, a, ff, 1e-6);
        field fb[] = {FLD(T, x, cnt, IN, x), FLD(T, s, ns, IN, s), FLD(T, dy, cnt, IN, dy),
                      FLD(T, dx, cnt, OUT, OUTBUF), FLD(T, ds, ns, OUT, OUTBUF)};
        CHECK(chmul_bwd, T, a, fb, 1e-5);
        host_free_all();
    }
}

/* relayout: the ref kernel against the index formula of ops.h, then every backend against ref
 * (a round trip must give the input back bit for bit). */
static void test_backend_parity__relayout(void **state)
{
    (void)state;
    seed(13);
    const int64_t n = 3, c = 24, hw = 10, cnt = n * c * hw;
    float *x = randn(cnt, 0, 1);
    float *y = host_alloc((size_t)cnt * 4), *z = host_alloc((size_t)cnt * 4);
    mia_relayout_args a = {.n = n, .c = c, .hw = hw, .to_blocked = true, .x = x, .y = y};
    assert_int_equal(mia__relayout(g_ref, &a), MIA_OK);
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t s = 0; s < hw; s++)
                assert_true(y[((i * (c / 8) + ch / 8) * hw + s) * 8 + ch % 8] ==
                            x[(i * c + ch) * hw + s]);
    mia_relayout_args b = {.n = n, .c = c, .hw = hw, .to_blocked = false, .x = y, .y = z};
    assert_int_equal(mia__relayout(g_ref, &b), MIA_OK);
    assert_memory_equal(z, x, (size_t)cnt * 4);
    typedef mia_relayout_args T;
    field ft[] = {FLD(T, x, cnt, IN, x), FLD(T, y, cnt, OUT, OUTBUF)};
    CHECK(relayout, T, a, ft, 0.0);
    field fp[] = {FLD(T, x, cnt, IN, y), FLD(T, y, cnt, OUT, OUTBUF)};
    CHECK(relayout, T, b, fp, 0.0);
    /* a channel count that is not whole blocks is refused */
    mia_relayout_args bad = a;
    bad.c = 12;
    assert_int_equal(mia__relayout(g_ref, &bad), MIA_ERR_INVALID);
    host_free_all();
}

static void test_backend_parity__dropout(void **state)
{
    (void)state;
    seed(9);
    typedef mia_dropout_args T;
    T a = {.count = 1003, .p = 0.3f, .seed = 42, .stream = 7};
    field ff[] = {FLD(T, x, a.count, IN, randn(a.count, 0, 1)), FLD(T, y, a.count, OUT, OUTBUF)};
    CHECK(dropout_fwd, T, a, ff, 1e-6);
    field fb[] = {FLD(T, dy, a.count, IN, randn(a.count, 0, 1)), FLD(T, dx, a.count, OUT, OUTBUF)};
    CHECK(dropout_bwd, T, a, fb, 1e-6);
    host_free_all();
}

/* ---- softmax, cross-entropy ---------------------------------------------------------------- */

static void test_backend_parity__softmax(void **state)
{
    (void)state;
    seed(10);
    g_scale_floor = 1.0;
    const int64_t shapes[][2] = {{7, 10}, {64, 100}, {1, 1}, {3, 1000}};
    for (size_t i = 0; i < 4; i++)
        for (int lg = 0; lg < 2; lg++) {
            typedef mia_softmax_args T;
            int64_t r = shapes[i][0], c = shapes[i][1], n = r * c;
            T a = {.rows = r, .cols = c, .log = lg};
            field ff[] = {FLD(T, x, n, IN, randn(n, 0, 3)), FLD(T, out, n, OUT, OUTBUF)};
            CHECK(softmax_fwd, T, a, ff, 1e-5);
            float *y = lg ? randn(n, -3, 1) : randu(n, 0, 1);
            field fb[] = {FLD(T, y, n, IN, y), FLD(T, dy, n, IN, randn(n, 0, 1)),
                          FLD(T, dx, n, OUT, OUTBUF)};
            CHECK(softmax_bwd, T, a, fb, 1e-5);
            host_free_all();
        }
    g_scale_floor = 1e-6;
}

static void test_backend_parity__xent(void **state)
{
    (void)state;
    seed(11);
    typedef mia_xent_args T;
    T a = {.rows = 9, .cols = 10, .smoothing = 0.1f, .grad_scale = 1.0f / 9};
    int32_t *lab = host_alloc(9 * sizeof(int32_t));
    for (int i = 0; i < 9; i++) lab[i] = (int32_t)mia__rng_below(&g_rng, 10);
    field f[] = {FLD(T, logits, 90, IN, randn(90, 0, 3)), FLD(T, labels, 9, IN, lab),
                 FLD(T, loss, 9, OUT, OUTBUF), FLD(T, dlogits, 90, OUT, OUTBUF)};
    CHECK(xent, T, a, f, 1e-5);
    host_free_all();
}

/* ---- optimisers ---------------------------------------------------------------------------- */

static void test_backend_parity__optim(void **state)
{
    (void)state;
    seed(12);
    const int64_t n = 40007; /* > 2 chunks of the threaded host kernels */
    typedef mia_adam_args A;
    A ad = {.count = n, .step = 3, .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
            .weight_decay = 5e-4f};
    field fa[] = {FLD(A, param, n, IN | OUT, randn(n, 0, 1)), FLD(A, m, n, IN | OUT, randn(n, 0, 0.1)),
                  FLD(A, v, n, IN | OUT, randu(n, 0, 0.01)), FLD(A, grad, n, IN, randn(n, 0, 1))};
    CHECK(adam_step, A, ad, fa, 1e-6);
    typedef mia_sgd_args S;
    for (int nest = 0; nest < 2; nest++)
        for (int64_t step = 1; step <= 2; step++) {
            S sg = {.count = n, .step = step, .lr = 0.1f, .momentum = 0.9f, .dampening = 0.0f,
                    .weight_decay = 1e-4f, .nesterov = nest};
            field fs[] = {FLD(S, param, n, IN | OUT, randn(n, 0, 1)),
                          FLD(S, buf, n, IN | OUT, randn(n, 0, 0.1)),
                          FLD(S, grad, n, IN, randn(n, 0, 1))};
            CHECK(sgd_step, S, sg, fs, 1e-6);
        }
    host_free_all();
}

/* ---- onednn: allocation failures while building cache entries ---------------------------- */

/* Fail the k-th allocation for k = 1, 2, ... during backend creation and the first (cache-
 * building) call of a conv, a multi-stage max-pool backward and a Winograd conv backward-weights
 * (its arena and two matmul entries): each call either succeeds or
 * returns MIA_ERR_NOMEM with a message, a retry then succeeds with correct results, and nothing
 * leaks. */
static void test_backend_parity__onednn_alloc_failure(void **state)
{
    (void)state;
    if (!mia_backend_available("onednn")) {
        fprintf(stderr, "parity: onednn not compiled in, alloc-failure test skipped\n");
        return;
    }
    seed(13);
    mia_conv2d_args c = {.n = 2, .c = 16, .h = 9, .w = 9, .o = 16, .oh = 9, .ow = 9, .kh = 3,
                         .kw = 3, .sh = 1, .sw = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1,
                         .groups = 1};
    const int64_t nx = 2 * 16 * 81, nw = 16 * 16 * 9;
    c.x = randn(nx, 0, 1);
    c.wt = randn(nw, 0, 0.3);
    float *y = host_alloc(nx * 4), *yref = host_alloc(nx * 4);
    mia_pool2d_args p = {.kind = MIA_POOL_MAX, .n = 2, .c = 16, .h = 9, .w = 9, .oh = 4, .ow = 4,
                         .kh = 3, .kw = 3, .sh = 2, .sw = 2};
    p.x = c.x;
    p.dy = randn(2 * 16 * 16, 0, 1);
    float *dx = host_alloc(nx * 4), *dxref = host_alloc(nx * 4);
    /* the same conv on blocked tensors runs as Winograd on onednn: arena and matmul entries */
    mia_conv2d_args cw = c;
    cw.x_blocked = cw.y_blocked = true;
    cw.dy = randn(nx, 0, 1);
    float *dw = host_alloc(nw * 4), *dwref = host_alloc(nw * 4);
    cw.dw = dwref;
    assert_int_equal(mia__conv2d_bwd_weights(g_ref, &cw), MIA_OK);
    cw.dw = dw;
    c.y = yref;
    assert_int_equal(mia__conv2d_fwd(g_ref, &c), MIA_OK);
    p.dx = dxref;
    assert_int_equal(mia__pool2d_bwd(g_ref, &p), MIA_OK);
    c.y = y;
    p.dx = dx;
    const int64_t live0 = mia__alloc_live();
    long k;
    for (k = 1; k < 1000; k++) {
        mia_backend_opts o;
        mia_backend_opts_init(&o);
        o.n_threads = 2;
        mia_backend *be = (mia_backend *)0x1;
        mia__alloc_fail_after(k, 0);
        mia_status s = mia_backend_create(&be, "onednn", &o);
        if (s != MIA_OK) {
            mia__alloc_fail_after(0, 0);
            assert_int_equal(s, MIA_ERR_NOMEM);
            assert_null(be);
            assert_non_null(strstr(mia_last_error(), "out of memory"));
            assert_int_equal(mia__alloc_live(), live0);
            continue;
        }
        mia__error_begin();
        mia_status s1 = mia__conv2d_fwd(be, &c);
        if (s1 != MIA_OK) {
            assert_int_equal(s1, MIA_ERR_NOMEM);
            assert_non_null(strstr(mia_last_error(), "out of memory"));
        }
        mia__error_begin();
        mia_status s2 = mia__pool2d_bwd(be, &p);
        if (s2 != MIA_OK) {
            assert_int_equal(s2, MIA_ERR_NOMEM);
            assert_non_null(strstr(mia_last_error(), "out of memory"));
        }
        mia__error_begin();
        mia_status s3 = mia__conv2d_bwd_weights(be, &cw);
        if (s3 != MIA_OK) {
            assert_int_equal(s3, MIA_ERR_NOMEM);
            assert_non_null(strstr(mia_last_error(), "out of memory"));
        }
        const bool injected = mia__alloc_injected() > 0;
        mia__alloc_fail_after(0, 0);
        mia__error_begin();
        memset(y, 0, nx * 4);
        memset(dx, 0, nx * 4);
        assert_int_equal(mia__conv2d_fwd(be, &c), MIA_OK);
        assert_int_equal(mia__pool2d_bwd(be, &p), MIA_OK);
        memset(dw, 0, nw * 4);
        assert_int_equal(mia__conv2d_bwd_weights(be, &cw), MIA_OK);
        expect_close("onednn", "Winograd conv2d_bwd_weights after NOMEM", "dw", dw, dwref, nw,
                     1e-4);
        expect_close("onednn", "conv2d_fwd after NOMEM", "y", y, yref, nx, 1e-4);
        expect_close("onednn", "pool2d_bwd after NOMEM", "dx", dx, dxref, nx, 1e-6);
        mia_backend_free(be);
        assert_int_equal(mia__alloc_live(), live0);
        if (!injected) break; /* every allocation point has been failed once */
    }
    assert_true(k > 5 && k < 1000);
    host_free_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_parity__gemm),
        cmocka_unit_test(test_backend_parity__conv2d),
        cmocka_unit_test(test_backend_parity__batchnorm),
        cmocka_unit_test(test_backend_parity__eltwise),
        cmocka_unit_test(test_backend_parity__pool2d),
        cmocka_unit_test(test_backend_parity__bias),
        cmocka_unit_test(test_backend_parity__binary),
        cmocka_unit_test(test_backend_parity__chmul),
        cmocka_unit_test(test_backend_parity__relayout),
        cmocka_unit_test(test_backend_parity__dropout),
        cmocka_unit_test(test_backend_parity__softmax),
        cmocka_unit_test(test_backend_parity__xent),
        cmocka_unit_test(test_backend_parity__optim),
        cmocka_unit_test(test_backend_parity__onednn_alloc_failure),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
