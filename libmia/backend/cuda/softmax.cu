/* Softmax / log-softmax forward and backward, and label-smoothed cross-entropy (ops.h). */
#include "common.cuh"
#include "softmax.cuh"

/* log(sum_c exp(x_c - mx)) + mx over one row; every thread gets it. */
__device__ __forceinline__ void row_lse(const float *x, int64_t cols, float *mx_out,
                                        double *lse_out, float *shf, double *shd)
{
    float mx = -INFINITY;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) mx = fmaxf(mx, x[c]);
    mx = mia_cu_block_max(mx, shf);
    double s = 0.0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += (double)expf(x[c] - mx);
    s = mia_cu_block_sum(s, shd);
    *mx_out = mx;
    *lse_out = log(s);
}

static __global__ void softmax_fwd_kernel(mia_softmax_args a)
{
    __shared__ float shf[32];
    __shared__ double shd[32];
    for (int64_t r = blockIdx.x; r < a.rows; r += gridDim.x) {
        const float *x = a.x + r * a.cols;
        float *out = a.out + r * a.cols;
        float mx;
        double lse;
        row_lse(x, a.cols, &mx, &lse, shf, shd);
        if (a.log) {
            const float l = (float)lse;
            for (int64_t c = threadIdx.x; c < a.cols; c += blockDim.x) out[c] = (x[c] - mx) - l;
        } else {
            const double inv = 1.0 / exp(lse);
            for (int64_t c = threadIdx.x; c < a.cols; c += blockDim.x)
                out[c] = (float)((double)expf(x[c] - mx) * inv);
        }
    }
}

static __global__ void softmax_bwd_kernel(mia_softmax_args a)
{
    __shared__ double shd[32];
    for (int64_t r = blockIdx.x; r < a.rows; r += gridDim.x) {
        const float *y = a.y + r * a.cols, *dy = a.dy + r * a.cols;
        float *dx = a.dx + r * a.cols;
        double s = 0.0;
        for (int64_t c = threadIdx.x; c < a.cols; c += blockDim.x)
            s += a.log ? (double)dy[c] : (double)dy[c] * (double)y[c];
        s = mia_cu_block_sum(s, shd);
        const float fs = (float)s;
        for (int64_t c = threadIdx.x; c < a.cols; c += blockDim.x)
            dx[c] = a.log ? dy[c] - expf(y[c]) * fs : y[c] * (dy[c] - fs);
    }
}

/* loss[r] = -(1-eps) logp[label] - eps mean_c logp;  dlogits = scale (softmax - target). A label
 * outside [0, cols) yields NaN for the row and raises MIA_CUDA_FLAG_BAD_LABEL, reported by
 * mia_backend_synchronize (all writers store the same value, so a plain store suffices). */
static __global__ void xent_kernel(mia_xent_args a, int *flags)
{
    __shared__ float shf[32];
    __shared__ double shd[32];
    const double eps = (double)a.smoothing;
    for (int64_t r = blockIdx.x; r < a.rows; r += gridDim.x) {
        const float *x = a.logits + r * a.cols;
        const int32_t label = a.labels[r];
        const bool bad = label < 0 || (int64_t)label >= a.cols;
        float mx;
        double lse;
        row_lse(x, a.cols, &mx, &lse, shf, shd);
        double sx = 0.0;
        for (int64_t c = threadIdx.x; c < a.cols; c += blockDim.x) sx += (double)x[c];
        sx = mia_cu_block_sum(sx, shd);
        const double lse_full = lse + (double)mx; /* logp_c = x_c - lse_full */
        if (threadIdx.x == 0) {
            if (bad) {
                flags[0] = MIA_CUDA_FLAG_BAD_LABEL;
                if (a.loss) a.loss[r] = NAN;
            } else if (a.loss) {
                double lp_label = (double)x[label] - lse_full;
                double mean_lp = sx / (double)a.cols - lse_full;
                a.loss[r] = (float)(-(1.0 - eps) * lp_label - eps * mean_lp);
            }
        }
        if (a.dlogits) {
            float *d = a.dlogits + r * a.cols;
            const double off = eps / (double)a.cols;
            for (int64_t c = threadIdx.x; c < a.cols; c += blockDim.x) {
                if (bad) {
                    d[c] = NAN;
                    continue;
                }
                double p = exp((double)x[c] - lse_full);
                double t = off + (c == (int64_t)label ? 1.0 - eps : 0.0);
                d[c] = (float)((double)a.grad_scale * (p - t));
            }
        }
    }
}

extern "C" mia_status mia__cuda_softmax_fwd(mia_backend *be, const mia_softmax_args *a)
{
    MIA_CU_BEGIN(be, st);
    softmax_fwd_kernel<<<mia_cu_row_blocks(a->rows), MIA_CU_ROW_THREADS, 0, st>>>(*a);
    MIA_CU_CHECK_LAUNCH("softmax_fwd");
    return MIA_OK;
}

extern "C" mia_status mia__cuda_softmax_bwd(mia_backend *be, const mia_softmax_args *a)
{
    MIA_CU_BEGIN(be, st);
    softmax_bwd_kernel<<<mia_cu_row_blocks(a->rows), MIA_CU_ROW_THREADS, 0, st>>>(*a);
    MIA_CU_CHECK_LAUNCH("softmax_bwd");
    return MIA_OK;
}

extern "C" mia_status mia__cuda_xent(mia_backend *be, const mia_xent_args *a)
{
    MIA_CU_BEGIN(be, st);
    xent_kernel<<<mia_cu_row_blocks(a->rows), MIA_CU_ROW_THREADS, 0, st>>>(
        *a, mia__cuda_ctx(be)->dev_flags);
    MIA_CU_CHECK_LAUNCH("xent");
    return MIA_OK;
}
