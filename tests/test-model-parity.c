/* PyTorch parity of the model builders (issue 3): a PyTorch-initialised state_dict loaded with
 * mia_model_load_weights() must give PyTorch's logits in eval and train mode, and after one
 * backward of the mean cross-entropy PyTorch's parameter gradients and updated BN buffers.
 *
 * Oracle: tests/gen-model-fixtures.py (Debian python3-torch 1.13, plain aten kernels with
 * mkldnn disabled), run in float64 from the f32 weights. Norm: per tensor, relative L2 error
 * e = ||mia - ref||_2 / ||ref||_2 must be <= max(1e-4, 4 * e_pt32) where e_pt32 is PyTorch's own
 * float32 error on that tensor (stored in the fixture): where PyTorch's fp32 meets 1e-4 libmia
 * must too; where the problem is so ill-conditioned that fp32 PyTorch itself misses 1e-4 (deep
 * train-mode BN stacks at tiny batches, gradients that are exactly zero in exact arithmetic such
 * as a BN bias followed by another train-mode BN), libmia may be at most 4x as far from the exact
 * value as PyTorch. Gradients get a wider bound, KINK_TOL, when the fixture counts ReLU inputs
 * within 1e-5 * rms of zero (kinks.count): float32 cannot decide their sign, and one unit on
 * the other side of its kink moves every gradient upstream by a few 1e-3 (seen: ResNet-18 at
 * 32x32, batch 4, with batchnorm reductions in another order than PyTorch's). On tensors where
 * fp32 PyTorch itself is that far off (its own rounding flips some of those units), the bound is
 * KINK_MULT times PyTorch's error if that is larger: a different but equally accurate summation
 * order (oneDNN's blocked reductions, Winograd convolutions) flips a different subset, and with
 * many kinks (ResNet-50 at batch 2: 175) the subsets differ by more units (seen: 2.7e-2 on
 * layer4.1.bn1.bias, where PyTorch fp32 is 6.4e-3 off). Logits and BN buffers keep 1e-4 (the
 * forward is continuous at a kink). num_batches_tracked must match exactly. The unit suite uses the committed small fixture
 * (tests/data/model-parity: salem_cnn, 1x16x16, batch 4); the slow suite
 * (test-model-parity-slow.c defines MIA_PARITY_SLOW) generates every architecture at its real
 * input size at test time. Each fixture runs on the ref backend and on onednn when built. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <mia/backend.h>
#include <mia/graph.h>
#include <mia/model.h>
#include <mia/safetensors.h>
#include <mia/status.h>
#include <mia/tensor.h>

#define TOL 1e-4
#define KINK_TOL 2e-2
#define KINK_MULT 8.0

typedef struct fixture {
    const char *arch;
    int batch, channels, size, classes;
} fixture;

/* Relative L2 error of a against the reference b (n floats). */
static double rel_l2(const float *a, const float *b, int64_t n)
{
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    if (den == 0.0) return sqrt(num);
    return sqrt(num / den);
}

static const float *expect_f32(const mia_safetensors *st, const char *name, int64_t numel)
{
    int64_t i = mia_safetensors_find(st, name);
    if (i < 0) fail_msg("expected tensor '%s' missing from the fixture", name);
    assert_int_equal(mia_safetensors_nbytes(st, (size_t)i), (size_t)numel * sizeof(float));
    return mia_safetensors_data(st, (size_t)i);
}

static float *download(const mia_tensor *t)
{
    float *buf = malloc(mia_tensor_nbytes(t));
    assert_non_null(buf);
    assert_int_equal(mia_tensor_download(t, buf, mia_tensor_nbytes(t)), MIA_OK);
    return buf;
}

static int g_relaxed; /* tensors checked against 4 * e_pt32 > 1e-4 */
static int64_t g_kinks; /* ReLU inputs of the fixture within fp32 rounding of 0 */

static void check_st(const mia_safetensors *st, const char *what, const char *be,
                     const float *got, const float *want, int64_t n, double *worst)
{
    double e = rel_l2(got, want, n), tol = TOL, pt = 0.0;
    char key[300];
    snprintf(key, sizeof key, "pt32err.%s", what);
    int64_t k = mia_safetensors_find(st, key);
    if (k >= 0) {
        pt = *(const float *)mia_safetensors_data(st, (size_t)k);
        if (4.0 * pt > tol) {
            tol = 4.0 * pt;
            g_relaxed++;
        }
    }
    const double kink_tol = KINK_MULT * pt > KINK_TOL ? KINK_MULT * pt : KINK_TOL;
    if (g_kinks > 0 && strncmp(what, "grad.", 5) == 0 && e > tol && e <= kink_tol) {
        tol = kink_tol;
        g_relaxed++;
    }
    if (e > *worst && tol == TOL) *worst = e;
    if (!(e <= tol)) fail_msg("%s on %s: relative L2 error %.3g > %.3g", what, be, e, tol);
}
#define check(what, be, got, want, n, worst) check_st(st, what, be, got, want, n, worst)

static void run_parity(const char *dir, const fixture *f, const char *be_name)
{
    char wpath[1024], epath[1024];
    snprintf(wpath, sizeof wpath, "%s/%s.weights.safetensors", dir, f->arch);
    snprintf(epath, sizeof epath, "%s/%s.expected.safetensors", dir, f->arch);
    mia_backend *be;
    mia_backend_opts bo;
    mia_backend_opts_init(&bo);
    bo.n_threads = 2;
    assert_int_equal(mia_backend_create(&be, be_name, &bo), MIA_OK);
    mia_model_opts o;
    mia_model_opts_init(&o);
    o.n_classes = f->classes;
    o.in_channels = f->channels;
    o.in_h = o.in_w = f->size;
    mia_model *m;
    assert_int_equal(mia_model_create(&m, be, f->arch, &o), MIA_OK);
    mia_status s = mia_model_load_weights(m, wpath);
    if (s != MIA_OK) fail_msg("load_weights %s: %s", wpath, mia_last_error());
    mia_safetensors *st;
    assert_int_equal(mia_safetensors_open(&st, epath, NULL), MIA_OK);
    mia_graph *g = mia_model_graph(m);
    assert_int_equal(mia_graph_set_dropout_enabled(g, false), MIA_OK);

    const int64_t N = f->batch, K = f->classes;
    const int64_t xs[4] = {N, f->channels, f->size, f->size};
    const int64_t xn = xs[0] * xs[1] * xs[2] * xs[3];
    mia_tensor *x, *dl;
    assert_int_equal(mia_tensor_create(&x, be, MIA_DTYPE_F32, 4, xs), MIA_OK);
    assert_int_equal(mia_tensor_upload(x, expect_f32(st, "x", xn), (size_t)xn * sizeof(float)),
                     MIA_OK);
    const int64_t ls[2] = {N, K};
    assert_int_equal(mia_tensor_create(&dl, be, MIA_DTYPE_F32, 2, ls), MIA_OK);
    int64_t li = mia_safetensors_find(st, "labels");
    assert_true(li >= 0);
    const int64_t *labels = mia_safetensors_data(st, (size_t)li);

    double w_logit = 0.0, w_grad = 0.0, w_buf = 0.0;
    g_relaxed = 0;
    const int64_t ki = mia_safetensors_find(st, "kinks.count");
    g_kinks = ki >= 0 ? *(const int64_t *)mia_safetensors_data(st, (size_t)ki) : 0;
    /* eval mode, before any training forward (running statistics of the state_dict) */
    const mia_tensor *out;
    assert_int_equal(mia_graph_forward(g, x, false, 0, &out), MIA_OK);
    float *got = download(out);
    check("logits_eval", be_name, got, expect_f32(st, "logits_eval", N * K), N * K, &w_logit);
    free(got);
    /* train mode: batch statistics, running stats updated once */
    assert_int_equal(mia_graph_forward(g, x, true, 7, &out), MIA_OK);
    got = download(out);
    check("logits_train", be_name, got, expect_f32(st, "logits_train", N * K), N * K, &w_logit);
    /* dL/dlogits of mean cross-entropy, from libmia's own logits, in double */
    float *d = malloc((size_t)(N * K) * sizeof *d);
    assert_non_null(d);
    for (int64_t r = 0; r < N; r++) {
        double mx = -INFINITY, sum = 0.0;
        for (int64_t c = 0; c < K; c++) mx = fmax(mx, got[r * K + c]);
        for (int64_t c = 0; c < K; c++) sum += exp((double)got[r * K + c] - mx);
        for (int64_t c = 0; c < K; c++) {
            double p = exp((double)got[r * K + c] - mx) / sum;
            d[r * K + c] = (float)((p - (c == labels[r] ? 1.0 : 0.0)) / (double)N);
        }
    }
    free(got);
    assert_int_equal(mia_tensor_upload(dl, d, (size_t)(N * K) * sizeof *d), MIA_OK);
    free(d);
    assert_int_equal(mia_graph_zero_grad(g), MIA_OK);
    assert_int_equal(mia_graph_backward(g, dl), MIA_OK);

    size_t n_checked = 0;
    for (size_t i = 0; i < mia_graph_param_count(g); i++) {
        mia_param_info pi;
        assert_int_equal(mia_graph_param(g, i, &pi), MIA_OK);
        char key[256];
        int64_t n = mia_tensor_numel(pi.value);
        if (pi.kind == MIA_PARAM_KIND_PARAM) {
            snprintf(key, sizeof key, "grad.%s", pi.name);
            float *gv = download(pi.grad);
            if (mia_safetensors_find(st, key) < 0) {
                /* PyTorch's grad is None: the parameter never runs (EfficientNet block 0) */
                if (!pi.detached) fail_msg("%s: no PyTorch gradient but not detached", pi.name);
                for (int64_t j = 0; j < n; j++) assert_true(gv[j] == 0.0f);
            } else {
                check(key, be_name, gv, expect_f32(st, key, n), n, &w_grad);
            }
            free(gv);
        } else if (mia_tensor_dtype(pi.value) == MIA_DTYPE_I64) {
            snprintf(key, sizeof key, "after.%s", pi.name);
            int64_t k = mia_safetensors_find(st, key), v = -1;
            if (k < 0) fail_msg("expected tensor '%s' missing", key);
            assert_int_equal(mia_tensor_download(pi.value, &v, sizeof v), MIA_OK);
            assert_int_equal(v, *(const int64_t *)mia_safetensors_data(st, (size_t)k));
        } else {
            snprintf(key, sizeof key, "after.%s", pi.name);
            float *bv = download(pi.value);
            check(key, be_name, bv, expect_f32(st, key, n), n, &w_buf);
            free(bv);
        }
        n_checked++;
    }
    assert_true(n_checked > 0);
    print_message("%-22s %-6s N=%lld %dx%dx%d: worst rel-L2 logits %.2e, grads %.2e, "
                  "BN buffers %.2e (%zu tensors; %d ill-conditioned ones held to 4x PyTorch fp32 "
                  "or, with %lld ReLU inputs at their kink, gradients to max(%.0e, %.0fx PyTorch "
                  "fp32) instead)\n",
                  f->arch, be_name, (long long)N, f->channels, f->size, f->size, w_logit, w_grad,
                  w_buf, n_checked, g_relaxed, (long long)g_kinks, KINK_TOL, KINK_MULT);
    mia_tensor_free(x);
    mia_tensor_free(dl);
    mia_safetensors_free(st);
    mia_model_free(m);
    mia_backend_free(be);
}

static void run_on_backends(const char *dir, const fixture *f)
{
    run_parity(dir, f, "ref");
    if (mia_backend_available("onednn")) run_parity(dir, f, "onednn");
    else print_message("onednn not built: ref only\n");
}

#ifndef MIA_PARITY_SLOW

static void test_model_parity__salem_cnn_committed(void **state)
{
    (void)state;
    const char *data = getenv("MIA_TEST_DATA");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/model-parity", data ? data : "tests/data");
    const fixture f = {"salem_cnn", 4, 1, 16, 10};
    run_on_backends(dir, &f);
}

static void test_model_parity__dropout_switch(void **state)
{
    (void)state;
    mia_backend *be;
    assert_int_equal(mia_backend_create(&be, "ref", NULL), MIA_OK);
    mia_graph *g;
    assert_int_equal(mia_graph_create(&g, be), MIA_OK);
    int x, y;
    const int64_t sh[1] = {64};
    assert_int_equal(mia_graph_input(&x, g, 1, sh), MIA_OK);
    assert_int_equal(mia_graph_dropout(&y, g, x, 0.5f), MIA_OK);
    assert_int_equal(mia_graph_set_output(g, y), MIA_OK);
    const int64_t xs[2] = {2, 64};
    mia_tensor *t;
    assert_int_equal(mia_tensor_create(&t, be, MIA_DTYPE_F32, 2, xs), MIA_OK);
    assert_int_equal(mia_tensor_fill_f32(t, 1.0f), MIA_OK);
    const mia_tensor *out;
    float v[128];
    assert_int_equal(mia_graph_forward(g, t, true, 3, &out), MIA_OK);
    assert_int_equal(mia_tensor_download(out, v, sizeof v), MIA_OK);
    int zeros = 0;
    for (int i = 0; i < 128; i++) zeros += v[i] == 0.0f;
    assert_true(zeros > 16 && zeros < 112); /* on: about half dropped, the rest scaled by 2 */
    assert_int_equal(mia_graph_set_dropout_enabled(g, false), MIA_OK);
    assert_int_equal(mia_graph_forward(g, t, true, 3, &out), MIA_OK);
    assert_int_equal(mia_tensor_download(out, v, sizeof v), MIA_OK);
    for (int i = 0; i < 128; i++) assert_true(v[i] == 1.0f);
    assert_int_equal(mia_graph_set_dropout_enabled(NULL, false), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "g is NULL"));
    mia_tensor_free(t);
    mia_graph_free(g);
    mia_backend_free(be);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_parity__salem_cnn_committed),
        cmocka_unit_test(test_model_parity__dropout_switch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* MIA_PARITY_SLOW: generate every architecture with PyTorch at test time */

static char g_dir[256];

static int gen(const fixture *f)
{
    const char *src = getenv("MIA_SOURCE_DIR");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 '%s/tests/gen-model-fixtures.py' %s '%s' --batch %d "
             "--channels %d --size %d --classes %d",
             src ? src : ".", f->arch, g_dir, f->batch, f->channels, f->size, f->classes);
    return system(cmd);
}

static void parity_slow(const fixture *f)
{
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
        print_message("python3-torch not installed: skipped\n");
        skip();
    }
    if (gen(f) != 0) fail_msg("gen-model-fixtures.py %s failed", f->arch);
    run_on_backends(g_dir, f);
}

static void test_model_parity__salem_cnn(void **state)
{
    (void)state;
    const fixture f = {"salem_cnn", 8, 3, 32, 10};
    parity_slow(&f);
}

static void test_model_parity__resnet18_cifar(void **state)
{
    (void)state;
    const fixture f = {"resnet18_cifar", 4, 3, 32, 10};
    parity_slow(&f);
}

static void test_model_parity__efficientnet_b0_cifar(void **state)
{
    (void)state;
    const fixture f = {"efficientnet_b0_cifar", 4, 3, 32, 10};
    parity_slow(&f);
}

static void test_model_parity__resnet50(void **state)
{
    (void)state;
    const fixture f = {"resnet50", 2, 3, 224, 120};
    parity_slow(&f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/mia-parity-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_parity__salem_cnn),
        cmocka_unit_test(test_model_parity__resnet18_cifar),
        cmocka_unit_test(test_model_parity__efficientnet_b0_cifar),
        cmocka_unit_test(test_model_parity__resnet50),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
#endif
