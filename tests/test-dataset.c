/* Dataset handle: accessors, subset/concat/relabel, f32 batches (ToTensor, normalise, permute,
 * scale), index CSVs, manifests and MD5, and the offline Fashion-MNIST set (skipped when
 * Debian's dataset-fashion-mnist is not installed). */
#include "test-data-fixtures.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <mia/dataset.h>

#include "data/data-internal.h"
#include "mia-internal.h"

/* a small 2-channel dataset from IDX: 5 images of 2x3x4 */
enum { DN = 5, DC = 2, DH = 3, DW = 4, DP = DC * DH * DW };
static uint8_t g_px[DN * DP], g_lb[DN] = {3, 1, 4, 1, 5};

static mia_dataset *small_ds(void)
{
    for (int i = 0; i < DN * DP; i++) g_px[i] = xs_byte();
    uint8_t buf[512];
    uint32_t d4[4] = {DN, DC, DH, DW}, d1[1] = {DN};
    write_bytes(tpath("s.idx"), buf, idx_encode(buf, 4, d4, g_px));
    write_bytes(tpath("sl.idx"), buf, idx_encode(buf, 1, d1, g_lb));
    mia_dataset *d = NULL;
    assert_int_equal(mia_dataset_load_idx(&d, tpath("s.idx"), tpath("sl.idx"), NULL), MIA_OK);
    return d;
}

static void test_dataset__accessors_and_hash(void **state)
{
    (void)state;
    mia_dataset *d = small_ds();
    assert_int_equal(mia_dataset_n(d), DN);
    assert_int_equal(mia_dataset_image_numel(d), DP);
    assert_int_equal(mia_dataset_n_classes(d), 6);
    assert_int_equal(mia_dataset_label(d, DN), -1);
    assert_null(mia_dataset_pixels(d, -1));
    assert_non_null(strstr(mia_dataset_source(d), "s.idx"));
    /* hash = SHA-256(pixels || labels as int32 LE), checked against the io module's SHA-256 */
    uint8_t buf[DN * DP + DN * 4];
    memcpy(buf, g_px, DN * DP);
    for (int i = 0; i < DN; i++) {
        buf[DN * DP + 4 * i] = g_lb[i];
        buf[DN * DP + 4 * i + 1] = buf[DN * DP + 4 * i + 2] = buf[DN * DP + 4 * i + 3] = 0;
    }
    char hx[65];
    mia_dataset_hash_hex(d, hx);
    FILE *f = fopen(tpath("hash.bin"), "wb");
    fwrite(buf, 1, sizeof buf, f);
    fclose(f);
    char cmd[700], want[80] = {0};
    snprintf(cmd, sizeof cmd, "sha256sum %s", tpath("hash.bin"));
    FILE *pp = popen(cmd, "r");
    if (pp && fgets(want, 65, pp)) assert_memory_equal(hx, want, 64);
    if (pp) pclose(pp);
    mia_dataset_free(d);
}

static void test_dataset__subset_concat_relabel(void **state)
{
    (void)state;
    mia_dataset *d = small_ds(), *s = NULL, *c = NULL, *r = NULL;
    int64_t idx[3] = {4, 0, 4};
    assert_int_equal(mia_dataset_subset(&s, d, idx, 3), MIA_OK);
    assert_int_equal(mia_dataset_n(s), 3);
    assert_int_equal(mia_dataset_label(s, 0), 5);
    assert_memory_equal(mia_dataset_pixels(s, 1), g_px, DP);
    assert_memory_equal(mia_dataset_pixels(s, 2), g_px + 4 * DP, DP);
    assert_int_equal(mia_dataset_concat(&c, d, s), MIA_OK);
    assert_int_equal(mia_dataset_n(c), DN + 3);
    assert_memory_equal(mia_dataset_pixels(c, DN + 1), g_px, DP);
    assert_int_equal(mia_dataset_relabel(&r, c, 0), MIA_OK);
    for (int i = 0; i < DN + 3; i++) assert_int_equal(mia_dataset_label(r, i), 0);
    int32_t lab[DN];
    for (int i = 0; i < DN; i++) lab[i] = (int32_t)((i * 7 + 3) % mia_dataset_n_classes(d));
    mia_dataset *w = NULL;
    assert_int_equal(mia_dataset_with_labels(&w, d, lab), MIA_OK);
    for (int i = 0; i < DN; i++) {
        assert_int_equal(mia_dataset_label(w, i), lab[i]);
        assert_memory_equal(mia_dataset_pixels(w, i), mia_dataset_pixels(d, i), DP);
    }
    mia_dataset_free(w);
    lab[DN - 1] = (int32_t)mia_dataset_n_classes(d);
    w = (mia_dataset *)1;
    assert_int_equal(mia_dataset_with_labels(&w, d, lab), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "labels["));
    assert_null(w);
    int64_t bad = DN;
    mia_dataset *x = (mia_dataset *)1;
    assert_int_equal(mia_dataset_subset(&x, d, &bad, 1), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "idx[0]"));
    assert_null(x);
    mia_dataset *n = NULL;
    assert_int_equal(mia_dataset_noise(&n, MIA_NOISE_UNIFORM, 2, 1, 3, 4, 0, 0, 1), MIA_OK);
    x = (mia_dataset *)1;
    assert_int_equal(mia_dataset_concat(&x, d, n), MIA_ERR_MISMATCH);
    assert_non_null(strstr(mia_last_error(), "geometry"));
    assert_null(x);
    mia_dataset_free(n);
    mia_dataset_free(r);
    mia_dataset_free(c);
    mia_dataset_free(s);
    mia_dataset_free(d);
}

typedef struct hook_rec { int calls; } hook_rec;
static mia_status half_hook(float *dst, int64_t oc, int64_t oh, int64_t ow, const uint8_t *src,
                            int64_t c, int64_t h, int64_t w, int64_t index, int64_t slot,
                            void *user)
{
    (void)h; (void)w; (void)index; (void)slot;
    ((hook_rec *)user)->calls++;
    /* top-left oh x ow crop, x/255 */
    for (int64_t k = 0; k < oc; k++)
        for (int64_t y = 0; y < oh; y++)
            for (int64_t x = 0; x < ow; x++)
                dst[(k * oh + y) * ow + x] = (float)src[(k * h + y) * w + x] / 255.0f;
    (void)c;
    return MIA_OK;
}

static void test_dataset__batch_f32(void **state)
{
    (void)state;
    mia_dataset *d = small_ds();
    int64_t idx[2] = {3, 1};
    float x[2 * DP];
    int32_t lab[2];
    /* plain ToTensor */
    assert_int_equal(mia_dataset_batch_f32(d, idx, 2, x, lab, NULL), MIA_OK);
    assert_int_equal(lab[0], 1);
    for (int k = 0; k < DP; k++) assert_true(x[k] == (float)g_px[3 * DP + k] / 255.0f);
    /* normalise then scale x255 ("Scaled"); without normalise = "No Normalization" */
    mia_batch_opts o;
    mia_batch_opts_init(&o);
    o.flags = MIA_BATCH_NORMALIZE | MIA_BATCH_SCALE_255;
    o.mean[0] = 0.5f; o.std[0] = 0.25f; o.mean[1] = 0.25f; o.std[1] = 0.5f;
    assert_int_equal(mia_dataset_batch_f32(d, idx, 2, x, NULL, &o), MIA_OK);
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < DC; c++)
            for (int k = 0; k < DH * DW; k++) {
                float v = (float)g_px[idx[i] * DP + c * DH * DW + k] / 255.0f;
                float want = (v - o.mean[c]) / o.std[c] * 255.0f;
                assert_true(x[i * DP + c * DH * DW + k] == want);
            }
    /* permute: same multiset per channel, same permutation for both channels, and equal to
     * mia_dataset_permuted on u8 for the same seed and image index */
    o.flags = MIA_BATCH_PERMUTE;
    o.permute_seed = 7;
    assert_int_equal(mia_dataset_batch_f32(d, idx, 2, x, NULL, &o), MIA_OK);
    mia_dataset *p = NULL;
    assert_int_equal(mia_dataset_permuted(&p, d, 7), MIA_OK);
    assert_int_equal(mia_dataset_label(p, 0), 0);
    for (int i = 0; i < 2; i++) {
        const uint8_t *pp = mia_dataset_pixels(p, idx[i]);
        for (int k = 0; k < DP; k++) assert_true(x[i * DP + k] == (float)pp[k] / 255.0f);
        /* channel 1 uses the same permutation as channel 0: find each position */
        for (int k = 0; k < DH * DW; k++) {
            int src = -1;
            for (int j = 0; j < DH * DW; j++)
                if (g_px[idx[i] * DP + j] == pp[k] &&
                    g_px[idx[i] * DP + DH * DW + j] == pp[DH * DW + k]) src = j;
            assert_true(src >= 0);
        }
    }
    mia_dataset_free(p);
    /* hook with a smaller output */
    hook_rec rec = {0};
    mia_batch_opts_init(&o);
    o.transform = half_hook;
    o.transform_user_data = &rec;
    o.out_h = 2; o.out_w = 2;
    float y[2 * DC * 4];
    assert_int_equal(mia_dataset_batch_f32(d, idx, 2, y, NULL, &o), MIA_OK);
    assert_int_equal(rec.calls, 2);
    assert_true(y[DC * 4 + 3] == (float)g_px[1 * DP + 1 * DW + 1] / 255.0f);
    /* errors */
    o.transform = NULL;
    assert_int_equal(mia_dataset_batch_f32(d, idx, 2, y, NULL, &o), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "no transform"));
    int64_t bad[1] = {99};
    assert_int_equal(mia_dataset_batch_f32(d, bad, 1, x, NULL, NULL), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "idx[0] = 99"));
    mia_dataset_free(d);
}

static void test_dataset__noise(void **state)
{
    (void)state;
    mia_dataset *u = NULL, *g = NULL, *u2 = NULL;
    assert_int_equal(mia_dataset_noise(&u, MIA_NOISE_UNIFORM, 50, 3, 8, 8, 0, 0, 5), MIA_OK);
    assert_int_equal(mia_dataset_noise(&u2, MIA_NOISE_UNIFORM, 50, 3, 8, 8, 0, 0, 5), MIA_OK);
    assert_memory_equal(mia_dataset_pixels(u, 0), mia_dataset_pixels(u2, 0), 50 * 192);
    double s = 0;
    for (int i = 0; i < 50 * 192; i++) s += mia_dataset_pixels(u, 0)[i];
    assert_true(fabs(s / (50 * 192) - 127.5) < 4.0);
    assert_int_equal(mia_dataset_noise(&g, MIA_NOISE_GAUSSIAN, 50, 3, 8, 8, 128, 20, 5), MIA_OK);
    double m = 0, v = 0;
    const uint8_t *gp = mia_dataset_pixels(g, 0);
    for (int i = 0; i < 50 * 192; i++) m += gp[i];
    m /= 50 * 192;
    for (int i = 0; i < 50 * 192; i++) v += (gp[i] - m) * (gp[i] - m);
    v /= 50 * 192;
    assert_true(fabs(m - 128) < 1.5);
    assert_true(fabs(sqrt(v) - 20) < 1.0);
    mia_dataset_free(u);
    mia_dataset_free(u2);
    mia_dataset_free(g);
}

static void test_dataset__md5_vectors(void **state)
{
    (void)state;
    /* RFC 1321 appendix A.5 */
    struct { const char *in, *out; } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"}};
    for (int i = 0; i < 3; i++) {
        mia_md5 m;
        uint8_t d[16];
        char hx[33];
        mia__md5_init(&m);
        /* feed in uneven pieces */
        size_t n = strlen(v[i].in);
        for (size_t k = 0; k < n; k += 7) mia__md5_update(&m, v[i].in + k, n - k < 7 ? n - k : 7);
        mia__md5_final(&m, d);
        for (int k = 0; k < 16; k++) snprintf(hx + 2 * k, 3, "%02x", d[k]);
        assert_string_equal(hx, v[i].out);
    }
}

static void test_dataset__manifest_verify(void **state)
{
    (void)state;
    write_bytes(tpath("a.bin"), "abc", 3);
    write_gz(tpath("b.gz"), "abc", 3);
    write_bytes(tpath("c.bin"), "abd", 3);
    const char *man =
        "{\"name\":\"t\",\"files\":["
        "{\"name\":\"a.bin\",\"size\":3,\"md5\":\"900150983cd24fb0d6963f7d28e17f72\","
        "\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"},"
        "{\"name\":\"b.gz\",\"md5_decompressed\":\"900150983cd24fb0d6963f7d28e17f72\"},"
        "{\"name\":\"c.bin\",\"size\":3,\"md5\":\"900150983cd24fb0d6963f7d28e17f72\"},"
        "{\"name\":\"missing.bin\",\"size\":3}]}";
    write_bytes(tpath("m.json"), man, strlen(man));
    mia_manifest_report *r = NULL;
    assert_int_equal(mia_manifest_verify(&r, tpath("m.json"), g_tmp), MIA_OK);
    assert_int_equal(mia_manifest_report_count(r), 4);
    assert_int_equal(mia_manifest_report_status(r, 0), MIA_FILE_OK);
    assert_int_equal(mia_manifest_report_status(r, 1), MIA_FILE_OK);
    assert_int_equal(mia_manifest_report_status(r, 2), MIA_FILE_MISMATCH);
    assert_non_null(strstr(mia_manifest_report_detail(r, 2), "md5 mismatch"));
    assert_int_equal(mia_manifest_report_status(r, 3), MIA_FILE_MISSING);
    assert_false(mia_manifest_report_ok(r));
    mia_manifest_report_free(r);
    write_bytes(tpath("bad.json"), "{\"files\": [", 11);
    r = (mia_manifest_report *)1;
    assert_int_equal(mia_manifest_verify(&r, tpath("bad.json"), g_tmp), MIA_ERR_FORMAT);
    assert_non_null(strstr(mia_last_error(), "bad.json"));
    assert_null(r);
}

static void test_dataset__indices_csv(void **state)
{
    (void)state;
    int64_t idx[3] = {5, 0, 12345678901LL};
    assert_int_equal(mia_indices_save_csv(tpath("i.csv"), idx, 3), MIA_OK);
    size_t n;
    uint8_t *b = read_bytes(tpath("i.csv"), &n);
    const char *want = "index\n5\n0\n12345678901\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(b, want, n);
    free(b);
}

static void test_dataset__bad_specs(void **state)
{
    (void)state;
    mia_dataset *d = (mia_dataset *)1;
    assert_int_equal(mia_dataset_load(&d, "nonsense", NULL), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "nonsense"));
    assert_null(d);
    assert_int_equal(mia_dataset_load(&d, "foo:bar", NULL), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "unknown dataset kind 'foo'"));
    assert_int_equal(mia_dataset_load(&d, "fashion-mnist:val", NULL), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "train or test"));
    mia_dataset_load_opts o;
    mia_dataset_load_opts_init(&o);
    o.data_dir = g_tmp;
    assert_int_equal(mia_dataset_load(&d, "mnist-opencv", &o), MIA_ERR_IO);
    assert_non_null(strstr(mia_last_error(), "fetch-offline-data.sh"));
    assert_null(d);
}

static void test_dataset__fashion_mnist_debian(void **state)
{
    (void)state;
    const char *dir = getenv("MIA_FASHION_MNIST_DIR");
    char p[600];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz",
             dir && *dir ? dir : "/usr/share/datasets/fashion-mnist");
    if (access(p, R_OK) != 0) {
        skip(); /* install Debian's dataset-fashion-mnist */
        return;
    }
    static const int first_tr[8] = {9, 0, 0, 3, 0, 2, 7, 2};
    static const int first_te[8] = {9, 2, 1, 1, 6, 1, 4, 6};
    for (int t = 0; t < 2; t++) {
        mia_dataset *d = NULL;
        assert_int_equal(mia_dataset_load(&d, t ? "fashion-mnist:test" : "fashion-mnist:train",
                                          NULL), MIA_OK);
        int64_t n = t ? 10000 : 60000;
        assert_int_equal(mia_dataset_n(d), n);
        assert_int_equal(mia_dataset_height(d), 28);
        assert_int_equal(mia_dataset_n_classes(d), 10);
        assert_string_equal(mia_dataset_class_name(d, 9), "Ankle boot");
        int64_t cnt[10] = {0};
        for (int64_t i = 0; i < n; i++) cnt[mia_dataset_label(d, i)]++;
        for (int k = 0; k < 10; k++) assert_int_equal(cnt[k], t ? 1000 : 6000);
        for (int i = 0; i < 8; i++)
            assert_int_equal(mia_dataset_label(d, i), t ? first_te[i] : first_tr[i]);
        mia_dataset_free(d);
    }
    /* manifest: decompressed-content MD5s (Debian re-gzipped the files) */
    const char *src = getenv("MIA_SOURCE_DIR");
    if (src) {
        char man[600];
        snprintf(man, sizeof man, "%s/data-manifests/fashion-mnist.json", src);
        mia_manifest_report *r = NULL;
        assert_int_equal(mia_manifest_verify(&r, man,
                                             dir && *dir ? dir : "/usr/share/datasets/fashion-mnist"),
                         MIA_OK);
        for (int64_t i = 0; i < mia_manifest_report_count(r); i++)
            if (mia_manifest_report_status(r, i) != MIA_FILE_OK)
                fail_msg("%s: %s", mia_manifest_report_name(r, i), mia_manifest_report_detail(r, i));
        mia_manifest_report_free(r);
    }
}

/* named offline sets prepared by scripts/fetch-offline-data.sh (skipped when absent) */
static void test_dataset__named_offline_sets(void **state)
{
    (void)state;
    mia_dataset *d = NULL;
    if (mia_dataset_load(&d, "mnist-opencv", NULL) != MIA_OK) {
        skip();
        return;
    }
    assert_int_equal(mia_dataset_n(d), 5000);
    assert_int_equal(mia_dataset_height(d), 28);
    int64_t cnt[10] = {0};
    for (int64_t i = 0; i < 5000; i++) cnt[mia_dataset_label(d, i)]++;
    for (int k = 0; k < 10; k++) assert_int_equal(cnt[k], 500);
    /* 4-pixel zero border around the 20x20 OpenCV cell */
    for (int x = 0; x < 28; x++) assert_int_equal(mia_dataset_pixels(d, 123)[x], 0);
    mia_dataset_free(d);
    assert_int_equal(mia_dataset_load(&d, "sklearn-digits", NULL), MIA_OK);
    assert_int_equal(mia_dataset_n(d), 1797);
    assert_int_equal(mia_dataset_width(d), 8);
    int64_t c0 = 0;
    for (int64_t i = 0; i < 1797; i++) c0 += mia_dataset_label(d, i) == 0;
    assert_int_equal(c0, 178);
    mia_dataset_free(d);
    assert_int_equal(mia_dataset_load(&d, "skimage-patches", NULL), MIA_OK);
    assert_int_equal(mia_dataset_channels(d), 3);
    assert_int_equal(mia_dataset_height(d), 32);
    assert_true(mia_dataset_n(d) > 1000);
    mia_dataset_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dataset__accessors_and_hash),
        cmocka_unit_test(test_dataset__subset_concat_relabel),
        cmocka_unit_test(test_dataset__batch_f32),
        cmocka_unit_test(test_dataset__noise),
        cmocka_unit_test(test_dataset__md5_vectors),
        cmocka_unit_test(test_dataset__manifest_verify),
        cmocka_unit_test(test_dataset__indices_csv),
        cmocka_unit_test(test_dataset__bad_specs),
        cmocka_unit_test(test_dataset__fashion_mnist_debian),
        cmocka_unit_test(test_dataset__named_offline_sets),
    };
    return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
