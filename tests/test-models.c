/* Model builders: exact parameter counts (spec §2 and torchvision), state_dict keys and shapes,
 * forward output shapes, PyTorch-default initialisation statistics, determinism, errors. */
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

#include "test-util.h"

#include <mia/mia.h>

static int setup_auto(void **state)
{
    return mia_backend_create((mia_backend **)state, "auto", NULL) == MIA_OK ? 0 : -1;
}

static int teardown(void **state)
{
    mia_backend_free(*state);
    return 0;
}

static int64_t count_of(const char *arch, const mia_model_opts *o)
{
    int64_t n = -1;
    assert_int_equal(mia_model_arch_param_count(&n, arch, o), MIA_OK);
    return n;
}

static void test_models__parameter_counts(void **state)
{
    (void)state;
    /* spec §2 */
    assert_int_equal(count_of("salem_cnn", NULL), 291626);
    assert_int_equal(count_of("resnet18_cifar", NULL), 11173962);
    assert_int_equal(count_of("efficientnet_b0_cifar", NULL), 3599686);
    assert_int_equal(count_of("resnet50", NULL), 23753912);
    /* Salem attack MLP 3 -> 64 -> 1: 3*64 + 64 + 64 + 1 */
    assert_int_equal(count_of("mlp", NULL), 321);
    mia_model_opts o;
    mia_model_opts_init(&o);
    /* torchvision resnet50() with its 1000-class head: 25,557,032 */
    o.n_classes = 1000;
    assert_int_equal(count_of("resnet50", &o), 25557032);
    /* 1-channel 28x28 SalemCNN: 832 + 25632 + (32*7*7*128 + 128) + 1290 */
    mia_model_opts_init(&o);
    o.in_channels = 1;
    o.in_h = o.in_w = 28;
    assert_int_equal(count_of("salem_cnn", &o), 832 + 25632 + 200832 + 1290);
    mia_model_opts_init(&o);
    o.mlp_n_hidden = 2;
    o.mlp_hidden[0] = 5;
    o.mlp_hidden[1] = 4;
    o.in_channels = 7;
    o.n_classes = 3;
    assert_int_equal(count_of("mlp", &o), 7 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3);
    /* the listing */
    assert_int_equal(mia_model_arch_count(), 5);
    for (size_t i = 0; i < mia_model_arch_count(); i++) {
        assert_non_null(mia_model_arch_name(i));
        assert_non_null(mia_model_arch_description(i));
    }
    assert_null(mia_model_arch_name(5));
}

typedef struct key_spec {
    const char *name;
    int ndim;
    int64_t shape[4];
    mia_param_kind kind;
} key_spec;

static void check_keys(mia_graph *g, const key_spec *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t idx = mia_graph_find(g, k[i].name);
        if (idx < 0) fail_msg("missing key %s", k[i].name);
        mia_param_info p;
        assert_int_equal(mia_graph_param(g, (size_t)idx, &p), MIA_OK);
        assert_string_equal(p.name, k[i].name);
        assert_int_equal(p.kind, k[i].kind);
        assert_int_equal(mia_tensor_ndim(p.value), k[i].ndim);
        for (int d = 0; d < k[i].ndim; d++)
            assert_int_equal(mia_tensor_dim(p.value, d), k[i].shape[d]);
        if (p.kind == MIA_PARAM_KIND_PARAM) {
            assert_non_null(p.grad);
            assert_int_equal(mia_tensor_numel(p.grad), mia_tensor_numel(p.value));
        } else {
            assert_null(p.grad);
        }
    }
}

static mia_model *make(mia_backend *be, const char *arch, const mia_model_opts *o)
{
    mia_model *m = NULL;
    if (mia_model_create(&m, be, arch, o) != MIA_OK) fail_msg("%s: %s", arch, mia_last_error());
    return m;
}

/* Eval forward of batch 2 on a fixed input: shape, finiteness, predict() consistency. */
static void check_forward(mia_backend *be, mia_model *m, int64_t n_classes, bool distinct)
{
    int64_t in[3];
    mia_model_input_shape(m, in);
    const int64_t xs[4] = {2, in[0], in[1], in[2]};
    mia_tensor *x;
    assert_int_equal(mia_tensor_create(&x, be, MIA_DTYPE_F32, 4, xs), MIA_OK);
    int64_t n = mia_tensor_numel(x);
    float *host = malloc((size_t)n * sizeof *host);
    for (int64_t i = 0; i < n; i++) host[i] = (float)sin(0.37 * (double)i);
    assert_int_equal(mia_tensor_upload(x, host, (size_t)n * sizeof *host), MIA_OK);
    const mia_tensor *y;
    assert_int_equal(mia_graph_forward(mia_model_graph(m), x, false, 0, &y), MIA_OK);
    assert_int_equal(mia_tensor_ndim(y), 2);
    assert_int_equal(mia_tensor_dim(y, 0), 2);
    assert_int_equal(mia_tensor_dim(y, 1), n_classes);
    float *logits = malloc(2 * (size_t)n_classes * sizeof *logits);
    float *probs = malloc(2 * (size_t)n_classes * sizeof *probs);
    assert_int_equal(mia_model_predict(m, x, MIA_PREDICT_LOGITS, logits), MIA_OK);
    assert_int_equal(mia_model_predict(m, x, MIA_PREDICT_SOFTMAX, probs), MIA_OK);
    for (int r = 0; r < 2; r++) {
        double mx = -INFINITY, z = 0;
        for (int64_t c = 0; c < n_classes; c++) {
            assert_true(isfinite(logits[r * n_classes + c]));
            if (logits[r * n_classes + c] > mx) mx = logits[r * n_classes + c];
        }
        for (int64_t c = 0; c < n_classes; c++) z += exp(logits[r * n_classes + c] - mx);
        for (int64_t c = 0; c < n_classes; c++)
            assert_float_equal(probs[r * n_classes + c], exp(logits[r * n_classes + c] - mx) / z,
                               1e-5);
    }
    /* the two samples differ, so the logits should too (not for EfficientNet: at PyTorch's
     * default init its eval-mode features shrink to ~1e-12, below the head bias' resolution) */
    if (distinct)
        assert_memory_not_equal(logits, logits + n_classes, (size_t)n_classes * sizeof *logits);
    free(host);
    free(logits);
    free(probs);
    mia_tensor_free(x);
}

static void test_models__salem_cnn(void **state)
{
    mia_backend *be = *state;
    mia_model *m = make(be, "salem_cnn", NULL);
    assert_string_equal(mia_model_arch(m), "salem_cnn");
    assert_int_equal(mia_model_n_params(m), 291626);
    assert_int_equal(mia_model_n_classes(m), 10);
    const key_spec k[] = {
        {"model.0.weight", 4, {32, 3, 5, 5}, MIA_PARAM_KIND_PARAM},
        {"model.0.bias", 1, {32}, MIA_PARAM_KIND_PARAM},
        {"model.3.weight", 4, {32, 32, 5, 5}, MIA_PARAM_KIND_PARAM},
        {"model.7.weight", 2, {128, 2048}, MIA_PARAM_KIND_PARAM},
        {"out.weight", 2, {10, 128}, MIA_PARAM_KIND_PARAM},
        {"out.bias", 1, {10}, MIA_PARAM_KIND_PARAM},
    };
    check_keys(mia_model_graph(m), k, sizeof k / sizeof k[0]);
    assert_int_equal(mia_graph_param_count(mia_model_graph(m)), 8);
    check_forward(be, m, 10, true);
    mia_model_free(m);
    /* 1-channel input works */
    mia_model_opts o;
    mia_model_opts_init(&o);
    o.in_channels = 1;
    o.in_h = o.in_w = 28;
    m = make(be, "salem_cnn", &o);
    check_forward(be, m, 10, true);
    mia_model_free(m);
}

static void test_models__resnet18_cifar(void **state)
{
    mia_backend *be = *state;
    mia_model *m = make(be, "resnet18_cifar", NULL);
    mia_graph *g = mia_model_graph(m);
    assert_int_equal(mia_model_n_params(m), 11173962);
    const key_spec k[] = {
        {"conv1.weight", 4, {64, 3, 3, 3}, MIA_PARAM_KIND_PARAM},
        {"bn1.running_mean", 1, {64}, MIA_PARAM_KIND_BUFFER},
        {"layer1.0.conv1.weight", 4, {64, 64, 3, 3}, MIA_PARAM_KIND_PARAM},
        {"layer1.0.bn1.num_batches_tracked", 1, {1}, MIA_PARAM_KIND_BUFFER},
        {"layer2.0.conv1.weight", 4, {128, 64, 3, 3}, MIA_PARAM_KIND_PARAM},
        {"layer2.0.shortcut.0.weight", 4, {128, 64, 1, 1}, MIA_PARAM_KIND_PARAM},
        {"layer2.0.shortcut.1.running_var", 1, {128}, MIA_PARAM_KIND_BUFFER},
        {"layer4.1.bn2.bias", 1, {512}, MIA_PARAM_KIND_PARAM},
        {"linear.weight", 2, {10, 512}, MIA_PARAM_KIND_PARAM},
        {"linear.bias", 1, {10}, MIA_PARAM_KIND_PARAM},
    };
    check_keys(g, k, sizeof k / sizeof k[0]);
    /* 20 convs + 20 BNs x 5 + linear x 2, in PyTorch order: first conv1, last linear.bias */
    assert_int_equal(mia_graph_param_count(g), 122);
    mia_param_info p;
    assert_int_equal(mia_graph_param(g, 0, &p), MIA_OK);
    assert_string_equal(p.name, "conv1.weight");
    assert_int_equal(mia_graph_param(g, 121, &p), MIA_OK);
    assert_string_equal(p.name, "linear.bias");
    assert_int_equal(mia_graph_param(g, 6, &p), MIA_OK);
    assert_string_equal(p.name, "layer1.0.conv1.weight");
    assert_int_equal(mia_graph_find(g, "layer1.0.shortcut.0.weight"), -1);
    assert_int_equal(mia_tensor_dtype(
                         (mia_graph_param(g, (size_t)mia_graph_find(g, "bn1.num_batches_tracked"),
                                          &p),
                          p.value)),
                     MIA_DTYPE_I64);
    check_forward(be, m, 10, true);
    mia_model_free(m);
}

static void test_models__efficientnet_b0_cifar(void **state)
{
    mia_backend *be = *state;
    mia_model *m = make(be, "efficientnet_b0_cifar", NULL);
    mia_graph *g = mia_model_graph(m);
    assert_int_equal(mia_model_n_params(m), 3599686);
    const key_spec k[] = {
        {"conv1.weight", 4, {32, 3, 3, 3}, MIA_PARAM_KIND_PARAM},
        {"layers.0.conv1.weight", 4, {32, 32, 1, 1}, MIA_PARAM_KIND_PARAM},
        {"layers.0.conv2.weight", 4, {32, 1, 3, 3}, MIA_PARAM_KIND_PARAM},
        {"layers.0.se.se1.weight", 4, {8, 32, 1, 1}, MIA_PARAM_KIND_PARAM},
        {"layers.0.se.se1.bias", 1, {8}, MIA_PARAM_KIND_PARAM},
        {"layers.0.se.se2.weight", 4, {32, 8, 1, 1}, MIA_PARAM_KIND_PARAM},
        {"layers.3.conv2.weight", 4, {144, 1, 5, 5}, MIA_PARAM_KIND_PARAM},
        {"layers.15.conv3.weight", 4, {320, 1152, 1, 1}, MIA_PARAM_KIND_PARAM},
        {"layers.15.bn3.running_mean", 1, {320}, MIA_PARAM_KIND_BUFFER},
        {"linear.weight", 2, {10, 320}, MIA_PARAM_KIND_PARAM},
    };
    check_keys(g, k, sizeof k / sizeof k[0]);
    assert_int_equal(mia_graph_find(g, "layers.16.conv1.weight"), -1);
    check_forward(be, m, 10, false);

    /* Block 1's conv1/bn1 exist but are detached: a training step leaves their running
     * statistics alone (PyTorch never runs them) and their gradients zero. */
    const int64_t xs[4] = {2, 3, 32, 32};
    mia_tensor *x, *dy;
    assert_int_equal(mia_tensor_create(&x, be, MIA_DTYPE_F32, 4, xs), MIA_OK);
    float *xh = malloc(mia_tensor_nbytes(x));
    for (int64_t i = 0; i < mia_tensor_numel(x); i++) xh[i] = (float)cos(0.11 * (double)i);
    assert_int_equal(mia_tensor_upload(x, xh, mia_tensor_nbytes(x)), MIA_OK);
    free(xh);
    const mia_tensor *y;
    assert_int_equal(mia_graph_forward(g, x, true, 1, &y), MIA_OK);
    float logits[20];
    assert_int_equal(mia_tensor_download(y, logits, sizeof logits), MIA_OK);
    assert_memory_not_equal(logits, logits + 10, sizeof logits / 2); /* batch statistics */
    assert_int_equal(mia_tensor_create(&dy, be, MIA_DTYPE_F32, 2, (const int64_t[]){2, 10}),
                     MIA_OK);
    assert_int_equal(mia_tensor_fill_f32(dy, 0.1f), MIA_OK);
    assert_int_equal(mia_graph_backward(g, dy), MIA_OK);
    mia_param_info p;
    int64_t nbt;
    assert_int_equal(mia_graph_param(g, (size_t)mia_graph_find(g, "layers.0.conv1.weight"), &p),
                     MIA_OK);
    assert_true(p.detached);
    float *gw = malloc(mia_tensor_nbytes(p.grad));
    assert_int_equal(mia_tensor_download(p.grad, gw, mia_tensor_nbytes(p.grad)), MIA_OK);
    for (int64_t i = 0; i < mia_tensor_numel(p.grad); i++) assert_true(gw[i] == 0.0f);
    free(gw);
    assert_int_equal(
        mia_graph_param(g, (size_t)mia_graph_find(g, "layers.0.bn1.num_batches_tracked"), &p),
        MIA_OK);
    assert_true(p.detached);
    assert_int_equal(mia_tensor_download(p.value, &nbt, sizeof nbt), MIA_OK);
    assert_int_equal(nbt, 0);
    assert_int_equal(
        mia_graph_param(g, (size_t)mia_graph_find(g, "layers.1.bn1.num_batches_tracked"), &p),
        MIA_OK);
    assert_false(p.detached);
    assert_int_equal(mia_tensor_download(p.value, &nbt, sizeof nbt), MIA_OK);
    assert_int_equal(nbt, 1);
    mia_tensor_free(x);
    mia_tensor_free(dy);
    mia_model_free(m);
}

static void test_models__resnet50(void **state)
{
    mia_backend *be = *state;
    mia_model_opts o;
    mia_model_opts_init(&o);
    o.in_h = o.in_w = 64; /* any size: adaptive average pooling */
    mia_model *m = make(be, "resnet50", &o);
    mia_graph *g = mia_model_graph(m);
    assert_int_equal(mia_model_n_params(m), 23753912);
    assert_int_equal(mia_model_n_classes(m), 120);
    const key_spec k[] = {
        {"conv1.weight", 4, {64, 3, 7, 7}, MIA_PARAM_KIND_PARAM},
        {"layer1.0.downsample.0.weight", 4, {256, 64, 1, 1}, MIA_PARAM_KIND_PARAM},
        {"layer1.0.downsample.1.running_mean", 1, {256}, MIA_PARAM_KIND_BUFFER},
        {"layer2.0.conv2.weight", 4, {128, 128, 3, 3}, MIA_PARAM_KIND_PARAM},
        {"layer3.5.bn3.weight", 1, {1024}, MIA_PARAM_KIND_PARAM},
        {"layer4.2.bn3.running_var", 1, {2048}, MIA_PARAM_KIND_BUFFER},
        {"fc.weight", 2, {120, 2048}, MIA_PARAM_KIND_PARAM},
        {"fc.bias", 1, {120}, MIA_PARAM_KIND_PARAM},
    };
    check_keys(g, k, sizeof k / sizeof k[0]);
    assert_int_equal(mia_graph_param_count(g), 320); /* len(torchvision resnet50 state_dict) */
    mia_param_info p;
    assert_int_equal(mia_graph_param(g, 318, &p), MIA_OK);
    assert_string_equal(p.name, "fc.weight");
    assert_int_equal(mia_graph_find(g, "layer1.1.downsample.0.weight"), -1);
    check_forward(be, m, 120, true);
    mia_model_free(m);
}

/* Moments of a downloaded f32 parameter. */
static void moments(mia_graph *g, const char *name, double *mean, double *sd, double *absmax,
                    int64_t *n)
{
    mia_param_info p;
    int64_t i = mia_graph_find(g, name);
    assert_true(i >= 0);
    assert_int_equal(mia_graph_param(g, (size_t)i, &p), MIA_OK);
    *n = mia_tensor_numel(p.value);
    float *v = malloc(mia_tensor_nbytes(p.value));
    assert_int_equal(mia_tensor_download(p.value, v, mia_tensor_nbytes(p.value)), MIA_OK);
    double s = 0, s2 = 0, mx = 0;
    for (int64_t j = 0; j < *n; j++) {
        s += v[j];
        s2 += (double)v[j] * v[j];
        if (fabs(v[j]) > mx) mx = fabs(v[j]);
    }
    *mean = s / (double)*n;
    *sd = sqrt(s2 / (double)*n - *mean * *mean);
    *absmax = mx;
    free(v);
}

/* U(-b, b): |x| <= b, max close to b, mean 0, sd b / sqrt(3), within sampling error. */
static void check_uniform(mia_graph *g, const char *name, int64_t fan_in)
{
    double mean, sd, mx, b = 1.0 / sqrt((double)fan_in);
    int64_t n;
    moments(g, name, &mean, &sd, &mx, &n);
    double se = b / sqrt(3.0 * (double)n);
    if (mx > b * (1 + 1e-6) || mx < b * (1 - 20.0 / (double)n) || fabs(mean) > 5 * se ||
        fabs(sd / (b / sqrt(3.0)) - 1) > 5 * sqrt(0.8 / (double)n) * 1.2 + 1e-3)
        fail_msg("%s: bound %g, max %g, mean %g, sd %g (want %g)", name, b, mx, mean, sd,
                 b / sqrt(3.0));
}

static void check_constant(mia_graph *g, const char *name, double value)
{
    double mean, sd, mx;
    int64_t n;
    moments(g, name, &mean, &sd, &mx, &n);
    assert_float_equal(mean, value, 0);
    assert_float_equal(sd, 0, 0);
}

static void test_models__initialisation_matches_pytorch(void **state)
{
    mia_backend *be = *state;
    mia_model_opts o;
    mia_model_opts_init(&o);
    o.seed = 7;
    mia_model *m = make(be, "resnet18_cifar", &o);
    mia_graph *g = mia_model_graph(m);
    check_uniform(g, "layer4.1.conv2.weight", 512 * 9);
    check_uniform(g, "conv1.weight", 27);
    check_uniform(g, "linear.weight", 512);
    check_uniform(g, "linear.bias", 512);
    check_constant(g, "layer2.0.bn1.weight", 1.0);
    check_constant(g, "layer2.0.bn1.bias", 0.0);
    check_constant(g, "layer2.0.bn1.running_mean", 0.0);
    check_constant(g, "layer2.0.bn1.running_var", 1.0);
    mia_model_free(m);

    m = make(be, "salem_cnn", &o);
    check_uniform(mia_model_graph(m), "model.3.weight", 32 * 25);
    check_uniform(mia_model_graph(m), "model.3.bias", 32 * 25);
    mia_model_free(m);

    /* torchvision ResNet-50: convs kaiming_normal(fan_out, relu) = N(0, 2 / fan_out); the
     * new fc keeps nn.Linear's default. */
    o.in_h = o.in_w = 64;
    m = make(be, "resnet50", &o);
    g = mia_model_graph(m);
    double mean, sd, mx;
    int64_t n;
    moments(g, "layer4.0.conv2.weight", &mean, &sd, &mx, &n);
    double want = sqrt(2.0 / (512.0 * 9.0));
    assert_true(fabs(mean) < 5 * want / sqrt((double)n));
    assert_true(fabs(sd / want - 1) < 5 * sqrt(0.5 / (double)n) + 1e-3);
    assert_true(mx > 4 * want && mx < 7 * want); /* normal tails, not uniform */
    moments(g, "layer1.0.conv1.weight", &mean, &sd, &mx, &n);
    assert_true(fabs(sd / sqrt(2.0 / 64.0) - 1) < 0.05);
    check_uniform(g, "fc.weight", 2048);
    check_uniform(g, "fc.bias", 2048);
    check_constant(g, "layer3.2.bn2.weight", 1.0);
    mia_model_free(m);
}

static void test_models__same_seed_same_weights(void **state)
{
    mia_backend *be = *state;
    mia_model_opts o;
    mia_model_opts_init(&o);
    o.seed = 5;
    mia_model *a = make(be, "salem_cnn", &o), *b = make(be, "salem_cnn", &o);
    o.seed = 6;
    mia_model *c = make(be, "salem_cnn", &o);
    for (size_t i = 0; i < mia_graph_param_count(mia_model_graph(a)); i++) {
        mia_param_info pa, pb, pc;
        assert_int_equal(mia_graph_param(mia_model_graph(a), i, &pa), MIA_OK);
        assert_int_equal(mia_graph_param(mia_model_graph(b), i, &pb), MIA_OK);
        assert_int_equal(mia_graph_param(mia_model_graph(c), i, &pc), MIA_OK);
        size_t nb = mia_tensor_nbytes(pa.value);
        char *va = malloc(nb), *vb = malloc(nb), *vc = malloc(nb);
        assert_int_equal(mia_tensor_download(pa.value, va, nb), MIA_OK);
        assert_int_equal(mia_tensor_download(pb.value, vb, nb), MIA_OK);
        assert_int_equal(mia_tensor_download(pc.value, vc, nb), MIA_OK);
        assert_memory_equal(va, vb, nb);
        assert_memory_not_equal(va, vc, nb);
        free(va);
        free(vb);
        free(vc);
    }
    mia_model_free(a);
    mia_model_free(b);
    mia_model_free(c);
}

static void test_models__mlp(void **state)
{
    mia_backend *be = *state;
    mia_model *m = make(be, "mlp", NULL);
    const key_spec k[] = {
        {"0.weight", 2, {64, 3}, MIA_PARAM_KIND_PARAM},
        {"0.bias", 1, {64}, MIA_PARAM_KIND_PARAM},
        {"2.weight", 2, {1, 64}, MIA_PARAM_KIND_PARAM},
        {"2.bias", 1, {1}, MIA_PARAM_KIND_PARAM},
    };
    check_keys(mia_model_graph(m), k, 4);
    check_uniform(mia_model_graph(m), "2.weight", 64);
    /* 2-D input [N, 3]; compare with a host evaluation of the network */
    const int64_t xs[2] = {4, 3};
    const float xv[12] = {0.9f, 0.05f, 0.05f, 0.5f, 0.3f, 0.2f, 1, 0, 0, 0.4f, 0.4f, 0.2f};
    mia_tensor *x;
    assert_int_equal(mia_tensor_create(&x, be, MIA_DTYPE_F32, 2, xs), MIA_OK);
    assert_int_equal(mia_tensor_upload(x, xv, sizeof xv), MIA_OK);
    float out[4], w0[192], b0[64], w2[64], b2;
    mia_graph *g = mia_model_graph(m);
    mia_param_info p;
    assert_int_equal(mia_graph_param(g, 0, &p), MIA_OK);
    assert_int_equal(mia_tensor_download(p.value, w0, sizeof w0), MIA_OK);
    assert_int_equal(mia_graph_param(g, 1, &p), MIA_OK);
    assert_int_equal(mia_tensor_download(p.value, b0, sizeof b0), MIA_OK);
    assert_int_equal(mia_graph_param(g, 2, &p), MIA_OK);
    assert_int_equal(mia_tensor_download(p.value, w2, sizeof w2), MIA_OK);
    assert_int_equal(mia_graph_param(g, 3, &p), MIA_OK);
    assert_int_equal(mia_tensor_download(p.value, &b2, sizeof b2), MIA_OK);
    assert_int_equal(mia_model_predict(m, x, MIA_PREDICT_LOGITS, out), MIA_OK);
    for (int r = 0; r < 4; r++) {
        double y = b2;
        for (int j = 0; j < 64; j++) {
            double h = b0[j];
            for (int i = 0; i < 3; i++) h += (double)w0[j * 3 + i] * xv[r * 3 + i];
            y += (h > 0 ? h : 0) * w2[j];
        }
        assert_float_equal(out[r], y, 1e-5);
    }
    mia_tensor_free(x);
    mia_model_free(m);
}

static void test_models__errors(void **state)
{
    mia_backend *be = *state;
    mia_model *m = (mia_model *)0x1;
    ASSERT_ERR(mia_model_create(&m, be, "vgg16", NULL), MIA_ERR_INVALID, "vgg16");
    assert_null(m);
    m = (mia_model *)0x1;
    ASSERT_ERR(mia_model_create(&m, NULL, "mlp", NULL), MIA_ERR_INVALID, "be");
    assert_null(m);
    ASSERT_ERR(mia_model_create(NULL, be, "mlp", NULL), MIA_ERR_INVALID, "out");
    mia_model_opts o;
    mia_model_opts_init(&o);
    o.in_h = o.in_w = 8;
    m = (mia_model *)0x1;
    ASSERT_ERR(mia_model_create(&m, be, "resnet18_cifar", &o), MIA_ERR_INVALID, "8x8");
    assert_null(m);
    mia_model_opts_init(&o);
    o.n_classes = -2;
    ASSERT_ERR(mia_model_create(&m, be, "salem_cnn", &o), MIA_ERR_INVALID, "n_classes");
    assert_null(m);
    mia_model_opts_init(&o);
    o.mlp_n_hidden = 9;
    ASSERT_ERR(mia_model_create(&m, be, "mlp", &o), MIA_ERR_INVALID, "mlp_n_hidden");
    mia_model_opts_init(&o);
    o.std[0] = 0;
    ASSERT_ERR(mia_model_create(&m, be, "mlp", &o), MIA_ERR_INVALID, "std[0]");
    int64_t n = 5;
    ASSERT_ERR(mia_model_arch_param_count(&n, "nope", NULL), MIA_ERR_INVALID, "nope");
    assert_int_equal(n, 0);
    /* predict: wrong input shape names x */
    m = make(be, "mlp", NULL);
    mia_tensor *x;
    assert_int_equal(mia_tensor_create(&x, be, MIA_DTYPE_F32, 2, (const int64_t[]){2, 4}),
                     MIA_OK);
    float out[2];
    ASSERT_ERR(mia_model_predict(m, x, MIA_PREDICT_LOGITS, out), MIA_ERR_INVALID, "x");
    ASSERT_ERR(mia_model_predict(m, x, MIA_PREDICT_LOGITS, NULL), MIA_ERR_INVALID, "out");
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, sd[3] = {0.2470f, 0.2435f, 0.2616f};
    float got_m[3], got_s[3];
    assert_int_equal(mia_model_set_normalization(m, 3, mean, sd), MIA_OK);
    mia_model_normalization(m, got_m, got_s);
    assert_memory_equal(got_m, mean, sizeof mean);
    assert_memory_equal(got_s, sd, sizeof sd);
    ASSERT_ERR(mia_model_set_normalization(m, 1, mean, sd), MIA_ERR_INVALID, "n = 1");
    mia_tensor_free(x);
    mia_model_free(m);
    mia_model_free(NULL);
    assert_int_equal(mia_backend_live_tensors(be), 0);
}

/* Bytes of every state_dict entry of a model, concatenated. */
static char *all_bytes(mia_model *m, size_t *len)
{
    mia_graph *g = mia_model_graph(m);
    size_t total = 0, at = 0;
    for (size_t i = 0; i < mia_graph_param_count(g); i++) {
        mia_param_info p;
        assert_int_equal(mia_graph_param(g, i, &p), MIA_OK);
        total += mia_tensor_nbytes(p.value);
    }
    char *b = malloc(total);
    for (size_t i = 0; i < mia_graph_param_count(g); i++) {
        mia_param_info p;
        assert_int_equal(mia_graph_param(g, i, &p), MIA_OK);
        assert_int_equal(mia_tensor_download(p.value, b + at, mia_tensor_nbytes(p.value)), MIA_OK);
        at += mia_tensor_nbytes(p.value);
    }
    *len = total;
    return b;
}

static void test_models__save_load_round_trip(void **state)
{
    mia_backend *be = *state;
    char path[] = "/tmp/test-models-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    /* EfficientNet after one training forward: BN running stats and num_batches_tracked move */
    mia_model_opts o;
    mia_model_opts_init(&o);
    o.seed = 3;
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, sd[3] = {0.2470f, 0.2435f, 0.2616f};
    memcpy(o.mean, mean, sizeof mean);
    memcpy(o.std, sd, sizeof sd);
    mia_model *m = make(be, "efficientnet_b0_cifar", &o);
    mia_tensor *x;
    assert_int_equal(mia_tensor_create(&x, be, MIA_DTYPE_F32, 4, (const int64_t[]){2, 3, 32, 32}),
                     MIA_OK);
    assert_int_equal(mia_tensor_fill_f32(x, 0.25f), MIA_OK);
    const mia_tensor *y;
    assert_int_equal(mia_graph_forward(mia_model_graph(m), x, true, 0, &y), MIA_OK);
    assert_int_equal(mia_model_save(m, path), MIA_OK);
    mia_model *l = (mia_model *)0x1;
    assert_int_equal(mia_model_load(&l, be, path), MIA_OK);
    assert_string_equal(mia_model_arch(l), "efficientnet_b0_cifar");
    assert_int_equal(mia_model_n_classes(l), 10);
    float gm[3], gs[3];
    mia_model_normalization(l, gm, gs);
    assert_memory_equal(gm, mean, sizeof mean);
    assert_memory_equal(gs, sd, sizeof sd);
    size_t na, nb;
    char *a = all_bytes(m, &na), *b = all_bytes(l, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
    mia_param_info p;
    int64_t nbt = 0;
    mia_graph *lg = mia_model_graph(l);
    assert_int_equal(mia_graph_param(lg, (size_t)mia_graph_find(lg, "bn1.num_batches_tracked"), &p),
                     MIA_OK);
    assert_int_equal(mia_tensor_download(p.value, &nbt, sizeof nbt), MIA_OK);
    assert_int_equal(nbt, 1);
    /* the loaded counter continues from the file's value */
    assert_int_equal(mia_graph_forward(lg, x, true, 0, &y), MIA_OK);
    assert_int_equal(mia_graph_param(lg, (size_t)mia_graph_find(lg, "bn1.num_batches_tracked"), &p),
                     MIA_OK);
    assert_int_equal(mia_tensor_download(p.value, &nbt, sizeof nbt), MIA_OK);
    assert_int_equal(nbt, 2);
    /* strict loading: a salem_cnn file does not fit an EfficientNet */
    mia_model *salem = make(be, "salem_cnn", NULL);
    ASSERT_ERR(mia_model_load_weights(salem, path), MIA_ERR_MISMATCH, "model.0.weight");
    mia_model_free(salem);
    mia_model_free(l);
    mia_model_free(m);

    /* mlp with custom hidden layers keeps them */
    mia_model_opts_init(&o);
    o.mlp_n_hidden = 2;
    o.mlp_hidden[0] = 7;
    o.mlp_hidden[1] = 5;
    o.mlp_act = MIA_MLP_ACT_TANH;
    m = make(be, "mlp", &o);
    assert_int_equal(mia_model_save(m, path), MIA_OK);
    assert_int_equal(mia_model_load(&l, be, path), MIA_OK);
    assert_int_equal(mia_model_n_params(l), mia_model_n_params(m));
    a = all_bytes(m, &na);
    b = all_bytes(l, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
    mia_model_free(l);
    mia_model_free(m);
    l = (mia_model *)0x1;
    ASSERT_ERR(mia_model_load(&l, be, "/nonexistent/model.safetensors"), MIA_ERR_IO,
               "/nonexistent/model.safetensors");
    assert_null(l);
    mia_tensor_free(x);
    remove(path);
    assert_int_equal(mia_backend_live_tensors(be), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_models__parameter_counts),
        cmocka_unit_test(test_models__salem_cnn),
        cmocka_unit_test(test_models__resnet18_cifar),
        cmocka_unit_test(test_models__efficientnet_b0_cifar),
        cmocka_unit_test(test_models__resnet50),
        cmocka_unit_test(test_models__initialisation_matches_pytorch),
        cmocka_unit_test(test_models__same_seed_same_weights),
        cmocka_unit_test(test_models__mlp),
        cmocka_unit_test(test_models__errors),
        cmocka_unit_test(test_models__save_load_round_trip),
    };
    return cmocka_run_group_tests(tests, setup_auto, teardown);
}
