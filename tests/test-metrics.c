/* Metrics: ROC/AUROC/AUPR/FPR@95%TPR/Youden vs sklearn fixtures, beta quantile and
 * Clopper-Pearson vs scipy, TPR at fixed FPR (hand-computed, null and positive tests). */
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
#include <mia/attack.h>

typedef struct fcase {
    float *pos, *neg;
    int64_t np, nn;
    double auroc, aupr, fpr95, tau;
    int64_t roc_n; /* incl. origin */
    float *thr;
    int64_t *tp, *fp;
} fcase;

static FILE *open_fixture(const char *name)
{
    const char *dir = getenv("MIA_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/metrics/%s", dir ? dir : "tests/data", name);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open fixture %s", path);
    return f;
}

static void skip_comments(FILE *f)
{
    int c;
    while ((c = fgetc(f)) == '#' || c == '\n')
        if (c == '#')
            while ((c = fgetc(f)) != '\n' && c != EOF) {}
    if (c != EOF) ungetc(c, f);
}

static void load_case(const char *name, fcase *c)
{
    char file[256], key[32];
    snprintf(file, sizeof file, "%s.txt", name);
    FILE *f = open_fixture(file);
    memset(c, 0, sizeof *c);
    skip_comments(f);
    assert_int_equal(fscanf(f, "%31s %" SCNd64, key, &c->np), 2);
    c->pos = malloc((size_t)c->np * sizeof *c->pos);
    for (int64_t i = 0; i < c->np; i++) assert_int_equal(fscanf(f, "%f", &c->pos[i]), 1);
    assert_int_equal(fscanf(f, "%31s %" SCNd64, key, &c->nn), 2);
    c->neg = malloc((size_t)c->nn * sizeof *c->neg);
    for (int64_t i = 0; i < c->nn; i++) assert_int_equal(fscanf(f, "%f", &c->neg[i]), 1);
    assert_int_equal(fscanf(f, " auroc %lf aupr %lf fpr95 %lf tau %lf roc %" SCNd64, &c->auroc,
                            &c->aupr, &c->fpr95, &c->tau, &c->roc_n), 5);
    c->thr = malloc((size_t)c->roc_n * sizeof *c->thr);
    c->tp = malloc((size_t)c->roc_n * sizeof *c->tp);
    c->fp = malloc((size_t)c->roc_n * sizeof *c->fp);
    for (int64_t k = 1; k < c->roc_n; k++)
        assert_int_equal(fscanf(f, "%f %" SCNd64 " %" SCNd64, &c->thr[k], &c->tp[k], &c->fp[k]), 3);
    fclose(f);
}

static void free_case(fcase *c)
{
    free(c->pos);
    free(c->neg);
    free(c->thr);
    free(c->tp);
    free(c->fp);
}

static const char *const cases[] = {"random", "tied", "n1", "n1-reversed", "all-equal",
                                     "separated", "few-distinct"};
#define N_CASES (sizeof cases / sizeof *cases)

static void test_metrics__roc_matches_sklearn(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CASES; i++) {
        fcase c;
        load_case(cases[i], &c);
        mia__roc r;
        assert_int_equal(mia__roc_build(&r, c.pos, c.np, c.neg, c.nn), MIA_OK);
        assert_int_equal(r.n + 1, c.roc_n);
        for (int64_t k = 1; k < c.roc_n; k++) {
            assert_true(r.thr[k - 1] == c.thr[k]);
            assert_int_equal(r.tp[k - 1], c.tp[k]);
            assert_int_equal(r.fp[k - 1], c.fp[k]);
        }
        check_close(mia__roc_auroc(&r), c.auroc, 1e-12);
        check_close(mia__roc_aupr(&r), c.aupr, 1e-12);
        assert_true(mia__roc_fpr_at_tpr(&r, 0.95) == c.fpr95);
        double tau = mia__roc_youden(&r);
        if (tau != c.tau) fail_msg("%s: youden tau %.17g, sklearn %.17g", cases[i], tau, c.tau);
        mia__roc_free(&r);
        free_case(&c);
    }
}

/* The public path: a 1-class "probability" matrix whose max score is the fixture score. */
static void test_metrics__evaluate_matches_sklearn(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CASES; i++) {
        fcase c;
        load_case(cases[i], &c);
        bool nonneg = true;
        for (int64_t k = 0; k < c.np; k++) nonneg = nonneg && c.pos[k] >= 0;
        for (int64_t k = 0; k < c.nn; k++) nonneg = nonneg && c.neg[k] >= 0;
        if (!nonneg) {
            free_case(&c);
            continue;
        }
        mia_score_set m = {c.pos, NULL, c.np, 1}, n = {c.neg, NULL, c.nn, 1};
        mia_attack *a = NULL;
        assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_THRESHOLD, &m, &n, NULL), MIA_OK);
        assert_true(mia_attack_threshold(a) == c.tau);
        mia_attack_result *res = NULL;
        assert_int_equal(mia_attack_evaluate(&res, a, &m, &n), MIA_OK);
        const mia_attack_metrics *mt = mia_attack_result_metrics(res);
        int64_t tp = 0, fp = 0;
        double tps = 0, fps = 0, fns = 0, tns = 0;
        for (int64_t k = 0; k < c.np; k++) {
            if ((double)c.pos[k] > c.tau) { tp++; tps += c.pos[k]; }
            else fns += c.pos[k];
        }
        for (int64_t k = 0; k < c.nn; k++) {
            if ((double)c.neg[k] > c.tau) { fp++; fps += c.neg[k]; }
            else tns += c.neg[k];
        }
        assert_int_equal(mt->tp, tp);
        assert_int_equal(mt->fp, fp);
        assert_int_equal(mt->fn, c.np - tp);
        assert_int_equal(mt->tn, c.nn - fp);
        check_close(mt->precision, tp ? (double)tp / (double)(tp + fp) : 0.0, 1e-15);
        check_close(mt->recall, (double)tp / (double)c.np, 1e-15);
        check_close(mt->fpr, (double)fp / (double)c.nn, 1e-15);
        check_close(mt->accuracy, (double)(tp + c.nn - fp) / (double)(c.np + c.nn), 1e-15);
        check_close(mt->tp_mmps, tp ? tps / (double)tp : 0.0, 1e-12);
        check_close(mt->fn_mmps, c.np - tp ? fns / (double)(c.np - tp) : 0.0, 1e-12);
        check_close(mt->fp_mmps, fp ? fps / (double)fp : 0.0, 1e-12);
        check_close(mt->tn_mmps, c.nn - fp ? tns / (double)(c.nn - fp) : 0.0, 1e-12);
        check_close(mt->auroc, c.auroc, 1e-12);
        check_close(mt->aupr, c.aupr, 1e-12);
        assert_true(mt->fpr_at_95_tpr == c.fpr95);
        int64_t rn;
        const float *thr;
        const int64_t *rtp, *rfp;
        mia_attack_result_roc(res, &rn, &thr, &rtp, &rfp);
        assert_int_equal(rn, c.roc_n);
        assert_true(isinf(thr[0]) && rtp[0] == 0 && rfp[0] == 0);
        for (int64_t k = 1; k < rn; k++) {
            assert_true(thr[k] == c.thr[k]);
            assert_int_equal(rtp[k], c.tp[k]);
            assert_int_equal(rfp[k], c.fp[k]);
        }
        mia_attack_result_free(res);
        mia_attack_free(a);
        free_case(&c);
    }
}

static void test_metrics__precision_zero_when_tp_zero(void **state)
{
    (void)state;
    float sm[4] = {0.9f, 0.95f, 0.97f, 0.99f}, sn[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    mia_score_set m = {sm, NULL, 4, 1}, n = {sn, NULL, 4, 1};
    mia_attack *a = NULL;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_THRESHOLD, &m, &n, NULL), MIA_OK);
    assert_true(mia_attack_threshold(a) == (double)0.9f); /* Youden: tau = 0.9, strict > */
    /* target: members all low, non-members high -> TP = 0, FP = 4 */
    mia_score_set tm = {sn, NULL, 4, 1}, tn = {sm, NULL, 4, 1};
    mia_attack_result *r = NULL;
    assert_int_equal(mia_attack_evaluate(&r, a, &tm, &tn), MIA_OK);
    const mia_attack_metrics *mt = mia_attack_result_metrics(r);
    assert_int_equal(mt->tp, 0);
    assert_int_equal(mt->fp, 3); /* 0.9 itself is a tie: non-member */
    assert_true(mt->precision == 0.0);
    assert_true(mt->tp_mmps == 0.0);
    mia_attack_result_free(r);
    mia_attack_free(a);
}

static void test_metrics__beta_quantile_matches_scipy(void **state)
{
    (void)state;
    FILE *f = open_fixture("beta.txt");
    skip_comments(f);
    double p, a, b, x;
    int n = 0;
    while (fscanf(f, "%lf %lf %lf %lf", &p, &a, &b, &x) == 4) {
        double got;
        assert_int_equal(mia_beta_quantile(p, a, b, &got), MIA_OK);
        if (fabs(got - x) > 1e-10 * fmax(fabs(x), 1e-300) && fabs(got - x) > 1e-300)
            fail_msg("beta.ppf(%g, %g, %g): got %.17g, scipy %.17g", p, a, b, got, x);
        n++;
    }
    fclose(f);
    assert_true(n >= 30);
}

static void test_metrics__clopper_pearson_matches_scipy(void **state)
{
    (void)state;
    FILE *f = open_fixture("clopper-pearson.txt");
    skip_comments(f);
    long long k, n;
    double lo, hi;
    int cnt = 0;
    while (fscanf(f, "%lld %lld %lf %lf", &k, &n, &lo, &hi) == 4) {
        double l, h;
        assert_int_equal(mia_clopper_pearson(k, n, 0.05, &l, &h), MIA_OK);
        check_close(l, lo, 1e-10 * fmax(lo, 1e-12));
        check_close(h, hi, 1e-10 * fmax(hi, 1e-12));
        cnt++;
    }
    fclose(f);
    assert_true(cnt >= 9);
}

static void test_metrics__beta_rejects_bad_args(void **state)
{
    (void)state;
    double x = 0.0, lo = 0.0, hi = 0.0;
    assert_int_equal(mia_beta_quantile(0.5, 0.0, 1.0, &x), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "a:"));
    assert_true(isnan(x));
    assert_int_equal(mia_beta_quantile(1.5, 1.0, 1.0, &x), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "p:"));
    assert_int_equal(mia_clopper_pearson(5, 4, 0.05, &lo, &hi), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "k:"));
    assert_true(isnan(lo) && isnan(hi));
    assert_int_equal(mia_clopper_pearson(0, 0, 0.05, &lo, &hi), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "n:"));
}

/* Hand-computed: N = 10 non-members, so 10% FPR allows fp <= 1 and 1% is not resolvable. */
static void test_metrics__tpr_at_fpr_hand_computed(void **state)
{
    (void)state;
    float pos[5] = {0.9f, 0.8f, 0.7f, 0.35f, 0.2f};
    float neg[10] = {0.85f, 0.6f, 0.5f, 0.45f, 0.4f, 0.3f, 0.25f, 0.15f, 0.1f, 0.05f};
    mia__roc r;
    assert_int_equal(mia__roc_build(&r, pos, 5, neg, 10), MIA_OK);
    mia_tpr_at_fpr q;
    mia__roc_tpr_at_fpr(&r, 0.1, &q);
    assert_true(q.resolvable);
    assert_int_equal(q.tp, 3); /* points 0.9 (1,0) 0.85 (1,1) 0.8 (2,1) 0.7 (3,1) 0.6 (3,2) */
    check_close(q.tpr, 0.6, 1e-15);
    check_close(q.fpr, 0.1, 1e-15);
    assert_int_equal(q.n_members, 5);
    assert_int_equal(q.n_non_members, 10);
    double lo, hi;
    assert_int_equal(mia_clopper_pearson(3, 5, 0.05, &lo, &hi), MIA_OK);
    assert_true(q.ci_low == lo && q.ci_high == hi);
    mia__roc_tpr_at_fpr(&r, 0.01, &q);
    assert_false(q.resolvable);
    assert_true(isnan(q.tpr) && isnan(q.ci_low) && isnan(q.ci_high));
    /* AUROC by hand: pairs (pos > neg) + 0.5 ties over 50 */
    int wins = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 10; j++) wins += pos[i] > neg[j];
    check_close(mia__roc_auroc(&r), wins / 50.0, 1e-15);
    mia__roc_free(&r);
}

static float *random_scores(mia_rng *g, int64_t n, double mean, double sd)
{
    float *s = malloc((size_t)n * sizeof *s);
    for (int64_t i = 0; i < n; i++) {
        double v = mean + sd * mia__rng_normal(g);
        s[i] = (float)(1.0 / (1.0 + exp(-v))); /* a probability-like score in (0, 1) */
    }
    return s;
}

/* Null test (B16): membership independent of the score -> TPR at each FPR stays within the
 * FPR's own sampling interval: the reported Clopper-Pearson interval of the TPR (binomial in
 * the members) overlaps the Clopper-Pearson interval of the achieved FPR (binomial in the
 * non-members). The TPR's interval alone would undercover, since the threshold is itself
 * estimated from the non-members. Two overlapping 95% intervals: >= 95% of 60 cases. */
static void test_metrics__null_tpr_within_interval(void **state)
{
    (void)state;
    int covered = 0, total = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        mia_rng g;
        mia__rng_init(&g, seed, MIA_STREAM_ATTACK);
        const int64_t n = 4000;
        float *s = random_scores(&g, 2 * n, 0.0, 1.0);
        int64_t *idx = malloc((size_t)(2 * n) * sizeof *idx);
        for (int64_t i = 0; i < 2 * n; i++) idx[i] = i;
        mia__rng_shuffle(&g, idx, 2 * n); /* shuffled membership labels */
        float *pos = malloc((size_t)n * sizeof *pos), *neg = malloc((size_t)n * sizeof *neg);
        for (int64_t i = 0; i < n; i++) {
            pos[i] = s[idx[i]];
            neg[i] = s[idx[n + i]];
        }
        mia_score_set m = {pos, NULL, n, 1}, nn = {neg, NULL, n, 1};
        mia_attack *a = NULL;
        mia_attack_result *r = NULL;
        assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_THRESHOLD, &m, &nn, NULL), MIA_OK);
        assert_int_equal(mia_attack_evaluate(&r, a, &m, &nn), MIA_OK);
        const mia_attack_metrics *mt = mia_attack_result_metrics(r);
        for (int t = 0; t < 3; t++) {
            const mia_tpr_at_fpr *q = &mt->tpr_at_fpr[t];
            assert_true(q->resolvable);
            total++;
            double flo, fhi;
            assert_int_equal(mia_clopper_pearson((int64_t)llround(q->fpr * (double)n), n, 0.05,
                                                 &flo, &fhi), MIA_OK);
            covered += q->ci_low <= fhi && flo <= q->ci_high;
        }
        assert_false(mt->tpr_at_fpr[3].resolvable); /* 1e-4 < 1/4000 */
        check_close(mt->auroc, 0.5, 0.05);
        mia_attack_result_free(r);
        mia_attack_free(a);
        free(s);
        free(idx);
        free(pos);
        free(neg);
    }
    if (covered < 57) fail_msg("null test: only %d of %d intervals cover the FPR", covered, total);
}

/* Positive test (B16): well-separated scores -> TPR at 1% FPR far above 1%. */
static void test_metrics__separated_high_tpr_at_low_fpr(void **state)
{
    (void)state;
    mia_rng g;
    mia__rng_init(&g, 99, MIA_STREAM_ATTACK);
    const int64_t n = 5000;
    float *pos = random_scores(&g, n, 4.0, 1.0), *neg = random_scores(&g, n, -4.0, 1.0);
    mia_score_set m = {pos, NULL, n, 1}, nn = {neg, NULL, n, 1};
    mia_attack *a = NULL;
    mia_attack_result *r = NULL;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_THRESHOLD, &m, &nn, NULL), MIA_OK);
    assert_int_equal(mia_attack_evaluate(&r, a, &m, &nn), MIA_OK);
    const mia_attack_metrics *mt = mia_attack_result_metrics(r);
    assert_true(mt->tpr_at_fpr[1].tpr > 0.9);
    assert_true(mt->tpr_at_fpr[1].ci_low > 0.5);
    assert_true(mt->tpr_at_fpr[2].resolvable && mt->tpr_at_fpr[2].tpr > 0.5);
    assert_true(mt->auroc > 0.99);
    mia_attack_result_free(r);
    mia_attack_free(a);
    free(pos);
    free(neg);
}

static void test_metrics__radix_sort_orders_floats(void **state)
{
    (void)state;
    mia_rng g;
    mia__rng_init(&g, 5, MIA_STREAM_ATTACK);
    enum { N = 5000 };
    uint32_t *k = malloc(N * sizeof *k), *tmp = malloc(N * sizeof *tmp);
    float *v = malloc(N * sizeof *v);
    for (int i = 0; i < N; i++) {
        float x = (float)(mia__rng_normal(&g) * pow(10.0, (double)(int)mia__rng_below(&g, 20) - 10));
        if (i % 97 == 0) x = 0.0f;
        if (i % 89 == 0) x = -0.0f;
        if (i % 83 == 0) x = INFINITY;
        if (i % 79 == 0) x = -INFINITY;
        v[i] = x;
        k[i] = mia__f32_key(x);
    }
    mia__radix_sort_u32(k, tmp, N);
    for (int i = 1; i < N; i++) assert_true(mia__key_f32(k[i - 1]) <= mia__key_f32(k[i]));
    /* the multiset is preserved: count of each value class */
    int pinf = 0;
    for (int i = 0; i < N; i++) pinf += mia__key_f32(k[i]) == INFINITY;
    int expect = 0;
    for (int i = 0; i < N; i++) expect += v[i] == INFINITY;
    assert_int_equal(pinf, expect);
    free(k);
    free(tmp);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics__roc_matches_sklearn),
        cmocka_unit_test(test_metrics__evaluate_matches_sklearn),
        cmocka_unit_test(test_metrics__precision_zero_when_tp_zero),
        cmocka_unit_test(test_metrics__beta_quantile_matches_scipy),
        cmocka_unit_test(test_metrics__clopper_pearson_matches_scipy),
        cmocka_unit_test(test_metrics__beta_rejects_bad_args),
        cmocka_unit_test(test_metrics__tpr_at_fpr_hand_computed),
        cmocka_unit_test(test_metrics__null_tpr_within_interval),
        cmocka_unit_test(test_metrics__separated_high_tpr_at_low_fpr),
        cmocka_unit_test(test_metrics__radix_sort_orders_floats),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
