/* Graph executor: gradients against central finite differences of the whole graph, gradient
 * accumulation, determinism of training, error paths. Runs on the ref backend; the blocked
 * layout test compares onednn with it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test-util.h"

#include <mia/mia.h>

#include "backend/ops.h"
#include "core/rng.h"

static int setup_ref(void **state)
{
    return mia_backend_create((mia_backend **)state, "ref", NULL) == MIA_OK ? 0 : -1;
}

static int teardown(void **state)
{
    mia_backend_free(*state);
    return 0;
}

/* Fill every f32 parameter with U(-scale, scale) from (seed, MIA_STREAM_INIT); BN weights get
 * 1 + U(...) so they stay away from zero. */
static void init_params(mia_graph *g, uint64_t seed, float scale)
{
    mia_rng r;
    mia__rng_init(&r, seed, MIA_STREAM_INIT);
    for (size_t i = 0; i < mia_graph_param_count(g); i++) {
        mia_param_info p;
        assert_int_equal(mia_graph_param(g, i, &p), MIA_OK);
        if (p.kind != MIA_PARAM_KIND_PARAM) continue;
        float *v = mia_tensor_host_data(p.value);
        bool bn_weight = strstr(p.name, "bn") && strstr(p.name, ".weight");
        for (int64_t j = 0; j < mia_tensor_numel(p.value); j++)
            v[j] = (bn_weight ? 1.0f : 0.0f) + scale * (2.0f * mia__rng_uniform(&r) - 1.0f);
    }
}

static mia_tensor *random_tensor(mia_backend *be, int ndim, const int64_t *shape, uint64_t seed)
{
    mia_tensor *t;
    assert_int_equal(mia_tensor_create(&t, be, MIA_DTYPE_F32, ndim, shape), MIA_OK);
    mia_rng r;
    mia__rng_init(&r, seed, MIA_STREAM_NOISE);
    float *v = mia_tensor_host_data(t);
    for (int64_t j = 0; j < mia_tensor_numel(t); j++) v[j] = 2.0f * mia__rng_uniform(&r) - 1.0f;
    return t;
}

/* loss = sum(out * w) in double. */
static double loss_of(mia_graph *g, const mia_tensor *x, const float *w, uint64_t seed)
{
    const mia_tensor *y;
    assert_int_equal(mia_graph_forward(g, x, true, seed, &y), MIA_OK);
    const float *v = mia_tensor_host_data((mia_tensor *)y);
    double l = 0;
    for (int64_t j = 0; j < mia_tensor_numel(y); j++) l += (double)v[j] * w[j];
    return l;
}

/* Compare every trainable gradient with central differences (f32 forward, step h).
 * Tolerance: |fd - analytic| <= atol + rtol * |analytic|. Returns the number of elements
 * checked. */
static int64_t fd_check(mia_backend *be, mia_graph *g, const mia_tensor *x, uint64_t seed)
{
    const float h = 1e-3f, atol = 4e-3f, rtol = 2e-2f;
    const mia_tensor *y;
    assert_int_equal(mia_graph_forward(g, x, true, seed, &y), MIA_OK);
    int64_t n_out = mia_tensor_numel(y);
    mia_tensor *dy = random_tensor(be, mia_tensor_ndim(y), mia_tensor_shape(y), seed + 99);
    const float *w = mia_tensor_host_data(dy);
    assert_int_equal(mia_graph_backward(g, dy), MIA_OK);
    (void)n_out;
    int64_t checked = 0;
    double worst = 0;
    for (size_t i = 0; i < mia_graph_param_count(g); i++) {
        mia_param_info p;
        assert_int_equal(mia_graph_param(g, i, &p), MIA_OK);
        if (p.kind != MIA_PARAM_KIND_PARAM) continue;
        int64_t n = mia_tensor_numel(p.value);
        float *gr = malloc((size_t)n * sizeof *gr);
        memcpy(gr, mia_tensor_host_data(p.grad), (size_t)n * sizeof *gr);
        float *v = mia_tensor_host_data(p.value);
        for (int64_t j = 0; j < n; j++) {
            float keep = v[j];
            v[j] = keep + h;
            double lp = loss_of(g, x, w, seed);
            v[j] = keep - h;
            double lm = loss_of(g, x, w, seed);
            v[j] = keep;
            double fd = (lp - lm) / (2.0 * (double)h);
            double err = fabs(fd - gr[j]);
            if (err > worst) worst = err;
            if (err > atol + rtol * fabs(gr[j]))
                fail_msg("%s[%lld]: analytic %.6g, finite difference %.6g", p.name, (long long)j,
                         (double)gr[j], fd);
            checked++;
        }
        free(gr);
    }
    mia_tensor_free(dy);
    return checked;
}

/* input [2,4,4] -> conv c0 (bias) = a; b = conv c1(relu(bn1(a))); relu(a + b) -> flatten -> fc */
static mia_graph *small_resnet(mia_backend *be)
{
    mia_graph *g;
    int x, a, b, y;
    const int64_t chw[3] = {2, 4, 4};
    assert_int_equal(mia_graph_create(&g, be), MIA_OK);
    assert_int_equal(mia_graph_input(&x, g, 3, chw), MIA_OK);
    assert_int_equal(mia_graph_conv2d(&a, g, "c0", x, 3, 3, 1, 1, 1, true), MIA_OK);
    assert_int_equal(mia_graph_batchnorm(&b, g, "bn1", a), MIA_OK);
    assert_int_equal(mia_graph_activation(&b, g, b, MIA_GRAPH_ACT_RELU, 0.0f), MIA_OK);
    assert_int_equal(mia_graph_conv2d(&b, g, "c1", b, 3, 3, 1, 1, 1, false), MIA_OK);
    assert_int_equal(mia_graph_add(&y, g, a, b), MIA_OK);
    assert_int_equal(mia_graph_activation(&y, g, y, MIA_GRAPH_ACT_RELU, 0.0f), MIA_OK);
    assert_int_equal(mia_graph_flatten(&y, g, y), MIA_OK);
    assert_int_equal(mia_graph_linear(&y, g, "fc", y, 3, true), MIA_OK);
    assert_int_equal(mia_graph_set_output(g, y), MIA_OK);
    return g;
}

static void test_graph__residual_gradients_match_finite_differences(void **state)
{
    mia_backend *be = *state;
    mia_graph *g = small_resnet(be);
    init_params(g, 1, 0.5f);
    const int64_t xs[4] = {3, 2, 4, 4};
    mia_tensor *x = random_tensor(be, 4, xs, 2);
    assert_int_equal(fd_check(be, g, x, 7), (int64_t)(57 + 6 + 81 + 48 * 3 + 3));
    /* state_dict bookkeeping */
    assert_int_equal(mia_graph_n_params(g), 57 + 6 + 81 + 147);
    assert_int_equal(mia_graph_param_count(g), 2 + 5 + 1 + 2);
    int64_t i = mia_graph_find(g, "bn1.num_batches_tracked");
    assert_true(i >= 0);
    mia_param_info p;
    assert_int_equal(mia_graph_param(g, (size_t)i, &p), MIA_OK);
    assert_int_equal(p.kind, MIA_PARAM_KIND_BUFFER);
    assert_null(p.grad);
    assert_int_equal(mia_tensor_dtype(p.value), MIA_DTYPE_I64);
    /* 1 + 2 forwards per checked element, all in training mode */
    int64_t nbt = *(int64_t *)mia_tensor_host_data(p.value);
    assert_int_equal(nbt, 1 + 2 * (57 + 6 + 81 + 147));
    assert_int_equal(mia_graph_find(g, "nope"), -1);
    mia_tensor_free(x);
    mia_graph_free(g);
}

/* Every other op: transposed conv (output_padding), leaky relu, avg pool, depthwise conv, BN,
 * SiLU, global pooling, squeeze-excite, max pool, dropout, tanh, log-softmax, BN1d, sigmoid. */
static void test_graph__other_ops_match_finite_differences(void **state)
{
    mia_backend *be = *state;
    mia_graph *g;
    int x, h, s, y;
    const int64_t chw[3] = {2, 3, 3};
    assert_int_equal(mia_graph_create(&g, be), MIA_OK);
    assert_int_equal(mia_graph_input(&x, g, 3, chw), MIA_OK);
    assert_int_equal(mia_graph_conv_transpose2d(&h, g, "up", x, 3, 3, 2, 1, 1, 1, true), MIA_OK);
    int64_t shp[3];
    assert_int_equal(mia_graph_node_shape(g, h, shp), 3);
    assert_int_equal(shp[1], 6); /* (3 - 1) * 2 - 2 + 3 + 1 */
    assert_int_equal(mia_graph_activation(&h, g, h, MIA_GRAPH_ACT_LEAKY_RELU, 0.1f), MIA_OK);
    assert_int_equal(mia_graph_pool2d(&h, g, h, MIA_GRAPH_POOL_AVG, 3, 1, 1), MIA_OK);
    assert_int_equal(mia_graph_conv2d(&h, g, "dw", h, 3, 3, 1, 1, 3, false), MIA_OK);
    assert_int_equal(mia_graph_batchnorm(&h, g, "bn", h), MIA_OK);
    assert_int_equal(mia_graph_activation(&h, g, h, MIA_GRAPH_ACT_SILU, 0.0f), MIA_OK);
    assert_int_equal(mia_graph_global_avg_pool(&s, g, h), MIA_OK);
    assert_int_equal(mia_graph_conv2d(&s, g, "se", s, 3, 1, 1, 0, 1, true), MIA_OK);
    assert_int_equal(mia_graph_activation(&s, g, s, MIA_GRAPH_ACT_SIGMOID, 0.0f), MIA_OK);
    assert_int_equal(mia_graph_channel_mul(&h, g, h, s), MIA_OK);
    assert_int_equal(mia_graph_pool2d(&h, g, h, MIA_GRAPH_POOL_MAX, 2, 2, 0), MIA_OK);
    assert_int_equal(mia_graph_flatten(&h, g, h), MIA_OK);
    assert_int_equal(mia_graph_dropout(&h, g, h, 0.3f), MIA_OK);
    assert_int_equal(mia_graph_linear(&h, g, "fc1", h, 5, false), MIA_OK);
    assert_int_equal(mia_graph_batchnorm(&h, g, "bn1d", h), MIA_OK);
    assert_int_equal(mia_graph_activation(&h, g, h, MIA_GRAPH_ACT_TANH, 0.0f), MIA_OK);
    assert_int_equal(mia_graph_linear(&y, g, "fc2", h, 4, true), MIA_OK);
    assert_int_equal(mia_graph_softmax(&y, g, y, true), MIA_OK);
    assert_int_equal(mia_graph_set_output(g, y), MIA_OK);
    init_params(g, 3, 0.5f);
    const int64_t xs[4] = {4, 2, 3, 3};
    mia_tensor *x4 = random_tensor(be, 4, xs, 4);
    int64_t n = fd_check(be, g, x4, 11);
    assert_int_equal(n, 2 * 3 * 9 + 3 + 27 + 6 + 9 + 3 + 27 * 5 + 10 + 5 * 4 + 4);
    /* eval forward: dropout off, BN on running stats; no backward state afterwards */
    const mia_tensor *out;
    assert_int_equal(mia_graph_forward(g, x4, false, 0, &out), MIA_OK);
    ASSERT_ERR(mia_graph_backward(g, out), MIA_ERR_STATE, "training forward");
    mia_tensor_free(x4);
    mia_graph_free(g);
}

/* A node consumed several times gets the sum of its consumers' gradients: h = lin(x) feeds
 * add(h, h) and a second linear; checked against finite differences. */
static void test_graph__shared_node_accumulates(void **state)
{
    mia_backend *be = *state;
    mia_graph *g;
    int x, h, a, b, y;
    const int64_t f[1] = {3};
    assert_int_equal(mia_graph_create(&g, be), MIA_OK);
    assert_int_equal(mia_graph_input(&x, g, 1, f), MIA_OK);
    assert_int_equal(mia_graph_linear(&h, g, "h", x, 4, true), MIA_OK);
    assert_int_equal(mia_graph_add(&a, g, h, h), MIA_OK);
    assert_int_equal(mia_graph_linear(&b, g, "b", h, 4, false), MIA_OK);
    assert_int_equal(mia_graph_add(&y, g, a, b), MIA_OK);
    assert_int_equal(mia_graph_set_output(g, y), MIA_OK);
    init_params(g, 5, 0.7f);
    const int64_t xs[2] = {5, 3};
    mia_tensor *xt = random_tensor(be, 2, xs, 6);
    assert_int_equal(fd_check(be, g, xt, 1), 12 + 4 + 16);

    /* Exact oracle for the bias of h: dL/dh = 2 dy + dy B, summed over the batch. */
    const mia_tensor *out;
    assert_int_equal(mia_graph_forward(g, xt, true, 0, &out), MIA_OK);
    mia_tensor *dy = random_tensor(be, 2, (const int64_t[]){5, 4}, 8);
    assert_int_equal(mia_graph_backward(g, dy), MIA_OK);
    mia_param_info hb, bw;
    assert_int_equal(mia_graph_param(g, (size_t)mia_graph_find(g, "h.bias"), &hb), MIA_OK);
    assert_int_equal(mia_graph_param(g, (size_t)mia_graph_find(g, "b.weight"), &bw), MIA_OK);
    const float *d = mia_tensor_host_data(dy), *B = mia_tensor_host_data(bw.value);
    const float *gb = mia_tensor_host_data(hb.grad);
    for (int j = 0; j < 4; j++) {
        double want = 0;
        for (int r = 0; r < 5; r++) {
            want += 2.0 * d[r * 4 + j];
            for (int o = 0; o < 4; o++) want += (double)d[r * 4 + o] * B[o * 4 + j];
        }
        assert_float_equal(gb[j], want, 1e-4);
    }
    /* gradients are overwritten, not accumulated, across calls */
    assert_int_equal(mia_graph_backward(g, dy), MIA_OK);
    for (int j = 0; j < 4; j++) {
        double want = 0;
        for (int r = 0; r < 5; r++) {
            want += 2.0 * d[r * 4 + j];
            for (int o = 0; o < 4; o++) want += (double)d[r * 4 + o] * B[o * 4 + j];
        }
        assert_float_equal(gb[j], want, 1e-4);
    }
    assert_int_equal(mia_graph_zero_grad(g), MIA_OK);
    for (int j = 0; j < 4; j++) assert_true(gb[j] == 0.0f);
    mia_tensor_free(dy);
    mia_tensor_free(xt);
    mia_graph_free(g);
}

/* Train 3 SGD steps on a graph initialised from seed; return a malloc'd copy of all params. */
static float *train3(mia_backend *be, uint64_t seed, int64_t *count)
{
    mia_graph *g = small_resnet(be);
    init_params(g, seed, 0.5f);
    const int64_t xs[4] = {4, 2, 4, 4};
    mia_tensor *x = random_tensor(be, 4, xs, 100);
    mia_tensor *dl, *loss, *bufs[16] = {0};
    const int64_t ls[2] = {4, 3};
    assert_int_equal(mia_tensor_create(&dl, be, MIA_DTYPE_F32, 2, ls), MIA_OK);
    assert_int_equal(mia_tensor_create(&loss, be, MIA_DTYPE_F32, 1, ls), MIA_OK);
    const int32_t labels[4] = {0, 2, 1, 2};
    for (int step = 1; step <= 3; step++) {
        const mia_tensor *y;
        assert_int_equal(mia_graph_forward(g, x, true, (uint64_t)step, &y), MIA_OK);
        mia_xent_args xa = {.rows = 4, .cols = 3, .grad_scale = 0.25f,
                            .logits = mia_tensor_host_data((mia_tensor *)y), .labels = labels,
                            .loss = mia_tensor_host_data(loss), .dlogits = mia_tensor_host_data(dl)};
        assert_int_equal(mia__xent(be, &xa), MIA_OK);
        assert_int_equal(mia_graph_backward(g, dl), MIA_OK);
        for (size_t i = 0; i < mia_graph_param_count(g); i++) {
            mia_param_info p;
            assert_int_equal(mia_graph_param(g, i, &p), MIA_OK);
            if (p.kind != MIA_PARAM_KIND_PARAM) continue;
            if (!bufs[i])
                assert_int_equal(mia_tensor_create(&bufs[i], be, MIA_DTYPE_F32,
                                                   mia_tensor_ndim(p.value),
                                                   mia_tensor_shape(p.value)),
                                 MIA_OK);
            mia_sgd_args sa = {.count = mia_tensor_numel(p.value), .step = step, .lr = 0.1f,
                               .momentum = 0.9f, .weight_decay = 1e-4f,
                               .param = mia_tensor_host_data(p.value),
                               .buf = mia_tensor_host_data(bufs[i]),
                               .grad = mia_tensor_host_data(p.grad)};
            assert_int_equal(mia__sgd_step(be, &sa), MIA_OK);
        }
    }
    int64_t total = 0;
    for (size_t i = 0; i < mia_graph_param_count(g); i++) {
        mia_param_info p;
        assert_int_equal(mia_graph_param(g, i, &p), MIA_OK);
        if (mia_tensor_dtype(p.value) == MIA_DTYPE_F32) total += mia_tensor_numel(p.value);
    }
    float *all = malloc((size_t)total * sizeof *all);
    int64_t at = 0;
    for (size_t i = 0; i < mia_graph_param_count(g); i++) {
        mia_param_info p;
        assert_int_equal(mia_graph_param(g, i, &p), MIA_OK);
        if (mia_tensor_dtype(p.value) != MIA_DTYPE_F32) continue;
        memcpy(all + at, mia_tensor_host_data(p.value), mia_tensor_nbytes(p.value));
        at += mia_tensor_numel(p.value);
    }
    *count = total;
    for (int i = 0; i < 16; i++) mia_tensor_free(bufs[i]);
    mia_tensor_free(dl);
    mia_tensor_free(loss);
    mia_tensor_free(x);
    mia_graph_free(g);
    return all;
}

static void test_graph__training_is_deterministic(void **state)
{
    mia_backend *be = *state;
    int64_t n1, n2, n3;
    float *a = train3(be, 42, &n1), *b = train3(be, 42, &n2), *c = train3(be, 43, &n3);
    assert_int_equal(n1, n2);
    assert_int_equal(n1, n3);
    assert_memory_equal(a, b, (size_t)n1 * sizeof *a);
    assert_memory_not_equal(a, c, (size_t)n1 * sizeof *a);
    free(a);
    free(b);
    free(c);
    assert_int_equal(mia_backend_live_tensors(be), 0);
}

static void test_graph__errors(void **state)
{
    mia_backend *be = *state;
    mia_graph *g = (mia_graph *)0x1;
    ASSERT_ERR(mia_graph_create(&g, NULL), MIA_ERR_INVALID, "be");
    assert_null(g);
    ASSERT_ERR(mia_graph_create(NULL, be), MIA_ERR_INVALID, "out");
    assert_int_equal(mia_graph_create(&g, be), MIA_OK);
    int x = 7, v = 7, h;
    const int64_t f[1] = {6}, chw[3] = {1, 4, 4};
    ASSERT_ERR(mia_graph_input(&x, g, 4, chw), MIA_ERR_INVALID, "ndim");
    assert_int_equal(x, -1);
    ASSERT_ERR(mia_graph_input(NULL, g, 1, f), MIA_ERR_INVALID, "out");
    assert_int_equal(mia_graph_input(&x, g, 1, f), MIA_OK);
    ASSERT_ERR(mia_graph_input(&v, g, 1, f), MIA_ERR_INVALID, "already has an input");
    /* a 2-D layer on a vector input names the layer */
    ASSERT_ERR(mia_graph_conv2d(&h, g, "layer1.0.conv1", x, 4, 3, 1, 1, 1, false),
               MIA_ERR_INVALID, "layer1.0.conv1");
    assert_int_equal(h, -1);
    ASSERT_ERR(mia_graph_conv2d(&h, g, NULL, x, 4, 3, 1, 1, 1, false), MIA_ERR_INVALID, "name");
    ASSERT_ERR(mia_graph_linear(&h, g, "fc", 99, 2, true), MIA_ERR_INVALID, "99");
    ASSERT_ERR(mia_graph_dropout(&h, g, x, 1.0f), MIA_ERR_INVALID, "p");
    int a, b;
    assert_int_equal(mia_graph_linear(&a, g, "fc_a", x, 3, true), MIA_OK);
    assert_int_equal(mia_graph_linear(&b, g, "fc_b", x, 2, true), MIA_OK);
    ASSERT_ERR(mia_graph_add(&h, g, a, b), MIA_ERR_INVALID, "fc_b");
    assert_int_equal(h, -1);
    ASSERT_ERR(mia_graph_set_output(g, 42), MIA_ERR_INVALID, "42");
    const mia_tensor *out = (const mia_tensor *)0x1;
    mia_tensor *t;
    const int64_t xs[2] = {2, 6}, bad[2] = {2, 5};
    ASSERT_ERR(mia_graph_forward(g, NULL, true, 0, &out), MIA_ERR_INVALID, "x");
    assert_null(out);
    assert_int_equal(mia_tensor_create(&t, be, MIA_DTYPE_F32, 2, bad), MIA_OK);
    ASSERT_ERR(mia_graph_forward(g, t, true, 0, &out), MIA_ERR_STATE, "output");
    assert_int_equal(mia_graph_set_output(g, a), MIA_OK);
    out = (const mia_tensor *)0x1;
    ASSERT_ERR(mia_graph_forward(g, t, true, 0, &out), MIA_ERR_INVALID, "[N,6]");
    assert_null(out);
    mia_tensor_free(t);
    ASSERT_ERR(mia_graph_backward(g, NULL), MIA_ERR_INVALID, "dlogits");
    assert_int_equal(mia_tensor_create(&t, be, MIA_DTYPE_F32, 2, xs), MIA_OK);
    ASSERT_ERR(mia_graph_backward(g, t), MIA_ERR_STATE, "training forward");
    assert_int_equal(mia_graph_forward(g, t, true, 0, &out), MIA_OK);
    assert_int_equal(mia_tensor_dim(out, 1), 3);
    ASSERT_ERR(mia_graph_backward(g, t), MIA_ERR_INVALID, "dlogits");
    /* fc_b is not on the path to the output: detached, and never run */
    mia_param_info p;
    assert_int_equal(mia_graph_param(g, (size_t)mia_graph_find(g, "fc_b.weight"), &p), MIA_OK);
    assert_true(p.detached);
    assert_null(mia_graph_node_value(g, b));
    assert_int_equal(mia_graph_param(g, (size_t)mia_graph_find(g, "fc_a.weight"), &p), MIA_OK);
    assert_false(p.detached);
    ASSERT_ERR(mia_graph_param(g, 99, &p), MIA_ERR_INVALID, "99");
    ASSERT_ERR(mia_graph_linear(&h, g, "late", x, 2, true), MIA_ERR_STATE, "already ran");
    mia_tensor_free(t);
    mia_graph_free(g);
    mia_graph_free(NULL);
    assert_int_equal(mia_backend_live_tensors(be), 0);
}

/* mia_graph_input_grad: dL/dx of a graph whose input feeds two convs (summed) and of one whose
 * input feeds a linear, against central finite differences in the input; error paths. */
static void test_graph__input_grad_matches_finite_differences(void **state)
{
    mia_backend *be = *state;
    for (int variant = 0; variant < 2; variant++) {
        mia_graph *g;
        int x, a, b, y;
        const int64_t chw[3] = {2, 5, 5}, flat[1] = {6};
        assert_int_equal(mia_graph_create(&g, be), MIA_OK);
        if (variant == 0) {
            assert_int_equal(mia_graph_input(&x, g, 3, chw), MIA_OK);
            assert_int_equal(mia_graph_conv2d(&a, g, "c3", x, 3, 3, 2, 1, 1, true), MIA_OK);
            assert_int_equal(mia_graph_conv2d(&b, g, "c1", x, 3, 1, 2, 0, 1, false), MIA_OK);
            assert_int_equal(mia_graph_add(&y, g, a, b), MIA_OK);
            assert_int_equal(mia_graph_activation(&y, g, y, MIA_GRAPH_ACT_TANH, 0.0f), MIA_OK);
            assert_int_equal(mia_graph_flatten(&y, g, y), MIA_OK);
        } else {
            assert_int_equal(mia_graph_input(&x, g, 1, flat), MIA_OK);
            assert_int_equal(mia_graph_linear(&y, g, "l0", x, 4, true), MIA_OK);
            assert_int_equal(mia_graph_activation(&y, g, y, MIA_GRAPH_ACT_TANH, 0.0f), MIA_OK);
        }
        assert_int_equal(mia_graph_linear(&y, g, "fc", y, 2, true), MIA_OK);
        assert_int_equal(mia_graph_set_output(g, y), MIA_OK);
        init_params(g, 5 + (uint64_t)variant, 0.5f);
        const int64_t xs4[4] = {2, 2, 5, 5}, xs2[2] = {3, 6};
        mia_tensor *xt = variant == 0 ? random_tensor(be, 4, xs4, 8) : random_tensor(be, 2, xs2, 8);
        mia_tensor *dx;
        assert_int_equal(mia_tensor_create(&dx, be, MIA_DTYPE_F32, mia_tensor_ndim(xt),
                                           mia_tensor_shape(xt)), MIA_OK);
        const mia_tensor *out;
        assert_int_equal(mia_graph_forward(g, xt, true, 0, &out), MIA_OK);
        ASSERT_ERR(mia_graph_input_grad(g, dx), MIA_ERR_STATE, "backward");
        mia_tensor *w = random_tensor(be, 2, mia_tensor_shape(out), 9);
        assert_int_equal(mia_graph_backward(g, w), MIA_OK);
        ASSERT_ERR(mia_graph_input_grad(g, NULL), MIA_ERR_INVALID, "dx");
        ASSERT_ERR(mia_graph_input_grad(g, w), MIA_ERR_INVALID, "dx");
        assert_int_equal(mia_graph_input_grad(g, dx), MIA_OK);
        float *xv = mia_tensor_host_data(xt);
        const float *an = mia_tensor_host_data(dx), *wv = mia_tensor_host_data(w);
        for (int64_t j = 0; j < mia_tensor_numel(xt); j++) {
            const float h = 1e-3f;
            float keep = xv[j];
            xv[j] = keep + h;
            double lp = loss_of(g, xt, wv, 0);
            xv[j] = keep - h;
            double lm = loss_of(g, xt, wv, 0);
            xv[j] = keep;
            double fd = (lp - lm) / (2.0 * (double)h);
            if (fabs(fd - an[j]) > 2e-3 + 1e-2 * fabs(fd))
                fail_msg("dx[%lld]: analytic %.6g, finite difference %.6g", (long long)j,
                         (double)an[j], fd);
        }
        mia_tensor_free(w);
        mia_tensor_free(dx);
        mia_tensor_free(xt);
        mia_graph_free(g);
    }
    /* a node other than conv / transposed conv / linear reading the input */
    mia_graph *g;
    int x, y;
    const int64_t chw[3] = {1, 4, 4};
    assert_int_equal(mia_graph_create(&g, be), MIA_OK);
    assert_int_equal(mia_graph_input(&x, g, 3, chw), MIA_OK);
    assert_int_equal(mia_graph_pool2d(&y, g, x, MIA_GRAPH_POOL_MAX, 2, 2, 0), MIA_OK);
    assert_int_equal(mia_graph_flatten(&y, g, y), MIA_OK);
    assert_int_equal(mia_graph_linear(&y, g, "fc", y, 2, true), MIA_OK);
    assert_int_equal(mia_graph_set_output(g, y), MIA_OK);
    const int64_t xs[4] = {2, 1, 4, 4};
    mia_tensor *xt = random_tensor(be, 4, xs, 3), *dx;
    assert_int_equal(mia_tensor_create(&dx, be, MIA_DTYPE_F32, 4, xs), MIA_OK);
    const mia_tensor *out;
    assert_int_equal(mia_graph_forward(g, xt, true, 0, &out), MIA_OK);
    mia_tensor *w = random_tensor(be, 2, mia_tensor_shape(out), 9);
    assert_int_equal(mia_graph_backward(g, w), MIA_OK);
    ASSERT_ERR(mia_graph_input_grad(g, dx), MIA_ERR_UNSUPPORTED, "reads the input");
    mia_tensor_free(w);
    mia_tensor_free(dx);
    mia_tensor_free(xt);
    mia_graph_free(g);
}

/* A graph that meets every rule of the layout planner (graph-exec.c plan_layouts): a 3-channel
 * input, blocked convs, BN, ReLU and max pooling, a squeeze-excite on 1x1 activations, a residual
 * add, a conv to 12 channels (not whole blocks), a 4-D dropout that forces its producer plain,
 * and flattens of blocked and plain activations. */
static mia_graph *layout_graph(mia_backend *be, int *blocked_node)
{
    mia_graph *g;
    int x, a, p, q, s, m, t, u, v, f1, f2, y1, y2, y;
    const int64_t chw[3] = {3, 6, 6};
    assert_int_equal(mia_graph_create(&g, be), MIA_OK);
    assert_int_equal(mia_graph_input(&x, g, 3, chw), MIA_OK);
    assert_int_equal(mia_graph_conv2d(&a, g, "c0", x, 16, 3, 1, 1, 1, true), MIA_OK);
    assert_int_equal(mia_graph_batchnorm(&a, g, "bn0", a), MIA_OK);
    assert_int_equal(mia_graph_activation(&a, g, a, MIA_GRAPH_ACT_RELU, 0.0f), MIA_OK);
    *blocked_node = a;
    assert_int_equal(mia_graph_pool2d(&p, g, a, MIA_GRAPH_POOL_MAX, 2, 2, 0), MIA_OK);
    assert_int_equal(mia_graph_conv2d(&q, g, "c1", p, 16, 3, 1, 1, 1, false), MIA_OK);
    assert_int_equal(mia_graph_global_avg_pool(&s, g, q), MIA_OK);
    assert_int_equal(mia_graph_conv2d(&s, g, "se", s, 16, 1, 1, 0, 1, true), MIA_OK);
    assert_int_equal(mia_graph_activation(&s, g, s, MIA_GRAPH_ACT_SIGMOID, 0.0f), MIA_OK);
    assert_int_equal(mia_graph_channel_mul(&m, g, q, s), MIA_OK);
    assert_int_equal(mia_graph_add(&t, g, m, p), MIA_OK);
    assert_int_equal(mia_graph_conv2d(&u, g, "c2", t, 12, 1, 1, 0, 1, true), MIA_OK);
    assert_int_equal(mia_graph_dropout(&u, g, u, 0.3f), MIA_OK);
    assert_int_equal(mia_graph_conv2d(&v, g, "c3", t, 8, 3, 1, 1, 1, true), MIA_OK);
    assert_int_equal(mia_graph_dropout(&v, g, v, 0.2f), MIA_OK);
    assert_int_equal(mia_graph_flatten(&f1, g, u), MIA_OK);
    assert_int_equal(mia_graph_flatten(&f2, g, t), MIA_OK);
    assert_int_equal(mia_graph_linear(&y1, g, "fc1", f1, 5, true), MIA_OK);
    assert_int_equal(mia_graph_linear(&y2, g, "fc2", f2, 5, false), MIA_OK);
    assert_int_equal(mia_graph_add(&y, g, y1, y2), MIA_OK);
    assert_int_equal(mia_graph_flatten(&f1, g, v), MIA_OK);
    assert_int_equal(mia_graph_linear(&y1, g, "fc3", f1, 5, false), MIA_OK);
    assert_int_equal(mia_graph_add(&y, g, y, y1), MIA_OK);
    assert_int_equal(mia_graph_set_output(g, y), MIA_OK);
    return g;
}

/* max |got - want| <= rtol * max |want| + atol (atol: gradients that are zero in exact
 * arithmetic, like a conv bias followed by batchnorm, are rounding noise on both sides). */
static void expect_near(const char *what, const float *got, const float *want, int64_t n,
                        double rtol, double atol)
{
    double scale = 1e-6, worst = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs((double)want[i]) > scale) scale = fabs((double)want[i]);
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (d > worst) worst = d;
    }
    if (!(worst <= rtol * scale + atol))
        fail_msg("%s: max |diff| %.3g > %.1g * %.3g + %.1g", what, worst, rtol, scale, atol);
}

/* The onednn backend keeps activations blocked between ops (ops.h); the same graph, parameters
 * and input on ref (all plain) must give the same training forward, gradients, running
 * statistics and eval forward. */
static void test_graph__blocked_layouts_match_ref(void **state)
{
    mia_backend *ref = *state, *od = NULL;
    if (!mia_backend_available("onednn")) {
        print_message("onednn not built: skipped\n");
        return;
    }
    mia_backend_opts o;
    mia_backend_opts_init(&o);
    o.n_threads = 2;
    assert_int_equal(mia_backend_create(&od, "onednn", &o), MIA_OK);
    int blk_ref, blk_od;
    mia_graph *gr = layout_graph(ref, &blk_ref), *go = layout_graph(od, &blk_od);
    init_params(gr, 3, 0.4f);
    for (size_t i = 0; i < mia_graph_param_count(gr); i++) {
        mia_param_info pr, po;
        assert_int_equal(mia_graph_param(gr, i, &pr), MIA_OK);
        assert_int_equal(mia_graph_param(go, i, &po), MIA_OK);
        memcpy(mia_tensor_host_data(po.value), mia_tensor_host_data(pr.value),
               (size_t)mia_tensor_numel(pr.value) * mia_dtype_size(mia_tensor_dtype(pr.value)));
    }
    const int64_t xs[4] = {4, 3, 6, 6};
    mia_tensor *xr = random_tensor(ref, 4, xs, 5), *xo = random_tensor(od, 4, xs, 5);
    const mia_tensor *yr, *yo;
    assert_int_equal(mia_graph_forward(gr, xr, true, 11, &yr), MIA_OK);
    assert_int_equal(mia_graph_forward(go, xo, true, 11, &yo), MIA_OK);
    const int64_t n_out = mia_tensor_numel(yr);
    expect_near("training forward", mia_tensor_host_data((mia_tensor *)yo),
                mia_tensor_host_data((mia_tensor *)yr), n_out, 1e-4, 0.0);
    /* a blocked activation is not handed out in the backend's layout */
    assert_non_null(mia_graph_node_value(gr, blk_ref));
    assert_null(mia_graph_node_value(go, blk_od));
    mia_tensor *dr = random_tensor(ref, 2, mia_tensor_shape(yr), 6);
    mia_tensor *dd = random_tensor(od, 2, mia_tensor_shape(yr), 6);
    assert_int_equal(mia_graph_backward(gr, dr), MIA_OK);
    assert_int_equal(mia_graph_backward(go, dd), MIA_OK);
    for (size_t i = 0; i < mia_graph_param_count(gr); i++) {
        mia_param_info pr, po;
        assert_int_equal(mia_graph_param(gr, i, &pr), MIA_OK);
        assert_int_equal(mia_graph_param(go, i, &po), MIA_OK);
        if (mia_tensor_dtype(pr.value) != MIA_DTYPE_F32) continue;
        const int64_t n = mia_tensor_numel(pr.value);
        if (pr.grad)
            expect_near(pr.name, mia_tensor_host_data(po.grad), mia_tensor_host_data(pr.grad), n,
                        1e-3, 1e-4);
        else /* running statistics */
            expect_near(pr.name, mia_tensor_host_data(po.value), mia_tensor_host_data(pr.value),
                        n, 1e-4, 0.0);
    }
    assert_int_equal(mia_graph_forward(gr, xr, false, 0, &yr), MIA_OK);
    assert_int_equal(mia_graph_forward(go, xo, false, 0, &yo), MIA_OK);
    expect_near("eval forward", mia_tensor_host_data((mia_tensor *)yo),
                mia_tensor_host_data((mia_tensor *)yr), n_out, 1e-4, 0.0);
    mia_tensor_free(dr);
    mia_tensor_free(dd);
    mia_tensor_free(xr);
    mia_tensor_free(xo);
    mia_graph_free(gr);
    mia_graph_free(go);
    mia_backend_free(od);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph__residual_gradients_match_finite_differences),
        cmocka_unit_test(test_graph__other_ops_match_finite_differences),
        cmocka_unit_test(test_graph__shared_node_accumulates),
        cmocka_unit_test(test_graph__training_is_deterministic),
        cmocka_unit_test(test_graph__errors),
        cmocka_unit_test(test_graph__input_grad_matches_finite_differences),
        cmocka_unit_test(test_graph__blocked_layouts_match_ref),
    };
    return cmocka_run_group_tests(tests, setup_ref, teardown);
}
