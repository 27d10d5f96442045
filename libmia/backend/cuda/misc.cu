/* Bias add/grad, binary ops, channel multiply (squeeze-excite), dropout and fill. Reductions
 * (bias grad, chmul ds) use one block per output with f64 accumulation in a fixed order. */
#include "common.cuh"
#include "bn.cuh"
#include "misc.cuh"

/* ---- bias ---------------------------------------------------------------------------------- */

static __global__ void bias_add_kernel(mia_bias_args a)
{
    const int64_t total = a.outer * a.c * a.inner;
    MIA_CU_LOOP(i, total) a.y[i] += a.b[(i / a.inner) % a.c];
}

static __global__ void bias_grad_kernel(mia_bias_args a)
{
    __shared__ double sh[32];
    const int64_t ch = blockIdx.x, cnt = a.outer * a.inner;
    double s = 0.0;
    for (int64_t e = threadIdx.x; e < cnt; e += blockDim.x)
        s += (double)a.dy[mia_cu_nchw_index(e, ch, a.c, a.inner)];
    s = mia_cu_block_sum(s, sh);
    if (threadIdx.x == 0) a.db[ch] = (float)s;
}

extern "C" mia_status mia__cuda_bias_add(mia_backend *be, const mia_bias_args *a)
{
    MIA_CU_BEGIN(be, st);
    bias_add_kernel<<<mia_cu_blocks(a->outer * a->c * a->inner), MIA_CU_THREADS, 0, st>>>(*a);
    MIA_CU_CHECK_LAUNCH("bias_add");
    return MIA_OK;
}

extern "C" mia_status mia__cuda_bias_grad(mia_backend *be, const mia_bias_args *a)
{
    MIA_CU_BEGIN(be, st);
    if (a->c > 2147483647) return MIA_ERROR(MIA_ERR_UNSUPPORTED, "bias_grad: c too large");
    bias_grad_kernel<<<(unsigned)a->c, MIA_CU_RED_THREADS, 0, st>>>(*a);
    MIA_CU_CHECK_LAUNCH("bias_grad");
    return MIA_OK;
}

/* ---- binary -------------------------------------------------------------------------------- */

enum bin_op { BIN_ADD, BIN_AXPY, BIN_MUL, BIN_SCALE };

static __global__ void binary_kernel(int op, mia_binary_args a)
{
    MIA_CU_LOOP(i, a.count) {
        switch (op) {
        case BIN_ADD: a.y[i] = a.a[i] + a.b[i]; break;
        case BIN_AXPY: a.y[i] = a.y[i] + a.alpha * a.a[i]; break;
        case BIN_MUL: a.y[i] = a.a[i] * a.b[i]; break;
        default: a.y[i] = a.alpha * a.a[i]; break;
        }
    }
}

static mia_status binary(mia_backend *be, int op, const mia_binary_args *a, const char *name)
{
    MIA_CU_BEGIN(be, st);
    binary_kernel<<<mia_cu_blocks(a->count), MIA_CU_THREADS, 0, st>>>(op, *a);
    MIA_CU_CHECK_LAUNCH(name);
    return MIA_OK;
}

extern "C" mia_status mia__cuda_add(mia_backend *be, const mia_binary_args *a)
{
    return binary(be, BIN_ADD, a, "add");
}
extern "C" mia_status mia__cuda_axpy(mia_backend *be, const mia_binary_args *a)
{
    return binary(be, BIN_AXPY, a, "axpy");
}
extern "C" mia_status mia__cuda_mul(mia_backend *be, const mia_binary_args *a)
{
    return binary(be, BIN_MUL, a, "mul");
}
extern "C" mia_status mia__cuda_scale(mia_backend *be, const mia_binary_args *a)
{
    return binary(be, BIN_SCALE, a, "scale");
}

/* ---- channel multiply ---------------------------------------------------------------------- */

static __global__ void chmul_fwd_kernel(mia_chmul_args a)
{
    const int64_t total = a.n * a.c * a.hw;
    MIA_CU_LOOP(i, total) a.y[i] = a.x[i] * a.s[i / a.hw];
}

static __global__ void chmul_dx_kernel(mia_chmul_args a)
{
    const int64_t total = a.n * a.c * a.hw;
    MIA_CU_LOOP(i, total) a.dx[i] = a.dy[i] * a.s[i / a.hw];
}

/* one block per (n, c) */
static __global__ void chmul_ds_kernel(mia_chmul_args a)
{
    __shared__ double sh[32];
    const int64_t nc = blockIdx.x;
    const float *dy = a.dy + nc * a.hw, *x = a.x + nc * a.hw;
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < a.hw; i += blockDim.x) s += (double)dy[i] * (double)x[i];
    s = mia_cu_block_sum(s, sh);
    if (threadIdx.x == 0) a.ds[nc] = (float)s;
}

extern "C" mia_status mia__cuda_chmul_fwd(mia_backend *be, const mia_chmul_args *a)
{
    MIA_CU_BEGIN(be, st);
    chmul_fwd_kernel<<<mia_cu_blocks(a->n * a->c * a->hw), MIA_CU_THREADS, 0, st>>>(*a);
    MIA_CU_CHECK_LAUNCH("chmul_fwd");
    return MIA_OK;
}

extern "C" mia_status mia__cuda_chmul_bwd(mia_backend *be, const mia_chmul_args *a)
{
    MIA_CU_BEGIN(be, st);
    /* ds first: dx may alias dy. */
    if (a->ds) {
        if (a->n * a->c > 2147483647) return MIA_ERROR(MIA_ERR_UNSUPPORTED, "chmul: n*c too large");
        chmul_ds_kernel<<<(unsigned)(a->n * a->c), MIA_CU_RED_THREADS, 0, st>>>(*a);
        MIA_CU_CHECK_LAUNCH("chmul_bwd (ds)");
    }
    if (a->dx) {
        chmul_dx_kernel<<<mia_cu_blocks(a->n * a->c * a->hw), MIA_CU_THREADS, 0, st>>>(*a);
        MIA_CU_CHECK_LAUNCH("chmul_bwd (dx)");
    }
    return MIA_OK;
}

/* ---- layout conversion (ops.h blocked layout) ---------------------------------------------- */

static __global__ void relayout_kernel(mia_relayout_args a)
{
    const int64_t total = a.n * a.c * a.hw, cb = a.c / MIA_BLOCK;
    MIA_CU_LOOP(q, total)
    {
        /* q indexes the blocked tensor: ((n * cb + b) * hw + s) * 8 + l */
        const int64_t l = q % MIA_BLOCK, s = (q / MIA_BLOCK) % a.hw;
        const int64_t b = (q / (MIA_BLOCK * a.hw)) % cb, n = q / (MIA_BLOCK * a.hw * cb);
        const int64_t p = (n * a.c + b * MIA_BLOCK + l) * a.hw + s;
        if (a.to_blocked)
            a.y[q] = a.x[p];
        else
            a.y[p] = a.x[q];
    }
}

extern "C" mia_status mia__cuda_relayout(mia_backend *be, const mia_relayout_args *a)
{
    MIA_CU_BEGIN(be, st);
    relayout_kernel<<<mia_cu_blocks(a->n * a->c * a->hw), MIA_CU_THREADS, 0, st>>>(*a);
    MIA_CU_CHECK_LAUNCH("relayout");
    return MIA_OK;
}

/* ---- dropout ------------------------------------------------------------------------------- */

/* One thread per Philox block (4 elements). out = keep ? in * (1 / (1 - p)) : 0, the f32
 * operations of mia__ref_dropout_*, so masks and values are bit-identical to ref. */
static __global__ void dropout_kernel(int64_t count, float p, uint64_t seed, uint64_t stream,
                               const float *in, float *out)
{
    const int64_t nblk = (count + 3) / 4;
    const float scale = 1.0f / (1.0f - p);
    MIA_CU_LOOP(blk, nblk) {
        uint32_t words[4];
        mia_cu_philox(seed, (uint64_t)MIA_STREAM_DROPOUT ^ stream, (uint64_t)blk, words);
        for (int64_t i = blk * 4; i < blk * 4 + 4 && i < count; i++)
            out[i] = mia_cu_dropout_keep(words, i, p) ? in[i] * scale : 0.0f;
    }
}

extern "C" mia_status mia__cuda_dropout_fwd(mia_backend *be, const mia_dropout_args *a)
{
    MIA_CU_BEGIN(be, st);
    dropout_kernel<<<mia_cu_blocks((a->count + 3) / 4), MIA_CU_THREADS, 0, st>>>(
        a->count, a->p, a->seed, a->stream, a->x, a->y);
    MIA_CU_CHECK_LAUNCH("dropout_fwd");
    return MIA_OK;
}

extern "C" mia_status mia__cuda_dropout_bwd(mia_backend *be, const mia_dropout_args *a)
{
    MIA_CU_BEGIN(be, st);
    dropout_kernel<<<mia_cu_blocks((a->count + 3) / 4), MIA_CU_THREADS, 0, st>>>(
        a->count, a->p, a->seed, a->stream, a->dy, a->dx);
    MIA_CU_CHECK_LAUNCH("dropout_bwd");
    return MIA_OK;
}

extern "C" void mia__cuda_philox_host(uint64_t seed, uint64_t stream, uint64_t ctr,
                                      uint32_t out[4])
{
    mia_cu_philox(seed, stream, ctr, out);
}

/* ---- fill ---------------------------------------------------------------------------------- */

static __global__ void fill_kernel(float *dst, int64_t count, float v)
{
    MIA_CU_LOOP(i, count) dst[i] = v;
}

extern "C" mia_status mia__cuda_fill_f32(mia_backend *be, float *dst, int64_t count, float v)
{
    if (count <= 0) return MIA_OK;
    MIA_CU_BEGIN(be, st);
    fill_kernel<<<mia_cu_blocks(count), MIA_CU_THREADS, 0, st>>>(dst, count, v);
    MIA_CU_CHECK_LAUNCH("fill_f32");
    return MIA_OK;
}
