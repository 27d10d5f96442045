/* Calibration: ECE / OE against hand-computed values (edge bins, torch.linspace bounds),
 * temperature fitting against an f64 NLL, LLLA's KFAC factors and MC predictive against an
 * independent f64 reference computed here from the model's weights. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test-train-common.h"
#include "calib/calib-internal.h"
#include "core/rng.h"

/* torch.linspace(0, 1, 16) (float32), printed by python3-torch 1.13 as hex. */
static const double torch_bounds[16] = {
    0x0.0p+0,        0x1.111112p-4, 0x1.111112p-3, 0x1.99999cp-3, 0x1.111112p-2, 0x1.555556p-2,
    0x1.99999cp-2,   0x1.dddde0p-2, 0x1.111110p-1, 0x1.333332p-1, 0x1.555554p-1, 0x1.777778p-1,
    0x1.999998p-1,   0x1.bbbbbcp-1, 0x1.ddddde0p-1, 0x1.0p+0};

static void test_calib__ece_hand_values_and_edge_bins(void **state)
{
    (void)state;
    const int K = 5;
    const float B3 = (float)torch_bounds[3];
    const float B3n = nextafterf(B3, 1.0f);
    float p[7][5] = {
        {0.9f, 0.05f, 0.05f, 0, 0},      /* bin 13, correct */
        {0.1f, 0.8f, 0.1f, 0, 0},        /* 0.8f > bound 12 (0.79999995): bin 12, wrong */
        {1.0f, 0, 0, 0, 0},              /* exactly 1: top bin 14, correct */
        {B3, 0.2f, 0.2f, 0.2f, 0.19f},   /* exactly on bound 3: belongs to bin 2, wrong */
        {B3n, 0.2f, 0.2f, 0.2f, 0.19f},  /* just above: bin 3, correct */
        {0, 0, 0, 0, 0},                 /* confidence 0: no bin, but counts in n */
        {0.92f, 0.08f, 0, 0, 0},         /* bin 13 with row 0, wrong */
    };
    int32_t y[7] = {0, 0, 0, 1, 0, 0, 1};
    double ece, oe;
    assert_int_equal(mia_calibration_errors(&p[0][0], y, 7, K, 15, &ece, &oe), MIA_OK);
    double m13 = ((double)0.9f + (double)0.92f) / 2;
    double e = 2.0 / 7 * fabs(m13 - 0.5) + 1.0 / 7 * (double)0.8f + 1.0 / 7 * (double)B3 +
               1.0 / 7 * fabs((double)B3n - 1.0);
    double o = 2.0 / 7 * m13 * (m13 - 0.5) + 1.0 / 7 * (double)0.8f * (double)0.8f +
               1.0 / 7 * (double)B3 * (double)B3;
    assert_true(fabs(ece - e) < 1e-12);
    assert_true(fabs(oe - o) < 1e-12);
    /* the bounds themselves: a confidence equal to each torch bound lands in the bin below */
    for (int b = 1; b <= 15; b++) {
        float row[2] = {(float)torch_bounds[b], 0.0f};
        int32_t lab = 1; /* wrong: ECE = conf exactly */
        assert_int_equal(mia_calibration_errors(row, &lab, 1, 2, 15, &ece, &oe), MIA_OK);
        assert_true(fabs(ece - torch_bounds[b]) < 1e-15);
    }
    /* errors */
    ASSERT_ERR(mia_calibration_errors(&p[0][0], y, 7, K, 0, &ece, &oe), MIA_ERR_INVALID,
               "n_bins");
    y[2] = 9;
    ASSERT_ERR(mia_calibration_errors(&p[0][0], y, 7, K, 15, &ece, &oe), MIA_ERR_INVALID,
               "labels[2]");
    ASSERT_ERR(mia_calibration_errors(NULL, y, 7, K, 15, &ece, &oe), MIA_ERR_INVALID, "probs");
}

static double nll_ref(const float *z, const int32_t *y, int64_t n, int64_t k, double T)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double mx = -INFINITY, se = 0;
        for (int64_t c = 0; c < k; c++) mx = fmax(mx, z[i * k + c] / T);
        for (int64_t c = 0; c < k; c++) se += exp(z[i * k + c] / T - mx);
        s += mx + log(se) - z[i * k + y[i]] / T;
    }
    return s / (double)n;
}

static void test_calib__fitted_temperature_lowers_heldout_nll(void **state)
{
    (void)state;
    enum { N = 4000, K = 10 };
    float *z = malloc(sizeof(float) * N * K);
    int32_t *y = malloc(sizeof(int32_t) * N);
    tt_rng_state = 99;
    for (int i = 0; i < N; i++) {
        y[i] = (int32_t)(tt_u64() % K);
        int pred = tt_unif() < 0.6 ? y[i] : (int)(tt_u64() % K); /* 60% right, very sure */
        for (int c = 0; c < K; c++) {
            double u1 = tt_unif() + 1e-12, u2 = tt_unif();
            z[i * K + c] = (float)(2.0 * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
        }
        z[i * K + pred] += 9.0f;
    }
    double T;
    assert_int_equal(mia_temperature_fit(&T, z, y, N / 2, K), MIA_OK);
    assert_true(T > 1.0);
    /* optimality on the fit half (f64 reference NLL) */
    double f0 = nll_ref(z, y, N / 2, K, T);
    assert_true(f0 <= nll_ref(z, y, N / 2, K, T * 1.001) + 1e-12);
    assert_true(f0 <= nll_ref(z, y, N / 2, K, T / 1.001) + 1e-12);
    /* held-out half */
    double h1 = nll_ref(z + (N / 2) * K, y + N / 2, N / 2, K, 1.0);
    double hT = nll_ref(z + (N / 2) * K, y + N / 2, N / 2, K, T);
    assert_true(hT < h1 - 0.1);
    z[3] = NAN;
    ASSERT_ERR(mia_temperature_fit(&T, z, y, N / 2, K), MIA_ERR_NUMERIC, "logits[0][3]");
    free(z);
    free(y);
}

/* ---- LLLA vs an f64 reference ------------------------------------------------------------- */

static void read_param(mia_model *m, const char *name, double *out, int64_t count)
{
    mia_graph *g = mia_model_graph(m);
    int64_t i = mia_graph_find(g, name);
    assert_true(i >= 0);
    mia_param_info p;
    assert_int_equal(mia_graph_param(g, (size_t)i, &p), MIA_OK);
    assert_int_equal(mia_tensor_numel(p.value), count);
    float *tmp = malloc(sizeof(float) * (size_t)count);
    mia_tensor_download(p.value, tmp, sizeof(float) * (size_t)count);
    for (int64_t j = 0; j < count; j++) out[j] = tmp[j];
    free(tmp);
}

/* Gauss-Jordan inverse with partial pivoting (n x n, row-major). */
static void gj_inverse(const double *a, double *inv, int n)
{
    double *m = malloc(sizeof(double) * (size_t)(n * 2 * n));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 2 * n; j++) m[i * 2 * n + j] = j < n ? a[i * n + j] : (j - n == i);
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(m[r * 2 * n + c]) > fabs(m[piv * 2 * n + c])) piv = r;
        for (int j = 0; j < 2 * n; j++) {
            double t = m[c * 2 * n + j];
            m[c * 2 * n + j] = m[piv * 2 * n + j];
            m[piv * 2 * n + j] = t;
        }
        double d = m[c * 2 * n + c];
        for (int j = 0; j < 2 * n; j++) m[c * 2 * n + j] /= d;
        for (int r = 0; r < n; r++) {
            if (r == c) continue;
            double f = m[r * 2 * n + c];
            for (int j = 0; j < 2 * n; j++) m[r * 2 * n + j] -= f * m[c * 2 * n + j];
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) inv[i * n + j] = m[i * 2 * n + n + j];
    free(m);
}

static void test_calib__llla_factors_and_predictive_match_f64_reference(void **state)
{
    (void)state;
    enum { N = 300, H = 5, K = 3, F = 4, BS = 8, S = 100 };
    char *dir = tt_tmpdir();
    mia_backend *be;
    assert_int_equal(mia_backend_create(&be, "ref", NULL), MIA_OK);
    mia_dataset *d = tt_synth(dir, "fit", N, K, 5);
    assert_non_null(d);
    mia_model *m = tt_mlp(be, H, K, 11);
    assert_non_null(m);
    mia_llla_opts o;
    mia_llla_opts_init(&o);
    o.fit = d;
    o.var0 = 3.0;
    o.batch_size = BS;
    o.seed = 77;
    mia_calibrated *c;
    assert_int_equal(mia_calibrated_llla(&c, m, &o), MIA_OK);
    assert_true(mia_calibrated_var0(c) == 3.0);

    /* reference: phi = relu(W1 x + b1), logits = W2 phi + b2, from the weights, in f64 */
    double W1[H * F], b1[H], W2[K * H], b2[K];
    read_param(m, "0.weight", W1, H * F);
    read_param(m, "0.bias", b1, H);
    read_param(m, "2.weight", W2, K * H);
    read_param(m, "2.bias", b2, K);
    static double phi[N][H], P[N][K], mu[N][K];
    for (int i = 0; i < N; i++) {
        const uint8_t *px = mia_dataset_pixels(d, i);
        for (int h = 0; h < H; h++) {
            double s = b1[h];
            for (int f = 0; f < F; f++) s += W1[h * F + f] * (px[f] / 255.0);
            phi[i][h] = s > 0 ? s : 0;
        }
        double mx = -INFINITY, se = 0;
        for (int k = 0; k < K; k++) {
            double s = b2[k];
            for (int h = 0; h < H; h++) s += W2[k * H + h] * phi[i][h];
            mu[i][k] = s;
            mx = fmax(mx, s);
        }
        for (int k = 0; k < K; k++) se += exp(mu[i][k] - mx);
        for (int k = 0; k < K; k++) P[i][k] = exp(mu[i][k] - mx) / se;
    }
    double U[K * K] = {0}, V[H * H] = {0}, B[K * K] = {0};
    mia_rng r;
    mia__rng_init(&r, 77, MIA_STREAM_CALIB);
    for (int b = 0, first = 0; first < N; b++, first += BS) {
        int nb = N - first < BS ? N - first : BS;
        double G[K * K] = {0}, A[H * H] = {0};
        for (int i = first; i < first + nb; i++) {
            double u = mia__rng_uniform_f64(&r), cum = 0;
            int yh = K - 1;
            for (int k = 0; k < K; k++) {
                cum += P[i][k];
                if (u < cum) {
                    yh = k;
                    break;
                }
            }
            double sv[K];
            for (int k = 0; k < K; k++) sv[k] = (P[i][k] - (k == yh)) / sqrt((double)nb);
            for (int a = 0; a < K; a++)
                for (int c2 = 0; c2 < K; c2++) G[a * K + c2] += sv[a] * sv[c2];
            for (int a = 0; a < H; a++)
                for (int c2 = 0; c2 < H; c2++) A[a * H + c2] += phi[i][a] * phi[i][c2] / nb;
        }
        double rho = fmin(1.0 - 1.0 / (b + 1), 0.95);
        for (int j = 0; j < K * K; j++) {
            U[j] = rho * U[j] + (1 - rho) * G[j];
            B[j] = rho * B[j] + (1 - rho) * G[j];
        }
        for (int j = 0; j < H * H; j++) V[j] = rho * V[j] + (1 - rho) * A[j];
    }
    for (int j = 0; j < K * K; j++) {
        U[j] *= sqrt((double)N);
        B[j] *= N;
    }
    for (int j = 0; j < H * H; j++) V[j] *= sqrt((double)N);
    const double *cu, *cv, *cb;
    int64_t D, C;
    mia__llla_factors(c, &cu, &cv, &cb, &D, &C);
    assert_int_equal(D, H);
    assert_int_equal(C, K);
    for (int j = 0; j < K * K; j++) {
        assert_true(fabs(cu[j] - U[j]) <= 1e-4 * (1 + fabs(U[j])));
        assert_true(fabs(cb[j] - B[j]) <= 1e-4 * (1 + fabs(B[j])));
    }
    for (int j = 0; j < H * H; j++) assert_true(fabs(cv[j] - V[j]) <= 1e-4 * (1 + fabs(V[j])));

    /* predictive for var0 = 3 with the documented noise keys (row index in the dataset) */
    double tau = 1.0 / 3.0, st = sqrt(tau);
    double Vi[H * H], Sin[H * H], Ut[K * K], Sout[K * K], Bt[K * K], Sb[K * K];
    for (int j = 0; j < H * H; j++) Vi[j] = V[j] + (j % (H + 1) == 0 ? st : 0);
    for (int j = 0; j < K * K; j++) {
        Ut[j] = U[j] + (j % (K + 1) == 0 ? st : 0);
        Bt[j] = B[j] + (j % (K + 1) == 0 ? tau : 0);
    }
    gj_inverse(Vi, Sin, H);
    gj_inverse(Ut, Sout, K);
    gj_inverse(Bt, Sb, K);
    float *got = malloc(sizeof(float) * N * K);
    mia_eval_opts eo;
    mia_eval_opts_init(&eo);
    eo.batch_size = 64;
    assert_int_equal(mia_calibrated_predict_dataset(c, d, &eo, got), MIA_OK);
    double maxdiff = 0;
    for (int i = 0; i < N; i++) {
        double a = 0;
        for (int x = 0; x < H; x++)
            for (int y2 = 0; y2 < H; y2++) a += phi[i][x] * Sin[x * H + y2] * phi[i][y2];
        double Sg[K * K], L[K * K] = {0};
        for (int j = 0; j < K * K; j++) Sg[j] = a * Sout[j] + Sb[j];
        for (int j = 0; j < K; j++) { /* Cholesky–Banachiewicz */
            for (int k = 0; k <= j; k++) {
                double s = Sg[j * K + k];
                for (int t = 0; t < k; t++) s -= L[j * K + t] * L[k * K + t];
                L[j * K + k] = j == k ? sqrt(s) : s / L[k * K + k];
            }
        }
        mia_rng nr;
        mia__rng_init(&nr, 77, mia__llla_noise_stream((uint64_t)i));
        double avg[K] = {0};
        for (int s = 0; s < S; s++) {
            double e[K], zz[K], mx = -INFINITY, se = 0;
            for (int k = 0; k < K; k++) e[k] = mia__rng_normal(&nr);
            for (int k = 0; k < K; k++) {
                zz[k] = mu[i][k];
                for (int t = 0; t <= k; t++) zz[k] += L[k * K + t] * e[t];
                mx = fmax(mx, zz[k]);
            }
            for (int k = 0; k < K; k++) se += exp(zz[k] - mx);
            for (int k = 0; k < K; k++) avg[k] += exp(zz[k] - mx) / se / S;
        }
        for (int k = 0; k < K; k++) maxdiff = fmax(maxdiff, fabs(avg[k] - got[i * K + k]));
    }
    assert_true(maxdiff < 1e-4);
    /* deterministic: a second call gives identical bytes */
    float *again = malloc(sizeof(float) * N * K);
    assert_int_equal(mia_calibrated_predict_dataset(c, d, &eo, again), MIA_OK);
    assert_memory_equal(got, again, sizeof(float) * N * K);
    mia_calibrated_free(c);

    /* var0 search: the choice is one of the 100 grid values and is reproducible */
    mia_llla_opts_init(&o);
    o.fit = d;
    o.val = d;
    o.seed = 1;
    assert_int_equal(mia_calibrated_llla(&c, m, &o), MIA_OK);
    double v1 = mia_calibrated_var0(c);
    mia_calibrated_free(c);
    assert_int_equal(mia_calibrated_llla(&c, m, &o), MIA_OK);
    assert_true(v1 == mia_calibrated_var0(c));
    int on_grid = 0;
    for (int g = 0; g < 100; g++) on_grid |= fabs(v1 - pow(10.0, 3.0 * g / 99.0)) < 1e-9 * v1;
    assert_true(on_grid);
    mia_eval_result er;
    assert_int_equal(mia_calibrated_evaluate(c, d, NULL, &er), MIA_OK);
    assert_true(er.accuracy > 0 && er.accuracy <= 1 && isfinite(er.loss));
    mia_calibrated_free(c);
    /* errors */
    mia_calibrated *bad = (mia_calibrated *)1;
    mia_llla_opts_init(&o);
    ASSERT_ERR(mia_calibrated_llla(&bad, m, &o), MIA_ERR_INVALID, "opts->fit");
    assert_null(bad);
    bad = (mia_calibrated *)1;
    ASSERT_ERR(mia_calibrated_temperature(&bad, m, -1.0), MIA_ERR_INVALID, "T");
    assert_null(bad);
    free(got);
    free(again);
    mia_model_free(m);
    mia_dataset_free(d);
    mia_backend_free(be);
    tt_rmrf(dir);
    free(dir);
}

static void test_calib__temperature_wrapper_is_softmax_of_scaled_logits(void **state)
{
    (void)state;
    char *dir = tt_tmpdir();
    mia_backend *be;
    assert_int_equal(mia_backend_create(&be, "ref", NULL), MIA_OK);
    mia_dataset *d = tt_synth(dir, "t", 50, 3, 2);
    mia_model *m = tt_mlp(be, 4, 3, 1);
    float z[150], p[150];
    assert_int_equal(mia_model_predict_dataset(m, d, MIA_PREDICT_LOGITS, NULL, z), MIA_OK);
    mia_calibrated *c;
    assert_int_equal(mia_calibrated_temperature(&c, m, 10.0), MIA_OK);
    assert_int_equal(mia_calibrated_predict_dataset(c, d, NULL, p), MIA_OK);
    for (int i = 0; i < 50; i++) {
        double se = 0;
        for (int k = 0; k < 3; k++) se += exp(z[i * 3 + k] / 10.0);
        for (int k = 0; k < 3; k++) assert_true(fabs(p[i * 3 + k] - exp(z[i * 3 + k] / 10.0) / se) < 1e-6);
    }
    mia_calibrated_free(c);
    assert_int_equal(mia_calibrated_fit_temperature(&c, m, d, NULL), MIA_OK);
    assert_true(mia_calibrated_T(c) > 0);
    mia_calibrated_free(c);
    mia_model_free(m);
    mia_dataset_free(d);
    mia_backend_free(be);
    tt_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calib__ece_hand_values_and_edge_bins),
        cmocka_unit_test(test_calib__fitted_temperature_lowers_heldout_nll),
        cmocka_unit_test(test_calib__llla_factors_and_predictive_match_f64_reference),
        cmocka_unit_test(test_calib__temperature_wrapper_is_softmax_of_scaled_logits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
