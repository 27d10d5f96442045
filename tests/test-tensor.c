/* Tensors and backends: creation, out-parameter contracts, error messages, copies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test-util.h"

#include <mia/mia.h>

static int setup_ref(void **state)
{
    return mia_backend_create((mia_backend **)state, "ref", NULL) == MIA_OK ? 0 : -1;
}

static int teardown(void **state)
{
    mia_backend_free(*state);
    return 0;
}

static void test_backend__registry(void **state)
{
    (void)state;
    size_t n = mia_backend_count();
    assert_true(n >= 1);
    assert_string_equal(mia_backend_name(n - 1), "ref"); /* ref is always last and present */
    assert_null(mia_backend_name(n));
    assert_true(mia_backend_available("ref"));
    assert_false(mia_backend_available("nonsense"));
    assert_false(mia_backend_available(NULL));
    mia_backend *be = NULL;
    assert_int_equal(mia_backend_create(&be, "auto", NULL), MIA_OK);
    size_t first = 0; /* auto = the first registered backend that has a device */
    while (!mia_backend_available(mia_backend_name(first))) first++;
    assert_string_equal(mia_backend_type(be), mia_backend_name(first));
    assert_true(mia_backend_n_threads(be) >= 1);
    assert_int_equal(mia_backend_synchronize(be), MIA_OK);
    mia_backend_free(be);
    mia_backend_free(NULL);
}

static void test_backend__create_errors(void **state)
{
    (void)state;
    mia_backend *be = (mia_backend *)0x1;
    ASSERT_ERR(mia_backend_create(&be, "tpu", NULL), MIA_ERR_INVALID, "tpu");
    assert_null(be);
    be = (mia_backend *)0x1;
    ASSERT_ERR(mia_backend_create(&be, NULL, NULL), MIA_ERR_INVALID, "name");
    assert_null(be);
    ASSERT_ERR(mia_backend_create(NULL, "ref", NULL), MIA_ERR_INVALID, "out");
    mia_backend_opts o;
    mia_backend_opts_init(&o);
    o.n_threads = -3;
    be = (mia_backend *)0x1;
    ASSERT_ERR(mia_backend_create(&be, "ref", &o), MIA_ERR_INVALID, "n_threads");
    assert_null(be);
    o.n_threads = 1;
    o.struct_size = 0;
    ASSERT_ERR(mia_backend_create(&be, "ref", &o), MIA_ERR_INVALID, "struct_size");
    assert_null(be);
    if (!mia_backend_available("cuda")) {
        be = (mia_backend *)0x1;
        ASSERT_ERR(mia_backend_create(&be, "cuda", NULL), MIA_ERR_UNSUPPORTED, "cuda");
        assert_null(be);
    }
}

static void test_tensor__create_rejects_bad_shapes(void **state)
{
    mia_backend *be = *state;
    mia_tensor *t = (mia_tensor *)0x1;
    int64_t shape[3] = {2, 0, 3};
    ASSERT_ERR(mia_tensor_create(&t, be, MIA_DTYPE_F32, 0, shape), MIA_ERR_INVALID, "ndim");
    assert_null(t);
    t = (mia_tensor *)0x1;
    ASSERT_ERR(mia_tensor_create(&t, be, MIA_DTYPE_F32, 3, shape), MIA_ERR_INVALID, "shape[1]");
    assert_null(t);
    t = (mia_tensor *)0x1;
    ASSERT_ERR(mia_tensor_create(&t, be, MIA_DTYPE_F32, 9, shape), MIA_ERR_INVALID, "ndim");
    assert_null(t);
    t = (mia_tensor *)0x1;
    ASSERT_ERR(mia_tensor_create(&t, be, MIA_DTYPE_F32, 2, NULL), MIA_ERR_INVALID, "shape");
    assert_null(t);
    t = (mia_tensor *)0x1;
    ASSERT_ERR(mia_tensor_create(&t, be, (mia_dtype)77, 1, shape), MIA_ERR_INVALID, "dtype");
    assert_null(t);
    t = (mia_tensor *)0x1;
    ASSERT_ERR(mia_tensor_create(&t, NULL, MIA_DTYPE_F32, 1, shape), MIA_ERR_INVALID, "be");
    assert_null(t);
    int64_t huge[3] = {INT64_MAX / 2, 4, 4};
    t = (mia_tensor *)0x1;
    ASSERT_ERR(mia_tensor_create(&t, be, MIA_DTYPE_F32, 3, huge), MIA_ERR_INVALID, "overflow");
    assert_null(t);
    assert_int_equal(mia_backend_live_tensors(be), 0);
}

static void test_tensor__roundtrip_and_accessors(void **state)
{
    mia_backend *be = *state;
    int64_t shape[4] = {2, 3, 4, 5};
    mia_tensor *t;
    assert_int_equal(mia_tensor_create(&t, be, MIA_DTYPE_F32, 4, shape), MIA_OK);
    assert_int_equal(mia_tensor_ndim(t), 4);
    assert_int_equal(mia_tensor_dim(t, 3), 5);
    assert_int_equal(mia_tensor_dim(t, 4), -1);
    assert_int_equal(mia_tensor_numel(t), 120);
    assert_int_equal(mia_tensor_nbytes(t), 480);
    assert_int_equal(mia_tensor_dtype(t), MIA_DTYPE_F32);
    assert_ptr_equal(mia_tensor_backend(t), be);
    assert_int_equal(mia_backend_live_tensors(be), 1);
    float src[120], dst[120];
    for (int i = 0; i < 120; i++) src[i] = (float)i * 0.5f - 7;
    float *h = mia_tensor_host_data(t);
    assert_non_null(h);
    for (int i = 0; i < 120; i++) assert_true(h[i] == 0.0f); /* zero-filled */
    assert_int_equal(mia_tensor_upload(t, src, sizeof src), MIA_OK);
    assert_int_equal(mia_tensor_download(t, dst, sizeof dst), MIA_OK);
    assert_memory_equal(src, dst, sizeof src);
    ASSERT_ERR(mia_tensor_upload(t, src, 4), MIA_ERR_INVALID, "nbytes");
    ASSERT_ERR(mia_tensor_download(t, dst, 4), MIA_ERR_INVALID, "nbytes");
    ASSERT_ERR(mia_tensor_upload(t, NULL, 480), MIA_ERR_INVALID, "src");

    int64_t flat[2] = {6, 20};
    assert_int_equal(mia_tensor_reshape(t, 2, flat), MIA_OK);
    assert_int_equal(mia_tensor_dim(t, 1), 20);
    int64_t bad[2] = {7, 20};
    ASSERT_ERR(mia_tensor_reshape(t, 2, bad), MIA_ERR_INVALID, "elements");

    mia_tensor *c;
    assert_int_equal(mia_tensor_create(&c, be, MIA_DTYPE_F32, 2, flat), MIA_OK);
    assert_int_equal(mia_tensor_copy(c, t), MIA_OK);
    assert_memory_equal(mia_tensor_host_data(c), src, sizeof src);
    assert_int_equal(mia_tensor_fill_f32(c, 2.5f), MIA_OK);
    assert_true(((float *)mia_tensor_host_data(c))[119] == 2.5f);
    assert_int_equal(mia_tensor_zero(c), MIA_OK);
    assert_true(((float *)mia_tensor_host_data(c))[0] == 0.0f);

    mia_tensor *u;
    assert_int_equal(mia_tensor_create(&u, be, MIA_DTYPE_U8, 1, flat), MIA_OK);
    ASSERT_ERR(mia_tensor_copy(u, t), MIA_ERR_INVALID, "dtype");
    ASSERT_ERR(mia_tensor_fill_f32(u, 1), MIA_ERR_INVALID, "f32");
    mia_tensor_free(u);
    mia_tensor_free(c);
    mia_tensor_free(t);
    mia_tensor_free(NULL);
    assert_int_equal(mia_backend_live_tensors(be), 0);
}

static void test_tensor__wrap_host_borrows(void **state)
{
    mia_backend *be = *state;
    float buf[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {2, 3};
    mia_tensor *t = (mia_tensor *)0x1;
    ASSERT_ERR(mia_tensor_wrap_host(&t, be, MIA_DTYPE_F32, 2, shape, NULL), MIA_ERR_INVALID,
               "data");
    assert_null(t);
    assert_int_equal(mia_tensor_wrap_host(&t, be, MIA_DTYPE_F32, 2, shape, buf), MIA_OK);
    assert_ptr_equal(mia_tensor_host_data(t), buf);
    mia_tensor_free(t);
    assert_true(buf[5] == 6); /* caller memory untouched and not freed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend__registry),
        cmocka_unit_test(test_backend__create_errors),
        cmocka_unit_test_setup_teardown(test_tensor__create_rejects_bad_shapes, setup_ref, teardown),
        cmocka_unit_test_setup_teardown(test_tensor__roundtrip_and_accessors, setup_ref, teardown),
        cmocka_unit_test_setup_teardown(test_tensor__wrap_host_borrows, setup_ref, teardown),
    };
    return cmocka_run_group_tests_name("tensor", tests, NULL, NULL);
}
