/* The optimiser updates as per-element kernels over a range, shared by the ref backend (one
 * range) and the host backends that split the range over threads: each element is computed the
 * same way whatever the split, so the results are bit-identical to ref at any thread count.
 * PyTorch 1.13's single-tensor (for-loop) implementations, operation by operation in f32, with
 * the bias corrections in f64 as Python computes them. Not installed. */
#ifndef MIA_OPTIM_KERNEL_H
#define MIA_OPTIM_KERNEL_H

#include <math.h>

#include "ops.h"

static inline void mia__adam_range(const mia_adam_args *a, int64_t lo, int64_t hi)
{
    const double t = (double)a->step;
    const double bc1 = 1.0 - pow((double)a->beta1, t);
    const double bc2 = 1.0 - pow((double)a->beta2, t);
    const float neg_step_size = (float)(-((double)a->lr / bc1));
    const float bc2_sqrt = (float)sqrt(bc2);
    const float b1 = a->beta1, b2 = a->beta2;
    const float omb1 = (float)(1.0 - (double)a->beta1), omb2 = (float)(1.0 - (double)a->beta2);
    for (int64_t i = lo; i < hi; i++) {
        float g = a->grad[i];
        if (a->weight_decay != 0.0f) g = g + a->weight_decay * a->param[i];
        float m = a->m[i] * b1;
        m = m + omb1 * g;
        float v = a->v[i] * b2;
        v = v + omb2 * g * g;
        float denom = sqrtf(v) / bc2_sqrt + a->eps;
        a->m[i] = m;
        a->v[i] = v;
        a->param[i] = a->param[i] + neg_step_size * m / denom;
    }
}

static inline void mia__sgd_range(const mia_sgd_args *a, int64_t lo, int64_t hi)
{
    const float mu = a->momentum, omd = (float)(1.0 - (double)a->dampening);
    for (int64_t i = lo; i < hi; i++) {
        float g = a->grad[i];
        if (a->weight_decay != 0.0f) g = g + a->weight_decay * a->param[i];
        if (mu != 0.0f) {
            float buf = a->step == 1 ? g : a->buf[i] * mu + omd * g;
            a->buf[i] = buf;
            g = a->nesterov ? g + mu * buf : buf;
        }
        a->param[i] = a->param[i] + (-a->lr) * g;
    }
}

#endif
