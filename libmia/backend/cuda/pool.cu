/*
 * 2-D max / average pooling. The backward gathers: each input element sums the gradients of
 * the outputs whose window selects it (max: recomputed argmax), in ascending output order, so
 * no atomics are needed and overlapping windows are deterministic.
 */
#include "common.cuh"
#include "pool.cuh"

static __global__ void pool_fwd_kernel(mia_pool2d_args a)
{
    const int64_t total = a.n * a.c * a.oh * a.ow;
    MIA_CU_LOOP(idx, total) {
        int64_t ox = idx % a.ow, t = idx / a.ow;
        int64_t oy = t % a.oh, plane_i = t / a.oh;
        const float *plane = a.x + plane_i * a.h * a.w;
        if (a.kind == MIA_POOL_MAX) {
            int64_t am = mia_cu_pool_argmax(plane, a, oy, ox);
            a.y[idx] = am >= 0 ? plane[am] : -INFINITY;
        } else {
            double s = 0.0;
            for (int64_t ki = 0; ki < a.kh; ki++) {
                int64_t iy = oy * a.sh - a.pt + ki;
                if (iy < 0 || iy >= a.h) continue;
                for (int64_t kj = 0; kj < a.kw; kj++) {
                    int64_t ix = ox * a.sw - a.pl + kj;
                    if (ix < 0 || ix >= a.w) continue;
                    s += (double)plane[iy * a.w + ix];
                }
            }
            a.y[idx] = (float)(s / (double)mia_cu_pool_div(a, oy, ox));
        }
    }
}

static __global__ void pool_bwd_kernel(mia_pool2d_args a)
{
    const int64_t total = a.n * a.c * a.h * a.w;
    MIA_CU_LOOP(idx, total) {
        int64_t ix = idx % a.w, t = idx / a.w;
        int64_t iy = t % a.h, plane_i = t / a.h;
        const float *plane = a.x + plane_i * a.h * a.w;
        const float *dyp = a.dy + plane_i * a.oh * a.ow;
        const int64_t self = iy * a.w + ix;
        /* outputs whose window covers iy: oy*sh - pt <= iy <= oy*sh - pt + kh - 1 */
        int64_t ty0 = iy + a.pt - a.kh + 1, tx0 = ix + a.pl - a.kw + 1;
        int64_t oy0 = ty0 <= 0 ? 0 : (ty0 + a.sh - 1) / a.sh;
        int64_t ox0 = tx0 <= 0 ? 0 : (tx0 + a.sw - 1) / a.sw;
        int64_t oy1 = (iy + a.pt) / a.sh, ox1 = (ix + a.pl) / a.sw;
        if (oy1 >= a.oh) oy1 = a.oh - 1;
        if (ox1 >= a.ow) ox1 = a.ow - 1;
        float acc = 0.0f;
        for (int64_t oy = oy0; oy <= oy1; oy++)
            for (int64_t ox = ox0; ox <= ox1; ox++) {
                if (a.kind == MIA_POOL_MAX) {
                    if (mia_cu_pool_argmax(plane, a, oy, ox) == self) acc += dyp[oy * a.ow + ox];
                } else {
                    acc += (float)((double)dyp[oy * a.ow + ox] / (double)mia_cu_pool_div(a, oy, ox));
                }
            }
        a.dx[idx] = a.relu_mask && !(plane[self] > 0.0f) ? 0.0f : acc; /* fused ReLU bwd */
    }
}

extern "C" mia_status mia__cuda_pool2d_fwd(mia_backend *be, const mia_pool2d_args *a)
{
    MIA_CU_BEGIN(be, st);
    pool_fwd_kernel<<<mia_cu_blocks(a->n * a->c * a->oh * a->ow), MIA_CU_THREADS, 0, st>>>(*a);
    MIA_CU_CHECK_LAUNCH("pool2d_fwd");
    return MIA_OK;
}

extern "C" mia_status mia__cuda_pool2d_bwd(mia_backend *be, const mia_pool2d_args *a)
{
    MIA_CU_BEGIN(be, st);
    pool_bwd_kernel<<<mia_cu_blocks(a->n * a->c * a->h * a->w), MIA_CU_THREADS, 0, st>>>(*a);
    MIA_CU_CHECK_LAUNCH("pool2d_bwd");
    return MIA_OK;
}
