/*
 * GEMM on cuBLAS. libmia's GEMM is row-major (ops.h); cuBLAS is column-major. A row-major
 * m x n matrix with leading dimension ld is, byte for byte, the column-major n x m matrix
 * (its transpose) with the same ld. So
 *     C = alpha op(A) op(B) + beta C            (row-major)
 * is  C^T = alpha op(B)^T op(A)^T + beta C^T    (column-major)
 * i.e. cublasSgemm(opB, opA, n, m, k, alpha, B, ldb, A, lda, beta, C, ldc) with the operands
 * swapped and the same transpose flags. beta == 0 never reads C (NaN in C does not leak).
 */
#include <limits.h>

#include "common.cuh"
#include "gemm.cuh"

static bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

mia_status mia__cuda_sgemm(mia_backend *be, bool trans_a, bool trans_b, int64_t m, int64_t n,
                           int64_t k, float alpha, const float *a, int64_t lda, int64_t stride_a,
                           const float *b, int64_t ldb, int64_t stride_b, float beta, float *c,
                           int64_t ldc, int64_t stride_c, int64_t batch)
{
    if (!fits_int(m) || !fits_int(n) || !fits_int(k) || !fits_int(lda) || !fits_int(ldb) ||
        !fits_int(ldc) || !fits_int(batch))
        return MIA_ERROR(MIA_ERR_UNSUPPORTED,
                         "gemm: m=%lld n=%lld k=%lld exceeds the 32-bit dimensions of cuBLAS",
                         (long long)m, (long long)n, (long long)k);
    MIA_TRY(mia__cuda_enter(be));
    cublasHandle_t h = mia__cuda_ctx(be)->blas;
    const cublasOperation_t opa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t opb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (batch == 1)
        return mia__cublas_check(cublasSgemm(h, opb, opa, (int)n, (int)m, (int)k, &alpha, b,
                                             (int)ldb, a, (int)lda, &beta, c, (int)ldc),
                                 "cublasSgemm");
    return mia__cublas_check(cublasSgemmStridedBatched(h, opb, opa, (int)n, (int)m, (int)k, &alpha,
                                                       b, (int)ldb, (long long)stride_b, a,
                                                       (int)lda, (long long)stride_a, &beta, c,
                                                       (int)ldc, (long long)stride_c, (int)batch),
                             "cublasSgemmStridedBatched");
}

extern "C" mia_status mia__cuda_gemm(mia_backend *be, const mia_gemm_args *g)
{
    return mia__cuda_sgemm(be, g->trans_a, g->trans_b, g->m, g->n, g->k, g->alpha, g->a, g->lda,
                           0, g->b, g->ldb, 0, g->beta, g->c, g->ldc, 0, 1);
}
