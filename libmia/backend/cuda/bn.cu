/*
 * Batch normalisation (ops.h semantics, PyTorch BatchNorm2d): training uses the batch mean and
 * biased variance for y, saves them, and updates running stats with the unbiased variance;
 * eval uses the running stats. The backward recomputes xhat from the saved stats.
 * One block per channel; f64 accumulation in a fixed order (no atomics).
 */
#include "bn.cuh"
#include "common.cuh"

static __global__ void bn_fwd_train_kernel(mia_batchnorm_args a)
{
    __shared__ double sh[32];
    const int64_t ch = blockIdx.x, cnt = a.n * a.hw;
    double s = 0.0;
    for (int64_t e = threadIdx.x; e < cnt; e += blockDim.x)
        s += (double)a.x[mia_cu_nchw_index(e, ch, a.c, a.hw)];
    const double mean = mia_cu_block_sum(s, sh) / (double)cnt;
    double q = 0.0;
    for (int64_t e = threadIdx.x; e < cnt; e += blockDim.x) {
        double d = (double)a.x[mia_cu_nchw_index(e, ch, a.c, a.hw)] - mean;
        q += d * d;
    }
    const double var = mia_cu_block_sum(q, sh) / (double)cnt;
    const double invstd = 1.0 / sqrt(var + (double)a.eps);
    const double g = a.gamma ? (double)a.gamma[ch] : 1.0, b = a.beta ? (double)a.beta[ch] : 0.0;
    const float fmean = (float)mean;
    for (int64_t e = threadIdx.x; e < cnt; e += blockDim.x) {
        int64_t i = mia_cu_nchw_index(e, ch, a.c, a.hw);
        a.y[i] = (float)(((double)a.x[i] - mean) * invstd * g + b);
    }
    if (threadIdx.x == 0) {
        if (a.save_mean) a.save_mean[ch] = fmean;
        if (a.save_var) a.save_var[ch] = (float)var;
        const double mom = (double)a.momentum;
        if (a.running_mean)
            a.running_mean[ch] = (float)((1.0 - mom) * (double)a.running_mean[ch] + mom * mean);
        if (a.running_var) {
            double unb = cnt > 1 ? var * (double)cnt / (double)(cnt - 1) : var;
            a.running_var[ch] = (float)((1.0 - mom) * (double)a.running_var[ch] + mom * unb);
        }
    }
}

static __global__ void bn_fwd_eval_kernel(mia_batchnorm_args a)
{
    const int64_t total = a.n * a.c * a.hw;
    MIA_CU_LOOP(i, total) {
        int64_t ch = (i / a.hw) % a.c;
        double mean = a.running_mean ? (double)a.running_mean[ch] : 0.0;
        double var = a.running_var ? (double)a.running_var[ch] : 1.0;
        double invstd = 1.0 / sqrt(var + (double)a.eps);
        double g = a.gamma ? (double)a.gamma[ch] : 1.0, b = a.beta ? (double)a.beta[ch] : 0.0;
        a.y[i] = (float)(((double)a.x[i] - mean) * invstd * g + b);
    }
}

/* training: dx = gamma invstd (dy - sum(dy) / m - xhat sum(dy xhat) / m), m = n hw */
static __global__ void bn_bwd_kernel(mia_batchnorm_args a)
{
    __shared__ double sh[32];
    const int64_t ch = blockIdx.x, cnt = a.n * a.hw;
    /* eval mode (defined as in ref): the running stats are constants */
    const float *mp = a.training ? a.save_mean : a.running_mean;
    const float *vp = a.training ? a.save_var : a.running_var;
    const double mean = mp ? (double)mp[ch] : 0.0;
    const double invstd = 1.0 / sqrt((vp ? (double)vp[ch] : 1.0) + (double)a.eps);
    double sdy = 0.0, sdyx = 0.0;
    for (int64_t e = threadIdx.x; e < cnt; e += blockDim.x) {
        int64_t i = mia_cu_nchw_index(e, ch, a.c, a.hw);
        double dy = (double)a.dy[i];
        sdy += dy;
        sdyx += dy * ((double)a.x[i] - mean) * invstd;
    }
    sdy = mia_cu_block_sum(sdy, sh);
    sdyx = mia_cu_block_sum(sdyx, sh);
    if (threadIdx.x == 0) {
        if (a.dbeta) a.dbeta[ch] = (float)sdy;
        if (a.dgamma) a.dgamma[ch] = (float)sdyx;
    }
    if (!a.dx) return;
    const double g = a.gamma ? (double)a.gamma[ch] : 1.0, m = (double)cnt;
    for (int64_t e = threadIdx.x; e < cnt; e += blockDim.x) {
        int64_t i = mia_cu_nchw_index(e, ch, a.c, a.hw);
        double dy = (double)a.dy[i];
        if (a.training) {
            double xh = ((double)a.x[i] - mean) * invstd;
            a.dx[i] = (float)(g * invstd * (dy - sdy / m - xh * sdyx / m));
        } else {
            a.dx[i] = (float)(g * invstd * dy);
        }
    }
}

static mia_status check_grid(int64_t c)
{
    if (c > 2147483647)
        return MIA_ERROR(MIA_ERR_UNSUPPORTED, "batchnorm: c = %lld exceeds the CUDA grid",
                         (long long)c);
    return MIA_OK;
}

extern "C" mia_status mia__cuda_batchnorm_fwd(mia_backend *be, const mia_batchnorm_args *a)
{
    MIA_CU_BEGIN(be, st);
    if (a->training) {
        MIA_TRY(check_grid(a->c));
        bn_fwd_train_kernel<<<(unsigned)a->c, MIA_CU_BN_THREADS, 0, st>>>(*a);
        MIA_CU_CHECK_LAUNCH("batchnorm_fwd (training)");
    } else {
        bn_fwd_eval_kernel<<<mia_cu_blocks(a->n * a->c * a->hw), MIA_CU_THREADS, 0, st>>>(*a);
        MIA_CU_CHECK_LAUNCH("batchnorm_fwd (eval)");
    }
    return MIA_OK;
}

extern "C" mia_status mia__cuda_batchnorm_bwd(mia_backend *be, const mia_batchnorm_args *a)
{
    MIA_CU_BEGIN(be, st);
    if (a->training && (!a->save_mean || !a->save_var))
        return MIA_ERROR(MIA_ERR_INVALID, "batchnorm: training bwd needs save_mean and save_var");
    MIA_TRY(check_grid(a->c));
    bn_bwd_kernel<<<(unsigned)a->c, MIA_CU_BN_THREADS, 0, st>>>(*a);
    MIA_CU_CHECK_LAUNCH("batchnorm_bwd");
    return MIA_OK;
}
