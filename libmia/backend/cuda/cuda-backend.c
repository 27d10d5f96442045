/*
 * CUDA backend host glue: device discovery, per-backend context (one stream, one cuBLAS handle),
 * a caching allocator over plain cudaMalloc (no managed memory), explicit copies, and the
 * translation of CUDA/cuBLAS errors into MIA_ERR_DEVICE. Kernels live in *.cu (one op family
 * per file); their entry points are declared in cuda-kernels.h.
 */
#include <string.h>

#include "cuda-kernels.h"

/* ---- errors ------------------------------------------------------------------------------ */

mia_status mia__cuda_check(cudaError_t e, const char *what)
{
    if (e == cudaSuccess) return MIA_OK;
    mia_status s = e == cudaErrorMemoryAllocation ? MIA_ERR_NOMEM : MIA_ERR_DEVICE;
    return MIA_ERROR(s, "cuda: %s failed: %s (%s)", what, cudaGetErrorString(e),
                     cudaGetErrorName(e));
}

mia_status mia__cublas_check(cublasStatus_t st, const char *what)
{
    if (st == CUBLAS_STATUS_SUCCESS) return MIA_OK;
    mia_status s = st == CUBLAS_STATUS_ALLOC_FAILED ? MIA_ERR_NOMEM : MIA_ERR_DEVICE;
    return MIA_ERROR(s, "cublas: %s failed: %s (%s)", what, cublasGetStatusString(st),
                     cublasGetStatusName(st));
}

/* ---- device ------------------------------------------------------------------------------ */

/* 0 when there is no driver, no device or any other error: never aborts. The runtime caches
 * the answer, so calling it per query is cheap. */
static int cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError(); /* clear the non-sticky error so later calls start clean */
        return 0;
    }
    return n > 0 ? n : 0;
}

mia_status mia__cuda_enter(mia_backend *be)
{
    int cur = -1;
    mia_status s = mia__cuda_check(cudaGetDevice(&cur), "cudaGetDevice");
    if (s != MIA_OK || cur == be->device) return s;
    return mia__cuda_check(cudaSetDevice(be->device), "cudaSetDevice");
}

static void ctx_destroy(mia_cuda_ctx *c)
{
    /* cudaFree synchronises the device, so no kernel still uses these blocks. */
    for (size_t i = 0; i < c->n_live; i++) (void)cudaFree(c->live[i].ptr);
    for (size_t i = 0; i < c->n_cache; i++) (void)cudaFree(c->cache[i].ptr);
    if (c->scratch) (void)cudaFree(c->scratch);
    if (c->dev_flags) (void)cudaFree(c->dev_flags);
    if (c->blas) (void)cublasDestroy(c->blas);
    if (c->stream) (void)cudaStreamDestroy(c->stream);
    mia__free(c->live);
    mia__free(c->cache);
    mia__free(c);
}

static mia_status cuda_init(mia_backend *be, const mia_backend_opts *o)
{
    (void)o;
    mia_cuda_ctx *c = mia__calloc(1, sizeof *c);
    if (!c) return MIA_ERROR(MIA_ERR_NOMEM, "cuda: out of memory for the backend context");
    c->device = be->device;
    c->deterministic = be->deterministic;
    mia_status s = mia__cuda_check(cudaSetDevice(be->device), "cudaSetDevice");
    if (s == MIA_OK)
        s = mia__cuda_check(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking),
                            "cudaStreamCreate");
    if (s == MIA_OK) s = mia__cublas_check(cublasCreate(&c->blas), "cublasCreate");
    if (s == MIA_OK) s = mia__cublas_check(cublasSetStream(c->blas, c->stream), "cublasSetStream");
    /* Plain FP32 math (no TF32) so results stay within f32 tolerance of ref; atomics only when
     * the caller gave up bit-reproducibility. */
    if (s == MIA_OK)
        s = mia__cublas_check(cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    if (s == MIA_OK)
        s = mia__cublas_check(
            cublasSetAtomicsMode(c->blas, c->deterministic ? CUBLAS_ATOMICS_NOT_ALLOWED
                                                           : CUBLAS_ATOMICS_ALLOWED),
            "cublasSetAtomicsMode");
    if (s == MIA_OK)
        s = mia__cuda_check(cudaMalloc((void **)&c->dev_flags, sizeof(int)), "cudaMalloc");
    if (s == MIA_OK)
        s = mia__cuda_check(cudaMemsetAsync(c->dev_flags, 0, sizeof(int), c->stream),
                            "cudaMemsetAsync");
    if (s != MIA_OK) {
        ctx_destroy(c);
        return s;
    }
    be->ctx = c;
    return MIA_OK;
}

static void cuda_fini(mia_backend *be)
{
    mia_cuda_ctx *c = be->ctx;
    if (!c) return;
    (void)mia__cuda_enter(be);
    ctx_destroy(c);
    be->ctx = NULL;
}

/* ---- caching allocator ------------------------------------------------------------------- */
/* Sizes are rounded (512 B granules below 1 MiB, 1 MiB granules above) so that blocks of
 * training-loop temporaries are reused exactly. A freed block goes to the cache; a request takes
 * the smallest cached block that fits and wastes at most a quarter of it. When cudaMalloc fails,
 * the cache is returned to the driver and the allocation retried once. All work runs on one
 * stream, so reusing a block that queued kernels still read is safe: later work is ordered after
 * them. */

static size_t round_size(size_t n)
{
    const size_t small = 512, big = (size_t)1 << 20;
    if (n == 0) n = 1;
    size_t g = n < big ? small : big;
    return (n + g - 1) / g * g;
}

static mia_status block_push(mia_cuda_block **arr, size_t *len, size_t *cap, mia_cuda_block b)
{
    if (*len == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        mia_cuda_block *na = mia__realloc(*arr, nc * sizeof *na);
        if (!na) return MIA_ERROR(MIA_ERR_NOMEM, "cuda: out of host memory for allocator tables");
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*len)++] = b;
    return MIA_OK;
}

static void cache_trim(mia_cuda_ctx *c)
{
    for (size_t i = 0; i < c->n_cache; i++) (void)cudaFree(c->cache[i].ptr);
    c->n_cache = 0;
    c->cached_bytes = 0;
}

static mia_status cuda_alloc(mia_backend *be, size_t nbytes, void **out)
{
    mia_cuda_ctx *c = be->ctx;
    MIA_TRY(mia__cuda_enter(be));
    size_t want = round_size(nbytes);
    mia_cuda_block b = {NULL, 0};
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < c->n_cache; i++) {
        size_t sz = c->cache[i].size;
        if (sz >= want && sz - want <= sz / 4 && (best == SIZE_MAX || sz < c->cache[best].size))
            best = i;
    }
    /* Reserve the live-table slot first, so a host OOM cannot strand a device block. */
    if (c->n_live == c->cap_live) {
        mia_cuda_block dummy = {NULL, 0};
        MIA_TRY(block_push(&c->live, &c->n_live, &c->cap_live, dummy));
        c->n_live--;
    }
    if (best != SIZE_MAX) {
        b = c->cache[best];
        c->cache[best] = c->cache[--c->n_cache];
        c->cached_bytes -= b.size;
    } else {
        cudaError_t e = cudaMalloc(&b.ptr, want);
        if (e == cudaErrorMemoryAllocation && c->n_cache > 0) {
            (void)cudaGetLastError();
            cache_trim(c);
            e = cudaMalloc(&b.ptr, want);
        }
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            mia_status s = mia__cuda_check(e, "cudaMalloc");
            mia__error_prefix("allocating %zu bytes on device %d", nbytes, be->device);
            return s;
        }
        b.size = want;
    }
    /* The vtable contract is zero-filled memory; the memset is ordered on the stream. */
    mia_status s = mia__cuda_check(cudaMemsetAsync(b.ptr, 0, b.size, c->stream), "cudaMemsetAsync");
    if (s != MIA_OK) {
        (void)cudaFree(b.ptr);
        return s;
    }
    c->live[c->n_live++] = b;
    *out = b.ptr;
    return MIA_OK;
}

static void cuda_release(mia_backend *be, void *ptr)
{
    mia_cuda_ctx *c = be->ctx;
    if (!ptr || !c) return;
    /* Search from the end: temporaries are usually freed in LIFO order. */
    for (size_t i = c->n_live; i-- > 0;) {
        if (c->live[i].ptr != ptr) continue;
        mia_cuda_block b = c->live[i];
        c->live[i] = c->live[--c->n_live];
        if (block_push(&c->cache, &c->n_cache, &c->cap_cache, b) == MIA_OK)
            c->cached_bytes += b.size;
        else
            (void)cudaFree(b.ptr); /* no room to cache it: give it back */
        return;
    }
    mia__log(MIA_LOG_WARN, "cuda: release of unknown pointer %p ignored", ptr);
}

mia_status mia__cuda_scratch(mia_backend *be, size_t nbytes, void **out)
{
    mia_cuda_ctx *c = be->ctx;
    if (c->scratch_bytes < nbytes) {
        if (c->scratch) {
            /* cudaFree waits for queued kernels that may still use the old workspace. */
            MIA_TRY(mia__cuda_check(cudaFree(c->scratch), "cudaFree"));
            c->scratch = NULL;
            c->scratch_bytes = 0;
        }
        size_t want = round_size(nbytes);
        cudaError_t e = cudaMalloc(&c->scratch, want);
        if (e == cudaErrorMemoryAllocation && c->n_cache > 0) {
            (void)cudaGetLastError();
            cache_trim(c);
            e = cudaMalloc(&c->scratch, want);
        }
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            c->scratch = NULL;
            mia_status s = mia__cuda_check(e, "cudaMalloc");
            mia__error_prefix("kernel workspace of %zu bytes", nbytes);
            return s;
        }
        c->scratch_bytes = want;
    }
    *out = c->scratch;
    return MIA_OK;
}

/* ---- copies ------------------------------------------------------------------------------ */

static mia_status cuda_upload(mia_backend *be, void *dst, const void *host_src, size_t n)
{
    if (n == 0) return MIA_OK;
    MIA_TRY(mia__cuda_enter(be));
    /* From pageable memory the call returns once the source has been staged, so the caller may
     * reuse host_src at once; the device write is ordered on the stream. */
    return mia__cuda_check(
        cudaMemcpyAsync(dst, host_src, n, cudaMemcpyHostToDevice, mia__cuda_ctx(be)->stream),
        "cudaMemcpyAsync(host to device)");
}

static mia_status cuda_download(mia_backend *be, void *host_dst, const void *src, size_t n)
{
    if (n == 0) return MIA_OK;
    MIA_TRY(mia__cuda_enter(be));
    cudaStream_t st = mia__cuda_ctx(be)->stream;
    MIA_TRY(mia__cuda_check(cudaMemcpyAsync(host_dst, src, n, cudaMemcpyDeviceToHost, st),
                            "cudaMemcpyAsync(device to host)"));
    /* The host buffer is only valid once the copy has landed. */
    return mia__cuda_check(cudaStreamSynchronize(st), "cudaStreamSynchronize");
}

static mia_status cuda_memcpy_dd(mia_backend *be, void *dst, const void *src, size_t n)
{
    MIA_TRY(mia__cuda_enter(be));
    return mia__cuda_check(
        cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, mia__cuda_ctx(be)->stream),
        "cudaMemcpyAsync(device to device)");
}

static mia_status cuda_memset0(mia_backend *be, void *dst, size_t n)
{
    MIA_TRY(mia__cuda_enter(be));
    return mia__cuda_check(cudaMemsetAsync(dst, 0, n, mia__cuda_ctx(be)->stream),
                           "cudaMemsetAsync");
}

static mia_status cuda_synchronize(mia_backend *be)
{
    mia_cuda_ctx *c = be->ctx;
    MIA_TRY(mia__cuda_enter(be));
    MIA_TRY(mia__cuda_check(cudaStreamSynchronize(c->stream), "kernel execution"));
    /* Data-dependent errors that kernels can only flag (bad labels) are reported here. */
    int flags = 0;
    MIA_TRY(mia__cuda_check(cudaMemcpy(&flags, c->dev_flags, sizeof flags, cudaMemcpyDeviceToHost),
                            "cudaMemcpy(error flags)"));
    if (flags) {
        MIA_TRY(mia__cuda_check(cudaMemset(c->dev_flags, 0, sizeof(int)), "cudaMemset"));
        if (flags & MIA_CUDA_FLAG_BAD_LABEL)
            return MIA_ERROR(MIA_ERR_INVALID,
                             "xent: a label was outside [0, cols) (its rows got NaN loss)");
    }
    return MIA_OK;
}

const struct mia_backend_ops mia__cuda_backend_ops = {
    .abi = MIA_BACKEND_ABI,
    .name = "cuda",
    .kind = MIA_DEVICE_DEVICE,
    .device_count = cuda_device_count,
    .init = cuda_init,
    .fini = cuda_fini,
    .alloc = cuda_alloc,
    .release = cuda_release,
    .upload = cuda_upload,
    .download = cuda_download,
    .memcpy_dd = cuda_memcpy_dd,
    .memset0 = cuda_memset0,
    .fill_f32 = mia__cuda_fill_f32,
    .synchronize = cuda_synchronize,
#define MIA_CUDA_SLOT_(name, args) .name = mia__cuda_##name,
    MIA_OP_LIST(MIA_CUDA_SLOT_)
#undef MIA_CUDA_SLOT_
};
