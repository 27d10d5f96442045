/* ref GEMM: row-major C = alpha op(A) op(B) + beta C, f64 accumulation. */
#include "ref.h"

mia_status mia__ref_gemm(mia_backend *be, const mia_gemm_args *a)
{
    (void)be;
    for (int64_t i = 0; i < a->m; i++) {
        for (int64_t j = 0; j < a->n; j++) {
            double acc = 0.0;
            for (int64_t p = 0; p < a->k; p++) {
                float av = a->trans_a ? a->a[p * a->lda + i] : a->a[i * a->lda + p];
                float bv = a->trans_b ? a->b[j * a->ldb + p] : a->b[p * a->ldb + j];
                acc += (double)av * (double)bv;
            }
            float *c = &a->c[i * a->ldc + j];
            /* BLAS convention: beta == 0 means C is not read (may hold NaN). */
            if (a->beta == 0.0f)
                *c = (float)((double)a->alpha * acc);
            else
                *c = (float)((double)a->alpha * acc + (double)a->beta * (double)*c);
        }
    }
    return MIA_OK;
}
