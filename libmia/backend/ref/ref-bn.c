/* ref batch normalisation over (n, hw) per channel; statistics and reductions in f64.
 * Semantics follow PyTorch: save_var is the biased batch variance, running_var is updated with
 * the unbiased one (m / (m - 1), m = n * hw). gamma NULL means 1, beta NULL means 0. */
#include <math.h>

#include "ref.h"

#define BN_AT(a, n, c, i) (((n) * (a)->c + (c)) * (a)->hw + (i))

mia_status mia__ref_batchnorm_fwd(mia_backend *be, const mia_batchnorm_args *a)
{
    if (a->blocked) return mia__ref_bn_unblocked(be, a, mia__ref_batchnorm_fwd);
    (void)be;
    const int64_t m = a->n * a->hw;
    for (int64_t c = 0; c < a->c; c++) {
        double mean, var;
        if (a->training) {
            double s = 0.0;
            for (int64_t n = 0; n < a->n; n++)
                for (int64_t i = 0; i < a->hw; i++) s += (double)a->x[BN_AT(a, n, c, i)];
            mean = s / (double)m;
            double ss = 0.0;
            for (int64_t n = 0; n < a->n; n++)
                for (int64_t i = 0; i < a->hw; i++) {
                    double d = (double)a->x[BN_AT(a, n, c, i)] - mean;
                    ss += d * d;
                }
            var = ss / (double)m;
            if (a->save_mean) a->save_mean[c] = (float)mean;
            if (a->save_var) a->save_var[c] = (float)var;
            double mom = (double)a->momentum;
            if (a->running_mean)
                a->running_mean[c] = (float)((1.0 - mom) * (double)a->running_mean[c] + mom * mean);
            if (a->running_var) {
                double unbiased = m > 1 ? var * (double)m / (double)(m - 1) : var;
                a->running_var[c] = (float)((1.0 - mom) * (double)a->running_var[c] + mom * unbiased);
            }
        } else {
            mean = a->running_mean ? (double)a->running_mean[c] : 0.0;
            var = a->running_var ? (double)a->running_var[c] : 1.0;
        }
        double invstd = 1.0 / sqrt(var + (double)a->eps);
        double gm = a->gamma ? (double)a->gamma[c] : 1.0;
        double bt = a->beta ? (double)a->beta[c] : 0.0;
        for (int64_t n = 0; n < a->n; n++)
            for (int64_t i = 0; i < a->hw; i++) {
                int64_t k = BN_AT(a, n, c, i);
                a->y[k] = (float)(((double)a->x[k] - mean) * invstd * gm + bt);
            }
    }
    return MIA_OK;
}

mia_status mia__ref_batchnorm_bwd(mia_backend *be, const mia_batchnorm_args *a)
{
    if (a->blocked) return mia__ref_bn_unblocked(be, a, mia__ref_batchnorm_bwd);
    (void)be;
    const int64_t m = a->n * a->hw;
    for (int64_t c = 0; c < a->c; c++) {
        /* Training: saved batch statistics. Eval (not required by the contract, but defined):
         * running statistics, which are constants, so dx = gamma * invstd * dy. */
        double mean, var;
        if (a->training) {
            mean = (double)a->save_mean[c];
            var = (double)a->save_var[c];
        } else {
            mean = a->running_mean ? (double)a->running_mean[c] : 0.0;
            var = a->running_var ? (double)a->running_var[c] : 1.0;
        }
        double invstd = 1.0 / sqrt(var + (double)a->eps);
        double gm = a->gamma ? (double)a->gamma[c] : 1.0;
        double sdy = 0.0, sdyxh = 0.0;
        for (int64_t n = 0; n < a->n; n++)
            for (int64_t i = 0; i < a->hw; i++) {
                int64_t k = BN_AT(a, n, c, i);
                double dy = (double)a->dy[k];
                sdy += dy;
                sdyxh += dy * ((double)a->x[k] - mean) * invstd;
            }
        if (a->dgamma) a->dgamma[c] = (float)sdyxh;
        if (a->dbeta) a->dbeta[c] = (float)sdy;
        if (!a->dx) continue;
        for (int64_t n = 0; n < a->n; n++)
            for (int64_t i = 0; i < a->hw; i++) {
                int64_t k = BN_AT(a, n, c, i);
                double dy = (double)a->dy[k];
                if (a->training) {
                    double xh = ((double)a->x[k] - mean) * invstd;
                    a->dx[k] = (float)(gm * invstd * (dy - sdy / (double)m - xh * sdyxh / (double)m));
                } else {
                    a->dx[k] = (float)(gm * invstd * dy);
                }
            }
    }
    return MIA_OK;
}
