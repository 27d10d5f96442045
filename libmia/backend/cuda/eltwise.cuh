/* Activation family (eltwise.cu): the per-element math, shared with any kernel that fuses an
 * activation. Semantics of ops.h / PyTorch (relu'(0) = 0, leaky'(0) = slope). */
#ifndef MIA_CUDA_ELTWISE_CUH
#define MIA_CUDA_ELTWISE_CUH

#include <math.h>

#include "cuda-kernels.h"

__device__ __forceinline__ float mia_cu_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

__device__ __forceinline__ float mia_cu_act_fwd(mia_act act, float alpha, float x)
{
    switch (act) {
    case MIA_ACT_RELU: return x <= 0.0f ? 0.0f : x; /* NaN propagates */
    case MIA_ACT_LEAKY_RELU: return x > 0.0f ? x : alpha * x;
    case MIA_ACT_SILU: return x * mia_cu_sigmoid(x);
    case MIA_ACT_SIGMOID: return mia_cu_sigmoid(x);
    case MIA_ACT_TANH: return tanhf(x);
    case MIA_ACT_IDENTITY:
    default: return x;
    }
}

/* dL/dx from the forward input x and dL/dy. */
__device__ __forceinline__ float mia_cu_act_bwd(mia_act act, float alpha, float x, float dy)
{
    switch (act) {
    case MIA_ACT_RELU: return x > 0.0f ? dy : 0.0f;
    case MIA_ACT_LEAKY_RELU: return x > 0.0f ? dy : alpha * dy;
    case MIA_ACT_SILU: {
        float s = mia_cu_sigmoid(x);
        return dy * (s * (1.0f + x * (1.0f - s)));
    }
    case MIA_ACT_SIGMOID: {
        float s = mia_cu_sigmoid(x);
        return dy * (s * (1.0f - s));
    }
    case MIA_ACT_TANH: {
        float t = tanhf(x);
        return dy * (1.0f - t * t);
    }
    case MIA_ACT_IDENTITY:
    default: return dy;
    }
}

#endif
