/* ECE and overconfidence error exactly as the paper's utils/validation.py (spec §6). */
#include <inttypes.h>
#include <math.h>

#include <mia/calib.h>

#include "mia-internal.h"

/* torch.linspace(0, 1, steps) in float32 (CPU kernel): step = (end - start) / (steps - 1);
 * the first half counts up from start, the second half down from end. */
static float linspace_f32(int64_t i, int64_t steps)
{
    const float start = 0.0f, end = 1.0f;
    const float step = (end - start) / (float)(steps - 1);
    const int64_t half = steps / 2;
    return i < half ? start + step * (float)i : end - step * (float)(steps - i - 1);
}

mia_status mia_calibration_errors(const float *probs, const int32_t *labels, int64_t n,
                                  int64_t k, int n_bins, double *ece, double *oe)
{
    mia__error_begin();
    MIA_CHECK_ARG(probs && labels, "probs or labels is NULL");
    MIA_CHECK_ARG(n >= 1, "n %" PRId64 " must be >= 1", n);
    MIA_CHECK_ARG(k >= 1, "k %" PRId64 " must be >= 1", k);
    MIA_CHECK_ARG(n_bins >= 1 && n_bins <= 1000, "n_bins %d outside [1, 1000]", n_bins);
    double *cs = mia__calloc((size_t)n_bins * 3, sizeof *cs); /* count, sum conf, sum correct */
    if (!cs) return MIA_ERROR(MIA_ERR_NOMEM, "ECE bins");
    float bounds[1001];
    for (int b = 0; b <= n_bins; b++) bounds[b] = linspace_f32(b, n_bins + 1);
    for (int64_t i = 0; i < n; i++) {
        const float *r = probs + i * k;
        int32_t y = labels[i];
        if (y < 0 || y >= k) {
            mia__free(cs);
            return MIA_ERROR(MIA_ERR_INVALID, "labels[%" PRId64 "] = %d outside [0, %" PRId64 ")",
                             i, (int)y, k);
        }
        int64_t am = 0;
        for (int64_t c = 1; c < k; c++)
            if (r[c] > r[am]) am = c;
        float conf = r[am];
        /* bin b: lo < conf <= hi (first matching bin; bounds increase) */
        int lo = 0, hi = n_bins; /* find smallest b with conf <= bounds[b + 1] */
        if (!(conf > bounds[0]) || !(conf <= bounds[n_bins])) continue;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (conf <= bounds[mid + 1]) hi = mid;
            else lo = mid + 1;
        }
        cs[3 * lo] += 1.0;
        cs[3 * lo + 1] += conf;
        cs[3 * lo + 2] += am == y;
    }
    double e = 0.0, o = 0.0;
    for (int b = 0; b < n_bins; b++) {
        double cnt = cs[3 * b];
        if (cnt == 0) continue;
        double conf = cs[3 * b + 1] / cnt, acc = cs[3 * b + 2] / cnt;
        e += cnt / (double)n * fabs(conf - acc);
        o += cnt / (double)n * conf * (conf - acc > 0 ? conf - acc : 0.0);
    }
    mia__free(cs);
    if (ece) *ece = e;
    if (oe) *oe = o;
    return MIA_OK;
}
