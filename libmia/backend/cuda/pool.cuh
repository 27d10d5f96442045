/* Pooling family (pool.cu): window helpers. Windows never extend past the padded input
 * (output sizes use floor), so an include-pad average always divides by kh * kw. */
#ifndef MIA_CUDA_POOL_CUH
#define MIA_CUDA_POOL_CUH

#include "cuda-kernels.h"

/* Flat index within the (h, w) plane of the max of the window of output (oy, ox): first
 * maximum in row-major window order (PyTorch); a NaN wins, as in PyTorch. -1 for an empty
 * window. */
__device__ __forceinline__ int64_t mia_cu_pool_argmax(const float *plane, const mia_pool2d_args &a,
                                                      int64_t oy, int64_t ox)
{
    int64_t best_i = -1;
    float best = 0.0f;
    for (int64_t ki = 0; ki < a.kh; ki++) {
        int64_t iy = oy * a.sh - a.pt + ki;
        if (iy < 0 || iy >= a.h) continue;
        for (int64_t kj = 0; kj < a.kw; kj++) {
            int64_t ix = ox * a.sw - a.pl + kj;
            if (ix < 0 || ix >= a.w) continue;
            float v = plane[iy * a.w + ix];
            if (best_i < 0 || v > best || isnan(v)) {
                best = v;
                best_i = iy * a.w + ix;
            }
        }
    }
    return best_i;
}

/* Divisor of the average of output (oy, ox). */
__device__ __forceinline__ float mia_cu_pool_div(const mia_pool2d_args &a, int64_t oy, int64_t ox)
{
    if (a.kind == MIA_POOL_AVG_INCLUDE_PAD) return (float)(a.kh * a.kw);
    int64_t y0 = oy * a.sh - a.pt, x0 = ox * a.sw - a.pl;
    int64_t y1 = y0 + a.kh < a.h ? y0 + a.kh : a.h, x1 = x0 + a.kw < a.w ? x0 + a.kw : a.w;
    if (y0 < 0) y0 = 0;
    if (x0 < 0) x0 = 0;
    return (float)((y1 - y0) * (x1 - x0));
}

#endif
