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

/* In-place heap sort: the fallback when there is no memory for radix counts (never fails). */
static void heap_sort(uint32_t *keys, int64_t n)
{
    for (int64_t start = n / 2 - 1, end = n - 1;;) {
        int64_t root;
        if (start >= 0) root = start--;
        else {
            if (end <= 0) break;
            uint32_t t = keys[0];
            keys[0] = keys[end];
            keys[end--] = t;
            root = 0;
        }
        for (int64_t child; (child = 2 * root + 1) <= end; root = child) {
            if (child < end && keys[child] < keys[child + 1]) child++;
            if (keys[root] >= keys[child]) break;
            uint32_t t = keys[root];
            keys[root] = keys[child];
            keys[child] = t;
        }
    }
}

/* The general LSD sort (int64 counts, 11/11/10-bit digits) for n >= 2^32. */
static void radix_sort_big(uint32_t *keys, uint32_t *tmp, int64_t n)
{
    static const int shift[3] = {0, 11, 22};
    static const uint32_t mask[3] = {0x7ff, 0x7ff, 0x3ff};
    int64_t *count = mia__calloc(3 * 2048, sizeof *count);
    if (!count) {
        heap_sort(keys, n);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        uint32_t k = keys[i];
        count[k & 0x7ff]++;
        count[2048 + ((k >> 11) & 0x7ff)]++;
        count[4096 + (k >> 22)]++;
    }
    uint32_t *src = keys, *dst = tmp;
    for (int p = 0; p < 3; p++) {
        int64_t *c = count + 2048 * p, sum = 0;
        for (int b = 0; b <= (int)mask[p]; b++) {
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
    mia__free(count);
}

void mia__radix_sort_u32(uint32_t *keys, uint32_t *tmp, int64_t n)
{
    if (n < 2) return;
    uint32_t lo = keys[0], hi = keys[0];
    for (int64_t i = 1; i < n; i++) {
        uint32_t k = keys[i];
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    mia__radix_sort_range(keys, tmp, n, lo, hi);
}

/* LSD radix sort on the key range actually used: keys are offset by their minimum, and the
 * b significant bits of the range are covered by 1 pass (b <= 11), 2 passes of up to 14 bits
 * (b <= 28) or 3 passes of up to 11 bits, so scores confined to a few octaves (max scores in
 * [0.1, 1]: 25 bits; log-probabilities down to 2^-24: 28 bits) need 2 scatter passes instead
 * of 3. Counts are uint32 (n < 2^32), on the heap (a heap sort when that fails). */
void mia__radix_sort_range(uint32_t *keys, uint32_t *tmp, int64_t n, uint32_t lo, uint32_t hi)
{
    if (n < 2) return;
    if (n > (int64_t)UINT32_MAX) {
        radix_sort_big(keys, tmp, n);
        return;
    }
    uint32_t range = hi - lo;
    if (range == 0) return;
    int bits = 32 - __builtin_clz(range);
    int passes = bits <= 11 ? 1 : (bits <= 28 ? 2 : 3);
    int width = (bits + passes - 1) / passes;
    uint32_t mask = (1u << width) - 1u;
    uint32_t (*count)[1u << 14] = mia__calloc((size_t)passes, sizeof *count);
    if (!count) {
        heap_sort(keys, n);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        uint32_t k = keys[i] - lo;
        for (int p = 0; p < passes; p++) count[p][(k >> (p * width)) & mask]++;
    }
    uint32_t *src = keys, *dst = tmp;
    for (int p = 0; p < passes; p++) {
        uint32_t *c = count[p], sum = 0;
        for (uint32_t b = 0; b <= mask; b++) {
            uint32_t t = c[b];
            c[b] = sum;
            sum += t;
        }
        const int sh = p * width;
        for (int64_t i = 0; i < n; i++) {
            uint32_t k = src[i];
            dst[c[((k - lo) >> sh) & mask]++] = k;
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != keys) memcpy(keys, src, (size_t)n * sizeof *keys);
    mia__free(count);
}

void mia__keys_sort(const float *x, int64_t n, uint32_t *keys, uint32_t *tmp)
{
    if (n < 1) return;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t k = mia__f32_key(x[i]);
        keys[i] = k;
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    mia__radix_sort_range(keys, tmp, n, lo, hi);
}

void mia__radix_sort_hist(uint32_t *keys, uint32_t *tmp, int64_t n, mia__khist *h)
{
    if (n < 2 || h->lo == h->hi) return;
    if (n > (int64_t)UINT32_MAX || ((h->lo ^ h->hi) >> (2 * MIA_KHIST_BITS)) != 0) {
        mia__radix_sort_u32(keys, tmp, n); /* the counts do not cover the range */
        return;
    }
    const uint32_t mask = (1u << MIA_KHIST_BITS) - 1u;
    uint32_t *src = keys, *dst = tmp;
    for (int p = 0; p < 2; p++) {
        uint32_t *c = h->c[p], sum = 0;
        const int sh = p * MIA_KHIST_BITS;
        /* a digit shared by every key needs no pass */
        if (c[(h->lo >> sh) & mask] == (uint32_t)n) continue;
        for (uint32_t b = 0; b <= mask; b++) {
            uint32_t t = c[b];
            c[b] = sum;
            sum += t;
        }
        for (int64_t i = 0; i < n; i++) {
            uint32_t k = src[i];
            dst[c[(k >> sh) & mask]++] = k;
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
    mia__free(r->thr_base);
    mia__free(r->tp_base);
    mia__free(r->fp_base);
    memset(r, 0, sizeof *r);
}

mia_status mia__roc_build_keys(mia__roc *r, uint32_t *kp, int64_t np, uint32_t *kn, int64_t nn)
{
    memset(r, 0, sizeof *r);
    uint32_t *tmp = mia__malloc((size_t)(np > nn ? np : nn) * sizeof *tmp);
    if (!tmp)
        return MIA_ERROR(MIA_ERR_NOMEM, "ROC of %lld scores: out of memory",
                         (long long)(np + nn));
    mia__radix_sort_u32(kp, tmp, np);
    mia__radix_sort_u32(kn, tmp, nn);
    mia__free(tmp);
    return mia__roc_build_sorted(r, kp, np, kn, nn);
}

mia_status mia__roc_build_sorted(mia__roc *r, const uint32_t *kp, int64_t np, const uint32_t *kn,
                                 int64_t nn)
{
    memset(r, 0, sizeof *r);
    int64_t n = np + nn;
    r->thr_base = mia__malloc((size_t)(n + 1) * sizeof *r->thr_base);
    r->tp_base = mia__malloc((size_t)(n + 1) * sizeof *r->tp_base);
    r->fp_base = mia__malloc((size_t)(n + 1) * sizeof *r->fp_base);
    if (!r->thr_base || !r->tp_base || !r->fp_base) {
        mia__roc_free(r);
        return MIA_ERROR(MIA_ERR_NOMEM, "ROC of %lld scores: out of memory", (long long)n);
    }
    r->thr_base[0] = INFINITY;
    r->tp_base[0] = r->fp_base[0] = 0;
    r->thr = r->thr_base + 1;
    r->tp = r->tp_base + 1;
    r->fp = r->fp_base + 1;

    /* Merge from the largest key down; each distinct key is one point. */
    int64_t i = np - 1, j = nn - 1, tp = 0, fp = 0, k = 0;
    float *thr = r->thr;
    int64_t *otp = r->tp, *ofp = r->fp;
    while (i >= 0 && j >= 0) {
        uint32_t a = kp[i], b = kn[j];
        uint32_t key = a > b ? a : b;
        while (i >= 0 && kp[i] == key) { tp++; i--; }
        while (j >= 0 && kn[j] == key) { fp++; j--; }
        thr[k] = mia__key_f32(key);
        otp[k] = tp;
        ofp[k] = fp;
        k++;
    }
    while (i >= 0) { /* only positives left */
        uint32_t key = kp[i];
        while (i >= 0 && kp[i] == key) { tp++; i--; }
        thr[k] = mia__key_f32(key);
        otp[k] = tp;
        ofp[k] = fp;
        k++;
    }
    while (j >= 0) {
        uint32_t key = kn[j];
        while (j >= 0 && kn[j] == key) { fp++; j--; }
        thr[k] = mia__key_f32(key);
        otp[k] = tp;
        ofp[k] = fp;
        k++;
    }
    r->n = k;
    r->P = np;
    r->N = nn;
    return MIA_OK;
}

mia_status mia__roc_build(mia__roc *r, const float *pos, int64_t np, const float *neg, int64_t nn)
{
    memset(r, 0, sizeof *r);
    uint32_t *k = mia__malloc((size_t)(np + nn) * sizeof *k);
    if (!k)
        return MIA_ERROR(MIA_ERR_NOMEM, "ROC of %lld scores: out of memory",
                         (long long)(np + nn));
    uint32_t *tmp = mia__malloc((size_t)(np > nn ? np : nn) * sizeof *tmp);
    if (!tmp) {
        mia__free(k);
        return MIA_ERROR(MIA_ERR_NOMEM, "ROC of %lld scores: out of memory",
                         (long long)(np + nn));
    }
    mia__keys_sort(pos, np, k, tmp);
    mia__keys_sort(neg, nn, k + np, tmp);
    mia__free(tmp);
    mia_status s = mia__roc_build_sorted(r, k, np, k + np, nn);
    mia__free(k);
    return s;
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

/* One merged ROC point of the streaming Youden search. */
typedef struct ypoint {
    uint32_t key;
    int64_t tp, fp;
} ypoint;

double mia__youden_keys(uint32_t *kp, int64_t np, uint32_t *kn, int64_t nn, mia_status *st)
{
    /* mia__roc_youden() without storing the curve: sort, merge from the top and judge each
     * point when its successor is known (drop_intermediate needs both neighbours). */
    *st = MIA_OK;
    uint32_t *tmp = mia__malloc((size_t)(np > nn ? np : nn) * sizeof *tmp);
    if (!tmp) {
        *st = MIA_ERROR(MIA_ERR_NOMEM, "ROC of %lld scores: out of memory", (long long)(np + nn));
        return NAN;
    }
    mia__radix_sort_u32(kp, tmp, np);
    mia__radix_sort_u32(kn, tmp, nn);
    mia__free(tmp);
    return mia__youden_sorted(kp, np, kn, nn);
}

double mia__youden_sorted(const uint32_t *kp, int64_t np, const uint32_t *kn, int64_t nn)
{
    const double P = (double)np, N = (double)nn;
    int64_t i = np - 1, j = nn - 1, tp = 0, fp = 0, k = 0;
    ypoint prev = {0, 0, 0}, cur = {0, 0, 0};
    uint32_t top = 0;
    double best_j = 0.0, tau = 0.0;
    bool have_cur = false;
    for (;;) {
        bool more = i >= 0 || j >= 0;
        ypoint next = {0, 0, 0};
        if (more) {
            uint32_t key;
            if (i < 0) key = kn[j];
            else if (j < 0) key = kp[i];
            else key = kp[i] > kn[j] ? kp[i] : kn[j];
            while (i >= 0 && kp[i] == key) { tp++; i--; }
            while (j >= 0 && kn[j] == key) { fp++; j--; }
            next.key = key;
            next.tp = tp;
            next.fp = fp;
            if (k == 0) top = key;
        }
        if (have_cur) { /* judge cur (index k - 1): first and last points are always kept */
            bool keep = k - 1 == 0 || !more;
            if (!keep) {
                int64_t dfp = next.fp - 2 * cur.fp + prev.fp;
                int64_t dtp = next.tp - 2 * cur.tp + prev.tp;
                keep = dfp != 0 || dtp != 0;
            }
            if (keep) {
                double jv = (double)cur.tp / P - (double)cur.fp / N;
                if (jv > best_j) {
                    best_j = jv;
                    tau = (double)mia__key_f32(cur.key);
                }
            }
            prev = cur;
        }
        if (!more) break;
        cur = next;
        have_cur = true;
        k++;
    }
    if (best_j == 0.0) tau = (double)mia__key_f32(top) + 1.0; /* the origin wins */
    return tau;
}
