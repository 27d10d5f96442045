/* ref row-wise softmax / log-softmax and label-smoothed cross-entropy; sums in f64. */
#include <math.h>

#include "ref.h"

/* max and log(sum(exp(x - max))) of one row, in f64. */
static void row_lse(const float *x, int64_t cols, double *mx, double *lse)
{
    double m = (double)x[0];
    for (int64_t j = 1; j < cols; j++)
        if ((double)x[j] > m || isnan(x[j])) m = (double)x[j];
    double s = 0.0;
    for (int64_t j = 0; j < cols; j++) s += exp((double)x[j] - m);
    *mx = m;
    *lse = log(s);
}

mia_status mia__ref_softmax_fwd(mia_backend *be, const mia_softmax_args *a)
{
    (void)be;
    for (int64_t r = 0; r < a->rows; r++) {
        const float *x = a->x + r * a->cols;
        float *out = a->out + r * a->cols;
        double m, lse;
        row_lse(x, a->cols, &m, &lse);
        for (int64_t j = 0; j < a->cols; j++) {
            double z = (double)x[j] - m - lse;
            out[j] = (float)(a->log ? z : exp(z));
        }
    }
    return MIA_OK;
}

mia_status mia__ref_softmax_bwd(mia_backend *be, const mia_softmax_args *a)
{
    (void)be;
    for (int64_t r = 0; r < a->rows; r++) {
        const float *y = a->y + r * a->cols, *dy = a->dy + r * a->cols;
        float *dx = a->dx + r * a->cols;
        double s = 0.0;
        if (a->log) {
            for (int64_t j = 0; j < a->cols; j++) s += (double)dy[j];
            for (int64_t j = 0; j < a->cols; j++)
                dx[j] = (float)((double)dy[j] - exp((double)y[j]) * s);
        } else {
            for (int64_t j = 0; j < a->cols; j++) s += (double)dy[j] * (double)y[j];
            for (int64_t j = 0; j < a->cols; j++)
                dx[j] = (float)((double)y[j] * ((double)dy[j] - s));
        }
    }
    return MIA_OK;
}

mia_status mia__ref_xent(mia_backend *be, const mia_xent_args *a)
{
    (void)be;
    const double eps = (double)a->smoothing, C = (double)a->cols;
    for (int64_t r = 0; r < a->rows; r++) {
        const float *x = a->logits + r * a->cols;
        const int32_t lab = a->labels[r];
        double m, lse;
        row_lse(x, a->cols, &m, &lse);
        if (a->loss) {
            double sum_logp = 0.0;
            for (int64_t j = 0; j < a->cols; j++) sum_logp += (double)x[j] - m - lse;
            double logp_y = (double)x[lab] - m - lse;
            a->loss[r] = (float)(-(1.0 - eps) * logp_y - eps * sum_logp / C);
        }
        if (a->dlogits) {
            float *d = a->dlogits + r * a->cols;
            for (int64_t j = 0; j < a->cols; j++) {
                double t = eps / C + (j == lab ? 1.0 - eps : 0.0);
                d[j] = (float)((double)a->grad_scale * (exp((double)x[j] - m - lse) - t));
            }
        }
    }
    return MIA_OK;
}
