/* Model throughput benchmark (issue 3): training steps (forward + mean cross-entropy + backward +
 * Adam update of every attached parameter) or inference (eval forward) of one architecture, in
 * images/s, on the onednn backend (or --backend). Random inputs and labels, generated outside
 * the timed region. After --warmup steps, steps are timed one by one until --seconds have
 * passed (at least --min-steps); the median step time gives images/s. Prints "key=value" lines
 * for bench/run-models.sh; peak RSS is the process's ru_maxrss.
 *   bench-models --arch resnet18_cifar --mode train|infer [--batch 64] [--threads 2]
 *                [--size 32] [--classes 10] [--seconds 6] [--min-steps 3] [--warmup 2] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "backend/ops.h"
#include "core/rng.h"
#include "tensor/tensor-impl.h"
#include <mia/backend.h>
#include <mia/graph.h>
#include <mia/model.h>
#include <mia/tensor.h>

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

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}


#define CHECK(expr)                                                                        \
    do {                                                                                   \
        if ((expr) != MIA_OK) {                                                            \
            fprintf(stderr, "bench-models: %s failed: %s\n", #expr, mia_last_error());     \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

typedef struct adam_state {
    mia_tensor *m, *v;
} adam_state;

int main(int argc, char **argv)
{
    const char *arch = "resnet18_cifar", *mode = "train", *backend = "onednn";
    int batch = 0, threads = 2, size = 0, classes = 0, min_steps = 3, warmup = 2;
    double seconds = 6.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bench-models: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--arch")) arch = v;
        else if (!strcmp(a, "--mode")) mode = v;
        else if (!strcmp(a, "--backend")) backend = v;
        else if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--size")) size = atoi(v);
        else if (!strcmp(a, "--classes")) classes = atoi(v);
        else if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--min-steps")) min_steps = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atoi(v);
        else {
            fprintf(stderr, "bench-models: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    const bool train = !strcmp(mode, "train");
    if (!train && strcmp(mode, "infer")) {
        fprintf(stderr, "bench-models: --mode must be train or infer\n");
        return 2;
    }
    if (batch <= 0) batch = train ? 64 : 256;
    mia_backend_opts bo;
    mia_backend_opts_init(&bo);
    bo.n_threads = threads;
    mia_backend *be;
    CHECK(mia_backend_create(&be, backend, &bo));
    mia_model_opts o;
    mia_model_opts_init(&o);
    if (size > 0) o.in_h = o.in_w = size;
    if (classes > 0) o.n_classes = classes;
    o.seed = 1;
    mia_model *m;
    CHECK(mia_model_create(&m, be, arch, &o));
    mia_graph *g = mia_model_graph(m);
    int64_t in[3];
    mia_model_input_shape(m, in);
    const int64_t K = mia_model_n_classes(m);
    const int64_t xs[4] = {batch, in[0], in[1], in[2]};
    mia_tensor *x, *labels, *loss, *dl;
    CHECK(mia_tensor_create(&x, be, MIA_DTYPE_F32, 4, xs));
    const int64_t ns[1] = {batch}, ls[2] = {batch, K};
    CHECK(mia_tensor_create(&labels, be, MIA_DTYPE_I32, 1, ns));
    CHECK(mia_tensor_create(&loss, be, MIA_DTYPE_F32, 1, ns));
    CHECK(mia_tensor_create(&dl, be, MIA_DTYPE_F32, 2, ls));
    {
        mia_rng r;
        mia__rng_init(&r, 5, MIA_STREAM_INIT);
        int64_t n = mia_tensor_numel(x);
        float *h = malloc((size_t)n * sizeof *h);
        int32_t *lab = malloc((size_t)batch * sizeof *lab);
        if (!h || !lab) return 1;
        for (int64_t i = 0; i < n; i++) h[i] = (float)mia__rng_normal(&r);
        for (int i = 0; i < batch; i++) lab[i] = (int32_t)mia__rng_below(&r, (uint64_t)K);
        CHECK(mia_tensor_upload(x, h, (size_t)n * sizeof *h));
        CHECK(mia_tensor_upload(labels, lab, (size_t)batch * sizeof *lab));
        free(h);
        free(lab);
    }
    size_t np = mia_graph_param_count(g);
    adam_state *st = calloc(np, sizeof *st);
    if (!st) return 1;
    if (train) {
        for (size_t i = 0; i < np; i++) {
            mia_param_info pi;
            CHECK(mia_graph_param(g, i, &pi));
            if (pi.kind != MIA_PARAM_KIND_PARAM || pi.detached) continue;
            int64_t n = mia_tensor_numel(pi.value);
            CHECK(mia_tensor_create(&st[i].m, be, MIA_DTYPE_F32, 1, &n));
            CHECK(mia_tensor_create(&st[i].v, be, MIA_DTYPE_F32, 1, &n));
            CHECK(mia_tensor_zero(st[i].m));
            CHECK(mia_tensor_zero(st[i].v));
        }
    }
    int cap = 4096, n_t = 0;
    double *t = malloc((size_t)cap * sizeof *t), *tc = malloc((size_t)cap * sizeof *tc);
    if (!t || !tc) return 1;
    double start = 0.0;
    for (int step = 0;; step++) {
        if (step == warmup) start = now_s();
        if (step >= warmup && n_t >= min_steps && now_s() - start >= seconds) break;
        if (n_t == cap) break;
        double t0 = now_s(), c0 = cpu_s();
        const mia_tensor *out;
        if (train) {
            CHECK(mia_graph_forward(g, x, true, (uint64_t)step, &out));
            mia_xent_args xa = {.rows = batch, .cols = K, .grad_scale = 1.0f / (float)batch,
                                .logits = mia__tensor_f32(out),
                                .labels = (const int32_t *)labels->data,
                                .loss = mia__tensor_f32(loss), .dlogits = mia__tensor_f32(dl)};
            CHECK(mia__xent(be, &xa));
            CHECK(mia_graph_backward(g, dl));
            for (size_t i = 0; i < np; i++) {
                if (!st[i].m) continue;
                mia_param_info pi;
                CHECK(mia_graph_param(g, i, &pi));
                mia_adam_args aa = {.count = mia_tensor_numel(pi.value), .step = step + 1,
                                    .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                    .param = mia__tensor_f32(pi.value),
                                    .m = mia__tensor_f32(st[i].m), .v = mia__tensor_f32(st[i].v),
                                    .grad = mia__tensor_f32(pi.grad)};
                CHECK(mia__adam_step(be, &aa));
            }
        } else {
            CHECK(mia_graph_forward(g, x, false, 0, &out));
        }
        CHECK(mia_backend_synchronize(be));
        double dt = now_s() - t0, dc = cpu_s() - c0;
        if (step >= warmup) {
            tc[n_t] = dc;
            t[n_t++] = dt;
        }
    }
    double med = median(t, n_t), medc = median(tc, n_t);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("arch=%s\nmode=%s\nbatch=%d\nthreads=%d\nbackend=%s\nsteps=%d\n", arch, mode, batch,
           threads, mia_backend_type(be), n_t);
    printf("median_step_s=%.6f\nimages_per_s=%.2f\npeak_rss_mib=%.1f\n", med, batch / med,
           (double)ru.ru_maxrss / 1024.0);
    /* CPU seconds of all threads per step: images per CPU-second, a work measure that other
     * tenants' load disturbs far less than wall time (at 1 thread; spinning inflates it at 2) */
    printf("median_step_cpu_s=%.6f\nimages_per_cpu_s=%.2f\n", medc, batch / medc);
    for (size_t i = 0; i < np; i++) {
        mia_tensor_free(st[i].m);
        mia_tensor_free(st[i].v);
    }
    free(st);
    free(t);
    free(tc);
    mia_tensor_free(x);
    mia_tensor_free(labels);
    mia_tensor_free(loss);
    mia_tensor_free(dl);
    mia_model_free(m);
    mia_backend_free(be);
    return 0;
}
