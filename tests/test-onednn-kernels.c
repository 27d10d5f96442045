/* The onednn backend's hand-written kernels against the ref kernels, the oracle; their outputs
 * must be bit-identical (memcmp), at 1 and 2 threads.
 * - Max pooling (libmia/backend/onednn/onednn-pool.c), forward and backward, on inputs built to
 *   hit the semantic corners ops.h fixes: ties (first element in row-major window order wins),
 *   NaN (wins), +0/-0 (ties), negative zero gradients (the ref adds them to +0), odd sizes
 *   (rows/columns no window covers), padding (-inf) and overlapping windows (accumulation).
 * - Depthwise conv backward-weights (onednn-dw.c), on the shapes where oneDNN falls back to gemm
 *   (small spatial sizes, padding >= half the kernel, stride 2), with and without bias.
 * Skipped (77) when the onednn backend is not compiled in. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/ops.h"
#include "core/rng.h"
#include <mia/backend.h>

static mia_backend *g_ref, *g_od[2];

static int group_setup(void **state)
{
    (void)state;
    if (mia_backend_create(&g_ref, "ref", NULL) != MIA_OK) return -1;
    for (int t = 0; t < 2; t++) {
        mia_backend_opts o;
        mia_backend_opts_init(&o);
        o.n_threads = t + 1;
        if (mia_backend_create(&g_od[t], "onednn", &o) != MIA_OK) return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mia_backend_free(g_ref);
    for (int t = 0; t < 2; t++) mia_backend_free(g_od[t]);
    return 0;
}

/* Values from a small set so that ties are frequent, with NaN and signed zeros sprinkled in. */
static void fill(float *v, int64_t n, mia_rng *r, bool nan)
{
    static const float set[] = {-2.0f, -1.0f, -0.0f, 0.0f, 1.0f, 2.0f, 0.5f, -0.5f};
    for (int64_t i = 0; i < n; i++) {
        v[i] = set[mia__rng_below(r, 8)];
        if (nan && mia__rng_below(r, 97) == 0) v[i] = NAN;
    }
}

static void run_case(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t s, int64_t p)
{
    mia_pool2d_args a = {.kind = MIA_POOL_MAX, .n = n, .c = c, .h = h, .w = w, .kh = k, .kw = k,
                         .sh = s, .sw = s, .pt = p, .pl = p, .pb = p, .pr = p};
    a.oh = (h + 2 * p - k) / s + 1;
    a.ow = (w + 2 * p - k) / s + 1;
    const int64_t nx = n * c * h * w, ny = n * c * a.oh * a.ow;
    float *x = malloc((size_t)nx * 4), *dy = malloc((size_t)ny * 4);
    float *yr = malloc((size_t)ny * 4), *dxr = malloc((size_t)nx * 4);
    float *y = malloc((size_t)ny * 4), *dx = malloc((size_t)nx * 4);
    assert_non_null(x && dy && yr && dxr && y && dx);
    mia_rng r;
    mia__rng_init(&r, (uint64_t)(n * 1000 + h * 10 + k), MIA_STREAM_INIT);
    for (int nan = 0; nan < 2; nan++) {
        fill(x, nx, &r, nan);
        fill(dy, ny, &r, false);
        a.x = x;
        a.dy = dy;
        a.y = yr;
        a.dx = dxr;
        assert_int_equal(mia__pool2d_fwd(g_ref, &a), MIA_OK);
        assert_int_equal(mia__pool2d_bwd(g_ref, &a), MIA_OK);
        for (int t = 0; t < 2; t++) {
            memset(y, 0x7f, (size_t)ny * 4); /* NaN-like garbage: every output must be written */
            memset(dx, 0x7f, (size_t)nx * 4);
            a.y = y;
            a.dx = dx;
            assert_int_equal(mia__pool2d_fwd(g_od[t], &a), MIA_OK);
            assert_int_equal(mia__pool2d_bwd(g_od[t], &a), MIA_OK);
            if (memcmp(y, yr, (size_t)ny * 4) || memcmp(dx, dxr, (size_t)nx * 4))
                fail_msg("maxpool %lldx%lldx%lldx%lld k%lld s%lld p%lld threads %d nan %d: "
                         "%s differs from ref",
                         (long long)n, (long long)c, (long long)h, (long long)w, (long long)k,
                         (long long)s, (long long)p, t + 1, nan,
                         memcmp(y, yr, (size_t)ny * 4) ? "forward" : "backward");
        }
    }
    free(x);
    free(dy);
    free(yr);
    free(dxr);
    free(y);
    free(dx);
}

static void test_onednn_kernels__maxpool_2x2_even(void **state)
{
    (void)state;
    run_case(2, 3, 8, 8, 2, 2, 0);
    run_case(8, 16, 32, 32, 2, 2, 0); /* large enough to run in parallel */
}

static void test_onednn_kernels__maxpool_2x2_odd(void **state)
{
    (void)state;
    run_case(2, 5, 9, 7, 2, 2, 0);
    run_case(1, 2, 3, 3, 2, 2, 0); /* one window, a row and a column left over */
}

static void test_onednn_kernels__maxpool_overlap_pad(void **state)
{
    (void)state;
    run_case(2, 3, 9, 11, 3, 2, 1);  /* ResNet-50 stem pool */
    run_case(2, 4, 7, 7, 3, 1, 1);   /* overlapping windows accumulate */
    run_case(4, 16, 15, 15, 3, 2, 1); /* parallel */
}

/* ---- depthwise conv backward-weights ------------------------------------------------------ */

static void dw_case(int64_t n, int64_t c, int64_t h, int64_t k, int64_t s, int64_t p, bool bias)
{
    mia_conv2d_args a = {.n = n, .c = c, .h = h, .w = h, .o = c, .kh = k, .kw = k, .sh = s,
                         .sw = s, .pt = p, .pl = p, .pb = p, .pr = p, .groups = c};
    a.oh = a.ow = (h + 2 * p - k) / s + 1;
    const int64_t nx = n * c * h * h, ny = n * c * a.oh * a.ow, nw = c * k * k;
    float *x = malloc((size_t)nx * 4), *dy = malloc((size_t)ny * 4);
    float *dwr = malloc((size_t)nw * 4), *dbr = malloc((size_t)c * 4);
    float *dw = malloc((size_t)nw * 4), *db = malloc((size_t)c * 4);
    assert_non_null(x && dy && dwr && dbr && dw && db);
    mia_rng r;
    mia__rng_init(&r, (uint64_t)(c * 100 + h * 10 + k), MIA_STREAM_INIT);
    for (int64_t i = 0; i < nx; i++) x[i] = (float)mia__rng_normal(&r);
    for (int64_t i = 0; i < ny; i++) dy[i] = (float)mia__rng_normal(&r);
    a.x = x;
    a.dy = dy;
    a.dw = dwr;
    a.db = bias ? dbr : NULL;
    assert_int_equal(mia__conv2d_bwd_weights(g_ref, &a), MIA_OK);
    for (int t = 0; t < 2; t++) {
        memset(dw, 0x7f, (size_t)nw * 4);
        memset(db, 0x7f, (size_t)c * 4);
        a.dw = dw;
        a.db = bias ? db : NULL;
        assert_int_equal(mia__conv2d_bwd_weights(g_od[t], &a), MIA_OK);
        if (memcmp(dw, dwr, (size_t)nw * 4) || (bias && memcmp(db, dbr, (size_t)c * 4)))
            fail_msg("depthwise bwd-weights n%lld c%lld %lldx%lld k%lld s%lld p%lld bias %d "
                     "threads %d: differs from ref",
                     (long long)n, (long long)c, (long long)h, (long long)h, (long long)k,
                     (long long)s, (long long)p, (int)bias, t + 1);
    }
    free(x);
    free(dy);
    free(dwr);
    free(dbr);
    free(dw);
    free(db);
}

static void test_onednn_kernels__dw_bwd_weights(void **state)
{
    (void)state;
    dw_case(8, 48, 2, 5, 1, 2, false); /* EfficientNet-B0 stage 6 at 32x32 input */
    dw_case(8, 40, 4, 5, 1, 2, true);
    dw_case(4, 24, 16, 5, 2, 2, false); /* stride 2 */
    dw_case(4, 32, 4, 5, 2, 2, true);
    dw_case(16, 64, 2, 3, 1, 1, false);
    dw_case(64, 96, 4, 5, 1, 2, true); /* large enough to run in parallel */
}

int main(void)
{
    if (!mia_backend_available("onednn")) {
        fprintf(stderr, "onednn backend not compiled in: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_onednn_kernels__maxpool_2x2_even),
        cmocka_unit_test(test_onednn_kernels__maxpool_2x2_odd),
        cmocka_unit_test(test_onednn_kernels__maxpool_overlap_pad),
        cmocka_unit_test(test_onednn_kernels__dw_bwd_weights),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
