/**
 * @file tensor.h
 * @brief Dense row-major tensors owned by a backend.
 *
 * Images are NCHW. Compute is f32; datasets store u8. Host<->device copies are explicit.
 * @code
 *   int64_t shape[4] = {8, 3, 32, 32};
 *   mia_tensor *t;
 *   mia_tensor_create(&t, be, MIA_DTYPE_F32, 4, shape);
 *   mia_tensor_upload(t, host_pixels, mia_tensor_nbytes(t));
 *   ...
 *   mia_tensor_free(t);
 * @endcode
 */
#ifndef MIA_TENSOR_H
#define MIA_TENSOR_H

#include "common.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Allocate a zero-filled tensor on @p be.
 * @param[out] out caller owns; free with mia_tensor_free() before freeing @p be.
 * @param ndim     1..MIA_MAX_DIMS; every dim >= 1 (0-sized tensors are rejected).
 * @return MIA_OK; MIA_ERR_INVALID (message names the argument); MIA_ERR_NOMEM; MIA_ERR_DEVICE.
 * @note Thread-safe with respect to other tensors; @p be is used by one thread at a time.
 */
MIA_API mia_status mia_tensor_create(mia_tensor **out, mia_backend *be, mia_dtype dtype,
                                     int ndim, const int64_t *shape);

/**
 * @brief Wrap caller memory as a tensor without copying (host backends only).
 * @param data borrowed: must stay valid and suitably aligned for @p dtype until the tensor is
 *             freed. The tensor does not free it.
 * @return MIA_OK; MIA_ERR_INVALID; MIA_ERR_UNSUPPORTED on a device backend; MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_tensor_wrap_host(mia_tensor **out, mia_backend *be, mia_dtype dtype,
                                        int ndim, const int64_t *shape, void *data);

/** Free @p t and, unless wrapped, its storage. Accepts NULL. */
MIA_API void mia_tensor_free(mia_tensor *t);

/** Rank of @p t. */
MIA_API int mia_tensor_ndim(const mia_tensor *t);
/** Size of dimension @p i, or -1 when @p i is out of range. */
MIA_API int64_t mia_tensor_dim(const mia_tensor *t, int i);
/** Borrowed pointer to the ndim sizes; valid while @p t lives and is not reshaped. */
MIA_API const int64_t *mia_tensor_shape(const mia_tensor *t);
/** Number of elements. */
MIA_API int64_t mia_tensor_numel(const mia_tensor *t);
/** Size of the storage in bytes. */
MIA_API size_t mia_tensor_nbytes(const mia_tensor *t);
/** Element type. */
MIA_API mia_dtype mia_tensor_dtype(const mia_tensor *t);
/** Borrowed: the backend that owns @p t. */
MIA_API mia_backend *mia_tensor_backend(const mia_tensor *t);

/**
 * @brief Borrowed pointer to the elements for host tensors, NULL for device tensors.
 * @warning valid while @p t lives; no synchronisation is implied.
 */
MIA_API void *mia_tensor_host_data(mia_tensor *t);

/**
 * @brief Copy @p nbytes from host memory into @p t.
 * @return MIA_OK; MIA_ERR_INVALID if @p nbytes differs from mia_tensor_nbytes(); MIA_ERR_DEVICE.
 */
MIA_API mia_status mia_tensor_upload(mia_tensor *t, const void *src, size_t nbytes);

/**
 * @brief Copy the contents of @p t into host memory @p dst (synchronises the backend).
 * @return MIA_OK; MIA_ERR_INVALID if @p nbytes differs from mia_tensor_nbytes(); MIA_ERR_DEVICE.
 */
MIA_API mia_status mia_tensor_download(const mia_tensor *t, void *dst, size_t nbytes);

/**
 * @brief Copy @p src into @p dst (same dtype and element count; backends may differ).
 * @return MIA_OK; MIA_ERR_INVALID; MIA_ERR_NOMEM; MIA_ERR_DEVICE.
 */
MIA_API mia_status mia_tensor_copy(mia_tensor *dst, const mia_tensor *src);

/**
 * @brief Change the shape of @p t in place; the element count must stay the same.
 * @return MIA_OK; MIA_ERR_INVALID.
 */
MIA_API mia_status mia_tensor_reshape(mia_tensor *t, int ndim, const int64_t *shape);

/** Set every byte of @p t to zero. @return MIA_OK or MIA_ERR_DEVICE. */
MIA_API mia_status mia_tensor_zero(mia_tensor *t);

/**
 * @brief Set every element of an f32 tensor to @p value.
 * @return MIA_OK; MIA_ERR_INVALID for a non-f32 tensor; MIA_ERR_DEVICE.
 */
MIA_API mia_status mia_tensor_fill_f32(mia_tensor *t, float value);

#ifdef __cplusplus
}
#endif
#endif
