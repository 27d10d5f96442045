/* PIL-exact resampling: bit-exact against Pillow 9.4 / torchvision 0.14 fixtures made by
 * tests/gen-resize-fixtures.py (tests/data/resize). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "data/image.h"
#include "mia-internal.h"
#include <mia/status.h>

static uint8_t *read_fixture(const char *name, size_t expect)
{
    const char *dir = getenv("MIA_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/resize/%s", dir ? dir : "tests/data", name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open fixture %s", path);
    uint8_t *buf = malloc(expect + 1);
    size_t got = fread(buf, 1, expect + 1, f);
    fclose(f);
    if (got != expect) fail_msg("fixture %s: %zu bytes, expected %zu", path, got, expect);
    return buf;
}

static void hwc_to_chw(const uint8_t *src, int64_t h, int64_t w, int64_t c, uint8_t *dst)
{
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++)
            for (int64_t k = 0; k < c; k++) dst[(k * h + y) * w + x] = src[(y * w + x) * c + k];
}

/* Resize an interleaved fixture plane by plane and compare with Pillow's output exactly. */
static void check_resize(const char *in_name, int64_t w, int64_t h, int64_t c,
                         const char *out_name, int64_t ow, int64_t oh)
{
    size_t nin = (size_t)(w * h * c), nout = (size_t)(ow * oh * c);
    uint8_t *in = read_fixture(in_name, nin), *want = read_fixture(out_name, nout);
    uint8_t *in_chw = malloc(nin), *want_chw = malloc(nout), *got = malloc(nout);
    hwc_to_chw(in, h, w, c, in_chw);
    hwc_to_chw(want, oh, ow, c, want_chw);
    memset(got, 0xAB, nout);
    assert_int_equal(mia__resize_chw(in_chw, c, h, w, got, oh, ow), MIA_OK);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < nout; i++)
        if (got[i] != want_chw[i] && bad++ == 0) first = i;
    if (bad)
        fail_msg("%s: %zu of %zu samples differ from Pillow (first at %zu: %d vs %d)", out_name,
                 bad, nout, first, got[first], want_chw[first]);
    free(in);
    free(want);
    free(in_chw);
    free(want_chw);
    free(got);
}

static void test_resize__downscale_96_to_32_rgb(void **state)
{
    (void)state;
    check_resize("rand96-96x96x3.u8", 96, 96, 3, "rand96-to32-32x32x3.u8", 32, 32);
}

static void test_resize__upscale_shorter_side_like_torchvision(void **state)
{
    (void)state;
    int64_t nw, nh;
    mia__resize_shorter_dims(115, 92, 112, &nw, &nh);
    assert_int_equal(nw, 140); /* int(112 * 115 / 92) */
    assert_int_equal(nh, 112);
    mia__resize_shorter_dims(92, 115, 112, &nw, &nh);
    assert_int_equal(nw, 112);
    assert_int_equal(nh, 140);
    check_resize("rand115x92-115x92x3.u8", 115, 92, 3, "rand115x92-short112-140x112x3.u8", 140,
                 112);
}

static void test_resize__mild_downscale_230_to_224_gray(void **state)
{
    (void)state;
    check_resize("gray230x100-230x100x1.u8", 230, 100, 1, "gray230x100-to224x97-224x97x1.u8", 224,
                 97);
}

static void test_resize__single_axis_passes(void **state)
{
    (void)state;
    check_resize("gray60x40-60x40x1.u8", 60, 40, 1, "gray60x40-to60x25-60x25x1.u8", 60, 25);
    check_resize("gray60x40-60x40x1.u8", 60, 40, 1, "gray60x40-to23x40-23x40x1.u8", 23, 40);
}

static void test_resize__same_size_is_copy(void **state)
{
    (void)state;
    uint8_t *in = read_fixture("gray60x40-60x40x1.u8", 2400);
    uint8_t out[2400];
    assert_int_equal(mia__resize_chw(in, 1, 40, 60, out, 40, 60), MIA_OK);
    assert_memory_equal(in, out, 2400);
    free(in);
}

static void test_resize__rejects_bad_sizes(void **state)
{
    (void)state;
    mia__resize_plan *p = (mia__resize_plan *)0x1;
    mia__error_begin();
    assert_int_equal(mia__resize_plan_create(&p, 0, 10, 5, 5), MIA_ERR_INVALID);
    assert_null(p);
    assert_non_null(strstr(mia_last_error(), "source size"));
    mia__error_begin();
    assert_int_equal(mia__resize_plan_create(&p, 10, 10, 5, -1), MIA_ERR_INVALID);
    assert_null(p);
    assert_non_null(strstr(mia_last_error(), "target size"));
}

static void check_rotate(const char *want_name, double angle)
{
    const int64_t w = 64, h = 48, c = 3;
    size_t n = (size_t)(w * h * c);
    uint8_t *in = read_fixture("rand64x48-64x48x3.u8", n), *want = read_fixture(want_name, n);
    uint8_t *in_chw = malloc(n), *want_chw = malloc(n), *got = malloc(n);
    hwc_to_chw(in, h, w, c, in_chw);
    hwc_to_chw(want, h, w, c, want_chw);
    for (int64_t k = 0; k < c; k++)
        mia__rotate_plane(in_chw + k * w * h, w, h, angle, got + k * w * h);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += got[i] != want_chw[i];
    if (bad) fail_msg("%s: %zu of %zu samples differ from PIL rotate", want_name, bad, n);
    free(in);
    free(want);
    free(in_chw);
    free(want_chw);
    free(got);
}

static void test_resize__rotate_matches_pil_nearest(void **state)
{
    (void)state;
    check_rotate("rand64x48-rotp13.7-64x48x3.u8", 13.7);
    check_rotate("rand64x48-rotm17.3-64x48x3.u8", -17.3);
    check_rotate("rand64x48-rotp90-64x48x3.u8", 90.0); /* non-square: affine path */
}

static void test_resize__alloc_failure_is_clean(void **state)
{
    (void)state;
    uint8_t *in = read_fixture("rand96-96x96x3.u8", 96 * 96 * 3);
    uint8_t out[32 * 32 * 3];
    int64_t live = mia__alloc_live();
    for (long k = 1; k < 50; k++) {
        mia__error_begin();
        mia__alloc_fail_after(k, 0);
        mia_status s = mia__resize_chw(in, 3, 96, 96, out, 32, 32);
        mia__alloc_fail_after(0, 0);
        assert_int_equal(mia__alloc_live(), live);
        if (s == MIA_OK) break;
        assert_int_equal(s, MIA_ERR_NOMEM);
    }
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize__downscale_96_to_32_rgb),
        cmocka_unit_test(test_resize__upscale_shorter_side_like_torchvision),
        cmocka_unit_test(test_resize__mild_downscale_230_to_224_gray),
        cmocka_unit_test(test_resize__single_axis_passes),
        cmocka_unit_test(test_resize__same_size_is_copy),
        cmocka_unit_test(test_resize__rejects_bad_sizes),
        cmocka_unit_test(test_resize__rotate_matches_pil_nearest),
        cmocka_unit_test(test_resize__alloc_failure_is_clean),
    };
    return cmocka_run_group_tests_name("resize", tests, NULL, NULL);
}
