/* Core: status table, thread-local errors, allocator fault injection, Philox RNG, logging. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"
#include "mia-internal.h"
#include <mia/mia.h>

static void test_core__status_strings(void **state)
{
    (void)state;
    assert_string_equal(mia_status_str(MIA_OK), "success");
    assert_string_equal(mia_status_str(MIA_ERR_FORMAT), "malformed input file");
    assert_string_equal(mia_status_name(MIA_ERR_NOMEM), "ERR_NOMEM");
    assert_string_equal(mia_status_str((mia_status)-999), "unknown status");
    assert_int_equal(MIA_ERR_INVALID, -1);
    assert_int_equal(MIA_ERR_CANCELLED, -8);
}

static void test_core__first_error_wins(void **state)
{
    (void)state;
    mia__error_begin();
    MIA_ERROR(MIA_ERR_IO, "first %d", 1);
    MIA_ERROR(MIA_ERR_FORMAT, "second");
    assert_string_equal(mia_last_error(), "first 1");
    mia__error_prefix("file.bin");
    assert_string_equal(mia_last_error(), "file.bin: first 1");
    mia_clear_error();
    assert_string_equal(mia_last_error(), "");
}

static void *thread_fn(void *arg)
{
    mia__error_begin();
    MIA_ERROR(MIA_ERR_IO, "thread %d", *(int *)arg);
    return mia_last_error()[0] ? (void *)1 : NULL;
}

static void test_core__error_is_thread_local(void **state)
{
    (void)state;
    mia__error_begin();
    MIA_ERROR(MIA_ERR_INVALID, "main thread");
    pthread_t th[4];
    int ids[4] = {0, 1, 2, 3};
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, thread_fn, &ids[i]);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_non_null(r);
    }
    assert_string_equal(mia_last_error(), "main thread");
}

static void test_core__alloc_injection(void **state)
{
    (void)state;
    int64_t live0 = mia__alloc_live();
    mia__alloc_fail_after(3, 0);
    void *a = mia__malloc(10), *b = mia__malloc(10), *c = mia__malloc(10), *d = mia__malloc(10);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);      /* the 3rd fails */
    assert_non_null(d);  /* transient: later ones succeed */
    assert_int_equal(mia__alloc_injected(), 1);
    mia__free(a); mia__free(b); mia__free(d);
    mia__alloc_fail_after(1, 1);
    assert_null(mia__malloc(1));
    assert_null(mia__calloc(2, 2));
    assert_int_equal(mia__alloc_injected(), 2);
    mia__alloc_fail_after(0, 0);
    void *e = mia__aligned_alloc(64, 100);
    assert_non_null(e);
    assert_int_equal((uintptr_t)e % 64, 0);
    e = mia__realloc(e, 1000);
    assert_non_null(e);
    mia__free(e);
    assert_null(mia__calloc(SIZE_MAX / 2, 4)); /* overflow is refused, not wrapped */
    assert_int_equal(mia__alloc_live(), live0);
}

/* Known-answer vectors of Philox-4x32-10 from the Random123 distribution (kat_vectors). */
static void test_core__philox_known_answers(void **state)
{
    (void)state;
    uint32_t o[4];
    mia__philox(0, 0, 0, o);
    assert_int_equal(o[0], 0x6627e8d5u);
    assert_int_equal(o[1], 0xe169c58du);
    assert_int_equal(o[2], 0xbc57ac4cu);
    assert_int_equal(o[3], 0x9b00dbd8u);
    mia__philox(UINT64_MAX, UINT64_MAX, UINT64_MAX, o);
    assert_int_equal(o[0], 0x408f276du);
    assert_int_equal(o[1], 0x41c83b0eu);
    assert_int_equal(o[2], 0xa20bc7c6u);
    assert_int_equal(o[3], 0x6d5451fdu);
    /* counter = (243f6a88, 85a308d3, 13198a2e, 03707344), key = (a4093822, 299f31d0) */
    mia__philox(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull, o);
    assert_int_equal(o[0], 0xd16cfe09u);
    assert_int_equal(o[1], 0x94fdccebu);
    assert_int_equal(o[2], 0x5001e420u);
    assert_int_equal(o[3], 0x24126ea1u);
}

static void test_core__rng_streams_and_statistics(void **state)
{
    (void)state;
    mia_rng a, b, c;
    mia__rng_init(&a, 42, 1);
    mia__rng_init(&b, 42, 1);
    mia__rng_init(&c, 42, 2);
    int same_ab = 1, same_ac = 1;
    for (int i = 0; i < 100; i++) {
        uint32_t x = mia__rng_u32(&a), y = mia__rng_u32(&b), z = mia__rng_u32(&c);
        same_ab &= x == y;
        same_ac &= x == z;
    }
    assert_true(same_ab);
    assert_false(same_ac);
    /* Moments of 200k draws: uniform mean 1/2 var 1/12; normal mean 0 var 1. */
    mia__rng_init(&a, 7, 3);
    double su = 0, su2 = 0, sn = 0, sn2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = mia__rng_uniform(&a), g = mia__rng_normal(&a);
        assert_true(u >= 0 && u < 1);
        su += u; su2 += u * u; sn += g; sn2 += g * g;
    }
    assert_true(fabs(su / n - 0.5) < 0.005);
    assert_true(fabs(su2 / n - su * su / ((double)n * n) - 1.0 / 12) < 0.002);
    assert_true(fabs(sn / n) < 0.01);
    assert_true(fabs(sn2 / n - 1) < 0.02);
    /* below() is unbiased enough over a small range and shuffle is a permutation. */
    int hist[7] = {0};
    for (int i = 0; i < 70000; i++) hist[mia__rng_below(&a, 7)]++;
    for (int i = 0; i < 7; i++) assert_true(abs(hist[i] - 10000) < 500);
    int64_t idx[100], seen[100] = {0};
    for (int i = 0; i < 100; i++) idx[i] = i;
    mia__rng_shuffle(&a, idx, 100);
    for (int i = 0; i < 100; i++) seen[idx[i]]++;
    for (int i = 0; i < 100; i++) assert_int_equal(seen[i], 1);
}

static int g_log_count;
static char g_log_last[256];
static void sink(mia_log_level lvl, const char *msg, void *ud)
{
    (void)lvl;
    *(int *)ud += 1;
    snprintf(g_log_last, sizeof g_log_last, "%s", msg);
}

static void test_core__log_sink_and_level(void **state)
{
    (void)state;
    mia_log_set(sink, &g_log_count);
    mia_log_set_level(MIA_LOG_WARN);
    mia__log(MIA_LOG_INFO, "dropped");
    assert_int_equal(g_log_count, 0);
    mia__log(MIA_LOG_WARN, "kept %d", 5);
    assert_int_equal(g_log_count, 1);
    assert_string_equal(g_log_last, "kept 5");
    mia_log_set(NULL, NULL);
}

static void test_core__version(void **state)
{
    (void)state;
    assert_true(MIA_CHECK_VERSION());
    assert_string_equal(mia_version_string(), MIA_VERSION_STRING);
    assert_int_equal(mia_dtype_size(MIA_DTYPE_F32), 4);
    assert_int_equal(mia_dtype_size(MIA_DTYPE_I64), 8);
    assert_string_equal(mia_dtype_name(MIA_DTYPE_U8), "u8");
}

static void test_core__isnan_survives_build_flags(void **state)
{
    (void)state;
    /* volatile: the compiler must not fold it; fails if -ffinite-math-only crept in. */
    volatile float zero = 0.0f;
    float nan = zero / zero;
    assert_true(isnan(nan));
    assert_false(isfinite(1.0f / zero));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core__status_strings),
        cmocka_unit_test(test_core__first_error_wins),
        cmocka_unit_test(test_core__error_is_thread_local),
        cmocka_unit_test(test_core__alloc_injection),
        cmocka_unit_test(test_core__philox_known_answers),
        cmocka_unit_test(test_core__rng_streams_and_statistics),
        cmocka_unit_test(test_core__log_sink_and_level),
        cmocka_unit_test(test_core__version),
        cmocka_unit_test(test_core__isnan_survives_build_flags),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
