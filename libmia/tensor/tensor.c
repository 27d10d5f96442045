/* Dense tensors owned by a backend. */
#include <string.h>

#include "backend/backend-impl.h"
#include "tensor-impl.h"

mia_status mia__shape_check(mia_dtype dtype, int ndim, const int64_t *shape, const char *arg,
                            int64_t *numel, size_t *nbytes)
{
    size_t es = mia_dtype_size(dtype);
    MIA_CHECK_ARG(es != 0, "dtype %d is not a valid mia_dtype", (int)dtype);
    MIA_CHECK_ARG(ndim >= 1 && ndim <= MIA_MAX_DIMS, "ndim = %d is not in 1..%d", ndim,
                  MIA_MAX_DIMS);
    MIA_CHECK_ARG(shape, "%s is NULL", arg);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        MIA_CHECK_ARG(shape[i] >= 1, "%s[%d] = %lld must be >= 1", arg, i, (long long)shape[i]);
        if (mia__mul_size(n, (size_t)shape[i], &n) || n > (size_t)INT64_MAX)
            return MIA_ERROR(MIA_ERR_INVALID, "%s: element count overflows", arg);
    }
    size_t b;
    if (mia__mul_size(n, es, &b)) return MIA_ERROR(MIA_ERR_INVALID, "%s: byte size overflows", arg);
    *numel = (int64_t)n;
    *nbytes = b;
    return MIA_OK;
}

static mia_status tensor_new(mia_tensor **out, mia_backend *be, mia_dtype dtype, int ndim,
                             const int64_t *shape, void *data)
{
    int64_t numel;
    size_t nbytes;
    MIA_CHECK_ARG(be, "be is NULL");
    MIA_TRY(mia__shape_check(dtype, ndim, shape, "shape", &numel, &nbytes));
    mia_tensor *t = mia__calloc(1, sizeof *t);
    if (!t) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory allocating a tensor header");
    t->be = be;
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = numel;
    t->nbytes = nbytes;
    if (data) {
        t->data = data;
        t->owned = false;
    } else {
        mia_status s = be->ops->alloc(be, nbytes, &t->data);
        if (s != MIA_OK) {
            mia__free(t);
            return s;
        }
        t->owned = true;
    }
    be->live_tensors++;
    *out = t;
    return MIA_OK;
}

mia_status mia_tensor_create(mia_tensor **out, mia_backend *be, mia_dtype dtype, int ndim,
                             const int64_t *shape)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(out, "out is NULL");
    return tensor_new(out, be, dtype, ndim, shape, NULL);
}

mia_status mia_tensor_wrap_host(mia_tensor **out, mia_backend *be, mia_dtype dtype, int ndim,
                                const int64_t *shape, void *data)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(out, "out is NULL");
    MIA_CHECK_ARG(data, "data is NULL");
    MIA_CHECK_ARG(be, "be is NULL");
    if (be->ops->kind != MIA_DEVICE_HOST)
        return MIA_ERROR(MIA_ERR_UNSUPPORTED,
                         "be: backend %s keeps tensors on a device; use mia_tensor_upload()",
                         be->ops->name);
    size_t es = mia_dtype_size(dtype);
    MIA_CHECK_ARG(es == 0 || ((uintptr_t)data % es) == 0, "data is not aligned to %zu bytes", es);
    return tensor_new(out, be, dtype, ndim, shape, data);
}

void mia_tensor_free(mia_tensor *t)
{
    if (!t) return;
    if (t->owned && t->data) t->be->ops->release(t->be, t->data);
    t->be->live_tensors--;
    mia__free(t);
}

int mia_tensor_ndim(const mia_tensor *t) { return t ? t->ndim : 0; }

int64_t mia_tensor_dim(const mia_tensor *t, int i)
{
    return (t && i >= 0 && i < t->ndim) ? t->shape[i] : -1;
}

const int64_t *mia_tensor_shape(const mia_tensor *t) { return t ? t->shape : NULL; }
int64_t mia_tensor_numel(const mia_tensor *t) { return t ? t->numel : 0; }
size_t mia_tensor_nbytes(const mia_tensor *t) { return t ? t->nbytes : 0; }
mia_dtype mia_tensor_dtype(const mia_tensor *t) { return t ? t->dtype : MIA_DTYPE_F32; }
mia_backend *mia_tensor_backend(const mia_tensor *t) { return t ? t->be : NULL; }

void *mia_tensor_host_data(mia_tensor *t)
{
    return (t && t->be->ops->kind == MIA_DEVICE_HOST) ? t->data : NULL;
}

mia_status mia_tensor_upload(mia_tensor *t, const void *src, size_t nbytes)
{
    mia__error_begin();
    MIA_CHECK_ARG(t, "t is NULL");
    MIA_CHECK_ARG(src, "src is NULL");
    MIA_CHECK_ARG(nbytes == t->nbytes, "nbytes = %zu but the tensor holds %zu bytes", nbytes,
                  t->nbytes);
    return t->be->ops->upload(t->be, t->data, src, nbytes);
}

mia_status mia_tensor_download(const mia_tensor *t, void *dst, size_t nbytes)
{
    mia__error_begin();
    MIA_CHECK_ARG(t, "t is NULL");
    MIA_CHECK_ARG(dst, "dst is NULL");
    MIA_CHECK_ARG(nbytes == t->nbytes, "nbytes = %zu but the tensor holds %zu bytes", nbytes,
                  t->nbytes);
    if (t->be->ops->synchronize) MIA_TRY(t->be->ops->synchronize(t->be));
    return t->be->ops->download(t->be, dst, t->data, nbytes);
}

mia_status mia_tensor_copy(mia_tensor *dst, const mia_tensor *src)
{
    mia__error_begin();
    MIA_CHECK_ARG(dst, "dst is NULL");
    MIA_CHECK_ARG(src, "src is NULL");
    MIA_CHECK_ARG(dst->dtype == src->dtype, "dst dtype %s differs from src dtype %s",
                  mia_dtype_name(dst->dtype), mia_dtype_name(src->dtype));
    MIA_CHECK_ARG(dst->numel == src->numel, "dst has %lld elements but src has %lld",
                  (long long)dst->numel, (long long)src->numel);
    if (dst->be == src->be) return mia__memcpy_dd(dst->be, dst->data, src->data, src->nbytes);
    if (src->be->ops->kind == MIA_DEVICE_HOST)
        return dst->be->ops->upload(dst->be, dst->data, src->data, src->nbytes);
    if (dst->be->ops->kind == MIA_DEVICE_HOST) {
        if (src->be->ops->synchronize) MIA_TRY(src->be->ops->synchronize(src->be));
        return src->be->ops->download(src->be, dst->data, src->data, src->nbytes);
    }
    void *tmp = mia__malloc(src->nbytes);
    if (!tmp) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory staging a device-to-device copy");
    mia_status s = src->be->ops->synchronize ? src->be->ops->synchronize(src->be) : MIA_OK;
    if (s == MIA_OK) s = src->be->ops->download(src->be, tmp, src->data, src->nbytes);
    if (s == MIA_OK) s = dst->be->ops->upload(dst->be, dst->data, tmp, src->nbytes);
    mia__free(tmp);
    return s;
}

mia_status mia_tensor_reshape(mia_tensor *t, int ndim, const int64_t *shape)
{
    mia__error_begin();
    int64_t numel;
    size_t nbytes;
    MIA_CHECK_ARG(t, "t is NULL");
    MIA_TRY(mia__shape_check(t->dtype, ndim, shape, "shape", &numel, &nbytes));
    MIA_CHECK_ARG(numel == t->numel, "shape has %lld elements but the tensor has %lld",
                  (long long)numel, (long long)t->numel);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    return MIA_OK;
}

mia_status mia_tensor_zero(mia_tensor *t)
{
    mia__error_begin();
    MIA_CHECK_ARG(t, "t is NULL");
    return mia__memset0(t->be, t->data, t->nbytes);
}

mia_status mia_tensor_fill_f32(mia_tensor *t, float value)
{
    mia__error_begin();
    MIA_CHECK_ARG(t, "t is NULL");
    MIA_CHECK_ARG(t->dtype == MIA_DTYPE_F32, "t has dtype %s, expected f32",
                  mia_dtype_name(t->dtype));
    return mia__fill_f32(t->be, (float *)t->data, t->numel, value);
}
