/*
 * The CUDA backend's single host-side header (C and C++): the per-backend context, the helpers
 * that cuda-backend.c exports to the kernel files, and the extern "C" entry point of every op.
 * Not installed. Each *.cu file implements one op family; its *.cuh holds only device helpers
 * that other families reuse.
 *
 * Rules every entry point follows:
 * - work goes on ctx->stream only, so the caching allocator may hand a freed block to later work
 *   without any synchronisation (stream order protects it);
 * - every launch is followed by MIA_CU_CHECK_LAUNCH (cudaGetLastError), every cuBLAS call by
 *   mia__cublas_check; asynchronous faults surface at mia_backend_synchronize;
 * - no host round trip inside an op (no cudaMemcpy to the host, no stream synchronisation);
 * - no atomics: every reduction has one fixed order, so results are bit-identical run to run.
 */
#ifndef MIA_CUDA_KERNELS_H
#define MIA_CUDA_KERNELS_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "../backend-impl.h"

/* One cached device block (caching allocator, cuda-backend.c). */
typedef struct mia_cuda_block {
    void *ptr;
    size_t size; /* rounded size actually allocated */
} mia_cuda_block;

typedef struct mia_cuda_ctx {
    int device;
    bool deterministic;
    cudaStream_t stream;   /* the backend's one stream: all work is ordered on it */
    cublasHandle_t blas;   /* bound to stream */
    int *dev_flags;        /* device word: kernels OR in MIA_CUDA_FLAG_* (checked at synchronize) */
    /* caching allocator: live blocks and freed blocks kept for reuse */
    mia_cuda_block *live, *cache;
    size_t n_live, cap_live, n_cache, cap_cache;
    size_t cached_bytes;
    /* kernel workspace (im2col columns, transposes); grown on demand, owned by the context */
    void *scratch;
    size_t scratch_bytes;
} mia_cuda_ctx;

/* Bits of *dev_flags. */
#define MIA_CUDA_FLAG_BAD_LABEL 1 /* xent saw a label outside [0, cols) */

static inline mia_cuda_ctx *mia__cuda_ctx(mia_backend *be) { return (mia_cuda_ctx *)be->ctx; }

/* Translate a CUDA runtime error into MIA_ERR_DEVICE (MIA_ERR_NOMEM for allocation failures)
 * with cudaGetErrorName/cudaGetErrorString text; MIA_OK for cudaSuccess. what names the call. */
MIA_PRIVATE mia_status mia__cuda_check(cudaError_t e, const char *what);
/* Same for cuBLAS, with cublasGetStatusString text. */
MIA_PRIVATE mia_status mia__cublas_check(cublasStatus_t s, const char *what);
/* Make be's device current on this thread (the current device is per host thread). */
MIA_PRIVATE mia_status mia__cuda_enter(mia_backend *be);
/* Workspace of at least nbytes on be's device, valid until the next call on be. The previous
 * contents are not preserved when it grows. */
MIA_PRIVATE mia_status mia__cuda_scratch(mia_backend *be, size_t nbytes, void **out);
/* Row-major GEMM on ctx->stream, same convention as mia_gemm_args; strided batch of `batch`
 * products (strides in elements; stride 0 reuses a matrix). Checks the int range of cuBLAS. */
MIA_PRIVATE mia_status mia__cuda_sgemm(mia_backend *be, bool trans_a, bool trans_b, int64_t m,
                                       int64_t n, int64_t k, float alpha, const float *a,
                                       int64_t lda, int64_t stride_a, const float *b, int64_t ldb,
                                       int64_t stride_b, float beta, float *c, int64_t ldc,
                                       int64_t stride_c, int64_t batch);
/* Host build of the device Philox port (common.cuh), for the CPU unit test of bit-identity. */
MIA_PRIVATE void mia__cuda_philox_host(uint64_t seed, uint64_t stream, uint64_t ctr,
                                       uint32_t out[4]);

/* Op entry points (vtable slots). Arguments were validated by the dispatcher in backend.c. */
#define MIA_CUDA_DECL_(name, args) MIA_PRIVATE mia_status mia__cuda_##name(mia_backend *be, const args *a);
MIA_OP_LIST(MIA_CUDA_DECL_)
#undef MIA_CUDA_DECL_
MIA_PRIVATE mia_status mia__cuda_fill_f32(mia_backend *be, float *dst, int64_t count, float v);

#ifdef __cplusplus
}
#endif

#endif
