/* Attacks: the entropy attack vs the paper's torch code (fixture) and vs its literal
 * 10,000-point scan; the LOSS attack vs a brute-force Youden oracle; B14 refusal; error paths;
 * allocation-failure injection. */
#include <float.h>
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

/* Brute-force Youden oracle: J(t) = #{m >= t}/P - #{n >= t}/N over distinct scores, descending,
 * first maximum, origin (J = 0, threshold max + 1) first. */
static double youden_oracle(const float *sm, int64_t nm, const float *sn, int64_t nn)
{
    double best = 0.0, prev = INFINITY;
    float maxs = -INFINITY;
    for (int64_t i = 0; i < nm; i++) maxs = fmaxf(maxs, sm[i]);
    for (int64_t i = 0; i < nn; i++) maxs = fmaxf(maxs, sn[i]);
    double tau = (double)maxs + 1.0;
    for (;;) { /* next distinct threshold below prev */
        double t = -INFINITY;
        for (int64_t i = 0; i < nm; i++) if (sm[i] < prev && sm[i] > t) t = sm[i];
        for (int64_t i = 0; i < nn; i++) if (sn[i] < prev && sn[i] > t) t = sn[i];
        if (t == -INFINITY) break;
        int64_t tp = 0, fp = 0;
        for (int64_t i = 0; i < nm; i++) tp += sm[i] >= t;
        for (int64_t i = 0; i < nn; i++) fp += sn[i] >= t;
        double j = (double)tp / (double)nm - (double)fp / (double)nn;
        if (j > best + 1e-12) { best = j; tau = t; }
        prev = t;
    }
    return tau;
}

/* LOSS score -l: paper_exact = float32 log(clamp(p_y, eps, 1 - eps)) (rows sum to 1 here);
 * default = float64 log(p_y / sum p), rounded once. */
static float loss_score_oracle(const float *row, int64_t C, int32_t y, bool exact)
{
    if (exact) return logf(fminf(fmaxf(row[y], 1.1920929e-7f), 1.0f - 1.1920929e-7f));
    long double s = 0.0L;
    for (int64_t c = 0; c < C; c++) s += row[c];
    return (float)logl((long double)row[y] / s);
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
    for (int64_t i = 0; i < 20; i++) { /* saturated members: p_y within 2 ulps of 1 */
        for (int64_t c = 0; c < C; c++) pm[i * C + c] = 1e-8f * (float)(c + 1);
        pm[i * C + lm[i]] = i % 2 ? 1.0f : 0.99999994f;
    }
    mia_score_set m = {pm, lm, nm, C}, n = {pn, ln, nn, C};
    float *sm = malloc(nm * sizeof *sm), *sn = malloc(nn * sizeof *sn);
    uint8_t *pred = malloc(nm);
    float *score = malloc(nm * sizeof *score);
    for (int exact = 0; exact < 2; exact++) {
        mia_attack_opts o;
        mia_attack_opts_init(&o);
        o.paper_exact = exact;
        mia_attack *a = NULL;
        assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_LOSS, &m, &n, &o), MIA_OK);
        for (int64_t i = 0; i < nm; i++) sm[i] = loss_score_oracle(pm + i * C, C, lm[i], exact);
        for (int64_t i = 0; i < nn; i++) sn[i] = loss_score_oracle(pn + i * C, C, ln[i], exact);
        double tau = youden_oracle(sm, nm, sn, nn);
        assert_true(mia_attack_threshold(a) == tau);
        assert_int_equal(mia_attack_predict(a, &m, score, pred), MIA_OK);
        for (int64_t i = 0; i < nm; i++) {
            if (exact) assert_float_equal(score[i], sm[i], 1e-6);
            else assert_true(score[i] == sm[i]); /* correctly rounded float64 */
            assert_int_equal(pred[i], (double)score[i] > tau);
        }
        /* the paper's clamp ties the 20 saturated members; float64 keeps them apart */
        int64_t distinct = 0;
        for (int64_t i = 0; i < 20; i++) {
            bool seen = false;
            for (int64_t j = 0; j < i; j++) seen = seen || score[j] == score[i];
            distinct += !seen;
        }
        if (exact ? distinct != 1 : distinct < 2) fail_msg("%lld distinct", (long long)distinct);
        mia_attack_free(a);
    }
    free(lm); free(ln); free(pm); free(pn); free(sm); free(sn); free(pred); free(score);
}

/* Random logits [n, C] with the true class's margin drawn from [lo, hi) (long tails of very
 * confident rows, like a memorising model); labels = the boosted class. */
static float *logit_rows(mia_rng *g, int64_t n, int64_t C, double lo, double hi, int32_t *labels)
{
    float *z = malloc((size_t)(n * C) * sizeof *z);
    for (int64_t i = 0; i < n; i++) {
        int32_t y = (int32_t)mia__rng_below(g, (uint64_t)C);
        for (int64_t c = 0; c < C; c++) z[i * C + c] = (float)(2.0 * mia__rng_normal(g));
        z[i * C + y] += (float)(lo + (hi - lo) * mia__rng_uniform(g));
        labels[i] = y;
    }
    return z;
}

/* long double (64-bit mantissa) log-softmax of one row: log p_c = z_c - m - log1p(sum of the
 * other exp(z_d - m)); the max term is left out of the sum, or log(1 + 1e-13) would lose the
 * tail to the rounding of 1 + 1e-13 even in long double. */
static void lsm_oracle(const float *z, int64_t C, long double *lp)
{
    long double m = z[0], s = 0.0L;
    int64_t am = 0;
    for (int64_t c = 1; c < C; c++)
        if (z[c] > m) { m = z[c]; am = c; }
    for (int64_t c = 0; c < C; c++)
        if (c != am) s += expl((long double)z[c] - m);
    for (int64_t c = 0; c < C; c++) lp[c] = (long double)z[c] - m - log1pl(s);
}

/* Logit inputs: the threshold, LOSS and entropy features equal a long double log-softmax
 * oracle to float32 rounding, tau equals the brute-force Youden oracle on them, and the
 * decisions follow; where the float32 softmax saturates (p = 1.0f for most rows) the logit
 * features stay distinct. */
static void test_attacks__logit_features_match_log_softmax_oracle(void **state)
{
    (void)state;
    mia_rng g;
    mia__rng_init(&g, 11, MIA_STREAM_ATTACK);
    const int64_t C = 10, nm = 400, nn = 300;
    int32_t *lm = malloc(nm * sizeof *lm), *ln = malloc(nn * sizeof *ln);
    float *zm = logit_rows(&g, nm, C, 10.0, 60.0, lm), *zn = logit_rows(&g, nn, C, 0.0, 40.0, ln);
    mia_score_set m = {zm, lm, nm, C}, n = {zn, ln, nn, C};
    float *om = malloc(nm * sizeof *om), *on = malloc(nn * sizeof *on);
    float *score = malloc(nm * sizeof *score);
    uint8_t *pred = malloc(nm);
    long double lp[10];
    const mia_attack_kind kinds[3] = {MIA_ATTACK_THRESHOLD, MIA_ATTACK_LOSS, MIA_ATTACK_ENTROPY};
    for (int k = 0; k < 3; k++) {
        for (int64_t s = 0; s < 2; s++) {
            const float *z = s ? zn : zm;
            const int32_t *lab = s ? ln : lm;
            float *o = s ? on : om;
            for (int64_t i = 0; i < (s ? nn : nm); i++) {
                lsm_oracle(z + i * C, C, lp);
                long double v = lp[0], h = 0.0L;
                for (int64_t c = 0; c < C; c++) {
                    v = lp[c] > v ? lp[c] : v;
                    h -= expl(lp[c]) * lp[c];
                }
                o[i] = (float)(kinds[k] == MIA_ATTACK_THRESHOLD ? v
                               : kinds[k] == MIA_ATTACK_LOSS ? lp[lab[i]] : -h);
            }
        }
        mia_attack_opts o;
        mia_attack_opts_init(&o);
        o.input = MIA_INPUT_LOGITS;
        mia_attack *a = NULL;
        assert_int_equal(mia_attack_fit(&a, kinds[k], &m, &n, &o), MIA_OK);
        assert_int_equal(mia_attack_predict(a, &m, score, pred), MIA_OK);
        int64_t saturated = 0;
        for (int64_t i = 0; i < nm; i++) {
            /* float32 rounding of the same value, up to a float64-vs-long-double ulp */
            if (!(fabsf(score[i] - om[i]) <= 2e-7f * fabsf(om[i]) + 1e-37f))
                fail_msg("%s row %lld: %.9g vs oracle %.9g", mia_attack_kind_name(kinds[k]),
                         (long long)i, (double)score[i], (double)om[i]);
            saturated += om[i] > -6e-8f && om[i] < 0.0f; /* float32 softmax gives p = 1.0f */
        }
        if (kinds[k] != MIA_ATTACK_ENTROPY) {
            /* the first maximum of J on the oracle scores; the fitted tau must be the same
             * threshold up to the oracle's float32 rounding */
            for (int64_t i = 0; i < nn; i++) {
                lsm_oracle(zn + i * C, C, lp);
                long double v = lp[0];
                for (int64_t c = 0; c < C; c++) v = lp[c] > v ? lp[c] : v;
                on[i] = (float)(kinds[k] == MIA_ATTACK_THRESHOLD ? v : lp[ln[i]]);
            }
            float *sn = malloc(nn * sizeof *sn);
            uint8_t *pn = malloc(nn);
            assert_int_equal(mia_attack_predict(a, &n, sn, pn), MIA_OK);
            double tau = youden_oracle(score, nm, sn, nn); /* library features, oracle rule */
            assert_true(mia_attack_threshold(a) == tau);
            double tau_o = youden_oracle(om, nm, on, nn); /* oracle features, oracle rule */
            check_close(mia_attack_threshold(a), tau_o, 2e-7 * fabs(tau_o) + 1e-37);
            for (int64_t i = 0; i < nm; i++) assert_int_equal(pred[i], (double)score[i] > tau);
            free(sn);
            free(pn);
            assert_true(saturated > nm / 4);
        }
        /* paper_exact reads the same logits through a float32 softmax: saturated rows tie */
        o.paper_exact = true;
        mia_attack *e = NULL;
        assert_int_equal(mia_attack_fit(&e, kinds[k], &m, &n, &o), MIA_OK);
        float *se = malloc(nm * sizeof *se);
        assert_int_equal(mia_attack_predict(e, &m, se, pred), MIA_OK);
        int64_t ties_exact = 0, ties_full = 0;
        for (int64_t i = 1; i < nm; i++) {
            ties_exact += se[i] == se[0];
            ties_full += score[i] == score[0];
        }
        if (kinds[k] != MIA_ATTACK_ENTROPY && ties_exact < nm / 4)
            fail_msg("%s paper_exact: only %lld ties", mia_attack_kind_name(kinds[k]),
                     (long long)ties_exact);
        assert_true(ties_full <= 1);
        free(se);
        mia_attack_free(e);
        mia_attack_free(a);
    }
    free(lm); free(ln); free(zm); free(zn); free(om); free(on); free(score); free(pred);
}

/* Members with logit margins 40-50 and non-members with margins 20-30: a float32 softmax gives
 * p = 1.0f to every one of them, so the paper's threshold attack and its clamped LOSS cannot
 * separate them (AUROC 0.5); logit inputs separate them perfectly for the threshold, LOSS and
 * entropy attacks. (The float64 LOSS on the same probabilities also separates them: the other
 * classes' p ~ 1e-9 vs ~1e-18 survive in p_y / sum p.) */
static void test_attacks__logits_separate_saturated_softmax(void **state)
{
    (void)state;
    const int64_t C = 10, N = 200;
    float *zm = calloc((size_t)(N * C), sizeof *zm), *zn = calloc((size_t)(N * C), sizeof *zn);
    float *pm = malloc((size_t)(N * C) * sizeof *pm), *pn = malloc((size_t)(N * C) * sizeof *pn);
    int32_t *lab = calloc((size_t)N, sizeof *lab);
    for (int64_t i = 0; i < N; i++) {
        zm[i * C] = 40.0f + 10.0f * (float)i / (float)N;
        zn[i * C] = 20.0f + 10.0f * (float)i / (float)N;
        for (int64_t c = 0; c < C; c++) { /* float32 softmax, as torch computes it */
            double sm = 0.0, sn = 0.0;
            for (int64_t d = 0; d < C; d++) {
                sm += expf(zm[i * C + d] - zm[i * C]);
                sn += expf(zn[i * C + d] - zn[i * C]);
            }
            pm[i * C + c] = expf(zm[i * C + c] - zm[i * C]) / (float)sm;
            pn[i * C + c] = expf(zn[i * C + c] - zn[i * C]) / (float)sn;
        }
        assert_true(pm[i * C] == 1.0f && pn[i * C] == 1.0f);
    }
    const mia_attack_kind kinds[3] = {MIA_ATTACK_THRESHOLD, MIA_ATTACK_LOSS, MIA_ATTACK_ENTROPY};
    for (int k = 0; k < 3; k++)
        for (int mode = 0; mode < 3; mode++) { /* probs, probs paper_exact, logits */
            const bool logits = mode == 2;
            mia_score_set m = {logits ? zm : pm, lab, N, C}, n = {logits ? zn : pn, lab, N, C};
            mia_attack_opts o;
            mia_attack_opts_init(&o);
            o.input = logits ? MIA_INPUT_LOGITS : MIA_INPUT_PROBS;
            o.paper_exact = mode == 1;
            mia_attack *a = NULL;
            mia_attack_result *r = NULL;
            assert_int_equal(mia_attack_fit(&a, kinds[k], &m, &n, &o), MIA_OK);
            assert_int_equal(mia_attack_evaluate(&r, a, &m, &n), MIA_OK);
            const mia_attack_metrics *mt = mia_attack_result_metrics(r);
            if (logits) {
                check_close(mt->auroc, 1.0, 0.0);
                check_close(mt->tpr_at_fpr[1].tpr, 1.0, 0.0);
                /* tau is the lowest member's score and the rule is strict (score > tau). The
                 * entropy attack's decisions keep the paper's linear 10^4-point grid, whose
                 * first cell (H < max H / 9999) holds members and the most confident
                 * non-members alike: only its ROC is asserted. */
                if (kinds[k] != MIA_ATTACK_ENTROPY) {
                    assert_int_equal(mt->tp, N - 1);
                    assert_int_equal(mt->fp, 0);
                }
            } else if (kinds[k] == MIA_ATTACK_THRESHOLD ||
                       (kinds[k] == MIA_ATTACK_LOSS && mode == 1)) {
                /* max p and p_y are 1.0f everywhere (entropy keeps the other p_c ~ 1e-9) */
                check_close(mt->auroc, 0.5, 0.0);
                check_close(mt->tpr_at_fpr[1].tpr, 0.0, 0.0);
            }
            mia_attack_result_free(r);
            mia_attack_free(a);
        }
    free(zm); free(zn); free(pm); free(pn); free(lab);
}

static void test_attacks__rejects_bad_logits(void **state)
{
    (void)state;
    float z[6] = {1.0f, -2.0f, INFINITY, 0.0f, 3.0f, -1.0f};
    float ok[6] = {1.0f, -2.0f, 5.0f, 0.0f, 3e38f, -3e38f};
    int32_t lab[3] = {0, 1, 1};
    mia_score_set bad = {z, lab, 3, 2}, good = {ok, lab, 3, 2};
    mia_attack_opts o;
    mia_attack_opts_init(&o);
    o.input = MIA_INPUT_LOGITS;
    const mia_attack_kind kinds[4] = {MIA_ATTACK_THRESHOLD, MIA_ATTACK_LOSS, MIA_ATTACK_ENTROPY,
                                      MIA_ATTACK_SALEM};
    o.salem_k = 2;
    for (int k = 0; k < 4; k++)
        for (int exact = 0; exact < 2; exact++) {
            o.paper_exact = exact;
            mia_attack *a = (mia_attack *)0x1;
            assert_int_equal(mia_attack_fit(&a, kinds[k], &good, &bad, &o), MIA_ERR_NUMERIC);
            assert_null(a);
            if (!strstr(mia_last_error(), "non_members: logits[1][0] = inf"))
                fail_msg("%s: %s", mia_attack_kind_name(kinds[k]), mia_last_error());
        }
    o.paper_exact = false;
    mia_attack *a = NULL;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_LOSS, &good, &good, &o), MIA_OK);
    mia_attack_result *r = (mia_attack_result *)0x1;
    assert_int_equal(mia_attack_evaluate(&r, a, &good, &bad), MIA_ERR_NUMERIC);
    assert_null(r);
    assert_non_null(strstr(mia_last_error(), "non_members: logits[1][0]"));
    float sc[3];
    uint8_t pr[3];
    assert_int_equal(mia_attack_predict(a, &good, sc, pr), MIA_OK);
    assert_true(sc[2] == -FLT_MAX); /* log p_y = -6e38 saturates, stays finite */
    mia_attack_free(a);
    o.input = 7;
    a = (mia_attack *)0x1;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_LOSS, &good, &good, &o), MIA_ERR_INVALID);
    assert_null(a);
    assert_non_null(strstr(mia_last_error(), "opts.input"));
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
        cmocka_unit_test(test_attacks__logit_features_match_log_softmax_oracle),
        cmocka_unit_test(test_attacks__logits_separate_saturated_softmax),
        cmocka_unit_test(test_attacks__rejects_bad_logits),
        cmocka_unit_test(test_attacks__refuses_target_scores),
        cmocka_unit_test(test_attacks__rejects_bad_input),
        cmocka_unit_test(test_attacks__salem_rejects_bad_k),
        cmocka_unit_test(test_attacks__salem_matches_torch),
        cmocka_unit_test(test_attacks__salem_separates_and_is_deterministic),
        cmocka_unit_test(test_attacks__alloc_failures_are_clean),
    };
    return cmocka_run_group_tests_name("attacks", tests, NULL, NULL);
}
