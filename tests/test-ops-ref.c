/* The ref backend's kernels (the oracle of every other backend) against hand-computed values.
 * Each expected number below is worked out by hand in the comment next to it, or computed in the
 * test from the closed-form definition in long double; none comes from the code under test. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mia/backend.h>
#include <mia/status.h>

#include "backend/ops.h"
#include "core/rng.h"

static mia_backend *g_be;

/* Dispatch functions are internal: start a fresh error record as a public entry point would. */
#define ASSERT_ERR(call, status, substr)                                                       \
    do {                                                                                       \
        mia__error_begin();                                                                    \
        assert_int_equal((call), (status));                                                    \
        if (!strstr(mia_last_error(), (substr)))                                               \
            fail_msg("message \"%s\" lacks \"%s\"", mia_last_error(), (substr));               \
    } while (0)

/* |got - want| <= tol * max(1, |want|) for every element. */
static void expect_close(const char *what, const float *got, const double *want, int64_t n,
                         double tol)
{
    for (int64_t i = 0; i < n; i++) {
        double g = (double)got[i], w = want[i];
        double lim = tol * (fabs(w) > 1.0 ? fabs(w) : 1.0);
        if (!(fabs(g - w) <= lim))
            fail_msg("%s[%lld]: got %.9g, want %.9g (tol %g)", what, (long long)i, g, w, tol);
    }
}

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

/* ---- gemm ------------------------------------------------------------------------------------ */

static void test_ops_ref__gemm_all_transposes(void **state)
{
    (void)state;
    /* A = [1 2 3; 4 5 6] (2x3), B = [1 0; 0 1; 2 -1] (3x2).
     * A B = [1+6, 2-3; 4+12, 5-6] = [7 -1; 16 -1]. */
    const float A[6] = {1, 2, 3, 4, 5, 6}, At[6] = {1, 4, 2, 5, 3, 6};
    const float B[6] = {1, 0, 0, 1, 2, -1}, Bt[6] = {1, 0, 2, 0, 1, -1};
    const double want[4] = {7, -1, 16, -1};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            float C[4] = {NAN, NAN, NAN, NAN}; /* beta = 0: C must not be read */
            mia_gemm_args g = {.trans_a = ta, .trans_b = tb, .m = 2, .n = 2, .k = 3,
                               .alpha = 1, .beta = 0, .a = ta ? At : A, .lda = ta ? 2 : 3,
                               .b = tb ? Bt : B, .ldb = tb ? 3 : 2, .c = C, .ldc = 2};
            assert_int_equal(mia__gemm(g_be, &g), MIA_OK);
            expect_close("gemm", C, want, 4, 0);
        }
    /* alpha = 2, beta = -1 on C = [1 1; 1 1]: 2 AB - 1 = [13 -3; 31 -3]; ldc = 3 padding kept. */
    float C[6] = {1, 1, 99, 1, 1, 99};
    mia_gemm_args g = {.m = 2, .n = 2, .k = 3, .alpha = 2, .beta = -1, .a = A, .lda = 3,
                       .b = B, .ldb = 2, .c = C, .ldc = 3};
    assert_int_equal(mia__gemm(g_be, &g), MIA_OK);
    const double want2[6] = {13, -3, 99, 31, -3, 99};
    expect_close("gemm alpha beta", C, want2, 6, 0);
}

/* ---- conv ------------------------------------------------------------------------------------ */

static mia_conv2d_args conv_geom(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o,
                                 int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt,
                                 int64_t pl, int64_t pb, int64_t pr, int64_t groups)
{
    mia_conv2d_args a = {.n = n, .c = c, .h = h, .w = w, .o = o, .kh = kh, .kw = kw, .sh = sh,
                         .sw = sw, .pt = pt, .pl = pl, .pb = pb, .pr = pr, .groups = groups};
    a.oh = (h + pt + pb - kh) / sh + 1;
    a.ow = (w + pl + pr - kw) / sw + 1;
    return a;
}

static void test_ops_ref__conv_3x3_by_2x2_fwd_and_bwd(void **state)
{
    (void)state;
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 2, 3, 4}, b[1] = {0.5f};
    float y[4], dx[9], dw[4], db[1];
    mia_conv2d_args a = conv_geom(1, 1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1);
    assert_int_equal(a.oh, 2);
    a.x = x, a.wt = w, a.b = b, a.y = y;
    assert_int_equal(mia__conv2d_fwd(g_be, &a), MIA_OK);
    /* y00 = 1*1+2*2+3*4+4*5 = 37, y01 = 2+6+15+24 = 47, y10 = 4+10+21+32 = 67,
     * y11 = 5+12+24+36 = 77; plus bias 0.5. */
    const double wy[4] = {37.5, 47.5, 67.5, 77.5};
    expect_close("conv y", y, wy, 4, 0);
    /* dy = ones: dw[ky,kx] = sum of the 2x2 block at (ky,kx): 1+2+4+5=12, 16, 24, 28; db = 4. */
    const float dy[4] = {1, 1, 1, 1};
    a.dy = dy, a.dw = dw, a.db = db, a.dx = dx;
    assert_int_equal(mia__conv2d_bwd_weights(g_be, &a), MIA_OK);
    const double wdw[4] = {12, 16, 24, 28}, wdb[1] = {4};
    expect_close("conv dw", dw, wdw, 4, 0);
    expect_close("conv db", db, wdb, 1, 0);
    /* dx[i,j] = sum of the kernel taps that touch (i,j). */
    assert_int_equal(mia__conv2d_bwd_data(g_be, &a), MIA_OK);
    const double wdx[9] = {1, 3, 2, 4, 10, 6, 3, 7, 4};
    expect_close("conv dx", dx, wdx, 9, 0);
}

static void test_ops_ref__conv_stride2_pad2(void **state)
{
    (void)state;
    /* 3x3 ones kernel, stride 2, padding 2 on x = 1..9: windows start at rows/cols -2, 0, 2. */
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    float w[9], y[9];
    for (int i = 0; i < 9; i++) w[i] = 1;
    mia_conv2d_args a = conv_geom(1, 1, 3, 3, 1, 3, 3, 2, 2, 2, 2, 2, 2, 1);
    assert_int_equal(a.oh, 3);
    assert_int_equal(a.ow, 3);
    a.x = x, a.wt = w, a.y = y;
    assert_int_equal(mia__conv2d_fwd(g_be, &a), MIA_OK);
    /* corners see one element; edges a row/column sum (6, 12, 18, 24); centre all (45). */
    const double want[9] = {1, 6, 3, 12, 45, 18, 7, 24, 9};
    expect_close("conv s2 p2", y, want, 9, 0);
}

static void test_ops_ref__conv_asymmetric_padding_batch2(void **state)
{
    (void)state;
    /* 2x2 ones kernel, pad top 1, right 1, on x = [1 2; 3 4] (and its negation as image 2).
     * y00: rows -1..0, cols 0..1 -> 1+2 = 3; y01: cols 1..2 -> 2; y10: 10; y11: 2+4 = 6. */
    const float x[8] = {1, 2, 3, 4, -1, -2, -3, -4}, w[4] = {1, 1, 1, 1};
    float y[8];
    mia_conv2d_args a = conv_geom(2, 1, 2, 2, 1, 2, 2, 1, 1, 1, 0, 0, 1, 1);
    assert_int_equal(a.oh, 2);
    assert_int_equal(a.ow, 2);
    a.x = x, a.wt = w, a.y = y;
    assert_int_equal(mia__conv2d_fwd(g_be, &a), MIA_OK);
    const double want[8] = {3, 2, 10, 6, -3, -2, -10, -6};
    expect_close("conv asym", y, want, 8, 0);
}

static void test_ops_ref__conv_depthwise_and_groups(void **state)
{
    (void)state;
    /* depthwise, c = o = groups = 2, 1x1 weights [2, -1]: channel 0 = ones -> 2,
     * channel 1 = 1..4 -> -1..-4; bias [0, 10]. */
    const float x[8] = {1, 1, 1, 1, 1, 2, 3, 4}, w[2] = {2, -1}, b[2] = {0, 10};
    float y[8];
    mia_conv2d_args a = conv_geom(1, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 2);
    a.x = x, a.wt = w, a.b = b, a.y = y;
    assert_int_equal(mia__conv2d_fwd(g_be, &a), MIA_OK);
    const double want[8] = {2, 2, 2, 2, 9, 8, 7, 6};
    expect_close("conv depthwise", y, want, 8, 0);

    /* groups = 2, c = 4, o = 2, 1x1, one pixel: y0 = w00 x0 + w01 x1, y1 = w10 x2 + w11 x3.
     * x = [1 2 3 4], w = [1 10; 100 1000]: y0 = 21, y1 = 4300. */
    const float x2[4] = {1, 2, 3, 4}, w2[4] = {1, 10, 100, 1000};
    float y2[2];
    mia_conv2d_args g = conv_geom(1, 4, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0, 2);
    g.x = x2, g.wt = w2, g.y = y2;
    assert_int_equal(mia__conv2d_fwd(g_be, &g), MIA_OK);
    const double want2[2] = {21, 4300};
    expect_close("conv groups", y2, want2, 2, 0);
}

static void test_ops_ref__conv_rejects_bad_geometry(void **state)
{
    (void)state;
    float buf[16] = {0};
    mia_conv2d_args a = conv_geom(1, 3, 4, 4, 4, 3, 3, 1, 1, 0, 0, 0, 0, 2);
    a.x = buf, a.wt = buf, a.y = buf;
    ASSERT_ERR(mia__conv2d_fwd(g_be, &a), MIA_ERR_INVALID, "groups");
    a = conv_geom(1, 1, 4, 4, 1, 3, 3, 1, 1, 0, 0, 0, 0, 1);
    a.oh = 3;
    a.x = buf, a.wt = buf, a.y = buf;
    ASSERT_ERR(mia__conv2d_fwd(g_be, &a), MIA_ERR_INVALID, "output");
}

/* ---- batchnorm ------------------------------------------------------------------------------- */

static void test_ops_ref__batchnorm_train_and_eval(void **state)
{
    (void)state;
    /* n = 2, c = 1, hw = 2, x = [1 2 | 3 4]: mean 2.5, biased var 1.25, unbiased 5/3. */
    const float x[4] = {1, 2, 3, 4}, gamma[1] = {2}, beta[1] = {1};
    float y[4], rm[1] = {0}, rv[1] = {1}, sm[1], sv[1];
    mia_batchnorm_args a = {.n = 2, .c = 1, .hw = 2, .eps = 1e-5f, .momentum = 0.1f,
                            .training = true, .x = x, .gamma = gamma, .beta = beta, .y = y,
                            .running_mean = rm, .running_var = rv, .save_mean = sm,
                            .save_var = sv};
    assert_int_equal(mia__batchnorm_fwd(g_be, &a), MIA_OK);
    double inv = 1.0 / sqrt(1.25 + (double)1e-5f), want[4];
    for (int i = 0; i < 4; i++) want[i] = 2.0 * ((i + 1) - 2.5) * inv + 1.0;
    expect_close("bn y", y, want, 4, 1e-6);
    const double wsm[1] = {2.5}, wsv[1] = {1.25};
    expect_close("bn save_mean", sm, wsm, 1, 1e-7);
    expect_close("bn save_var", sv, wsv, 1, 1e-7);
    /* running = 0.9 old + 0.1 batch: mean 0.25, var 0.9 + 0.1 * 5/3 */
    const double wrm[1] = {0.25}, wrv[1] = {0.9 + 0.1 * 5.0 / 3.0};
    expect_close("bn running_mean", rm, wrm, 1, 1e-6);
    expect_close("bn running_var", rv, wrv, 1, 1e-6);

    /* eval: uses running stats (0.25, 1.0666667) and leaves them unchanged */
    a.training = false;
    assert_int_equal(mia__batchnorm_fwd(g_be, &a), MIA_OK);
    double inv2 = 1.0 / sqrt(wrv[0] + (double)1e-5f);
    for (int i = 0; i < 4; i++) want[i] = 2.0 * ((i + 1) - 0.25) * inv2 + 1.0;
    expect_close("bn eval y", y, want, 4, 1e-6);
    expect_close("bn running_mean unchanged", rm, wrm, 1, 1e-6);
}

static void test_ops_ref__batchnorm_rejects_eps(void **state)
{
    (void)state;
    float buf[4] = {0};
    mia_batchnorm_args a = {.n = 1, .c = 1, .hw = 4, .eps = 0, .x = buf, .y = buf};
    ASSERT_ERR(mia__batchnorm_fwd(g_be, &a), MIA_ERR_INVALID, "eps");
}

/* ---- activations ----------------------------------------------------------------------------- */

static void test_ops_ref__eltwise_values(void **state)
{
    (void)state;
    const float x[6] = {-3.0f, -0.5f, 0.0f, 0.25f, 2.0f, 40.0f};
    float y[6], dx[6];
    const float ones[6] = {1, 1, 1, 1, 1, 1};
    for (int act = 0; act <= MIA_ACT_IDENTITY; act++) {
        mia_eltwise_args a = {.act = (mia_act)act, .alpha = 0.1f, .count = 6, .x = x, .y = y,
                              .dy = ones, .dx = dx};
        assert_int_equal(mia__eltwise_fwd(g_be, &a), MIA_OK);
        assert_int_equal(mia__eltwise_bwd(g_be, &a), MIA_OK);
        double wy[6], wd[6];
        for (int i = 0; i < 6; i++) {
            long double v = x[i], s = 1.0L / (1.0L + expl(-v)), t = tanhl(v);
            switch (act) {
            case MIA_ACT_RELU: wy[i] = v > 0 ? (double)v : 0; wd[i] = v > 0 ? 1 : 0; break;
            case MIA_ACT_LEAKY_RELU:
                wy[i] = (double)(v > 0 ? v : 0.1L * v);
                wd[i] = v > 0 ? 1 : (double)0.1f;
                break;
            case MIA_ACT_SILU: wy[i] = (double)(v * s); wd[i] = (double)(s + v * s * (1 - s)); break;
            case MIA_ACT_SIGMOID: wy[i] = (double)s; wd[i] = (double)(s * (1 - s)); break;
            case MIA_ACT_TANH: wy[i] = (double)t; wd[i] = (double)(1 - t * t); break;
            default: wy[i] = (double)v; wd[i] = 1; break;
            }
        }
        expect_close("eltwise y", y, wy, 6, 1e-6);
        expect_close("eltwise dx", dx, wd, 6, 1e-6);
    }
    /* in place, and NaN propagates through relu (divergence must stay visible) */
    float z[3] = {-1.0f, NAN, 3.0f};
    mia_eltwise_args r = {.act = MIA_ACT_RELU, .count = 3, .x = z, .y = z};
    assert_int_equal(mia__eltwise_fwd(g_be, &r), MIA_OK);
    assert_true(z[0] == 0.0f && isnan(z[1]) && z[2] == 3.0f);
    /* sigmoid saturates without overflow */
    float big[2] = {-1000.0f, 1000.0f}, sb[2];
    mia_eltwise_args sg = {.act = MIA_ACT_SIGMOID, .count = 2, .x = big, .y = sb};
    assert_int_equal(mia__eltwise_fwd(g_be, &sg), MIA_OK);
    assert_true(sb[0] == 0.0f && sb[1] == 1.0f);
}

/* ---- pooling --------------------------------------------------------------------------------- */

static void test_ops_ref__maxpool_ties_go_to_first(void **state)
{
    (void)state;
    /* 2x4 input, 2x2 windows stride 2: window 0 all 5s (tie), window 1 = [1 3; 3 2]. */
    const float x[8] = {5, 5, 1, 3, 5, 5, 3, 2};
    const float dy[2] = {10, 20};
    float y[2], dx[8];
    mia_pool2d_args a = {.kind = MIA_POOL_MAX, .n = 1, .c = 1, .h = 2, .w = 4, .oh = 1, .ow = 2,
                         .kh = 2, .kw = 2, .sh = 2, .sw = 2, .x = x, .y = y, .dy = dy, .dx = dx};
    assert_int_equal(mia__pool2d_fwd(g_be, &a), MIA_OK);
    const double wy[2] = {5, 3};
    expect_close("maxpool y", y, wy, 2, 0);
    assert_int_equal(mia__pool2d_bwd(g_be, &a), MIA_OK);
    /* the gradient goes to the first maximum in row-major window order only */
    const double wdx[8] = {10, 0, 0, 20, 0, 0, 0, 0};
    expect_close("maxpool dx", dx, wdx, 8, 0);
}

static void test_ops_ref__pool_padding_semantics(void **state)
{
    (void)state;
    /* x = [1 2; 3 4] (and its negation), 2x2 windows, stride 1, padding 1: 3x3 output. */
    const float x[8] = {1, 2, 3, 4, -1, -2, -3, -4};
    float y[18];
    mia_pool2d_args a = {.n = 1, .c = 2, .h = 2, .w = 2, .oh = 3, .ow = 3, .kh = 2, .kw = 2,
                         .sh = 1, .sw = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .x = x, .y = y};
    a.kind = MIA_POOL_AVG_INCLUDE_PAD; /* divisor always 4 */
    assert_int_equal(mia__pool2d_fwd(g_be, &a), MIA_OK);
    const double winc[9] = {0.25, 0.75, 0.5, 1.0, 2.5, 1.5, 0.75, 1.75, 1.0};
    expect_close("avgpool include", y, winc, 9, 1e-7);
    a.kind = MIA_POOL_AVG_EXCLUDE_PAD; /* divisor = real elements: 1, 2, 1 / 2, 4, 2 / 1, 2, 1 */
    assert_int_equal(mia__pool2d_fwd(g_be, &a), MIA_OK);
    const double wexc[9] = {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4};
    expect_close("avgpool exclude", y, wexc, 9, 1e-7);
    a.kind = MIA_POOL_MAX; /* padding is -inf, not 0: channel 1 stays negative */
    assert_int_equal(mia__pool2d_fwd(g_be, &a), MIA_OK);
    const double wmax[18] = {1, 2, 2, 3, 4, 4, 3, 4, 4, -1, -1, -2, -1, -1, -2, -3, -3, -4};
    expect_close("maxpool pad", y, wmax, 18, 0);
}

/* ---- bias, binary, chmul --------------------------------------------------------------------- */

static void test_ops_ref__bias_binary_chmul(void **state)
{
    (void)state;
    /* (outer 2, c 2, inner 2): y = 0 + b[c]; db = sum over outer and inner. */
    float y[8] = {0};
    const float b[2] = {1, -2}, dy[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    float db[2];
    mia_bias_args ba = {.outer = 2, .c = 2, .inner = 2, .b = b, .y = y, .dy = dy, .db = db};
    assert_int_equal(mia__bias_add(g_be, &ba), MIA_OK);
    const double wy[8] = {1, 1, -2, -2, 1, 1, -2, -2};
    expect_close("bias_add", y, wy, 8, 0);
    assert_int_equal(mia__bias_grad(g_be, &ba), MIA_OK);
    const double wdb[2] = {1 + 2 + 5 + 6, 3 + 4 + 7 + 8};
    expect_close("bias_grad", db, wdb, 2, 0);

    float p[3] = {1, 2, 3};
    const float q[3] = {4, 5, -6};
    float r[3];
    mia_binary_args bn = {.count = 3, .alpha = 0.5f, .a = p, .b = q, .y = r};
    assert_int_equal(mia__add(g_be, &bn), MIA_OK);
    const double wadd[3] = {5, 7, -3};
    expect_close("add", r, wadd, 3, 0);
    assert_int_equal(mia__mul(g_be, &bn), MIA_OK);
    const double wmul[3] = {4, 10, -18};
    expect_close("mul", r, wmul, 3, 0);
    assert_int_equal(mia__axpy(g_be, &bn), MIA_OK); /* r += 0.5 p */
    const double waxpy[3] = {4.5, 11, -16.5};
    expect_close("axpy", r, waxpy, 3, 0);
    bn.y = p; /* in place: p = 0.5 p */
    assert_int_equal(mia__scale(g_be, &bn), MIA_OK);
    const double wscale[3] = {0.5, 1, 1.5};
    expect_close("scale", p, wscale, 3, 0);

    /* chmul n 1, c 2, hw 2: s = [2, -1]; ds[c] = sum dy * x */
    const float cx[4] = {1, 2, 3, 4}, cs[2] = {2, -1}, cdy[4] = {1, 1, 0.5f, 2};
    float cy[4], cdx[4], cds[2];
    mia_chmul_args ca = {.n = 1, .c = 2, .hw = 2, .x = cx, .s = cs, .dy = cdy, .y = cy,
                         .dx = cdx, .ds = cds};
    assert_int_equal(mia__chmul_fwd(g_be, &ca), MIA_OK);
    const double wcy[4] = {2, 4, -3, -4};
    expect_close("chmul y", cy, wcy, 4, 0);
    assert_int_equal(mia__chmul_bwd(g_be, &ca), MIA_OK);
    const double wcdx[4] = {2, 2, -0.5, -2}, wcds[2] = {3, 9.5};
    expect_close("chmul dx", cdx, wcdx, 4, 0);
    expect_close("chmul ds", cds, wcds, 2, 0);
}

/* ---- dropout --------------------------------------------------------------------------------- */

static void test_ops_ref__dropout_mask(void **state)
{
    (void)state;
    enum { N = 100003 }; /* not a multiple of 4: the last Philox block is partly used */
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    float *y2 = malloc(N * sizeof(float)), *dx = malloc(N * sizeof(float));
    assert_non_null(x && y && y2 && dx);
    for (int i = 0; i < N; i++) x[i] = 1.0f + (float)(i % 7);
    const float p = 0.3f;
    mia_dropout_args a = {.count = N, .p = p, .seed = 1234, .stream = 5, .x = x, .y = y,
                          .dy = x, .dx = dx};
    assert_int_equal(mia__dropout_fwd(g_be, &a), MIA_OK);
    int64_t kept = 0;
    for (int i = 0; i < N; i++) {
        /* the mask is defined by ops.h: keep iff unit(philox(seed, DROPOUT ^ stream, i/4)[i%4]) >= p */
        uint32_t w[4];
        mia__philox(1234, MIA_STREAM_DROPOUT ^ 5u, (uint64_t)(i / 4), w);
        bool keep = mia__u32_to_unit(w[i % 4]) >= p;
        float want = keep ? x[i] * (1.0f / (1.0f - p)) : 0.0f;
        if (y[i] != want) fail_msg("dropout y[%d] = %g, want %g", i, (double)y[i], (double)want);
        kept += keep;
    }
    /* kept ~ Binomial(N, 0.7): sd = sqrt(N * 0.21) ~ 145, so +-0.01 N is ~7 sd */
    assert_true(fabs((double)kept / N - 0.7) < 0.01);
    /* backward applies the same mask to dy (here dy = x) */
    assert_int_equal(mia__dropout_bwd(g_be, &a), MIA_OK);
    assert_memory_equal(dx, y, N * sizeof(float));
    /* deterministic for (seed, stream), different for another stream */
    a.y = y2;
    assert_int_equal(mia__dropout_fwd(g_be, &a), MIA_OK);
    assert_memory_equal(y, y2, N * sizeof(float));
    a.stream = 6;
    assert_int_equal(mia__dropout_fwd(g_be, &a), MIA_OK);
    assert_memory_not_equal(y, y2, N * sizeof(float));
    /* p = 0 is the identity */
    a.p = 0;
    assert_int_equal(mia__dropout_fwd(g_be, &a), MIA_OK);
    assert_memory_equal(y2, x, N * sizeof(float));
    a.p = 1.0f;
    ASSERT_ERR(mia__dropout_fwd(g_be, &a), MIA_ERR_INVALID, "p");
    free(x), free(y), free(y2), free(dx);
}

/* ---- softmax, xent --------------------------------------------------------------------------- */

static void test_ops_ref__softmax_large_logits(void **state)
{
    (void)state;
    const float x[6] = {1e4f, -1e4f, 0.0f, 1.0f, 2.0f, 3.0f};
    float y[6], ly[6];
    mia_softmax_args a = {.rows = 2, .cols = 3, .x = x, .out = y};
    assert_int_equal(mia__softmax_fwd(g_be, &a), MIA_OK);
    a.log = true, a.out = ly;
    assert_int_equal(mia__softmax_fwd(g_be, &a), MIA_OK);
    double want[6], lwant[6];
    for (int r = 0; r < 2; r++) {
        long double m = x[3 * r];
        for (int j = 1; j < 3; j++) m = fmaxl(m, x[3 * r + j]);
        long double s = 0;
        for (int j = 0; j < 3; j++) s += expl((long double)x[3 * r + j] - m);
        for (int j = 0; j < 3; j++) {
            lwant[3 * r + j] = (double)((long double)x[3 * r + j] - m - logl(s));
            want[3 * r + j] = (double)(expl((long double)x[3 * r + j] - m) / s);
        }
    }
    for (int i = 0; i < 6; i++) assert_true(isfinite(y[i]) && isfinite(ly[i]));
    expect_close("softmax", y, want, 6, 1e-7);
    expect_close("log_softmax", ly, lwant, 6, 1e-6);
    /* row [1e4, -1e4, 0]: softmax = [1, 0, 0] exactly in f32; log-softmax = [0, -2e4, -1e4] */
    assert_true(y[0] == 1.0f && y[1] == 0.0f && y[2] == 0.0f);
    assert_true(ly[0] == 0.0f && ly[1] == -2e4f && ly[2] == -1e4f);
}

static void test_ops_ref__xent_smoothing_closed_form(void **state)
{
    (void)state;
    const float logits[8] = {1, 2, 3, -1, 0.5f, -2, 4, 0};
    const int32_t labels[2] = {0, 2};
    float loss[2], dl[8];
    const float eps_list[3] = {0.0f, 0.1f, 0.0083f};
    for (int e = 0; e < 3; e++) {
        const float eps = eps_list[e];
        mia_xent_args a = {.rows = 2, .cols = 4, .smoothing = eps, .grad_scale = 0.5f,
                           .logits = logits, .labels = labels, .loss = loss, .dlogits = dl};
        assert_int_equal(mia__xent(g_be, &a), MIA_OK);
        double wl[2], wd[8];
        for (int r = 0; r < 2; r++) {
            const float *z = logits + 4 * r;
            long double s = 0, mean_logp = 0;
            for (int j = 0; j < 4; j++) s += expl((long double)z[j]);
            long double lse = logl(s);
            for (int j = 0; j < 4; j++) mean_logp += ((long double)z[j] - lse) / 4;
            /* spec §3: (1-eps) * (-logp[y]) + eps * mean_c(-logp[c]) */
            wl[r] = (double)((1 - (long double)eps) * (lse - z[labels[r]]) - eps * mean_logp);
            for (int j = 0; j < 4; j++) {
                long double t = (long double)eps / 4 + (j == labels[r] ? 1 - (long double)eps : 0);
                wd[4 * r + j] = (double)(0.5L * (expl((long double)z[j] - lse) - t));
            }
        }
        expect_close("xent loss", loss, wl, 2, 1e-6);
        expect_close("xent dlogits", dl, wd, 8, 1e-6);
    }
    /* large logits stay finite: loss = 2e4 for the wrong label, 0 for the right one */
    const float big[2] = {1e4f, -1e4f};
    const int32_t lb[2] = {1, 0};
    mia_xent_args b = {.rows = 1, .cols = 2, .logits = big, .labels = lb, .loss = loss};
    assert_int_equal(mia__xent(g_be, &b), MIA_OK);
    assert_true(loss[0] == 2e4f);
    b.labels = lb + 1;
    assert_int_equal(mia__xent(g_be, &b), MIA_OK);
    assert_true(loss[0] == 0.0f);
    /* out-of-range label is rejected on host backends */
    const int32_t badl[1] = {2};
    b.labels = badl;
    ASSERT_ERR(mia__xent(g_be, &b), MIA_ERR_INVALID, "label");
}

/* ---- optimisers ------------------------------------------------------------------------------ */

static void test_ops_ref__adam_two_steps(void **state)
{
    (void)state;
    for (int wdi = 0; wdi < 2; wdi++) {
        const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = wdi ? 0.01 : 0.0;
        float p[2] = {1.0f, -2.0f}, m[2] = {0, 0}, v[2] = {0, 0};
        const float g1[2] = {0.5f, 0.001f}, g2[2] = {-0.25f, 0.002f};
        double P[2] = {1.0, -2.0}, M[2] = {0, 0}, V[2] = {0, 0};
        for (int t = 1; t <= 2; t++) {
            const float *g = t == 1 ? g1 : g2;
            mia_adam_args a = {.count = 2, .step = t, .lr = (float)lr, .beta1 = (float)b1,
                               .beta2 = (float)b2, .eps = (float)eps, .weight_decay = (float)wd,
                               .param = p, .m = m, .v = v, .grad = g};
            assert_int_equal(mia__adam_step(g_be, &a), MIA_OK);
            double want[2];
            for (int i = 0; i < 2; i++) { /* torch.optim.Adam, coupled L2 */
                double gg = (double)g[i] + wd * P[i];
                M[i] = b1 * M[i] + (1 - b1) * gg;
                V[i] = b2 * V[i] + (1 - b2) * gg * gg;
                double mh = M[i] / (1 - pow(b1, t)), vh = V[i] / (1 - pow(b2, t));
                P[i] -= lr * mh / (sqrt(vh) + eps);
                want[i] = P[i];
            }
            expect_close("adam p", p, want, 2, 2e-6);
        }
        /* step 1 moves each parameter by ~lr * sign(g): 1 -> 0.9 (hand: m^ = g, v^ = g^2) */
    }
    float p = 1.0f, m = 0, v = 0;
    const float g = 0.5f;
    mia_adam_args a = {.count = 1, .step = 1, .lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f,
                       .eps = 1e-8f, .param = &p, .m = &m, .v = &v, .grad = &g};
    assert_int_equal(mia__adam_step(g_be, &a), MIA_OK);
    assert_true(fabs((double)p - 0.9) < 1e-6);
    a.step = 0;
    ASSERT_ERR(mia__adam_step(g_be, &a), MIA_ERR_INVALID, "step");
}

static void test_ops_ref__sgd_two_steps(void **state)
{
    (void)state;
    /* p = 1, g = 0.5 both steps, lr 0.1, momentum 0.9, dampening 0:
     * plain momentum: buf1 = 0.5, p = 0.95; buf2 = 0.45 + 0.5 = 0.95, p = 0.855.
     * nesterov: step 1 g = 0.5 + 0.9 * 0.5 = 0.95, p = 0.905; buf2 = 0.95,
     *           g = 0.5 + 0.855 = 1.355, p = 0.7695.
     * no momentum, wd 0.1: g = 0.5 + 0.1 = 0.6 -> p = 0.94, then 0.5 + 0.094 -> 0.8806. */
    const float g = 0.5f;
    const double want[3][2] = {{0.95, 0.855}, {0.905, 0.7695}, {0.94, 0.8806}};
    for (int c = 0; c < 3; c++) {
        float p = 1.0f, buf = 123.0f; /* buf is ignored at step 1 */
        for (int t = 1; t <= 2; t++) {
            mia_sgd_args a = {.count = 1, .step = t, .lr = 0.1f, .momentum = c < 2 ? 0.9f : 0.0f,
                              .dampening = 0, .weight_decay = c == 2 ? 0.1f : 0.0f,
                              .nesterov = c == 1, .param = &p, .buf = c < 2 ? &buf : NULL,
                              .grad = &g};
            assert_int_equal(mia__sgd_step(g_be, &a), MIA_OK);
            expect_close("sgd p", &p, &want[c][t - 1], 1, 1e-6);
        }
    }
    /* dampening 0.5: buf2 = 0.9 * 0.5 + 0.5 * 0.5 = 0.7 -> p = 0.95 - 0.07 = 0.88 */
    float p = 1.0f, buf = 0;
    for (int t = 1; t <= 2; t++) {
        mia_sgd_args a = {.count = 1, .step = t, .lr = 0.1f, .momentum = 0.9f, .dampening = 0.5f,
                          .param = &p, .buf = &buf, .grad = &g};
        assert_int_equal(mia__sgd_step(g_be, &a), MIA_OK);
    }
    const double wd[1] = {0.88};
    expect_close("sgd dampening", &p, wd, 1, 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_ref__gemm_all_transposes),
        cmocka_unit_test(test_ops_ref__conv_3x3_by_2x2_fwd_and_bwd),
        cmocka_unit_test(test_ops_ref__conv_stride2_pad2),
        cmocka_unit_test(test_ops_ref__conv_asymmetric_padding_batch2),
        cmocka_unit_test(test_ops_ref__conv_depthwise_and_groups),
        cmocka_unit_test(test_ops_ref__conv_rejects_bad_geometry),
        cmocka_unit_test(test_ops_ref__batchnorm_train_and_eval),
        cmocka_unit_test(test_ops_ref__batchnorm_rejects_eps),
        cmocka_unit_test(test_ops_ref__eltwise_values),
        cmocka_unit_test(test_ops_ref__maxpool_ties_go_to_first),
        cmocka_unit_test(test_ops_ref__pool_padding_semantics),
        cmocka_unit_test(test_ops_ref__bias_binary_chmul),
        cmocka_unit_test(test_ops_ref__dropout_mask),
        cmocka_unit_test(test_ops_ref__softmax_large_logits),
        cmocka_unit_test(test_ops_ref__xent_smoothing_closed_form),
        cmocka_unit_test(test_ops_ref__adam_two_steps),
        cmocka_unit_test(test_ops_ref__sgd_two_steps),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
