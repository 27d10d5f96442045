/* Attacks: the entropy attack vs the paper's torch code (fixture) and vs its literal
 * 10,000-point scan; the LOSS attack vs a brute-force Youden oracle; B14 refusal; error paths;
 * allocation-failure injection. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <inttypes.h>

/* cmocka 1.1.5 has no double comparison */
#define check_close(a, b, eps)                                                                   \
    do {                                                                                         \
        double a_ = (a), b_ = (b), e_ = (eps);                                                   \
        if (!(fabs(a_ - b_) <= e_))                                                              \
            fail_msg("%s = %.17g, expected %.17g (tolerance %g)", #a, a_, b_, e_);               \
    } while (0)

#include "attack/attack-impl.h"
#include "core/rng.h"

#define SALEM_WINDOW_FOR_TEST 15
#include <mia/attack.h>

typedef struct eset {
    int64_t n;
    float *p, *h;
    int *pred;
} eset;

static void read_eset(FILE *f, const char *name, int64_t C, eset *s)
{
    char key[64];
    assert_int_equal(fscanf(f, "%63s %" SCNd64, key, &s->n), 2);
    assert_string_equal(key, name);
    s->p = malloc((size_t)(s->n * C) * sizeof *s->p);
    s->h = malloc((size_t)s->n * sizeof *s->h);
    s->pred = malloc((size_t)s->n * sizeof *s->pred);
    for (int64_t i = 0; i < s->n; i++) {
        for (int64_t c = 0; c < C; c++) assert_int_equal(fscanf(f, "%f", &s->p[i * C + c]), 1);
        assert_int_equal(fscanf(f, "%f %d", &s->h[i], &s->pred[i]), 2);
    }
}

static void free_eset(eset *s)
{
    free(s->p);
    free(s->h);
    free(s->pred);
}

/* The paper's entropy attack in torch (tests/gen-metric-fixtures.py): same entropies (to a few
 * float32 ulps), the same theta and the same decisions, fast and paper_exact. */
static void test_attacks__entropy_matches_paper_torch(void **state)
{
    (void)state;
    const char *dir = getenv("MIA_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/metrics/entropy-attack.txt", dir ? dir : "tests/data");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    int64_t C;
    assert_int_equal(fscanf(f, " classes %" SCNd64, &C), 1);
    eset sm, sn, tm, tn;
    read_eset(f, "shadow_mem", C, &sm);
    read_eset(f, "shadow_non", C, &sn);
    read_eset(f, "target_mem", C, &tm);
    read_eset(f, "target_non", C, &tn);
    double theta;
    assert_int_equal(fscanf(f, " theta %lf", &theta), 1);
    fclose(f);

    eset *sets[4] = {&sm, &sn, &tm, &tn};
    for (int s = 0; s < 4; s++) {
        mia_score_set x = {sets[s]->p, NULL, sets[s]->n, C};
        float *h = malloc((size_t)x.n * sizeof *h);
        assert_int_equal(mia__entropies("x", &x, h), MIA_OK);
        for (int64_t i = 0; i < x.n; i++)
            if (fabsf(h[i] - sets[s]->h[i]) > 4e-7f * fmaxf(1.0f, sets[s]->h[i]))
                fail_msg("entropy row %lld: %.9g vs torch %.9g", (long long)i, h[i], sets[s]->h[i]);
        free(h);
    }
    for (int exact = 0; exact < 2; exact++) {
        mia_score_set m = {sm.p, NULL, sm.n, C}, n = {sn.p, NULL, sn.n, C};
        mia_attack_opts o;
        mia_attack_opts_init(&o);
        o.paper_exact = exact;
        mia_attack *a = NULL;
        assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_ENTROPY, &m, &n, &o), MIA_OK);
        if (mia_attack_threshold(a) != theta)
            fail_msg("theta %.17g, paper %.17g", mia_attack_threshold(a), theta);
        for (int s = 0; s < 4; s++) {
            mia_score_set x = {sets[s]->p, NULL, sets[s]->n, C};
            uint8_t *pred = malloc((size_t)x.n);
            float *score = malloc((size_t)x.n * sizeof *score);
            assert_int_equal(mia_attack_predict(a, &x, score, pred), MIA_OK);
            for (int64_t i = 0; i < x.n; i++) {
                assert_int_equal(pred[i], sets[s]->pred[i]);
                assert_true(score[i] <= 0.0f); /* score = -H */
            }
            free(pred);
            free(score);
        }
        mia_attack_free(a);
    }
    free_eset(&sm);
    free_eset(&sn);
    free_eset(&tm);
    free_eset(&tn);
}

/* The paper's literal rule, written out here as the oracle. */
static double oracle_theta(const float *hm, int64_t nm, const float *hn, int64_t nn)
{
    float mn = INFINITY, mx = -INFINITY;
    for (int64_t i = 0; i < nm; i++) { mn = fminf(mn, hm[i]); mx = fmaxf(mx, hm[i]); }
    for (int64_t i = 0; i < nn; i++) { mn = fminf(mn, hn[i]); mx = fmaxf(mx, hn[i]); }
    double start = mn, stop = mx, step = (stop - start) / 9999.0;
    int64_t best = 0;
    double best_theta = 0.0;
    for (int i = 0; i < 10000; i++) {
        /* numpy.linspace: i * step + start; the last point is stop; step 0 -> start */
        double th = i == 9999 ? stop : (step == 0.0 ? start : (double)i * step + start);
        float t = (float)th;
        int64_t correct = 0;
        for (int64_t j = 0; j < nn; j++) correct += hn[j] >= t;
        for (int64_t j = 0; j < nm; j++) correct += hm[j] < t;
        if (correct > best) {
            best = correct;
            best_theta = th;
        }
    }
    return best_theta;
}

static void test_attacks__entropy_theta_equals_linspace_scan(void **state)
{
    (void)state;
    mia_rng g;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        mia__rng_init(&g, seed, MIA_STREAM_ATTACK);
        int64_t nm = 1 + (int64_t)mia__rng_below(&g, 600), nn = 1 + (int64_t)mia__rng_below(&g, 600);
        float *hm = malloc((size_t)nm * sizeof *hm), *hn = malloc((size_t)nn * sizeof *hn);
        int ties = seed % 3 == 0, equal = seed == 4;
        for (int64_t i = 0; i < nm; i++) {
            double v = fabs(0.3 + 0.4 * mia__rng_normal(&g));
            hm[i] = equal ? 0.5f : (float)(ties ? round(v * 8) / 8 : v);
        }
        for (int64_t i = 0; i < nn; i++) {
            double v = fabs(0.9 + 0.5 * mia__rng_normal(&g));
            hn[i] = equal ? 0.5f : (float)(ties ? round(v * 8) / 8 : v);
        }
        double want = oracle_theta(hm, nm, hn, nn), fast, exact;
        assert_int_equal(mia__entropy_theta(hm, nm, hn, nn, false, &fast), MIA_OK);
        assert_int_equal(mia__entropy_theta(hm, nm, hn, nn, true, &exact), MIA_OK);
        if (fast != want || exact != want)
            fail_msg("seed %llu: theta fast %.17g exact %.17g oracle %.17g",
                     (unsigned long long)seed, fast, exact, want);
        free(hm);
        free(hn);
    }
}

/* Softmax rows of random logits with a per-set temperature; labels = argmax or random. */
static float *softmax_rows(mia_rng *g, int64_t n, int64_t C, double scale, int32_t *labels)
{
    float *p = malloc((size_t)(n * C) * sizeof *p);
    for (int64_t i = 0; i < n; i++) {
        double z[16], mx = -INFINITY, s = 0;
        for (int64_t c = 0; c < C; c++) {
            z[c] = scale * mia__rng_normal(g);
            mx = fmax(mx, z[c]);
        }
        for (int64_t c = 0; c < C; c++) s += exp(z[c] - mx);
        for (int64_t c = 0; c < C; c++) p[i * C + c] = (float)(exp(z[c] - mx) / s);
        if (labels) labels[i] = (int32_t)mia__rng_below(g, (uint64_t)C);
    }
    return p;
}

static void test_attacks__loss_matches_bruteforce_youden(void **state)
{
    (void)state;
    mia_rng g;
    mia__rng_init(&g, 3, MIA_STREAM_ATTACK);
    const int64_t C = 4, nm = 300, nn = 250;
    int32_t *lm = malloc(nm * sizeof *lm), *ln = malloc(nn * sizeof *ln);
    float *pm = softmax_rows(&g, nm, C, 3.0, lm), *pn = softmax_rows(&g, nn, C, 1.0, ln);
    for (int64_t i = 0; i < nm; i++) { /* members: label = argmax more often */
        if (i % 2) continue;
        int64_t am = 0;
        for (int64_t c = 1; c < C; c++) am = pm[i * C + c] > pm[i * C + am] ? c : am;
        lm[i] = (int32_t)am;
    }
    mia_score_set m = {pm, lm, nm, C}, n = {pn, ln, nn, C};
    mia_attack *a = NULL;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_LOSS, &m, &n, NULL), MIA_OK);
    /* oracle: score -l = log(clamp(p_y)); J(t) = #{m >= t}/P - #{n >= t}/N over distinct
     * scores, descending, first maximum, origin (J = 0) first */
    float *sm = malloc(nm * sizeof *sm), *sn = malloc(nn * sizeof *sn);
    for (int64_t i = 0; i < nm; i++)
        sm[i] = logf(fminf(fmaxf(pm[i * C + lm[i]], 1.1920929e-7f), 1.0f - 1.1920929e-7f));
    for (int64_t i = 0; i < nn; i++)
        sn[i] = logf(fminf(fmaxf(pn[i * C + ln[i]], 1.1920929e-7f), 1.0f - 1.1920929e-7f));
    double best = 0.0, tau = -INFINITY, prev = INFINITY;
    float maxs = -INFINITY;
    for (int64_t i = 0; i < nm; i++) maxs = fmaxf(maxs, sm[i]);
    for (int64_t i = 0; i < nn; i++) maxs = fmaxf(maxs, sn[i]);
    tau = (double)maxs + 1.0;
    for (;;) { /* next distinct threshold below prev */
        double t = -INFINITY;
        for (int64_t i = 0; i < nm; i++) if (sm[i] < prev && sm[i] > t) t = sm[i];
        for (int64_t i = 0; i < nn; i++) if (sn[i] < prev && sn[i] > t) t = sn[i];
        if (t == -INFINITY) break;
        int64_t tp = 0, fp = 0;
        for (int64_t i = 0; i < nm; i++) tp += sm[i] >= t;
        for (int64_t i = 0; i < nn; i++) fp += sn[i] >= t;
        double j = (double)tp / nm - (double)fp / nn;
        if (j > best + 1e-12) { best = j; tau = t; }
        prev = t;
    }
    assert_true(mia_attack_threshold(a) == tau);
    uint8_t *pred = malloc(nm);
    float *score = malloc(nm * sizeof *score);
    assert_int_equal(mia_attack_predict(a, &m, score, pred), MIA_OK);
    for (int64_t i = 0; i < nm; i++) {
        assert_float_equal(score[i], sm[i], 1e-6);
        assert_int_equal(pred[i], (double)score[i] > tau);
    }
    mia_attack_free(a);
    free(lm); free(ln); free(pm); free(pn); free(sm); free(sn); free(pred); free(score);
}

static void test_attacks__refuses_target_scores(void **state)
{
    (void)state;
    float p[4] = {0.9f, 0.1f, 0.4f, 0.6f};
    mia_score_set m = {p, NULL, 2, 2}, n = {p, NULL, 2, 2};
    mia_attack_opts o;
    mia_attack_opts_init(&o);
    o.scores_from_target = true;
    mia_attack *a = (mia_attack *)0x1;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_THRESHOLD, &m, &n, &o), MIA_ERR_INVALID);
    assert_null(a);
    assert_non_null(strstr(mia_last_error(), "scores_from_target"));
}

static void test_attacks__rejects_bad_input(void **state)
{
    (void)state;
    float p[6] = {0.9f, 0.1f, 0.4f, 0.6f, 0.5f, 0.5f};
    mia_score_set m = {p, NULL, 3, 2}, n = {p, NULL, 3, 2};
    mia_attack *a = (mia_attack *)0x1;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_THRESHOLD, NULL, &n, NULL), MIA_ERR_INVALID);
    assert_null(a);
    assert_non_null(strstr(mia_last_error(), "members"));
    a = (mia_attack *)0x1;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_LOSS, &m, &n, NULL), MIA_ERR_INVALID);
    assert_null(a);
    assert_non_null(strstr(mia_last_error(), "labels"));
    int32_t bad[3] = {0, 2, 1};
    mia_score_set ml = {p, bad, 3, 2};
    a = (mia_attack *)0x1;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_LOSS, &ml, &ml, NULL), MIA_ERR_INVALID);
    assert_null(a);
    assert_non_null(strstr(mia_last_error(), "labels[1]"));
    mia_score_set n3 = {p, NULL, 2, 3};
    a = (mia_attack *)0x1;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_THRESHOLD, &m, &n3, NULL), MIA_ERR_INVALID);
    assert_null(a);
    assert_non_null(strstr(mia_last_error(), "n_classes"));
    float q[6] = {0.9f, 0.1f, 0.4f, NAN, 0.5f, 0.5f};
    mia_score_set mq = {q, NULL, 3, 2};
    for (int k = 0; k < 3; k++) {
        mia_attack_kind kinds[3] = {MIA_ATTACK_THRESHOLD, MIA_ATTACK_ENTROPY, MIA_ATTACK_THRESHOLD};
        a = (mia_attack *)0x1;
        assert_int_equal(mia_attack_fit(&a, kinds[k], k == 2 ? &n : &mq, k == 2 ? &mq : &n, NULL),
                         MIA_ERR_NUMERIC);
        assert_null(a);
        assert_non_null(strstr(mia_last_error(), k == 2 ? "non_members: probs[1][1]"
                                                        : "members: probs[1][1]"));
    }
    float z[4] = {0.0f, 0.0f, 0.5f, 0.5f};
    mia_score_set mz = {z, NULL, 2, 2};
    a = (mia_attack *)0x1;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_ENTROPY, &mz, &n, NULL), MIA_ERR_NUMERIC);
    assert_null(a);
    assert_non_null(strstr(mia_last_error(), "row 0 sums to 0"));
    a = (mia_attack *)0x1;
    assert_int_equal(mia_attack_fit(&a, (mia_attack_kind)17, &m, &n, NULL), MIA_ERR_INVALID);
    assert_null(a);
    assert_non_null(strstr(mia_last_error(), "kind"));
    mia_attack_result *r = (mia_attack_result *)0x1;
    assert_int_equal(mia_attack_evaluate(&r, NULL, &m, &n), MIA_ERR_INVALID);
    assert_null(r);
    assert_non_null(strstr(mia_last_error(), "attack"));
}

static void test_attacks__salem_rejects_bad_k(void **state)
{
    (void)state;
    float p[6] = {0.7f, 0.2f, 0.1f, 0.4f, 0.3f, 0.3f};
    mia_score_set m = {p, NULL, 2, 3};
    mia_attack_opts o;
    mia_attack_opts_init(&o);
    o.salem_k = 4;
    mia_attack *a = (mia_attack *)0x1;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_SALEM, &m, &m, &o), MIA_ERR_INVALID);
    assert_null(a);
    assert_non_null(strstr(mia_last_error(), "salem_k"));
    o.salem_k = 3;
    o.salem_max_epochs = 0;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_SALEM, &m, &m, &o), MIA_ERR_INVALID);
    assert_null(a);
    assert_non_null(strstr(mia_last_error(), "salem_max_epochs"));
}

/* The same MLP, initial weights and batch orders as a PyTorch run (tests/gen-salem-fixture.py):
 * same number of epochs to the early stop, the same per-epoch training losses and the same
 * outputs on held-out vectors, within float32 reordering tolerance. */
static void test_attacks__salem_matches_torch(void **state)
{
    (void)state;
    const char *dir = getenv("MIA_TEST_DATA");
    char path[1024], line[256];
    snprintf(path, sizeof path, "%s/metrics/salem-torch.txt", dir ? dir : "tests/data");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    int64_t n, ninit, ne, nt;
    assert_int_equal(fscanf(f, " train %" SCNd64, &n), 1);
    float *feat = malloc((size_t)n * 3 * sizeof *feat), *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; i++) {
        int lab;
        assert_int_equal(fscanf(f, "%f %f %f %d", &feat[3 * i], &feat[3 * i + 1],
                                &feat[3 * i + 2], &lab), 4);
        y[i] = (float)lab;
    }
    assert_int_equal(fscanf(f, " init %" SCNd64, &ninit), 1);
    assert_int_equal(ninit, 64 * 3 + 64 + 64 + 1);
    float *init = malloc((size_t)ninit * sizeof *init);
    for (int64_t i = 0; i < ninit; i++) assert_int_equal(fscanf(f, "%f", &init[i]), 1);
    assert_int_equal(fscanf(f, " epochs %" SCNd64, &ne), 1);
    int64_t *orders = malloc((size_t)(ne * n) * sizeof *orders);
    double *losses = malloc((size_t)ne * sizeof *losses);
    for (int64_t e = 0; e < ne; e++) {
        assert_int_equal(fscanf(f, "%lf", &losses[e]), 1);
        for (int64_t i = 0; i < n; i++)
            assert_int_equal(fscanf(f, "%" SCNd64, &orders[e * n + i]), 1);
    }
    assert_int_equal(fscanf(f, " test %" SCNd64, &nt), 1);
    float *xt = malloc((size_t)nt * 3 * sizeof *xt), *ot = malloc((size_t)nt * sizeof *ot);
    for (int64_t i = 0; i < nt; i++)
        assert_int_equal(fscanf(f, "%f %f %f %f", &xt[3 * i], &xt[3 * i + 1], &xt[3 * i + 2],
                                &ot[i]), 4);
    fclose(f);

    mia_attack_opts o;
    mia_attack_opts_init(&o);
    mia__salem_inject inj = {init, orders, ne};
    mia_attack a;
    memset(&a, 0, sizeof a);
    a.kind = MIA_ATTACK_SALEM;
    /* first epoch alone: its loss is the torch loss of the same batches */
    o.salem_max_epochs = 1;
    assert_int_equal(mia__salem_train(&a, feat, y, n, 3, &o, &inj), MIA_OK);
    check_close(a.salem_final_loss, losses[0], 1e-6);
    mia__free(a.w1);
    memset(&a, 0, sizeof a);
    a.kind = MIA_ATTACK_SALEM;
    o.salem_max_epochs = 10000;
    assert_int_equal(mia__salem_train(&a, feat, y, n, 3, &o, &inj), MIA_OK);
    assert_int_equal(a.salem_epochs, ne);
    check_close(a.salem_final_loss, losses[ne - 1], 1e-4);
    /* the test vectors are the top-3 of themselves (3 classes, sorted) */
    mia_score_set x = {xt, NULL, nt, 3};
    float *score = malloc((size_t)nt * sizeof *score);
    uint8_t *pred = malloc((size_t)nt);
    assert_int_equal(mia_attack_predict(&a, &x, score, pred), MIA_OK);
    int agree = 0;
    for (int64_t i = 0; i < nt; i++) {
        check_close(score[i], ot[i], 2e-3);
        if (fabsf(ot[i] - 0.5f) > 2e-3f) assert_int_equal(pred[i], ot[i] >= 0.5f);
        agree += pred[i] == (ot[i] >= 0.5f);
    }
    assert_true(agree >= nt - 2);
    mia__free(a.w1);
    free(score);
    free(pred);
    free(feat);
    free(y);
    free(init);
    free(orders);
    free(losses);
    free(xt);
    free(ot);
}

/* Top-3 vectors of confident members vs flat non-members: the MLP separates them. */
static float *salem_set(mia_rng *g, int64_t n, int64_t C, bool member)
{
    float *p = malloc((size_t)(n * C) * sizeof *p);
    for (int64_t i = 0; i < n; i++) {
        double z[16], mx = -INFINITY, s = 0;
        for (int64_t c = 0; c < C; c++) {
            z[c] = 0.5 * mia__rng_normal(g) + (member && c == i % C ? 6.0 : 0.0);
            mx = fmax(mx, z[c]);
        }
        for (int64_t c = 0; c < C; c++) s += exp(z[c] - mx);
        for (int64_t c = 0; c < C; c++) p[i * C + c] = (float)(exp(z[c] - mx) / s);
    }
    return p;
}

static void test_attacks__salem_separates_and_is_deterministic(void **state)
{
    (void)state;
    mia_rng g;
    mia__rng_init(&g, 21, MIA_STREAM_ATTACK);
    const int64_t C = 10, n = 400;
    float *sm = salem_set(&g, n, C, true), *sn = salem_set(&g, n, C, false);
    float *tm = salem_set(&g, n, C, true), *tn = salem_set(&g, n, C, false);
    mia_score_set m = {sm, NULL, n, C}, nn = {sn, NULL, n, C};
    mia_score_set xm = {tm, NULL, n, C}, xn = {tn, NULL, n, C};
    mia_attack_opts o;
    mia_attack_opts_init(&o);
    o.seed = 7;
    mia_attack *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_SALEM, &m, &nn, &o), MIA_OK);
    assert_int_equal(mia_attack_fit(&b, MIA_ATTACK_SALEM, &m, &nn, &o), MIA_OK);
    o.seed = 8;
    assert_int_equal(mia_attack_fit(&c, MIA_ATTACK_SALEM, &m, &nn, &o), MIA_OK);
    assert_true(a->salem_epochs > SALEM_WINDOW_FOR_TEST);
    assert_int_equal(a->salem_epochs, b->salem_epochs);
    assert_memory_equal(a->w1, b->w1, (64 * 3 + 64 + 64 + 1) * sizeof(float));
    assert_true(memcmp(a->w1, c->w1, 64 * 3 * sizeof(float)) != 0);
    check_close(mia_attack_threshold(a), 0.5, 0.0);
    mia_attack_result *r = NULL;
    assert_int_equal(mia_attack_evaluate(&r, a, &xm, &xn), MIA_OK);
    const mia_attack_metrics *mt = mia_attack_result_metrics(r);
    if (!(mt->accuracy > 0.98 && mt->auroc > 0.99))
        fail_msg("accuracy %.4f auroc %.4f", mt->accuracy, mt->auroc);
    mia_attack_result_free(r);
    mia_attack_free(a);
    mia_attack_free(b);
    mia_attack_free(c);
    free(sm);
    free(sn);
    free(tm);
    free(tn);
}

static void test_attacks__alloc_failures_are_clean(void **state)
{
    (void)state;
    mia_rng g;
    mia__rng_init(&g, 8, MIA_STREAM_ATTACK);
    const int64_t C = 3, n = 64;
    int32_t *l = malloc(n * sizeof *l);
    float *pm = softmax_rows(&g, n, C, 3.0, l), *pn = softmax_rows(&g, n, C, 1.0, NULL);
    mia_score_set m = {pm, l, n, C}, nn = {pn, l, n, C};
    mia_attack_kind kinds[4] = {MIA_ATTACK_THRESHOLD, MIA_ATTACK_ENTROPY, MIA_ATTACK_LOSS,
                                MIA_ATTACK_SALEM};
    mia_attack_opts o;
    mia_attack_opts_init(&o);
    o.salem_max_epochs = 2;
    for (int k = 0; k < 4; k++) {
        for (long fail = 1;; fail++) {
            int64_t live = mia__alloc_live();
            mia__alloc_fail_after(fail, 0);
            mia_attack *a = NULL;
            mia_attack_result *r = NULL;
            mia_status s = mia_attack_fit(&a, kinds[k], &m, &nn, &o);
            if (s == MIA_OK) s = mia_attack_evaluate(&r, a, &m, &nn);
            long injected = mia__alloc_injected();
            mia__alloc_fail_after(0, 0);
            if (s != MIA_OK) {
                assert_int_equal(s, MIA_ERR_NOMEM);
                assert_null(r);
            }
            mia_attack_result_free(r);
            mia_attack_free(a);
            assert_int_equal(mia__alloc_live(), live);
            if (!injected) {
                assert_int_equal(s, MIA_OK);
                break;
            }
        }
    }
    free(l);
    free(pm);
    free(pn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attacks__entropy_matches_paper_torch),
        cmocka_unit_test(test_attacks__entropy_theta_equals_linspace_scan),
        cmocka_unit_test(test_attacks__loss_matches_bruteforce_youden),
        cmocka_unit_test(test_attacks__refuses_target_scores),
        cmocka_unit_test(test_attacks__rejects_bad_input),
        cmocka_unit_test(test_attacks__salem_rejects_bad_k),
        cmocka_unit_test(test_attacks__salem_matches_torch),
        cmocka_unit_test(test_attacks__salem_separates_and_is_deterministic),
        cmocka_unit_test(test_attacks__alloc_failures_are_clean),
    };
    return cmocka_run_group_tests_name("attacks", tests, NULL, NULL);
}
