/* Row-wise family (softmax.cu): softmax, log-softmax and cross-entropy, one block per row
 * (grid-stride over rows), max in f32 and sums in f64, fixed reduction order. */
#ifndef MIA_CUDA_SOFTMAX_CUH
#define MIA_CUDA_SOFTMAX_CUH

#include "cuda-kernels.h"

#define MIA_CU_ROW_THREADS 128
#define MIA_CU_MAX_ROW_BLOCKS 65535

static inline unsigned mia_cu_row_blocks(int64_t rows)
{
    return (unsigned)(rows < MIA_CU_MAX_ROW_BLOCKS ? rows : MIA_CU_MAX_ROW_BLOCKS);
}

#endif
