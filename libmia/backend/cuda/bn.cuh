/* Batch-norm family (bn.cu): one block per channel; per-channel sums over (n, hw) in f64 with a
 * fixed reduction order. */
#ifndef MIA_CUDA_BN_CUH
#define MIA_CUDA_BN_CUH

#include "cuda-kernels.h"

#define MIA_CU_BN_THREADS 512

/* Element e of channel ch in an (n, c, hw) tensor, e in [0, n * hw). */
__device__ __forceinline__ int64_t mia_cu_nchw_index(int64_t e, int64_t ch, int64_t c, int64_t hw)
{
    int64_t i = e / hw;
    return (i * c + ch) * hw + (e - i * hw);
}

#endif
