/*
 * Entropy attack (spec §5.3). theta is searched on the grid np.linspace(min H, max H, 10000)
 * (float64, numpy's formula i * step + start, last point = max); each candidate is compared with
 * the float32 entropies as float32 (torch tensor vs Python scalar); the score of a candidate is
 * #{non-members: H >= t} + #{members: H < t}; the scan keeps a candidate only on strict
 * improvement (start: count 0, theta 0.0), so the smallest maximising theta wins.
 *
 * Fast path: sort both entropy lists once (radix), then each of the 10,000 counts is two binary
 * searches: O(n log n + 10^4 log n) with exactly the same counts, hence the same theta, as the
 * literal O(10^4 n) scan, which paper_exact runs instead.
 */
#include "attack/attack-impl.h"

#define GRID 10000

static double grid_point(double start, double stop, double step, bool step_zero, int i)
{
    if (i == GRID - 1) return stop;
    if (step_zero) return ((double)i / (double)(GRID - 1)) * (stop - start) + start;
    return (double)i * step + start;
}

/* Number of keys < k in ascending keys[0..n). */
static int64_t lower_bound(const uint32_t *keys, int64_t n, uint32_t k)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < k) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

mia_status mia__entropy_theta(const float *h_mem, int64_t nm, const float *h_non, int64_t nn,
                              bool exact, double *theta)
{
    float mn = h_mem[0], mx = h_mem[0];
    for (int64_t i = 0; i < nm; i++) {
        mn = h_mem[i] < mn ? h_mem[i] : mn;
        mx = h_mem[i] > mx ? h_mem[i] : mx;
    }
    for (int64_t i = 0; i < nn; i++) {
        mn = h_non[i] < mn ? h_non[i] : mn;
        mx = h_non[i] > mx ? h_non[i] : mx;
    }
    const double start = mn, stop = mx;
    const double step = (stop - start) / (double)(GRID - 1);
    const bool step_zero = step == 0.0;
    int64_t best = 0;
    double best_theta = 0.0;

    if (exact) {
        for (int i = 0; i < GRID; i++) {
            double th = grid_point(start, stop, step, step_zero, i);
            float t = (float)th;
            int64_t c = 0;
            for (int64_t j = 0; j < nn; j++) c += h_non[j] >= t;
            for (int64_t j = 0; j < nm; j++) c += h_mem[j] < t;
            if (c > best) {
                best = c;
                best_theta = th;
            }
        }
        *theta = best_theta;
        return MIA_OK;
    }

    uint32_t *km = mia__malloc((size_t)nm * sizeof *km);
    uint32_t *kn = mia__malloc((size_t)nn * sizeof *kn);
    uint32_t *tmp = mia__malloc((size_t)(nm > nn ? nm : nn) * sizeof *tmp);
    if (!km || !kn || !tmp) {
        mia__free(km);
        mia__free(kn);
        mia__free(tmp);
        return MIA_ERROR(MIA_ERR_NOMEM, "entropy attack: out of memory");
    }
    for (int64_t j = 0; j < nm; j++) km[j] = mia__f32_key(h_mem[j]);
    for (int64_t j = 0; j < nn; j++) kn[j] = mia__f32_key(h_non[j]);
    mia__radix_sort_u32(km, tmp, nm);
    mia__radix_sort_u32(kn, tmp, nn);
    mia__free(tmp);
    for (int i = 0; i < GRID; i++) {
        double th = grid_point(start, stop, step, step_zero, i);
        uint32_t k = mia__f32_key((float)th);
        int64_t c = (nn - lower_bound(kn, nn, k)) + lower_bound(km, nm, k);
        if (c > best) {
            best = c;
            best_theta = th;
        }
    }
    mia__free(km);
    mia__free(kn);
    *theta = best_theta;
    return MIA_OK;
}

mia_status mia__entropy_fit(mia_attack *a, const mia_score_set *mem, const mia_score_set *non,
                            const mia_attack_opts *o)
{
    float *hm = mia__malloc((size_t)mem->n * sizeof *hm);
    float *hn = mia__malloc((size_t)non->n * sizeof *hn);
    mia_status s = MIA_OK;
    if (!hm || !hn) s = MIA_ERROR(MIA_ERR_NOMEM, "entropy attack: out of memory");
    if (a->logits) { /* H from a float64 log-softmax, rounded to float32 */
        if (s == MIA_OK) s = mia__logit_features("members", mem, a->kind, hm, NULL);
        if (s == MIA_OK) s = mia__logit_features("non_members", non, a->kind, hn, NULL);
    } else {
        if (s == MIA_OK) s = mia__entropies("members", mem, hm);
        if (s == MIA_OK) s = mia__entropies("non_members", non, hn);
    }
    if (s == MIA_OK) s = mia__entropy_theta(hm, mem->n, hn, non->n, o->paper_exact, &a->theta);
    if (s == MIA_OK) a->theta_f = (float)a->theta;
    mia__free(hm);
    mia__free(hn);
    return s;
}
