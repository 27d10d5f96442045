/*
 * Metrics of an attack on (members, one non-member set): counts, precision/recall/FPR,
 * accuracy, AUROC, AUPR, FPR@95%TPR, MMPS, TPR at fixed FPR with Clopper-Pearson intervals.
 * The beta quantile is ours: regularised incomplete beta by Lentz's continued fraction,
 * inverted by bisection.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "attack/attack-impl.h"

static double log_beta(double a, double b)
{
    int s;
    return lgamma_r(a, &s) + lgamma_r(b, &s) - lgamma_r(a + b, &s);
}

/* Continued fraction of I_x(a, b) (modified Lentz), valid for x < (a + 1) / (a + b + 2). */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 100000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-16) break;
    }
    return h;
}

/* Regularised incomplete beta I_x(a, b). */
static double ibeta(double a, double b, double x)
{
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    double lfront = a * log(x) + b * log1p(-x) - log_beta(a, b);
    if (x < (a + 1.0) / (a + b + 2.0)) return exp(lfront) * betacf(a, b, x) / a;
    return 1.0 - exp(lfront) * betacf(b, a, 1.0 - x) / b;
}

mia_status mia_beta_quantile(double p, double a, double b, double *x)
{
    mia__error_begin();
    if (x) *x = NAN;
    MIA_CHECK_ARG(x != NULL, "x: NULL output");
    MIA_CHECK_ARG(a > 0.0 && isfinite(a), "a: must be finite and > 0 (got %g)", a);
    MIA_CHECK_ARG(b > 0.0 && isfinite(b), "b: must be finite and > 0 (got %g)", b);
    MIA_CHECK_ARG(p >= 0.0 && p <= 1.0, "p: must be in [0, 1] (got %g)", p);
    if (p == 0.0) { *x = 0.0; return MIA_OK; }
    if (p == 1.0) { *x = 1.0; return MIA_OK; }
    /* I_x is increasing in x: bisect until the bracket stops shrinking (~1 ulp). */
    double lo = 0.0, hi = 1.0;
    for (int it = 0; it < 2000; it++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (ibeta(a, b, mid) < p) lo = mid;
        else hi = mid;
    }
    *x = 0.5 * (lo + hi);
    return MIA_OK;
}

mia_status mia_clopper_pearson(int64_t k, int64_t n, double alpha, double *lo, double *hi)
{
    mia__error_begin();
    if (lo) *lo = NAN;
    if (hi) *hi = NAN;
    MIA_CHECK_ARG(lo != NULL && hi != NULL, "lo/hi: NULL output");
    MIA_CHECK_ARG(n >= 1, "n: must be >= 1 (got %lld)", (long long)n);
    MIA_CHECK_ARG(k >= 0 && k <= n, "k: must be in [0, n] (got %lld, n %lld)", (long long)k,
                  (long long)n);
    MIA_CHECK_ARG(alpha > 0.0 && alpha < 1.0, "alpha: must be in (0, 1) (got %g)", alpha);
    double l = 0.0, h = 1.0;
    if (k > 0) MIA_TRY(mia_beta_quantile(alpha / 2.0, (double)k, (double)(n - k + 1), &l));
    if (k < n) MIA_TRY(mia_beta_quantile(1.0 - alpha / 2.0, (double)(k + 1), (double)(n - k), &h));
    *lo = l;
    *hi = h;
    return MIA_OK;
}

/* ---- evaluation ---------------------------------------------------------------------------- */

static const double tpr_targets[MIA_N_TPR_AT_FPR] = {0.1, 0.01, 0.001, 1e-4, 1e-5};

void mia_attack_result_free(mia_attack_result *r)
{
    if (!r) return;
    mia__free(r->roc_thr);
    mia__free(r->roc_tp);
    mia__free(r->roc_fp);
    mia__free(r->score_mem);
    mia__free(r->score_non);
    if (r->max_mem != r->score_mem) mia__free(r->max_mem);
    if (r->max_non != r->score_non) mia__free(r->max_non);
    mia__free(r->pred_mem);
    mia__free(r->pred_non);
    mia__free(r);
}

/* Scores, predictions and max scores of one set. */
static mia_status eval_set(const mia_attack *a, const char *name, const mia_score_set *x,
                           float **score, float **maxs, uint8_t **pred)
{
    size_t n = (size_t)x->n;
    *score = mia__malloc(n * sizeof **score);
    *maxs = mia__malloc(n * sizeof **maxs);
    *pred = mia__malloc(n);
    if (!*score || !*maxs || !*pred)
        return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory for %zu scores", name, n);
    return mia__attack_scores_max(a, name, x, *score, *pred, *maxs);
}

/* Mean max score of the predicted members (m1) and non-members (m0), branch-free: the sums
 * are accumulated in the same sequential order as a branching loop would (s1 adds exact zeros
 * for the others), so the results are identical. */
static void mmps(const float *maxs, const uint8_t *pred, int64_t n, double *m1, double *m0)
{
    double s1 = 0.0, s0 = 0.0;
    int64_t c1 = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = (double)maxs[i], w = pred[i] ? v : 0.0;
        s1 += w;
        s0 += v - w;
        c1 += pred[i];
    }
    int64_t c0 = n - c1;
    *m1 = c1 ? s1 / (double)c1 : 0.0;
    *m0 = c0 ? s0 / (double)c0 : 0.0;
}

/* The threshold attack on probabilities: scores (= max scores, shared), predictions, sort keys
 * and their counts in one pass per set, then the ROC from the sorted keys. */
static mia_status eval_threshold(const mia_attack *a, mia_attack_result *r,
                                 const mia_score_set *mem, const mia_score_set *non,
                                 mia__roc *roc)
{
    const int64_t nm = mem->n, nn = non->n;
    r->score_mem = mia__malloc((size_t)nm * sizeof *r->score_mem);
    r->score_non = mia__malloc((size_t)nn * sizeof *r->score_non);
    r->pred_mem = mia__malloc((size_t)nm);
    r->pred_non = mia__malloc((size_t)nn);
    uint32_t *k = mia__malloc((size_t)(nm + nn) * sizeof *k);
    uint32_t *tmp = mia__malloc((size_t)(nm > nn ? nm : nn) * sizeof *tmp);
    mia__khist *h = mia__malloc(2 * sizeof *h);
    mia_status s = MIA_OK;
    if (!r->score_mem || !r->score_non || !r->pred_mem || !r->pred_non || !k || !tmp || !h)
        s = MIA_ERROR(MIA_ERR_NOMEM, "threshold attack: out of memory for %lld scores",
                      (long long)(nm + nn));
    if (s == MIA_OK) {
        r->max_mem = r->score_mem;
        r->max_non = r->score_non;
        mia__khist_init(&h[0]);
        mia__khist_init(&h[1]);
        s = mia__threshold_eval(a, "members", mem, r->score_mem, r->pred_mem, k, &h[0]);
    }
    if (s == MIA_OK)
        s = mia__threshold_eval(a, "non_members", non, r->score_non, r->pred_non, k + nm, &h[1]);
    if (s == MIA_OK) {
        mia__radix_sort_hist(k, tmp, nm, &h[0]);
        mia__radix_sort_hist(k + nm, tmp, nn, &h[1]);
        mia__free(tmp);
        tmp = NULL;
        s = mia__roc_build_sorted(roc, k, nm, k + nm, nn);
    }
    mia__free(k);
    mia__free(tmp);
    mia__free(h);
    return s;
}

mia_status mia_attack_evaluate(mia_attack_result **out, const mia_attack *a,
                               const mia_score_set *members, const mia_score_set *non_members)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(out != NULL, "out: NULL");
    MIA_CHECK_ARG(a != NULL, "attack: NULL");
    bool labels = a->kind == MIA_ATTACK_LOSS;
    MIA_TRY(mia__check_set("members", members, labels));
    MIA_TRY(mia__check_set("non_members", non_members, labels));
    if (members->n_classes != non_members->n_classes)
        return MIA_ERROR(MIA_ERR_INVALID, "non_members: n_classes %lld differs from members' %lld",
                         (long long)non_members->n_classes, (long long)members->n_classes);

    mia_attack_result *r = mia__calloc(1, sizeof *r);
    if (!r) return MIA_ERROR(MIA_ERR_NOMEM, "attack result: out of memory");
    r->kind = a->kind;
    r->n_mem = members->n;
    r->n_non = non_members->n;
    mia__roc roc = {0};
    mia_score_set vm, vn;
    float *bm = NULL, *bn = NULL;
    mia_status s = mia__input_view(a, "members", members, &vm, &bm);
    if (s == MIA_OK) s = mia__input_view(a, "non_members", non_members, &vn, &bn);
    if (s == MIA_OK && a->kind == MIA_ATTACK_THRESHOLD && !a->logits) {
        s = eval_threshold(a, r, &vm, &vn, &roc);
    } else {
        if (s == MIA_OK)
            s = eval_set(a, "members", &vm, &r->score_mem, &r->max_mem, &r->pred_mem);
        if (s == MIA_OK)
            s = eval_set(a, "non_members", &vn, &r->score_non, &r->max_non, &r->pred_non);
        if (s == MIA_OK)
            s = mia__roc_build(&roc, r->score_mem, r->n_mem, r->score_non, r->n_non);
    }
    mia__free(bm);
    mia__free(bn);
    if (s != MIA_OK) {
        mia_attack_result_free(r);
        return s;
    }
    /* The result takes the ROC arrays (slot 0 is the origin); trim them when ties left slack. */
    r->roc_n = roc.n + 1;
    r->roc_thr = roc.thr_base;
    r->roc_tp = roc.tp_base;
    r->roc_fp = roc.fp_base;
    if (2 * r->roc_n < r->n_mem + r->n_non) {
        float *t = mia__realloc(r->roc_thr, (size_t)r->roc_n * sizeof *t);
        if (t) r->roc_thr = t;
        int64_t *p = mia__realloc(r->roc_tp, (size_t)r->roc_n * sizeof *p);
        if (p) r->roc_tp = p;
        p = mia__realloc(r->roc_fp, (size_t)r->roc_n * sizeof *p);
        if (p) r->roc_fp = p;
    }
    roc.thr = r->roc_thr + 1;
    roc.tp = r->roc_tp + 1;
    roc.fp = r->roc_fp + 1;
    roc.thr_base = NULL;
    roc.tp_base = roc.fp_base = NULL;

    mia_attack_metrics *m = &r->m;
    m->n_members = r->n_mem;
    m->n_non_members = r->n_non;
    for (int64_t i = 0; i < r->n_mem; i++) m->tp += r->pred_mem[i];
    for (int64_t i = 0; i < r->n_non; i++) m->fp += r->pred_non[i];
    m->fn = r->n_mem - m->tp;
    m->tn = r->n_non - m->fp;
    m->precision = m->tp ? (double)m->tp / (double)(m->tp + m->fp) : 0.0;
    m->recall = (double)m->tp / (double)r->n_mem;
    m->fpr = 1.0 - (double)m->tn / (double)r->n_non;
    m->accuracy = (double)(m->tp + m->tn) / (double)(r->n_mem + r->n_non);
    m->balanced_accuracy = 0.5 * (m->recall + (double)m->tn / (double)r->n_non);
    m->auroc = mia__roc_auroc(&roc);
    m->aupr = mia__roc_aupr(&roc);
    m->fpr_at_95_tpr = mia__roc_fpr_at_tpr(&roc, 0.95);
    mmps(r->max_mem, r->pred_mem, r->n_mem, &m->tp_mmps, &m->fn_mmps);
    mmps(r->max_non, r->pred_non, r->n_non, &m->fp_mmps, &m->tn_mmps);
    for (int t = 0; t < MIA_N_TPR_AT_FPR; t++)
        mia__roc_tpr_at_fpr(&roc, tpr_targets[t], &m->tpr_at_fpr[t]);
    mia__roc_free(&roc);
    *out = r;
    return MIA_OK;
}

const mia_attack_metrics *mia_attack_result_metrics(const mia_attack_result *r)
{
    return r ? &r->m : NULL;
}

mia_attack_kind mia_attack_result_kind(const mia_attack_result *r)
{
    return r ? r->kind : MIA_ATTACK_THRESHOLD;
}

void mia_attack_result_roc(const mia_attack_result *r, int64_t *n_points, const float **threshold,
                           const int64_t **tp, const int64_t **fp)
{
    if (n_points) *n_points = r ? r->roc_n : 0;
    if (threshold) *threshold = r ? r->roc_thr : NULL;
    if (tp) *tp = r ? r->roc_tp : NULL;
    if (fp) *fp = r ? r->roc_fp : NULL;
}

void mia_attack_result_samples(const mia_attack_result *r, bool member, int64_t *n,
                               const float **score, const uint8_t **pred, const float **max_score)
{
    if (n) *n = r ? (member ? r->n_mem : r->n_non) : 0;
    if (score) *score = r ? (member ? r->score_mem : r->score_non) : NULL;
    if (pred) *pred = r ? (member ? r->pred_mem : r->pred_non) : NULL;
    if (max_score) *max_score = r ? (member ? r->max_mem : r->max_non) : NULL;
}
