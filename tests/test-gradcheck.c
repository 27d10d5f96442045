/* Finite-difference gradient checks of every backward op of the ref backend against its forward.
 *
 * Method: for a scalar loss L = sum_i r_i * y_i (r a fixed random projection, the sum taken in
 * f64), the analytic gradient is the backward op applied to dy = r. Each input element p is
 * perturbed in f32 to p + h and p - h and the numeric derivative is (L+ - L-) / (p+h - (p-h)),
 * using the perturbation actually representable in f32.
 *
 * Tolerance: an element passes iff |analytic - numeric| <= tol * max(1, |numeric|).
 * The error of the central difference is truncation O(h^2 |f'''|) plus rounding: every y_i is
 * rounded once to f32 (relative 2^-24 = 6e-8), so L carries an absolute error of about
 * 6e-8 * sqrt(N) * |r y| ~ 1e-5 for the sizes here, amplified by 1 / (2h).
 * - Ops linear in the perturbed input (conv, gemm, bias, chmul, dropout, avg pool, max pool away
 *   from ties, bn eval) have no truncation error: h = 5e-2 gives rounding noise ~1e-4, so
 *   TOL_LINEAR = 1e-3.
 * - Smooth non-linear ops (batchnorm training, activations, softmax, cross-entropy) with
 *   h = 1e-2 have truncation ~1e-4 * |f'''| plus rounding ~5e-4: TOL_SMOOTH = 5e-3.
 * Observed worst errors are below 1e-4 (printed per check), so the margins are > 10x, while a
 * typical bug (a wrong divisor such as m vs m - 1 in batchnorm, a padding off by one) gives
 * errors of several percent; test_gradcheck__detects_wrong_gradient shows one being caught.
 * Kinks are avoided: relu/leaky inputs satisfy |x| >= 0.1 > h, and max-pool inputs are distinct
 * multiples of 0.05 so a perturbation of 1e-2 cannot change an argmax. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mia/backend.h>
#include <mia/status.h>

#include "backend/ops.h"
#include "core/rng.h"

#define TOL_LINEAR 1e-3
#define TOL_SMOOTH 5e-3
#define H_LINEAR 5e-2f
#define H_SMOOTH 1e-2f

static mia_backend *g_be;

static int group_setup(void **state)
{
    (void)state;
    return mia_backend_create(&g_be, "ref", NULL) == MIA_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    mia_backend_free(g_be);
    return 0;
}

/* ---- harness --------------------------------------------------------------------------------- */

typedef double (*loss_fn)(void *ctx);

static float *fnew(int64_t n)
{
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    assert_non_null(p);
    return p;
}

static void fill_normal(float *p, int64_t n, uint64_t seed, double scale)
{
    mia_rng r;
    mia__rng_init(&r, seed, MIA_STREAM_NOISE);
    for (int64_t i = 0; i < n; i++) p[i] = (float)(scale * mia__rng_normal(&r));
}

static double dot_r(const float *r, const float *y, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)r[i] * (double)y[i];
    return s;
}

/* Worst |ana[i] - numeric_i| / max(1, |numeric_i|) over i < n (central differences of f in p). */
static double gradcheck_err(loss_fn f, void *ctx, float *p, const float *ana, int64_t n, float h)
{
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float s = p[i];
        p[i] = s + h;
        const float up = p[i];
        const double lp = f(ctx);
        p[i] = s - h;
        const float dn = p[i];
        const double lm = f(ctx);
        p[i] = s;
        const double num = (lp - lm) / ((double)up - (double)dn);
        const double err = fabs((double)ana[i] - num) / (fabs(num) > 1.0 ? fabs(num) : 1.0);
        if (!(err <= worst)) worst = err; /* NaN sticks */
    }
    return worst;
}

/* Compares ana[i] with the central difference of f in p[i], for all i < n; fails naming the
 * first element out of tolerance. */
static void gradcheck(const char *what, loss_fn f, void *ctx, float *p, const float *ana,
                      int64_t n, float h, double tol)
{
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float s = p[i];
        p[i] = s + h;
        const float up = p[i];
        const double lp = f(ctx);
        p[i] = s - h;
        const float dn = p[i];
        const double lm = f(ctx);
        p[i] = s;
        const double num = (lp - lm) / ((double)up - (double)dn);
        const double err = fabs((double)ana[i] - num) / (fabs(num) > 1.0 ? fabs(num) : 1.0);
        if (!(err <= tol))
            fail_msg("%s[%lld]: analytic %.7g, numeric %.7g (rel err %.3g > tol %g)", what,
                     (long long)i, (double)ana[i], num, err, tol);
        if (err > worst) worst = err;
    }
    print_message("  %-42s n=%-4lld max err %.2e (tol %.0e)\n", what, (long long)n, worst, tol);
}

/* ---- gemm ------------------------------------------------------------------------------------ */

typedef struct gemm_ctx {
    mia_gemm_args g;
    const float *r;
} gemm_ctx;

static double gemm_loss(void *vc)
{
    gemm_ctx *c = vc;
    assert_int_equal(mia__gemm(g_be, &c->g), MIA_OK);
    return dot_r(c->r, c->g.c, c->g.m * c->g.n);
}

static void transpose(const float *src, float *dst, int64_t rows, int64_t cols)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
}

static void test_gradcheck__gemm(void **state)
{
    (void)state;
    const int64_t m = 5, n = 7, k = 3;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            float *A = fnew(m * k), *B = fnew(k * n), *C = fnew(m * n), *R = fnew(m * n);
            float *dopA = fnew(m * k), *dopB = fnew(k * n), *dA = fnew(m * k), *dB = fnew(k * n);
            fill_normal(A, m * k, 1, 1), fill_normal(B, k * n, 2, 1), fill_normal(R, m * n, 3, 1);
            const float alpha = 1.5f;
            gemm_ctx c = {.g = {.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k,
                                .alpha = alpha, .a = A, .lda = ta ? m : k, .b = B,
                                .ldb = tb ? k : n, .c = C, .ldc = n},
                          .r = R};
            /* d op(A) = alpha R op(B)^T  (m x k) */
            mia_gemm_args ga = {.trans_a = false, .trans_b = !tb, .m = m, .n = k, .k = n,
                                .alpha = alpha, .a = R, .lda = n, .b = B, .ldb = tb ? k : n,
                                .c = dopA, .ldc = k};
            /* d op(B) = alpha op(A)^T R  (k x n) */
            mia_gemm_args gb = {.trans_a = !ta, .trans_b = false, .m = k, .n = n, .k = m,
                                .alpha = alpha, .a = A, .lda = ta ? m : k, .b = R, .ldb = n,
                                .c = dopB, .ldc = n};
            assert_int_equal(mia__gemm(g_be, &ga), MIA_OK);
            assert_int_equal(mia__gemm(g_be, &gb), MIA_OK);
            if (ta) transpose(dopA, dA, m, k); else memcpy(dA, dopA, (size_t)(m * k) * 4);
            if (tb) transpose(dopB, dB, k, n); else memcpy(dB, dopB, (size_t)(k * n) * 4);
            char name[64];
            snprintf(name, sizeof name, "gemm ta=%d tb=%d dA", ta, tb);
            gradcheck(name, gemm_loss, &c, A, dA, m * k, H_LINEAR, TOL_LINEAR);
            snprintf(name, sizeof name, "gemm ta=%d tb=%d dB", ta, tb);
            gradcheck(name, gemm_loss, &c, B, dB, k * n, H_LINEAR, TOL_LINEAR);
            free(A), free(B), free(C), free(R), free(dopA), free(dopB), free(dA), free(dB);
        }
}

/* ---- conv ------------------------------------------------------------------------------------ */

typedef struct conv_case {
    const char *name;
    int64_t n, c, h, w, o, kh, kw, sh, sw, pt, pl, pb, pr, groups;
    bool bias;
} conv_case;

typedef struct conv_ctx {
    mia_conv2d_args a;
    const float *r;
} conv_ctx;

static double conv_loss(void *vc)
{
    conv_ctx *c = vc;
    assert_int_equal(mia__conv2d_fwd(g_be, &c->a), MIA_OK);
    return dot_r(c->r, c->a.y, c->a.n * c->a.o * c->a.oh * c->a.ow);
}

static void test_gradcheck__conv2d(void **state)
{
    (void)state;
    static const conv_case cases[] = {
        {"conv 3x3 s1 p1 5x7 n2", 2, 3, 5, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},
        {"conv 3x3 s2 p2 5x7 n1", 1, 3, 5, 7, 2, 3, 3, 2, 2, 2, 2, 2, 2, 1, true},
        {"conv depthwise 3x3 s1 p1", 2, 4, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4, false},
        {"conv depthwise 3x3 s2 p1 7x5", 1, 3, 7, 5, 3, 3, 3, 2, 2, 1, 1, 1, 1, 3, true},
        {"conv depthwise 5x5 p2 mult2", 1, 2, 5, 6, 4, 5, 5, 1, 1, 2, 2, 2, 2, 2, true},
        {"conv grouped g2 c4 o6 p0", 2, 4, 5, 7, 6, 3, 3, 1, 1, 0, 0, 0, 0, 2, true},
        {"conv asym pad 3x2 s(2,1)", 1, 2, 6, 5, 3, 3, 2, 2, 1, 1, 0, 2, 1, 1, false},
        {"conv 1x1 s2", 2, 5, 5, 7, 3, 1, 1, 2, 2, 0, 0, 0, 0, 1, true},
        {"conv 7x7 s2 p3 (stem)", 1, 2, 9, 8, 2, 7, 7, 2, 2, 3, 3, 3, 3, 1, true},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const conv_case *k = &cases[ci];
        mia_conv2d_args a = {.n = k->n, .c = k->c, .h = k->h, .w = k->w, .o = k->o, .kh = k->kh,
                             .kw = k->kw, .sh = k->sh, .sw = k->sw, .pt = k->pt, .pl = k->pl,
                             .pb = k->pb, .pr = k->pr, .groups = k->groups};
        a.oh = (k->h + k->pt + k->pb - k->kh) / k->sh + 1;
        a.ow = (k->w + k->pl + k->pr - k->kw) / k->sw + 1;
        const int64_t nx = k->n * k->c * k->h * k->w, ny = k->n * k->o * a.oh * a.ow;
        const int64_t nw = k->o * (k->c / k->groups) * k->kh * k->kw;
        float *x = fnew(nx), *w = fnew(nw), *b = fnew(k->o), *y = fnew(ny), *r = fnew(ny);
        float *dx = fnew(nx), *dw = fnew(nw), *db = fnew(k->o);
        fill_normal(x, nx, 10 + ci, 1), fill_normal(w, nw, 20 + ci, 0.5);
        fill_normal(b, k->o, 30 + ci, 1), fill_normal(r, ny, 40 + ci, 1);
        a.x = x, a.wt = w, a.b = k->bias ? b : NULL, a.y = y;
        a.dy = r, a.dx = dx, a.dw = dw, a.db = k->bias ? db : NULL;
        assert_int_equal(mia__conv2d_bwd_data(g_be, &a), MIA_OK);
        assert_int_equal(mia__conv2d_bwd_weights(g_be, &a), MIA_OK);
        conv_ctx c = {.a = a, .r = r};
        char name[96];
        snprintf(name, sizeof name, "%s dx", k->name);
        gradcheck(name, conv_loss, &c, x, dx, nx, H_LINEAR, TOL_LINEAR);
        snprintf(name, sizeof name, "%s dw", k->name);
        gradcheck(name, conv_loss, &c, w, dw, nw, H_LINEAR, TOL_LINEAR);
        if (k->bias) {
            snprintf(name, sizeof name, "%s db", k->name);
            gradcheck(name, conv_loss, &c, b, db, k->o, H_LINEAR, TOL_LINEAR);
        }
        free(x), free(w), free(b), free(y), free(r), free(dx), free(dw), free(db);
    }
}

/* ---- batchnorm ------------------------------------------------------------------------------- */

typedef struct bn_ctx {
    mia_batchnorm_args a; /* forward args: no running or saved stats while perturbing */
    const float *r;
} bn_ctx;

static double bn_loss(void *vc)
{
    bn_ctx *c = vc;
    assert_int_equal(mia__batchnorm_fwd(g_be, &c->a), MIA_OK);
    return dot_r(c->r, c->a.y, c->a.n * c->a.c * c->a.hw);
}

static void bn_case(const char *tag, int64_t n, int64_t ch, int64_t hw, bool training, uint64_t seed)
{
    const int64_t nx = n * ch * hw;
    float *x = fnew(nx), *y = fnew(nx), *r = fnew(nx), *dx = fnew(nx);
    float *gamma = fnew(ch), *beta = fnew(ch), *dg = fnew(ch), *dbt = fnew(ch);
    float *sm = fnew(ch), *sv = fnew(ch), *rm = fnew(ch), *rv = fnew(ch);
    fill_normal(x, nx, seed, 2), fill_normal(r, nx, seed + 1, 1);
    fill_normal(gamma, ch, seed + 2, 0.5), fill_normal(beta, ch, seed + 3, 1);
    for (int64_t i = 0; i < ch; i++) {
        gamma[i] += 1.0f;
        rm[i] = 0.1f * (float)i;
        rv[i] = 0.5f + 0.25f * (float)i;
    }
    for (int64_t i = 0; i < nx; i++) x[i] += 0.5f; /* non-zero mean */
    mia_batchnorm_args a = {.n = n, .c = ch, .hw = hw, .eps = 1e-5f, .momentum = 0.1f,
                            .training = training, .x = x, .gamma = gamma, .beta = beta, .y = y};
    if (training) {
        a.save_mean = sm, a.save_var = sv;
    } else {
        a.running_mean = rm, a.running_var = rv;
    }
    assert_int_equal(mia__batchnorm_fwd(g_be, &a), MIA_OK);
    mia_batchnorm_args b = a;
    b.dy = r, b.dx = dx, b.dgamma = dg, b.dbeta = dbt;
    assert_int_equal(mia__batchnorm_bwd(g_be, &b), MIA_OK);
    bn_ctx c = {.a = a, .r = r};
    c.a.save_mean = NULL, c.a.save_var = NULL;
    const float h = training ? H_SMOOTH : H_LINEAR;
    const double tol = training ? TOL_SMOOTH : TOL_LINEAR;
    char name[96];
    snprintf(name, sizeof name, "batchnorm %s dx", tag);
    gradcheck(name, bn_loss, &c, x, dx, nx, h, tol);
    snprintf(name, sizeof name, "batchnorm %s dgamma", tag);
    gradcheck(name, bn_loss, &c, gamma, dg, ch, h, tol);
    snprintf(name, sizeof name, "batchnorm %s dbeta", tag);
    gradcheck(name, bn_loss, &c, beta, dbt, ch, h, tol);
    free(x), free(y), free(r), free(dx), free(gamma), free(beta), free(dg), free(dbt);
    free(sm), free(sv), free(rm), free(rv);
}

static void test_gradcheck__batchnorm(void **state)
{
    (void)state;
    bn_case("train 2d n3 c2 5x7", 3, 2, 35, true, 100);
    bn_case("train 2d n1 c3 3x3 (batch 1)", 1, 3, 9, true, 110);
    bn_case("train 1d n8 c3 hw1", 8, 3, 1, true, 120);
    bn_case("eval n2 c3 5x5", 2, 3, 25, false, 130);
}

/* ---- activations ----------------------------------------------------------------------------- */

typedef struct elt_ctx {
    mia_eltwise_args a;
    const float *r;
} elt_ctx;

static double elt_loss(void *vc)
{
    elt_ctx *c = vc;
    assert_int_equal(mia__eltwise_fwd(g_be, &c->a), MIA_OK);
    return dot_r(c->r, c->a.y, c->a.count);
}

static void test_gradcheck__eltwise(void **state)
{
    (void)state;
    static const struct { mia_act act; float alpha; const char *name; } acts[] = {
        {MIA_ACT_RELU, 0, "relu"},       {MIA_ACT_LEAKY_RELU, 0.1f, "leaky_relu 0.1"},
        {MIA_ACT_LEAKY_RELU, 0.2f, "leaky_relu 0.2"}, {MIA_ACT_SILU, 0, "silu"},
        {MIA_ACT_SIGMOID, 0, "sigmoid"}, {MIA_ACT_TANH, 0, "tanh"},
        {MIA_ACT_IDENTITY, 0, "identity"},
    };
    enum { N = 5 * 7 * 2 };
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        float x[N], y[N], r[N], dx[N];
        fill_normal(x, N, 200 + k, 2), fill_normal(r, N, 300 + k, 1);
        for (int i = 0; i < N; i++) /* keep away from the kink at 0 */
            if (fabsf(x[i]) < 0.1f) x[i] = x[i] < 0 ? x[i] - 0.1f : x[i] + 0.1f;
        mia_eltwise_args a = {.act = acts[k].act, .alpha = acts[k].alpha, .count = N, .x = x,
                              .y = y, .dy = r, .dx = dx};
        assert_int_equal(mia__eltwise_bwd(g_be, &a), MIA_OK);
        elt_ctx c = {.a = a, .r = r};
        gradcheck(acts[k].name, elt_loss, &c, x, dx, N, H_SMOOTH, TOL_SMOOTH);
    }
}

/* ---- pooling --------------------------------------------------------------------------------- */

typedef struct pool_ctx {
    mia_pool2d_args a;
    const float *r;
} pool_ctx;

static double pool_loss(void *vc)
{
    pool_ctx *c = vc;
    assert_int_equal(mia__pool2d_fwd(g_be, &c->a), MIA_OK);
    return dot_r(c->r, c->a.y, c->a.n * c->a.c * c->a.oh * c->a.ow);
}

static void test_gradcheck__pool2d(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        mia_pool_kind kind;
        int64_t n, c, h, w, kh, kw, sh, sw, pt, pl, pb, pr;
    } cases[] = {
        {"maxpool 3x3 s2 p1 7x5", MIA_POOL_MAX, 2, 2, 7, 5, 3, 3, 2, 2, 1, 1, 1, 1},
        {"maxpool 2x2 s2 6x6", MIA_POOL_MAX, 1, 3, 6, 6, 2, 2, 2, 2, 0, 0, 0, 0},
        {"maxpool 3x2 s1 asym pad", MIA_POOL_MAX, 1, 2, 5, 7, 3, 2, 1, 1, 2, 1, 0, 0},
        {"avgpool incl 3x3 s2 p1 7x5", MIA_POOL_AVG_INCLUDE_PAD, 2, 2, 7, 5, 3, 3, 2, 2, 1, 1, 1, 1},
        {"avgpool excl 3x3 s2 p1 7x5", MIA_POOL_AVG_EXCLUDE_PAD, 2, 2, 7, 5, 3, 3, 2, 2, 1, 1, 1, 1},
        {"avgpool incl 3x3 s1 asym pad", MIA_POOL_AVG_INCLUDE_PAD, 1, 2, 5, 7, 3, 3, 1, 1, 0, 1, 2, 2},
        {"avgpool excl 3x3 s1 asym pad", MIA_POOL_AVG_EXCLUDE_PAD, 1, 2, 5, 7, 3, 3, 1, 1, 0, 1, 2, 2},
        {"avgpool global 5x7", MIA_POOL_AVG_EXCLUDE_PAD, 2, 3, 5, 7, 5, 7, 1, 1, 0, 0, 0, 0},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        mia_pool2d_args a = {.kind = cases[ci].kind, .n = cases[ci].n, .c = cases[ci].c,
                             .h = cases[ci].h, .w = cases[ci].w, .kh = cases[ci].kh,
                             .kw = cases[ci].kw, .sh = cases[ci].sh, .sw = cases[ci].sw,
                             .pt = cases[ci].pt, .pl = cases[ci].pl, .pb = cases[ci].pb,
                             .pr = cases[ci].pr};
        a.oh = (a.h + a.pt + a.pb - a.kh) / a.sh + 1;
        a.ow = (a.w + a.pl + a.pr - a.kw) / a.sw + 1;
        const int64_t nx = a.n * a.c * a.h * a.w, ny = a.n * a.c * a.oh * a.ow;
        float *x = fnew(nx), *y = fnew(ny), *r = fnew(ny), *dx = fnew(nx);
        /* distinct values 0.05 apart in a random order: no ties, argmax stable under +-h */
        int64_t *perm = calloc((size_t)nx, sizeof(int64_t));
        assert_non_null(perm);
        for (int64_t i = 0; i < nx; i++) perm[i] = i;
        mia_rng rng;
        mia__rng_init(&rng, 500 + ci, MIA_STREAM_NOISE);
        mia__rng_shuffle(&rng, perm, nx);
        for (int64_t i = 0; i < nx; i++) x[i] = 0.05f * (float)(perm[i] - nx / 2);
        fill_normal(r, ny, 600 + ci, 1);
        a.x = x, a.y = y, a.dy = r, a.dx = dx;
        assert_int_equal(mia__pool2d_bwd(g_be, &a), MIA_OK);
        pool_ctx c = {.a = a, .r = r};
        char name[96];
        snprintf(name, sizeof name, "%s dx", cases[ci].name);
        gradcheck(name, pool_loss, &c, x, dx, nx, 1e-2f, TOL_LINEAR);
        free(x), free(y), free(r), free(dx), free(perm);
    }
}

/* ---- bias, chmul, dropout -------------------------------------------------------------------- */

typedef struct bias_ctx {
    mia_bias_args a;
    const float *x0, *r;
    int64_t n;
} bias_ctx;

static double bias_loss(void *vc)
{
    bias_ctx *c = vc;
    memcpy(c->a.y, c->x0, (size_t)c->n * sizeof(float));
    assert_int_equal(mia__bias_add(g_be, &c->a), MIA_OK);
    return dot_r(c->r, c->a.y, c->n);
}

static void test_gradcheck__bias(void **state)
{
    (void)state;
    static const int64_t shapes[2][3] = {{3, 4, 35}, {5, 7, 1}};
    for (int s = 0; s < 2; s++) {
        const int64_t outer = shapes[s][0], ch = shapes[s][1], inner = shapes[s][2];
        const int64_t n = outer * ch * inner;
        float *x = fnew(n), *y = fnew(n), *r = fnew(n), *b = fnew(ch), *db = fnew(ch);
        fill_normal(x, n, 700 + s, 1), fill_normal(r, n, 710 + s, 1), fill_normal(b, ch, 720 + s, 1);
        mia_bias_args a = {.outer = outer, .c = ch, .inner = inner, .b = b, .y = y, .dy = r,
                           .db = db};
        assert_int_equal(mia__bias_grad(g_be, &a), MIA_OK);
        bias_ctx c = {.a = a, .x0 = x, .r = r, .n = n};
        gradcheck(s == 0 ? "bias_grad (3,4,5x7)" : "bias_grad (5,7,1)", bias_loss, &c, b, db, ch,
                  H_LINEAR, TOL_LINEAR);
        free(x), free(y), free(r), free(b), free(db);
    }
}

typedef struct chmul_ctx {
    mia_chmul_args a;
    const float *r;
} chmul_ctx;

static double chmul_loss(void *vc)
{
    chmul_ctx *c = vc;
    assert_int_equal(mia__chmul_fwd(g_be, &c->a), MIA_OK);
    return dot_r(c->r, c->a.y, c->a.n * c->a.c * c->a.hw);
}

static void test_gradcheck__chmul(void **state)
{
    (void)state;
    const int64_t n = 2, ch = 3, hw = 35, nx = n * ch * hw;
    float *x = fnew(nx), *y = fnew(nx), *r = fnew(nx), *dx = fnew(nx), *s = fnew(n * ch),
          *ds = fnew(n * ch);
    fill_normal(x, nx, 800, 1), fill_normal(r, nx, 801, 1), fill_normal(s, n * ch, 802, 1);
    mia_chmul_args a = {.n = n, .c = ch, .hw = hw, .x = x, .s = s, .y = y, .dy = r, .dx = dx,
                        .ds = ds};
    assert_int_equal(mia__chmul_bwd(g_be, &a), MIA_OK);
    chmul_ctx c = {.a = a, .r = r};
    gradcheck("chmul dx", chmul_loss, &c, x, dx, nx, H_LINEAR, TOL_LINEAR);
    gradcheck("chmul ds", chmul_loss, &c, s, ds, n * ch, H_LINEAR, TOL_LINEAR);
    free(x), free(y), free(r), free(dx), free(s), free(ds);
}

typedef struct drop_ctx {
    mia_dropout_args a;
    const float *r;
} drop_ctx;

static double drop_loss(void *vc)
{
    drop_ctx *c = vc;
    assert_int_equal(mia__dropout_fwd(g_be, &c->a), MIA_OK);
    return dot_r(c->r, c->a.y, c->a.count);
}

static void test_gradcheck__dropout(void **state)
{
    (void)state;
    enum { N = 101 };
    float x[N], y[N], r[N], dx[N];
    fill_normal(x, N, 900, 1), fill_normal(r, N, 901, 1);
    mia_dropout_args a = {.count = N, .p = 0.4f, .seed = 77, .stream = 3, .x = x, .y = y,
                          .dy = r, .dx = dx};
    assert_int_equal(mia__dropout_bwd(g_be, &a), MIA_OK);
    drop_ctx c = {.a = a, .r = r};
    gradcheck("dropout p=0.4 dx", drop_loss, &c, x, dx, N, H_LINEAR, TOL_LINEAR);
}

/* ---- softmax, cross-entropy ------------------------------------------------------------------ */

typedef struct sm_ctx {
    mia_softmax_args a;
    const float *r;
} sm_ctx;

static double sm_loss(void *vc)
{
    sm_ctx *c = vc;
    assert_int_equal(mia__softmax_fwd(g_be, &c->a), MIA_OK);
    return dot_r(c->r, c->a.out, c->a.rows * c->a.cols);
}

static void test_gradcheck__softmax(void **state)
{
    (void)state;
    enum { ROWS = 3, COLS = 7, N = ROWS * COLS };
    for (int lg = 0; lg < 2; lg++) {
        float x[N], y[N], r[N], dx[N];
        fill_normal(x, N, 1000 + lg, 3), fill_normal(r, N, 1010 + lg, 1);
        mia_softmax_args a = {.rows = ROWS, .cols = COLS, .log = lg, .x = x, .out = y};
        assert_int_equal(mia__softmax_fwd(g_be, &a), MIA_OK);
        mia_softmax_args b = a;
        b.y = y, b.dy = r, b.dx = dx;
        assert_int_equal(mia__softmax_bwd(g_be, &b), MIA_OK);
        sm_ctx c = {.a = a, .r = r};
        gradcheck(lg ? "log_softmax dx" : "softmax dx", sm_loss, &c, x, dx, N, H_SMOOTH, TOL_SMOOTH);
    }
}

typedef struct xent_ctx {
    mia_xent_args a;
} xent_ctx;

static double xent_loss(void *vc)
{
    xent_ctx *c = vc;
    assert_int_equal(mia__xent(g_be, &c->a), MIA_OK);
    double s = 0.0;
    for (int64_t i = 0; i < c->a.rows; i++) s += (double)c->a.loss[i];
    return (double)c->a.grad_scale * s; /* the mean loss when grad_scale = 1 / rows */
}

static void test_gradcheck__xent(void **state)
{
    (void)state;
    enum { ROWS = 4, COLS = 6, N = ROWS * COLS };
    const float eps_list[3] = {0.0f, 0.1f, 0.0083f};
    for (int e = 0; e < 3; e++) {
        float x[N], dl[N], loss[ROWS];
        int32_t labels[ROWS] = {0, 5, 2, 2};
        fill_normal(x, N, 1100 + e, 2);
        mia_xent_args a = {.rows = ROWS, .cols = COLS, .smoothing = eps_list[e],
                           .grad_scale = 1.0f / ROWS, .logits = x, .labels = labels,
                           .loss = loss, .dlogits = dl};
        assert_int_equal(mia__xent(g_be, &a), MIA_OK);
        xent_ctx c = {.a = a};
        c.a.dlogits = NULL;
        char name[64];
        snprintf(name, sizeof name, "xent smoothing=%g dlogits", (double)eps_list[e]);
        gradcheck(name, xent_loss, &c, x, dl, N, H_SMOOTH, TOL_SMOOTH);
    }
}

/* Negative control: the checker must reject a plausible bug. bwd_data run with the left/right
 * padding swapped (same output size) against the correct forward. */
static void test_gradcheck__detects_wrong_gradient(void **state)
{
    (void)state;
    mia_conv2d_args a = {.n = 1, .c = 2, .h = 6, .w = 5, .o = 3, .kh = 3, .kw = 2, .sh = 2,
                         .sw = 1, .pt = 1, .pl = 0, .pb = 2, .pr = 1, .groups = 1};
    a.oh = (a.h + a.pt + a.pb - a.kh) / a.sh + 1;
    a.ow = (a.w + a.pl + a.pr - a.kw) / a.sw + 1;
    const int64_t nx = a.n * a.c * a.h * a.w, ny = a.n * a.o * a.oh * a.ow;
    const int64_t nw = a.o * a.c * a.kh * a.kw;
    float *x = fnew(nx), *w = fnew(nw), *y = fnew(ny), *r = fnew(ny), *dx = fnew(nx);
    fill_normal(x, nx, 1200, 1), fill_normal(w, nw, 1201, 0.5), fill_normal(r, ny, 1202, 1);
    a.x = x, a.wt = w, a.y = y;
    mia_conv2d_args bad = a;
    bad.pl = a.pr, bad.pr = a.pl, bad.dy = r, bad.dx = dx;
    assert_int_equal(mia__conv2d_bwd_data(g_be, &bad), MIA_OK);
    conv_ctx c = {.a = a, .r = r};
    double err = gradcheck_err(conv_loss, &c, x, dx, nx, H_LINEAR);
    print_message("  wrong-padding conv dx: max err %.2e (must exceed tol %.0e)\n", err, TOL_LINEAR);
    assert_true(err > 100 * TOL_LINEAR);
    free(x), free(w), free(y), free(r), free(dx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck__gemm),
        cmocka_unit_test(test_gradcheck__conv2d),
        cmocka_unit_test(test_gradcheck__batchnorm),
        cmocka_unit_test(test_gradcheck__eltwise),
        cmocka_unit_test(test_gradcheck__pool2d),
        cmocka_unit_test(test_gradcheck__bias),
        cmocka_unit_test(test_gradcheck__chmul),
        cmocka_unit_test(test_gradcheck__dropout),
        cmocka_unit_test(test_gradcheck__softmax),
        cmocka_unit_test(test_gradcheck__xent),
        cmocka_unit_test(test_gradcheck__detects_wrong_gradient),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
