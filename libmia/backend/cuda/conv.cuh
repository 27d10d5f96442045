/*
 * Convolution family (conv.cu): im2col / col2im in a "channel-major chunk" layout and the
 * depthwise kernels. A chunk of nb images is unfolded into col[r][q] with r = (ci, ki, kj)
 * (ci-major, as OIHW weights are laid out) and q = (img, oy, ox), leading dimension
 * ldcol = nb * oh * ow. One GEMM per group then covers the whole chunk.
 */
#ifndef MIA_CUDA_CONV_CUH
#define MIA_CUDA_CONV_CUH

#include "cuda-kernels.h"

/* Geometry shared by the kernels (copied by value into each launch). */
struct mia_cu_conv_geom {
    int64_t c, h, w, o, oh, ow, kh, kw, sh, sw, pt, pl;
    int64_t nb;  /* images in this chunk */
};

#endif
