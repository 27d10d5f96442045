/*
 * The ref backend's kernels: plain C11 loops, f64 accumulation where cheap. They are the test
 * oracle for every other backend and the host fallback for ops a host backend leaves NULL.
 * All pointers are host memory. Single-threaded and deterministic.
 */
#ifndef MIA_REF_H
#define MIA_REF_H

#include "../backend-impl.h"

#define MIA_REF_DECL_(name, args) MIA_PRIVATE mia_status mia__ref_##name(mia_backend *be, const args *a);
MIA_OP_LIST(MIA_REF_DECL_)
#undef MIA_REF_DECL_

/* Blocked calls (ops.h) of the layout-aware kernels: fn, the plain kernel, runs on plain copies
 * (ref-layout.c). MIA_ERR_NOMEM when a copy cannot be allocated. */
MIA_PRIVATE mia_status mia__ref_conv_unblocked(mia_backend *be, const mia_conv2d_args *a,
                                               mia_status (*fn)(mia_backend *,
                                                                const mia_conv2d_args *));
MIA_PRIVATE mia_status mia__ref_bn_unblocked(mia_backend *be, const mia_batchnorm_args *a,
                                             mia_status (*fn)(mia_backend *,
                                                              const mia_batchnorm_args *));
MIA_PRIVATE mia_status mia__ref_pool_unblocked(mia_backend *be, const mia_pool2d_args *a,
                                               mia_status (*fn)(mia_backend *,
                                                                const mia_pool2d_args *));
MIA_PRIVATE mia_status mia__ref_chmul_unblocked(mia_backend *be, const mia_chmul_args *a,
                                                mia_status (*fn)(mia_backend *,
                                                                 const mia_chmul_args *));

#endif
