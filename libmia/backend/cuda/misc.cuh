/* Miscellaneous family (misc.cu): bias, binary ops, channel multiply, dropout, fill. */
#ifndef MIA_CUDA_MISC_CUH
#define MIA_CUDA_MISC_CUH

#include "cuda-kernels.h"

#ifdef __cplusplus
extern "C" {
#endif
#include "core/rng.h" /* MIA_STREAM_DROPOUT */
#ifdef __cplusplus
}
#endif

#define MIA_CU_RED_THREADS 256

/* Dropout keep decision of element i (ops.h): word i % 4 of Philox block i / 4 of stream
 * MIA_STREAM_DROPOUT ^ stream, kept iff its unit value >= p. */
__device__ __forceinline__ bool mia_cu_dropout_keep(const uint32_t words[4], int64_t i, float p)
{
    return mia_cu_u32_to_unit(words[i & 3]) >= p;
}

#endif
