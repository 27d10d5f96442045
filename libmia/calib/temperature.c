/* Temperature scaling: fixed T, or T fitted by minimising the held-out NLL (f64). */
#include <inttypes.h>
#include <math.h>

#include <mia/calib.h>

#include "mia-internal.h"

/* f(beta) = mean_i [lse(beta z_i) - beta z_iy]: value, first and second derivative. Convex. */
static void nll_beta(const float *z, const int32_t *y, int64_t n, int64_t k, double beta,
                     double *f, double *d1, double *d2)
{
    double F = 0, D1 = 0, D2 = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *r = z + i * k;
        double mx = -INFINITY;
        for (int64_t c = 0; c < k; c++) mx = beta * r[c] > mx ? beta * r[c] : mx;
        double se = 0, m1 = 0, m2 = 0;
        for (int64_t c = 0; c < k; c++) {
            double e = exp(beta * r[c] - mx);
            se += e;
            m1 += e * r[c];
            m2 += e * (double)r[c] * r[c];
        }
        m1 /= se;
        m2 /= se;
        F += mx + log(se) - beta * r[y[i]];
        D1 += m1 - r[y[i]];
        D2 += m2 - m1 * m1 > 0 ? m2 - m1 * m1 : 0;
    }
    *f = F / (double)n;
    *d1 = D1 / (double)n;
    *d2 = D2 / (double)n;
}

mia_status mia_temperature_fit(double *T, const float *logits, const int32_t *labels, int64_t n,
                               int64_t k)
{
    mia__error_begin();
    MIA_CHECK_ARG(T && logits && labels, "T, logits or labels is NULL");
    *T = NAN;
    MIA_CHECK_ARG(n >= 1 && k >= 2, "need n >= 1 and k >= 2 (got %" PRId64 ", %" PRId64 ")", n,
                  k);
    for (int64_t i = 0; i < n; i++) {
        MIA_CHECK_ARG(labels[i] >= 0 && labels[i] < k, "labels[%" PRId64 "] = %d outside [0, %"
                      PRId64 ")", i, (int)labels[i], k);
        for (int64_t c = 0; c < k; c++)
            if (!isfinite(logits[i * k + c]))
                return MIA_ERROR(MIA_ERR_NUMERIC, "logits[%" PRId64 "][%" PRId64
                                 "] is not finite", i, c);
    }
    const double bmin = 1e-4, bmax = 1e2; /* T in [1e-2, 1e4] */
    double f, d1, d2;
    /* bracket the root of f'(beta) (increasing) */
    double lo = bmin, hi = bmax;
    nll_beta(logits, labels, n, k, lo, &f, &d1, &d2);
    if (d1 >= 0) {
        *T = 1.0 / lo;
        return MIA_OK;
    }
    nll_beta(logits, labels, n, k, hi, &f, &d1, &d2);
    if (d1 <= 0) {
        *T = 1.0 / hi;
        return MIA_OK;
    }
    double b = 1.0;
    for (int it = 0; it < 200; it++) {
        nll_beta(logits, labels, n, k, b, &f, &d1, &d2);
        if (d1 > 0) hi = b;
        else lo = b;
        if (d1 == 0 || (hi - lo) <= 1e-12 * hi) break;
        double nb = d2 > 0 ? b - d1 / d2 : NAN;
        if (!(nb > lo && nb < hi)) nb = 0.5 * (lo + hi); /* bisection when Newton leaves */
        if (fabs(nb - b) <= 1e-13 * b) {
            b = nb;
            break;
        }
        b = nb;
    }
    *T = 1.0 / b;
    return MIA_OK;
}
