/* Training: optimiser updates against an f64 reference of PyTorch's Adam / SGD formulas on a
 * softmax-regression model, determinism, real learning on Fashion-MNIST, evaluation, errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test-train-common.h"

enum { F = 4, K = 3, N = 10 };

static void read_param(mia_model *m, const char *name, double *out, int64_t count)
{
    mia_graph *g = mia_model_graph(m);
    int64_t i = mia_graph_find(g, name);
    assert_true(i >= 0);
    mia_param_info p;
    assert_int_equal(mia_graph_param(g, (size_t)i, &p), MIA_OK);
    float tmp[64];
    assert_true(count <= 64);
    mia_tensor_download(p.value, tmp, sizeof(float) * (size_t)count);
    for (int64_t j = 0; j < count; j++) out[j] = tmp[j];
}

/* Full-batch steps of softmax regression in f64 with PyTorch's update rules. */
static void reference(const mia_dataset *d, double *W, double *b, bool adam, double lr,
                      double wd, double mom, double eps_ls, int steps)
{
    double mW[K * F] = {0}, vW[K * F] = {0}, mb[K] = {0}, vb[K] = {0};
    for (int t = 1; t <= steps; t++) {
        double gW[K * F] = {0}, gb[K] = {0};
        for (int i = 0; i < N; i++) {
            const uint8_t *px = mia_dataset_pixels(d, i);
            int y = mia_dataset_label(d, i);
            double z[K], mx = -INFINITY, se = 0;
            for (int k = 0; k < K; k++) {
                z[k] = b[k];
                for (int f = 0; f < F; f++) z[k] += W[k * F + f] * (px[f] / 255.0);
                mx = fmax(mx, z[k]);
            }
            for (int k = 0; k < K; k++) se += exp(z[k] - mx);
            for (int k = 0; k < K; k++) {
                double p = exp(z[k] - mx) / se;
                double target = (1 - eps_ls) * (k == y) + eps_ls / K;
                double dz = (p - target) / N;
                gb[k] += dz;
                for (int f = 0; f < F; f++) gW[k * F + f] += dz * (px[f] / 255.0);
            }
        }
        for (int j = 0; j < K * F + K; j++) {
            double *p = j < K * F ? &W[j] : &b[j - K * F];
            double g = (j < K * F ? gW[j] : gb[j - K * F]) + wd * *p;
            double *m = j < K * F ? &mW[j] : &mb[j - K * F];
            double *v = j < K * F ? &vW[j] : &vb[j - K * F];
            if (adam) {
                *m = 0.9 * *m + 0.1 * g;
                *v = 0.999 * *v + 0.001 * g * g;
                double bc1 = 1 - pow(0.9, t), bc2 = 1 - pow(0.999, t);
                *p -= lr / bc1 * *m / (sqrt(*v) / sqrt(bc2) + 1e-8);
            } else {
                *m = t == 1 ? g : mom * *m + g;
                *p -= lr * *m;
            }
        }
    }
}

static void check_optimizer(bool adam)
{
    char *dir = tt_tmpdir();
    mia_backend *be;
    assert_int_equal(mia_backend_create(&be, "ref", NULL), MIA_OK);
    mia_dataset *d = tt_synth(dir, "opt", N, K, 3);
    mia_model *m = tt_mlp(be, 0, K, 5);
    double W[K * F], b[K];
    read_param(m, "0.weight", W, K * F);
    read_param(m, "0.bias", b, K);
    mia_train_opts o;
    mia_train_opts_init(&o);
    o.optimizer = adam ? MIA_OPTIM_ADAM : MIA_OPTIM_SGD;
    o.lr = adam ? 0.05 : 0.5;
    o.weight_decay = adam ? 0.01 : 0.001;
    o.momentum = 0.9;
    o.label_smoothing = adam ? 0.1 : 0.0;
    o.batch_size = N; /* one full batch per epoch: one step per epoch */
    o.epochs = 4;
    mia_train_result r;
    assert_int_equal(mia_train(m, d, &o, &r), MIA_OK);
    assert_int_equal(r.steps_done, 4);
    reference(d, W, b, adam, o.lr, o.weight_decay, o.momentum, o.label_smoothing, 4);
    double gW[K * F], gb[K];
    read_param(m, "0.weight", gW, K * F);
    read_param(m, "0.bias", gb, K);
    for (int j = 0; j < K * F; j++) assert_true(fabs(gW[j] - W[j]) < 2e-5);
    for (int j = 0; j < K; j++) assert_true(fabs(gb[j] - b[j]) < 2e-5);
    mia_model_free(m);
    mia_dataset_free(d);
    mia_backend_free(be);
    tt_rmrf(dir);
    free(dir);
}

static void test_train__adam_matches_pytorch_formula(void **state)
{
    (void)state;
    check_optimizer(true);
}

static void test_train__sgd_momentum_matches_pytorch_formula(void **state)
{
    (void)state;
    check_optimizer(false);
}

static unsigned char *train_once(mia_backend *be, const mia_dataset *d, uint64_t seed,
                                 size_t *len)
{
    mia_model *m = tt_mlp(be, 8, 4, 1);
    mia_train_opts o;
    mia_train_opts_init(&o);
    o.lr = 0.01;
    o.batch_size = 7; /* 50 images: last partial batch of 1 */
    o.epochs = 3;
    o.seed = seed;
    mia_train_result r;
    assert_int_equal(mia_train(m, d, &o, &r), MIA_OK);
    assert_int_equal(r.steps_done, 3 * 8);
    unsigned char *s = tt_snapshot(m, len);
    mia_model_free(m);
    return s;
}

static void test_train__same_seed_bit_identical_other_seed_differs(void **state)
{
    (void)state;
    char *dir = tt_tmpdir();
    mia_backend *be;
    assert_int_equal(mia_backend_create(&be, "auto", NULL), MIA_OK);
    mia_dataset *d = tt_synth(dir, "det", 50, 4, 9);
    size_t l1, l2, l3;
    unsigned char *a = train_once(be, d, 1, &l1), *b = train_once(be, d, 1, &l2),
                  *c = train_once(be, d, 2, &l3);
    assert_int_equal(l1, l2);
    assert_memory_equal(a, b, l1);
    assert_memory_not_equal(a, c, l1);
    free(a);
    free(b);
    free(c);
    mia_dataset_free(d);
    mia_backend_free(be);
    tt_rmrf(dir);
    free(dir);
}

static int n_epochs_seen;
static bool on_epoch(const mia_epoch_stats *s, void *ud)
{
    (void)ud;
    n_epochs_seen++;
    assert_true(s->train_accuracy >= 0 && s->train_accuracy <= 1);
    assert_true(isfinite(s->val_loss));
    return true;
}
static bool cancel_at_3(const mia_progress *p, void *ud)
{
    (void)ud;
    return p->step < 3;
}

static void test_train__epochs_eval_cancel_and_errors(void **state)
{
    (void)state;
    char *dir = tt_tmpdir();
    mia_backend *be;
    assert_int_equal(mia_backend_create(&be, "ref", NULL), MIA_OK);
    mia_dataset *d = tt_synth(dir, "e", 200, 4, 1), *v = tt_synth(dir, "v", 100, 4, 2);
    mia_model *m = tt_mlp(be, 16, 4, 3);
    mia_train_opts o;
    mia_train_opts_init(&o);
    o.epochs = 20;
    o.lr = 0.01;
    o.batch_size = 16;
    o.val = v;
    o.on_epoch = on_epoch;
    o.schedule = MIA_SCHEDULE_COSINE;
    mia_train_result r;
    assert_int_equal(mia_train(m, d, &o, &r), MIA_OK);
    assert_int_equal(n_epochs_seen, 20);
    assert_true(r.last.val_accuracy > 0.9); /* brightest quadrant is easy */
    mia_eval_result e;
    assert_int_equal(mia_evaluate(m, v, NULL, &e), MIA_OK);
    assert_true(e.accuracy == r.last.val_accuracy);
    /* evaluate == metrics recomputed here from the logits */
    float z[400], p[400];
    int32_t y[100];
    assert_int_equal(mia_model_predict_dataset(m, v, MIA_PREDICT_LOGITS, NULL, z), MIA_OK);
    double loss = 0;
    int correct = 0;
    for (int i = 0; i < 100; i++) {
        y[i] = mia_dataset_label(v, i);
        double mx = -INFINITY, se = 0;
        int am = 0;
        for (int k = 0; k < 4; k++) {
            mx = fmax(mx, z[i * 4 + k]);
            if (z[i * 4 + k] > z[i * 4 + am]) am = k;
        }
        for (int k = 0; k < 4; k++) se += exp(z[i * 4 + k] - mx);
        for (int k = 0; k < 4; k++) p[i * 4 + k] = (float)(exp(z[i * 4 + k] - mx) / se);
        loss += mx + log(se) - z[i * 4 + y[i]];
        correct += am == y[i];
    }
    double ece, oe;
    assert_int_equal(mia_calibration_errors(p, y, 100, 4, 15, &ece, &oe), MIA_OK);
    assert_true(fabs(e.loss - loss / 100) < 1e-9);
    assert_true(e.accuracy == correct / 100.0);
    assert_true(fabs(e.ece - ece) < 1e-12 && fabs(e.oe - oe) < 1e-12);
    /* cancellation */
    mia_train_opts_init(&o);
    o.progress = cancel_at_3;
    ASSERT_ERR(mia_train(m, d, &o, &r), MIA_ERR_CANCELLED, "cancelled at step 3");
    /* errors name the argument */
    mia_train_opts_init(&o);
    o.lr = 0;
    ASSERT_ERR(mia_train(m, d, &o, &r), MIA_ERR_INVALID, "opts->lr");
    mia_train_opts_init(&o);
    o.label_smoothing = 1.0;
    ASSERT_ERR(mia_train(m, d, &o, &r), MIA_ERR_INVALID, "opts->label_smoothing");
    mia_model *wrong = NULL;
    mia_model_opts mo;
    mia_model_opts_init(&mo);
    mo.in_channels = 1;
    mo.in_h = mo.in_w = 28;
    assert_int_equal(mia_model_create(&wrong, be, "salem_cnn", &mo), MIA_OK);
    mia_train_opts_init(&o);
    ASSERT_ERR(mia_train(wrong, d, &o, &r), MIA_ERR_MISMATCH, "expects 1x28x28");
    mia_model_free(wrong);
    mia_model_free(m);
    mia_dataset_free(d);
    mia_dataset_free(v);
    mia_backend_free(be);
    tt_rmrf(dir);
    free(dir);
}

static void test_train__salem_cnn_learns_fashion_mnist(void **state)
{
    (void)state;
    mia_dataset *full = NULL, *test = NULL;
    if (mia_dataset_load(&full, "fashion-mnist:train", NULL) != MIA_OK) {
        fprintf(stderr, "skipped: dataset-fashion-mnist absent (%s)\n", mia_last_error());
        skip();
    }
    assert_int_equal(mia_dataset_load(&test, "fashion-mnist:test", NULL), MIA_OK);
    int64_t n = mia_dataset_n(full);
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++) labels[i] = mia_dataset_label(full, i);
    int64_t idx[2000];
    assert_int_equal(mia_split_stratified(idx, 2000, labels, n, 0), MIA_OK);
    free(labels);
    mia_dataset *sub;
    assert_int_equal(mia_dataset_subset(&sub, full, idx, 2000), MIA_OK);
    mia_dataset_free(full);
    mia_backend *be;
    assert_int_equal(mia_backend_create(&be, "auto", NULL), MIA_OK);
    mia_model_opts mo;
    mia_model_opts_init(&mo);
    mo.in_channels = 1;
    mo.in_h = mo.in_w = 28;
    mo.seed = 42;
    mia_model *m;
    assert_int_equal(mia_model_create(&m, be, "salem_cnn", &mo), MIA_OK);
    mia_train_opts o;
    mia_train_opts_init(&o);
    mia_train_opts_paper(&o, "salem_cnn");
    o.epochs = 8;
    o.seed = 42;
    mia_train_result r;
    double t0 = (double)clock();
    assert_int_equal(mia_train(m, sub, &o, &r), MIA_OK);
    mia_eval_result e;
    assert_int_equal(mia_evaluate(m, test, NULL, &e), MIA_OK);
    fprintf(stderr, "SalemCNN, 2000 Fashion-MNIST images, 8 epochs (%s): train acc %.4f, "
            "test acc %.4f, loss %.4f, ECE %.4f, OE %.4f (%.1f s CPU)\n", mia_backend_type(be),
            r.last.train_accuracy, e.accuracy, e.loss, e.ece, e.oe,
            ((double)clock() - t0) / CLOCKS_PER_SEC);
    assert_true(e.accuracy >= 0.80);
    mia_model_free(m);
    mia_dataset_free(sub);
    mia_dataset_free(test);
    mia_backend_free(be);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train__adam_matches_pytorch_formula),
        cmocka_unit_test(test_train__sgd_momentum_matches_pytorch_formula),
        cmocka_unit_test(test_train__same_seed_bit_identical_other_seed_differs),
        cmocka_unit_test(test_train__epochs_eval_cancel_and_errors),
        cmocka_unit_test(test_train__salem_cnn_learns_fashion_mnist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
