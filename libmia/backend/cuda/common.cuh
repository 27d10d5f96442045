/*
 * Device helpers shared by the CUDA kernel files. C++ (nvcc) only.
 * - launch geometry for 1-D grid-stride loops over int64 element counts;
 * - MIA_CU_CHECK_LAUNCH: cudaGetLastError after each launch, translated to a mia_status;
 * - fixed-order block reductions (no atomics: deterministic by construction);
 * - the Philox-4x32-10 port, bit-identical to mia__philox in libmia/core/rng.c.
 */
#ifndef MIA_CUDA_COMMON_CUH
#define MIA_CUDA_COMMON_CUH

#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "cuda-kernels.h"

#define MIA_CU_THREADS 256
/* Grid-stride loops keep the grid bounded; 8192 blocks of 256 saturate current GPUs. */
#define MIA_CU_MAX_BLOCKS 8192

static inline unsigned mia_cu_blocks(int64_t count)
{
    int64_t b = (count + MIA_CU_THREADS - 1) / MIA_CU_THREADS;
    if (b < 1) b = 1;
    if (b > MIA_CU_MAX_BLOCKS) b = MIA_CU_MAX_BLOCKS;
    return (unsigned)b;
}

/* Enter the device and fetch the stream; returns from the caller on failure. */
#define MIA_CU_BEGIN(be, stream_var)                                                           \
    MIA_TRY(mia__cuda_enter(be));                                                              \
    cudaStream_t stream_var = mia__cuda_ctx(be)->stream

#define MIA_CU_CHECK_LAUNCH(what) MIA_TRY(mia__cuda_check(cudaGetLastError(), (what)))

#define MIA_CU_LOOP(i, count)                                                                  \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (count);              \
         i += (int64_t)blockDim.x * gridDim.x)

/* Sum of v over the block (blockDim.x a multiple of 32, <= 1024) in a fixed order; the result
 * is returned to every thread. sh must hold 32 values. */
template <typename T> __device__ __forceinline__ T mia_cu_block_sum(T v, T *sh)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int nwarps = (int)(blockDim.x >> 5);
    __syncthreads(); /* sh may still be read by a previous call */
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < nwarps ? sh[lane] : T(0);
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
        if (lane == 0) sh[0] = v;
    }
    __syncthreads();
    return sh[0];
}

template <typename T> __device__ __forceinline__ T mia_cu_block_max(T v, T *sh)
{
    for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_down_sync(0xffffffffu, v, o));
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int nwarps = (int)(blockDim.x >> 5);
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < nwarps ? sh[lane] : T(-INFINITY);
        for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_down_sync(0xffffffffu, v, o));
        if (lane == 0) sh[0] = v;
    }
    __syncthreads();
    return sh[0];
}

/* ---- Philox-4x32-10, a line-by-line port of mia__philox (libmia/core/rng.c) ---------------- */
/* The 64-bit product gives the same hi/lo words on host and device (mul.hi/mul.lo on the GPU). */
__host__ __device__ __forceinline__ void mia_cu_philox(uint64_t seed, uint64_t stream,
                                                       uint64_t ctr, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n1 = lo1;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        uint32_t n3 = lo0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* mia__u32_to_unit: uniform float in [0, 1) from the top 24 bits (exact in f32). */
__host__ __device__ __forceinline__ float mia_cu_u32_to_unit(uint32_t x)
{
    return (float)(x >> 8) * (1.0f / 16777216.0f);
}

#endif
