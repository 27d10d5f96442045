/* ref elementwise activations, computed in f64 and rounded once. y may alias x, dx may alias dy
 * (each element is read before it is written). */
#include <math.h>

#include "ref.h"

static double sigmoid(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

mia_status mia__ref_eltwise_fwd(mia_backend *be, const mia_eltwise_args *a)
{
    (void)be;
    const double al = (double)a->alpha;
    for (int64_t i = 0; i < a->count; i++) {
        double x = (double)a->x[i], y;
        switch (a->act) {
        case MIA_ACT_RELU: y = x <= 0 ? 0.0 : x; break; /* NaN propagates */
        case MIA_ACT_LEAKY_RELU: y = x > 0 ? x : al * x; break;
        case MIA_ACT_SILU: y = x * sigmoid(x); break;
        case MIA_ACT_SIGMOID: y = sigmoid(x); break;
        case MIA_ACT_TANH: y = tanh(x); break;
        case MIA_ACT_IDENTITY: y = x; break;
        default: return MIA_ERROR(MIA_ERR_INVALID, "eltwise: unknown activation %d", (int)a->act);
        }
        a->y[i] = (float)y;
    }
    return MIA_OK;
}

mia_status mia__ref_eltwise_bwd(mia_backend *be, const mia_eltwise_args *a)
{
    (void)be;
    const double al = (double)a->alpha;
    for (int64_t i = 0; i < a->count; i++) {
        double x = (double)a->x[i], dy = (double)a->dy[i], d;
        switch (a->act) {
        case MIA_ACT_RELU: d = x > 0 ? dy : 0.0; break;
        case MIA_ACT_LEAKY_RELU: d = x > 0 ? dy : al * dy; break;
        case MIA_ACT_SILU: {
            double s = sigmoid(x);
            d = dy * s * (1.0 + x * (1.0 - s));
            break;
        }
        case MIA_ACT_SIGMOID: {
            double s = sigmoid(x);
            d = dy * s * (1.0 - s);
            break;
        }
        case MIA_ACT_TANH: {
            double t = tanh(x);
            d = dy * (1.0 - t * t);
            break;
        }
        case MIA_ACT_IDENTITY: d = dy; break;
        default: return MIA_ERROR(MIA_ERR_INVALID, "eltwise: unknown activation %d", (int)a->act);
        }
        a->dx[i] = (float)d;
    }
    return MIA_OK;
}
