/*
 * ROC construction and the curve metrics (spec §6): AUROC, the paper's AUPR, FPR@95%TPR,
 * TPR at fixed FPR with Clopper-Pearson intervals, and sklearn's Youden threshold.
 *
 * Scores are float32. Each class is radix-sorted on order-preserving 32-bit keys, then the two
 * sorted lists are merged from the top, grouping ties: one ROC point per distinct score, like
 * sklearn's _binary_clf_curve and torchmetrics' roc.
 */
#include <stdint.h>
#include <stdlib.h>

#include "attack/attack-impl.h"

__extension__ typedef unsigned __int128 mia_u128;

void mia__radix_sort_u32(uint32_t *keys, uint32_t *tmp, int64_t n)
{
    static const int shift[3] = {0, 11, 22};
    static const uint32_t mask[3] = {0x7ff, 0x7ff, 0x3ff};
    int64_t count[3][2048];
    memset(count, 0, sizeof count);
    for (int64_t i = 0; i < n; i++) {
        uint32_t k = keys[i];
        count[0][k & 0x7ff]++;
        count[1][(k >> 11) & 0x7ff]++;
        count[2][k >> 22]++;
    }
    uint32_t *src = keys, *dst = tmp;
    for (int p = 0; p < 3; p++) {
        int64_t *c = count[p];
        int nb = (int)mask[p] + 1;
        bool trivial = false;
        for (int b = 0; b < nb; b++)
            if (c[b] == n) trivial = true;
        if (trivial) continue; /* every key has the same digit: the pass would be a copy */
        int64_t sum = 0;
        for (int b = 0; b < nb; b++) {
            int64_t t = c[b];
            c[b] = sum;
            sum += t;
        }
        for (int64_t i = 0; i < n; i++) {
            uint32_t k = src[i];
            dst[c[(k >> shift[p]) & mask[p]]++] = k;
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != keys) memcpy(keys, src, (size_t)n * sizeof *keys);
}

void mia__roc_free(mia__roc *r)
{
    if (!r) return;
    mia__free(r->thr);
    mia__free(r->tp);
    mia__free(r->fp);
    memset(r, 0, sizeof *r);
}

mia_status mia__roc_build(mia__roc *r, const float *pos, int64_t np, const float *neg, int64_t nn)
{
    memset(r, 0, sizeof *r);
    int64_t n = np + nn;
    uint32_t *kp = mia__malloc((size_t)np * sizeof *kp);
    uint32_t *kn = mia__malloc((size_t)nn * sizeof *kn);
    uint32_t *tmp = mia__malloc((size_t)(np > nn ? np : nn) * sizeof *tmp);
    r->thr = mia__malloc((size_t)n * sizeof *r->thr);
    r->tp = mia__malloc((size_t)n * sizeof *r->tp);
    r->fp = mia__malloc((size_t)n * sizeof *r->fp);
    if (!kp || !kn || !tmp || !r->thr || !r->tp || !r->fp) {
        mia__free(kp);
        mia__free(kn);
        mia__free(tmp);
        mia__roc_free(r);
        return MIA_ERROR(MIA_ERR_NOMEM, "ROC of %lld scores: out of memory", (long long)n);
    }
    for (int64_t i = 0; i < np; i++) kp[i] = mia__f32_key(pos[i]);
    for (int64_t i = 0; i < nn; i++) kn[i] = mia__f32_key(neg[i]);
    mia__radix_sort_u32(kp, tmp, np);
    mia__radix_sort_u32(kn, tmp, nn);
    mia__free(tmp);

    /* Merge from the largest key down; each distinct key is one point. */
    int64_t i = np - 1, j = nn - 1, tp = 0, fp = 0, k = 0;
    while (i >= 0 || j >= 0) {
        uint32_t key;
        if (i < 0) key = kn[j];
        else if (j < 0) key = kp[i];
        else key = kp[i] > kn[j] ? kp[i] : kn[j];
        while (i >= 0 && kp[i] == key) { tp++; i--; }
        while (j >= 0 && kn[j] == key) { fp++; j--; }
        r->thr[k] = mia__key_f32(key);
        r->tp[k] = tp;
        r->fp[k] = fp;
        k++;
    }
    mia__free(kp);
    mia__free(kn);
    r->n = k;
    r->P = np;
    r->N = nn;
    return MIA_OK;
}

/* Trapezoid over (fp/N, tp/P) from the origin, accumulated exactly in integers:
 * area * 2PN = sum (fp_k - fp_{k-1}) * (tp_k + tp_{k-1}). */
double mia__roc_auroc(const mia__roc *r)
{
    mia_u128 acc = 0;
    int64_t ptp = 0, pfp = 0;
    for (int64_t k = 0; k < r->n; k++) {
        acc += (mia_u128)(uint64_t)(r->fp[k] - pfp) * (uint64_t)(r->tp[k] + ptp);
        ptp = r->tp[k];
        pfp = r->fp[k];
    }
    return (double)acc / (2.0 * (double)r->P * (double)r->N);
}

/* torchmetrics precision_recall_curve + auc(reorder=True): the points (0, 1), then every
 * distinct threshold from the highest down to the first one reaching full recall, in
 * ascending recall (ties: descending precision = descending threshold), trapezoid rule. */
double mia__roc_aupr(const mia__roc *r)
{
    double px = 0.0, py = 1.0, area = 0.0;
    for (int64_t k = 0; k < r->n; k++) {
        double x = (double)r->tp[k] / (double)r->P;
        double y = (double)r->tp[k] / (double)(r->tp[k] + r->fp[k]);
        area += (x - px) * (y + py) / 2.0;
        px = x;
        py = y;
        if (r->tp[k] == r->P) break;
    }
    return area;
}

double mia__roc_fpr_at_tpr(const mia__roc *r, double tpr)
{
    for (int64_t k = 0; k < r->n; k++)
        if ((double)r->tp[k] / (double)r->P >= tpr) return (double)r->fp[k] / (double)r->N;
    return 1.0;
}

void mia__roc_tpr_at_fpr(const mia__roc *r, double target, mia_tpr_at_fpr *out)
{
    memset(out, 0, sizeof *out);
    out->target_fpr = target;
    out->n_members = r->P;
    out->n_non_members = r->N;
    /* The smallest non-zero empirical FPR is 1/N: below it the operating point is unmeasurable. */
    out->resolvable = target * (double)r->N >= 1.0;
    if (!out->resolvable) {
        out->tpr = out->fpr = out->ci_low = out->ci_high = NAN;
        out->tp = 0;
        return;
    }
    int64_t tp = 0, fp = 0; /* the origin always qualifies */
    for (int64_t k = 0; k < r->n; k++) {
        if ((double)r->fp[k] / (double)r->N > target) break;
        tp = r->tp[k];
        fp = r->fp[k];
    }
    out->tp = tp;
    out->tpr = (double)tp / (double)r->P;
    out->fpr = (double)fp / (double)r->N;
    double lo = NAN, hi = NAN;
    (void)mia_clopper_pearson(tp, r->P, 0.05, &lo, &hi);
    out->ci_low = lo;
    out->ci_high = hi;
}

double mia__roc_youden(const mia__roc *r)
{
    /* sklearn roc_curve(drop_intermediate=True): keep the first and last points and every
     * point where the second difference of fps or tps is non-zero; then prepend the origin with
     * threshold thr[0] + 1 (sklearn < 1.3). tpr = tps / tps[-1], fpr = fps / fps[-1]. */
    const double P = (double)r->tp[r->n - 1], N = (double)r->fp[r->n - 1];
    double best_j = 0.0; /* the origin: tpr - fpr = 0 (both 0, or NaN when N == 0) */
    double tau = (double)r->thr[0] + 1.0;
    bool have = false;
    if (N > 0.0 && P > 0.0) have = true;
    if (!have) return tau;
    for (int64_t k = 0; k < r->n; k++) {
        if (k > 0 && k < r->n - 1 && r->n > 2) {
            int64_t dfp = r->fp[k + 1] - 2 * r->fp[k] + r->fp[k - 1];
            int64_t dtp = r->tp[k + 1] - 2 * r->tp[k] + r->tp[k - 1];
            if (dfp == 0 && dtp == 0) continue;
        }
        double j = (double)r->tp[k] / P - (double)r->fp[k] / N;
        if (j > best_j) {
            best_j = j;
            tau = (double)r->thr[k];
        }
    }
    return tau;
}
