/* Optimiser family (optim.cu): per-parameter update rules (PyTorch semantics, ops.h). */
#ifndef MIA_CUDA_OPTIM_CUH
#define MIA_CUDA_OPTIM_CUH

#include <math.h>

#include "cuda-kernels.h"

/* Adam with coupled L2, in exactly the f32 operation order of mia__ref_adam_step (PyTorch's
 * formula): neg_step = -(lr / bc1) and bc2_sqrt = sqrt(bc2) come from the host in f64, with
 * bc = 1 - beta^t. With --fmad=false, IEEE sqrtf and division the result is bit-identical. */
__device__ __forceinline__ void mia_cu_adam1(float *p, float *m, float *v, float grad, float wd,
                                             float b1, float b2, float omb1, float omb2,
                                             float eps, float neg_step, float bc2_sqrt)
{
    float g = grad;
    if (wd != 0.0f) g = g + wd * *p;
    float mm = *m * b1;
    mm = mm + omb1 * g;
    float vv = *v * b2;
    vv = vv + omb2 * g * g;
    float denom = sqrtf(vv) / bc2_sqrt + eps;
    *m = mm;
    *v = vv;
    *p = *p + neg_step * mm / denom;
}

#endif
