/* CUDA backend host glue, checked on any machine (suite unit): registry entry, clean failure
 * without a device, error translation, the device Philox port, and vtable completeness.
 * Kernel parity needs a GPU and lives in test-cuda.c (suite gpu). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "backend/backend-impl.h"
#include "core/rng.h"
#include "mia-internal.h"
#include <mia/mia.h>

#if MIA_HAVE_CUDA
#include "backend/cuda/cuda-kernels.h"
#endif

static void test_cuda_glue__registry_lists_cuda_when_compiled(void **state)
{
    (void)state;
    size_t n = mia_backend_count(), cuda_at = SIZE_MAX, ref_at = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(mia_backend_name(i), "cuda") == 0) cuda_at = i;
        if (strcmp(mia_backend_name(i), "ref") == 0) ref_at = i;
    }
    assert_true(ref_at != SIZE_MAX);
#if MIA_HAVE_CUDA
    assert_int_equal(cuda_at, 0); /* highest priority */
#else
    assert_true(cuda_at == SIZE_MAX);
#endif
}

static void test_cuda_glue__create_without_device_fails_cleanly(void **state)
{
    (void)state;
    if (mia_backend_available("cuda")) skip();
    int64_t live = mia__alloc_live();
    mia_backend *be = (mia_backend *)0x1; /* sentinel: must be reset */
    assert_int_equal(mia_backend_create(&be, "cuda", NULL), MIA_ERR_UNSUPPORTED);
    assert_null(be);
#if MIA_HAVE_CUDA
    assert_non_null(strstr(mia_last_error(), "no device"));
#else
    assert_non_null(strstr(mia_last_error(), "not compiled"));
#endif
    assert_non_null(strstr(mia_last_error(), "cuda"));
    assert_int_equal(mia__alloc_live(), live);
}

static void test_cuda_glue__auto_falls_through_without_device(void **state)
{
    (void)state;
    int64_t live = mia__alloc_live();
    mia_backend *be = NULL;
    assert_int_equal(mia_backend_create(&be, "auto", NULL), MIA_OK);
    assert_non_null(be);
    if (mia_backend_available("cuda")) {
        assert_string_equal(mia_backend_type(be), "cuda");
        assert_int_equal(mia_backend_device_kind(be), MIA_DEVICE_DEVICE);
    } else {
        assert_string_not_equal(mia_backend_type(be), "cuda");
        assert_int_equal(mia_backend_device_kind(be), MIA_DEVICE_HOST);
    }
    mia_backend_free(be);
    assert_int_equal(mia__alloc_live(), live);
}

#if MIA_HAVE_CUDA
static void test_cuda_glue__device_count_matches_runtime(void **state)
{
    (void)state;
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0; /* oracle: the runtime itself */
    (void)cudaGetLastError();
    assert_int_equal(mia__cuda_backend_ops.device_count(), n);
    assert_int_equal(mia_backend_available("cuda"), n > 0);
    if (n > 0) return;
    /* an out-of-range ordinal on a machine without devices still reports "no device" */
    mia_backend_opts o;
    mia_backend_opts_init(&o);
    o.device = 3;
    mia_backend *be = (mia_backend *)0x1;
    assert_int_equal(mia_backend_create(&be, "cuda", &o), MIA_ERR_UNSUPPORTED);
    assert_null(be);
}

static void test_cuda_glue__cuda_errors_translate_to_device_status(void **state)
{
    (void)state;
    mia_clear_error();
    mia__error_begin();
    assert_int_equal(mia__cuda_check(cudaSuccess, "cudaNothing"), MIA_OK);
    assert_string_equal(mia_last_error(), ""); /* success records nothing */

    mia__error_begin();
    assert_int_equal(mia__cuda_check(cudaErrorInvalidValue, "cudaMemcpyAsync"), MIA_ERR_DEVICE);
    assert_non_null(strstr(mia_last_error(), "cudaMemcpyAsync"));
    assert_non_null(strstr(mia_last_error(), cudaGetErrorString(cudaErrorInvalidValue)));
    assert_non_null(strstr(mia_last_error(), "cudaErrorInvalidValue"));

    mia__error_begin();
    assert_int_equal(mia__cuda_check(cudaErrorMemoryAllocation, "cudaMalloc"), MIA_ERR_NOMEM);
    assert_non_null(strstr(mia_last_error(), cudaGetErrorString(cudaErrorMemoryAllocation)));

    mia__error_begin();
    assert_int_equal(mia__cuda_check(cudaErrorNoDevice, "cudaSetDevice"), MIA_ERR_DEVICE);
    assert_non_null(strstr(mia_last_error(), cudaGetErrorString(cudaErrorNoDevice)));
}

static void test_cuda_glue__cublas_errors_translate_to_device_status(void **state)
{
    (void)state;
    mia__error_begin();
    assert_int_equal(mia__cublas_check(CUBLAS_STATUS_SUCCESS, "cublasSgemm"), MIA_OK);

    mia__error_begin();
    assert_int_equal(mia__cublas_check(CUBLAS_STATUS_EXECUTION_FAILED, "cublasSgemm"),
                     MIA_ERR_DEVICE);
    assert_non_null(strstr(mia_last_error(), "cublasSgemm"));
    assert_non_null(
        strstr(mia_last_error(), cublasGetStatusString(CUBLAS_STATUS_EXECUTION_FAILED)));

    mia__error_begin();
    assert_int_equal(mia__cublas_check(CUBLAS_STATUS_ALLOC_FAILED, "cublasCreate"), MIA_ERR_NOMEM);
    assert_non_null(strstr(mia_last_error(), "CUBLAS_STATUS_ALLOC_FAILED"));
}

/* The device dropout mask uses the same source as this host build of the port. */
static void test_cuda_glue__philox_port_is_bit_identical(void **state)
{
    (void)state;
    const uint64_t seeds[] = {0, 1, 42, 0xDEADBEEFCAFEF00Dull, UINT64_MAX};
    const uint64_t streams[] = {MIA_STREAM_DROPOUT, MIA_STREAM_DROPOUT ^ 7, 1ull << 40};
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++)
        for (size_t t = 0; t < sizeof streams / sizeof streams[0]; t++)
            for (uint64_t c = 0; c < 300; c++) {
                uint64_t ctr = c < 200 ? c : (c << 33) + c; /* exercise the high counter word */
                uint32_t want[4], got[4];
                mia__philox(seeds[s], streams[t], ctr, want);
                mia__cuda_philox_host(seeds[s], streams[t], ctr, got);
                assert_memory_equal(want, got, sizeof want);
            }
}

/* A DEVICE backend gets no host fallback, so every op slot must be filled. */
static void test_cuda_glue__vtable_is_complete(void **state)
{
    (void)state;
    const struct mia_backend_ops *o = &mia__cuda_backend_ops;
    assert_int_equal(o->abi, MIA_BACKEND_ABI);
    assert_string_equal(o->name, "cuda");
    assert_int_equal(o->kind, MIA_DEVICE_DEVICE);
    assert_non_null(o->device_count);
    assert_non_null(o->init);
    assert_non_null(o->fini);
    assert_non_null(o->alloc);
    assert_non_null(o->release);
    assert_non_null(o->upload);
    assert_non_null(o->download);
    assert_non_null(o->memcpy_dd);
    assert_non_null(o->memset0);
    assert_non_null(o->fill_f32);
    assert_non_null(o->synchronize);
#define CHECK_SLOT_(name, args) assert_non_null(o->name);
    MIA_OP_LIST(CHECK_SLOT_)
#undef CHECK_SLOT_
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cuda_glue__registry_lists_cuda_when_compiled),
        cmocka_unit_test(test_cuda_glue__create_without_device_fails_cleanly),
        cmocka_unit_test(test_cuda_glue__auto_falls_through_without_device),
#if MIA_HAVE_CUDA
        cmocka_unit_test(test_cuda_glue__device_count_matches_runtime),
        cmocka_unit_test(test_cuda_glue__cuda_errors_translate_to_device_status),
        cmocka_unit_test(test_cuda_glue__cublas_errors_translate_to_device_status),
        cmocka_unit_test(test_cuda_glue__philox_port_is_bit_identical),
        cmocka_unit_test(test_cuda_glue__vtable_is_complete),
#endif
    };
    return cmocka_run_group_tests_name("cuda_glue", tests, NULL, NULL);
}
