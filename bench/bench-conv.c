/* Conv benchmark: 3x3, 64 -> 64 channels, N=64, 32x32, stride 1, pad 1, no bias, f32, on the
 * onednn backend (or the one named by --backend): forward, backward-data and backward-weights.
 * Each trial times every direction once (each over --reps calls, after warm-up), directions
 * interleaved; the medians over --trials trials are printed as GFLOP/s, one "key=value" line
 * per figure, so bench/run-conv.sh can parse them.
 *   bench-conv [--threads 2] [--trials 7] [--reps 5] [--backend onednn] [--n 64] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend-impl.h"
#include <mia/backend.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static float *alloc_fill(mia_backend *be, int64_t n, unsigned seed)
{
    void *p = NULL;
    if (be->ops->alloc(be, (size_t)n * sizeof(float), &p) != MIA_OK) return NULL;
    float *f = p;
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        f[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5);
    }
    return f;
}

int main(int argc, char **argv)
{
    int threads = 2, trials = 7, reps = 5;
    int64_t N = 64;
    const char *backend = "onednn";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--trials")) trials = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--backend")) backend = argv[i + 1];
        else if (!strcmp(argv[i], "--n")) N = atoll(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--threads T] [--trials K] [--reps R] [--backend B] [--n N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (threads < 1 || trials < 1 || trials > 1000 || reps < 1 || N < 1) {
        fprintf(stderr, "bench-conv: bad arguments\n");
        return 2;
    }
    mia_backend_opts o;
    mia_backend_opts_init(&o);
    o.n_threads = threads;
    mia_backend *be;
    if (mia_backend_create(&be, backend, &o) != MIA_OK) {
        fprintf(stderr, "bench-conv: %s\n", mia_last_error());
        return 1;
    }
    const int64_t C = 64, O = 64, H = 32, W = 32, K = 3;
    mia_conv2d_args a = {.n = N, .c = C, .h = H, .w = W, .o = O, .oh = H, .ow = W, .kh = K,
                         .kw = K, .sh = 1, .sw = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1,
                         .groups = 1};
    const int64_t nx = N * C * H * W, ny = N * O * H * W, nw = O * C * K * K;
    float *x = alloc_fill(be, nx, 1), *wt = alloc_fill(be, nw, 2), *dy = alloc_fill(be, ny, 3);
    float *y = alloc_fill(be, ny, 4), *dx = alloc_fill(be, nx, 5), *dw = alloc_fill(be, nw, 6);
    if (!x || !wt || !dy || !y || !dx || !dw) {
        fprintf(stderr, "bench-conv: out of memory\n");
        return 1;
    }
    a.x = x;
    a.wt = wt;
    a.dy = dy;
    a.y = y;
    a.dx = dx;
    a.dw = dw;
    const double flop = 2.0 * (double)(N * O * H * W) * (double)(C * K * K);
    mia_status (*fn[3])(mia_backend *, const mia_conv2d_args *) = {
        mia__conv2d_fwd, mia__conv2d_bwd_data, mia__conv2d_bwd_weights};
    const char *names[3] = {"fwd", "bwd_data", "bwd_weights"};
    /* warm-up: builds and caches the primitives, faults the pages in */
    for (int d = 0; d < 3; d++)
        for (int r = 0; r < 2; r++)
            if (fn[d](be, &a) != MIA_OK) {
                fprintf(stderr, "bench-conv: %s: %s\n", names[d], mia_last_error());
                return 1;
            }
    double *t[4];
    for (int d = 0; d < 4; d++) t[d] = calloc((size_t)trials, sizeof(double));
    for (int k = 0; k < trials; k++) {
        double sum = 0;
        for (int d = 0; d < 3; d++) {
            double t0 = now_s();
            for (int r = 0; r < reps; r++) fn[d](be, &a);
            t[d][k] = (now_s() - t0) / reps;
            sum += t[d][k];
        }
        t[3][k] = sum;
    }
    printf("backend=%s threads=%d n=%lld trials=%d reps=%d\n", mia_backend_type(be), threads,
           (long long)N, trials, reps);
    for (int d = 0; d < 3; d++) printf("%s_gflops=%.1f\n", names[d], flop / median(t[d], trials) / 1e9);
    printf("total_gflops=%.1f\n", 3.0 * flop / median(t[3], trials) / 1e9);
    for (int d = 0; d < 4; d++) free(t[d]);
    float *bufs[6] = {x, wt, dy, y, dx, dw};
    for (int i = 0; i < 6; i++) be->ops->release(be, bufs[i]);
    mia_backend_free(be);
    return 0;
}
