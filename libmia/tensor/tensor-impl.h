/* Tensor internals shared inside libmia. Not installed. */
#ifndef MIA_TENSOR_IMPL_H
#define MIA_TENSOR_IMPL_H

#include <mia/tensor.h>

#include "mia-internal.h"

struct mia_tensor {
    mia_backend *be;
    mia_dtype dtype;
    int ndim;
    int64_t shape[MIA_MAX_DIMS];
    int64_t numel;
    size_t nbytes;
    void *data;   /* backend memory (device pointer for device backends) */
    bool owned;   /* false for wrapped host memory */
};

/* Backend pointer to the elements (host or device). */
static inline void *mia__tensor_data(const mia_tensor *t) { return t->data; }
static inline float *mia__tensor_f32(const mia_tensor *t) { return (float *)t->data; }

/* Validate a shape and compute numel and nbytes with overflow checks. arg names the argument in
 * messages. */
MIA_PRIVATE mia_status mia__shape_check(mia_dtype dtype, int ndim, const int64_t *shape,
                                        const char *arg, int64_t *numel, size_t *nbytes);

#endif
