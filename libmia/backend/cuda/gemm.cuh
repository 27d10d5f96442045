/* GEMM family (gemm.cu): the row-major wrapper mia__cuda_sgemm is declared in cuda-kernels.h
 * because conv.cu reuses it; this header exists for the one-family-per-file layout and holds
 * nothing device-side yet. */
#ifndef MIA_CUDA_GEMM_CUH
#define MIA_CUDA_GEMM_CUH
#include "cuda-kernels.h"
#endif
