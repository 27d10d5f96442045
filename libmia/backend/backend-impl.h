/*
 * The private backend vtable. Not installed. See doc/backends.md for how to add an op or a
 * backend: add the op to MIA_OP_LIST, its argument struct to ops.h, a ref kernel (the oracle),
 * a parity case in tests/test-backend-parity.c, then the fast kernels.
 */
#ifndef MIA_BACKEND_IMPL_H
#define MIA_BACKEND_IMPL_H

#include "ops.h"

#define MIA_BACKEND_ABI 2

/* Every compute op: name and argument struct. Generates vtable slots and dispatchers. */
#define MIA_OP_LIST(X)                          \
    X(gemm, mia_gemm_args)                      \
    X(conv2d_fwd, mia_conv2d_args)              \
    X(conv2d_bwd_data, mia_conv2d_args)         \
    X(conv2d_bwd_weights, mia_conv2d_args)      \
    X(batchnorm_fwd, mia_batchnorm_args)        \
    X(batchnorm_bwd, mia_batchnorm_args)        \
    X(eltwise_fwd, mia_eltwise_args)            \
    X(eltwise_bwd, mia_eltwise_args)            \
    X(pool2d_fwd, mia_pool2d_args)              \
    X(pool2d_bwd, mia_pool2d_args)              \
    X(bias_add, mia_bias_args)                  \
    X(bias_grad, mia_bias_args)                 \
    X(add, mia_binary_args)                     \
    X(axpy, mia_binary_args)                    \
    X(mul, mia_binary_args)                     \
    X(scale, mia_binary_args)                   \
    X(chmul_fwd, mia_chmul_args)                \
    X(chmul_bwd, mia_chmul_args)                \
    X(relayout, mia_relayout_args)              \
    X(dropout_fwd, mia_dropout_args)            \
    X(dropout_bwd, mia_dropout_args)            \
    X(softmax_fwd, mia_softmax_args)            \
    X(softmax_bwd, mia_softmax_args)            \
    X(xent, mia_xent_args)                      \
    X(adam_step, mia_adam_args)                 \
    X(sgd_step, mia_sgd_args)

struct mia_backend_ops {
    uint32_t abi;               /* = MIA_BACKEND_ABI */
    const char *name;           /* "ref", "onednn", "cuda" */
    mia_device_kind kind;       /* HOST: NULL ops fall back to ref; DEVICE: NULL => unsupported */
    bool blocked_act;           /* graphs keep activations blocked (ops.h) on this backend */
    int (*device_count)(void);  /* optional: NULL => 1 */
    mia_status (*init)(mia_backend *be, const mia_backend_opts *o);   /* optional */
    void (*fini)(mia_backend *be);                                     /* optional */
    mia_status (*alloc)(mia_backend *be, size_t nbytes, void **out);   /* zero-filled */
    void (*release)(mia_backend *be, void *ptr);
    mia_status (*upload)(mia_backend *be, void *dst, const void *host_src, size_t n);
    mia_status (*download)(mia_backend *be, void *host_dst, const void *src, size_t n);
    mia_status (*memcpy_dd)(mia_backend *be, void *dst, const void *src, size_t n);
    mia_status (*memset0)(mia_backend *be, void *dst, size_t n);
    mia_status (*fill_f32)(mia_backend *be, float *dst, int64_t count, float v);
    mia_status (*synchronize)(mia_backend *be); /* optional: NULL => synchronous */
#define MIA_OP_SLOT_(name, args) mia_status (*name)(mia_backend * be, const args *a);
    MIA_OP_LIST(MIA_OP_SLOT_)
#undef MIA_OP_SLOT_
};

struct mia_backend {
    const struct mia_backend_ops *ops;
    void *ctx;          /* backend-private state (primitive caches, streams, handles) */
    int device;
    int n_threads;
    bool deterministic;
    int64_t live_tensors;
};

/* Backend descriptors, defined by each backend. */
extern const struct mia_backend_ops mia__ref_backend_ops;
#if MIA_HAVE_ONEDNN
extern const struct mia_backend_ops mia__onednn_backend_ops;
#endif
#if MIA_HAVE_CUDA
extern const struct mia_backend_ops mia__cuda_backend_ops;
#endif

#endif
