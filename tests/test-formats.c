/* Binary-format loaders: IDX(.gz), CIFAR-10/100 (dir and .tar.gz), STL-10, SVHN .mat, Stanford
 * Dogs lists, and the bad-input matrix (truncation, byte flips, huge headers, bombs, unsafe tar
 * entries). All fixtures are generated here. */
#include "test-data-fixtures.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include <mia/dataset.h>

#include "config.h"
#include "mia-internal.h"
#include "data/data-internal.h"
#if MIA_HAVE_MATIO
#include <matio.h>
#endif

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define ASSERT_FAILS(call, status, needle)                                                     \
    do {                                                                                       \
        mia_dataset *d_ = (mia_dataset *)1;                                                    \
        mia_status s_ = call(&d_);                                                             \
        if (s_ != (status) || strstr(mia_last_error(), (needle)) == NULL)                      \
            fail_msg("got %d '%s', want %d containing '%s'", s_, mia_last_error(), status,     \
                     needle);                                                                  \
        assert_null(d_);                                                                       \
    } while (0)

/* ---- IDX ---- */
enum { IN = 7, IH = 5, IW = 6 };
static uint8_t g_img[IN * IH * IW], g_lab[IN];

static void make_idx(const char *img, const char *lab, int gz)
{
    for (size_t i = 0; i < sizeof g_img; i++) g_img[i] = xs_byte();
    for (int i = 0; i < IN; i++) g_lab[i] = (uint8_t)(xs_byte() % 10);
    uint8_t buf[512];
    uint32_t di[3] = {IN, IH, IW}, dl[1] = {IN};
    size_t n = idx_encode(buf, 3, di, g_img);
    (gz ? write_gz : write_bytes)(img, buf, n);
    n = idx_encode(buf, 1, dl, g_lab);
    (gz ? write_gz : write_bytes)(lab, buf, n);
}

static void check_idx_ds(const mia_dataset *d)
{
    assert_int_equal(mia_dataset_n(d), IN);
    assert_int_equal(mia_dataset_channels(d), 1);
    assert_int_equal(mia_dataset_height(d), IH);
    assert_int_equal(mia_dataset_width(d), IW);
    for (int i = 0; i < IN; i++) {
        assert_int_equal(mia_dataset_label(d, i), g_lab[i]);
        assert_memory_equal(mia_dataset_pixels(d, i), g_img + i * IH * IW, IH * IW);
    }
}

static void test_formats__idx_plain_and_gz(void **state)
{
    (void)state;
    for (int gz = 0; gz < 2; gz++) {
        const char *pi = tpath(gz ? "i.idx.gz" : "i.idx"), *pl = tpath(gz ? "l.idx.gz" : "l.idx");
        make_idx(pi, pl, gz);
        mia_dataset *d = NULL;
        assert_int_equal(mia_dataset_load_idx(&d, pi, pl, NULL), MIA_OK);
        check_idx_ds(d);
        mia_dataset_free(d);
        char spec[1200];
        snprintf(spec, sizeof spec, "idx:%s,%s", pi, pl);
        assert_int_equal(mia_dataset_load(&d, spec, NULL), MIA_OK);
        check_idx_ds(d);
        mia_dataset_free(d);
        /* max_images reads a prefix */
        mia_dataset_load_opts o;
        mia_dataset_load_opts_init(&o);
        o.max_images = 3;
        assert_int_equal(mia_dataset_load_idx(&d, pi, pl, &o), MIA_OK);
        assert_int_equal(mia_dataset_n(d), 3);
        assert_memory_equal(mia_dataset_pixels(d, 2), g_img + 2 * IH * IW, IH * IW);
        mia_dataset_free(d);
    }
    /* 4-D IDX is N,C,H,W */
    uint8_t buf[512], px[2 * 3 * 4 * 5];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)i;
    uint32_t dims[4] = {2, 3, 4, 5};
    write_bytes(tpath("c.idx"), buf, idx_encode(buf, 4, dims, px));
    mia_dataset *d = NULL;
    assert_int_equal(mia_dataset_load_idx(&d, tpath("c.idx"), NULL, NULL), MIA_OK);
    assert_int_equal(mia_dataset_channels(d), 3);
    assert_int_equal(mia_dataset_label(d, 1), -1);
    assert_memory_equal(mia_dataset_pixels(d, 1), px + 60, 60);
    mia_dataset_free(d);
}

/* gzip bytes of `data` (one member) through zlib's deflate with a gzip wrapper */
static size_t gz_member(uint8_t *dst, size_t cap, const uint8_t *data, size_t n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)n;
    z.next_out = dst;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    size_t k = cap - z.avail_out;
    deflateEnd(&z);
    return k;
}

static void test_formats__idx_gz_trailing_data_and_members(void **state)
{
    (void)state;
    make_idx(tpath("t.idx"), tpath("tl.idx"), 0);
    size_t raw_n;
    uint8_t *raw = read_bytes(tpath("t.idx"), &raw_n);
    static uint8_t gz[8192];
    /* two members (header+first half, rest) are one valid gzip file: same data */
    size_t h = raw_n / 2;
    size_t n1 = gz_member(gz, sizeof gz, raw, h);
    size_t n2 = gz_member(gz + n1, sizeof gz - n1, raw + h, raw_n - h);
    write_bytes(tpath("m.idx.gz"), gz, n1 + n2);
    mia_dataset *d = NULL;
    assert_int_equal(mia_dataset_load_idx(&d, tpath("m.idx.gz"), NULL, NULL), MIA_OK);
    for (int i = 0; i < IN; i++)
        assert_memory_equal(mia_dataset_pixels(d, i), g_img + i * IH * IW, IH * IW);
    mia_dataset_free(d);
    /* one appended byte after the last member: rejected with file and offset */
    size_t n = gz_member(gz, sizeof gz, raw, raw_n);
    char off[32];
    snprintf(off, sizeof off, "offset %zu", n);
    for (int junk = 0; junk < 3; junk++) {
        static const uint8_t tails[3][3] = {{0x00}, {0x1f}, {0x1f, 0x8b, 0x08}};
        static const size_t tail_n[3] = {1, 1, 3};
        memcpy(gz + n, tails[junk], tail_n[junk]);
        write_bytes(tpath("j.idx.gz"), gz, n + tail_n[junk]);
        d = (mia_dataset *)1;
        mia_status st = mia_dataset_load_idx(&d, tpath("j.idx.gz"), NULL, NULL);
        assert_int_equal(st, MIA_ERR_FORMAT);
        assert_non_null(strstr(mia_last_error(), tpath("j.idx.gz")));
        if (junk < 2) { /* not a gzip member at all */
            assert_non_null(strstr(mia_last_error(), "trailing data after the final gzip member"));
            assert_non_null(strstr(mia_last_error(), off));
        } else { /* a second member that is not valid (truncated header) */
            assert_non_null(strstr(mia_last_error(), "gzip"));
        }
        assert_null(d);
    }
    /* a second member whose data is corrupt */
    size_t m2 = gz_member(gz + n, sizeof gz - n, raw, 16);
    gz[n + 12] ^= 0xff;
    write_bytes(tpath("c2.idx.gz"), gz, n + m2);
    d = (mia_dataset *)1;
    assert_int_equal(mia_dataset_load_idx(&d, tpath("c2.idx.gz"), NULL, NULL), MIA_ERR_FORMAT);
    assert_non_null(strstr(mia_last_error(), "c2.idx.gz"));
    assert_null(d);
    free(raw);
}

static const char *g_trunc_path;
static mia_status load_trunc(mia_dataset **d) { return mia_dataset_load_idx(d, g_trunc_path, NULL, NULL); }

static void test_formats__idx_truncation_and_flips(void **state)
{
    (void)state;
    make_idx(tpath("t.idx"), tpath("tl.idx"), 0);
    make_idx(tpath("t.idx.gz"), tpath("tl.idx.gz"), 1);
    const char *srcs[2] = {tpath("t.idx"), tpath("t.idx.gz")};
    for (int s = 0; s < 2; s++) {
        size_t n;
        uint8_t *full = read_bytes(srcs[s], &n);
        const char *p = tpath(s ? "cut.idx.gz" : "cut.idx");
        g_trunc_path = p;
        /* truncation at 0, 1, 3, 4, 7, 8, header end +-1, every 1/16, last byte */
        size_t cuts[40];
        int nc = 0;
        size_t fixed[] = {0, 1, 3, 4, 7, 8, 15, 16, 17, n - 1};
        for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
            if (fixed[i] < n) cuts[nc++] = fixed[i];
        for (int k = 1; k < 16; k++) cuts[nc++] = n * (size_t)k / 16;
        for (int c = 0; c < nc; c++) {
            write_bytes(p, full, cuts[c]);
            ASSERT_FAILS(load_trunc, MIA_ERR_FORMAT, p);
        }
        /* one appended byte */
        uint8_t *ext = malloc(n + 1);
        memcpy(ext, full, n);
        ext[n] = 0x55;
        write_bytes(p, ext, n + 1);
        mia_dataset *d = (mia_dataset *)1;
        mia_status st = mia_dataset_load_idx(&d, p, NULL, NULL);
        if (s == 0) { /* plain: the size check catches it (zlib ignores junk after a gzip member) */
            assert_int_equal(st, MIA_ERR_FORMAT);
            assert_non_null(strstr(mia_last_error(), p));
            assert_null(d);
        } else if (st == MIA_OK) {
            mia_dataset_free(d);
        }
        /* 256 seeded single-byte flips: never crash; failures name the file */
        for (int f = 0; f < 256; f++) {
            memcpy(ext, full, n);
            size_t at = (size_t)(xs_byte() | xs_byte() << 8) % n;
            ext[at] ^= (uint8_t)(1u + xs_byte() % 255u);
            write_bytes(p, ext, n);
            d = (mia_dataset *)1;
            st = mia_dataset_load_idx(&d, p, NULL, NULL);
            if (st == MIA_OK) {
                assert_non_null(d);
                mia_dataset_free(d);
            } else {
                assert_non_null(strstr(mia_last_error(), p));
                assert_null(d);
            }
        }
        free(ext);
        free(full);
    }
}

static void test_formats__idx_huge_header_fails_fast(void **state)
{
    (void)state;
    uint8_t h[16] = {0, 0, 8, 3, 0x80, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 1};
    const char *p = tpath("huge.idx");
    write_bytes(p, h, sizeof h);
    int64_t live = mia__alloc_live();
    double t0 = now_s();
    g_trunc_path = p;
    ASSERT_FAILS(load_trunc, MIA_ERR_FORMAT, p);
    assert_true(now_s() - t0 < 0.1);
    assert_int_equal(mia__alloc_live(), live);
    /* 2^31 x 2^31 images of 1x1 (product overflows nothing but exceeds every cap) */
    uint8_t h2[16] = {0, 0, 8, 3, 0x80, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0x80, 0};
    write_bytes(p, h2, sizeof h2);
    ASSERT_FAILS(load_trunc, MIA_ERR_FORMAT, p);
    /* unsupported element type is named */
    uint8_t h3[16] = {0, 0, 0x0D, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
    write_bytes(p, h3, sizeof h3);
    ASSERT_FAILS(load_trunc, MIA_ERR_FORMAT, "f32");
    assert_int_equal(mia__alloc_live(), live);
}

static void test_formats__idx_gzip_bomb(void **state)
{
    (void)state;
    /* (a) a small valid header followed by 1 GiB of zeros: stops at the first trailing byte */
    uint8_t h[16];
    uint32_t dims[3] = {10, 28, 28};
    size_t hn = idx_encode(h, 3, dims, NULL);
    const char *p = tpath("bomb.idx.gz");
    write_gz_bomb(p, h, hn, (uint64_t)1 << 30);
    size_t fsz;
    free(read_bytes(p, &fsz));
    assert_true(fsz < 2u << 20);
    double t0 = now_s();
    g_trunc_path = p;
    ASSERT_FAILS(load_trunc, MIA_ERR_FORMAT, "trailing data");
    assert_true(now_s() - t0 < 1.0);
    /* (b) a header claiming 1 GiB of pixels: refused by the byte cap before allocating */
    uint32_t big[3] = {1024, 1024, 1024};
    hn = idx_encode(h, 3, big, NULL);
    write_gz_bomb(p, h, hn, (uint64_t)1 << 30);
    mia_dataset_load_opts o;
    mia_dataset_load_opts_init(&o);
    o.max_bytes = 64u << 20;
    int64_t live = mia__alloc_live();
    mia_dataset *d = (mia_dataset *)1;
    t0 = now_s();
    assert_int_equal(mia_dataset_load_idx(&d, p, NULL, &o), MIA_ERR_FORMAT);
    assert_non_null(strstr(mia_last_error(), "cap"));
    assert_non_null(strstr(mia_last_error(), p));
    assert_null(d);
    assert_true(now_s() - t0 < 0.1);
    assert_int_equal(mia__alloc_live(), live);
}

static void test_formats__idx_label_mismatch(void **state)
{
    (void)state;
    make_idx(tpath("m.idx"), tpath("ml.idx"), 0);
    uint8_t buf[64];
    uint32_t dl[1] = {IN + 1};
    uint8_t labs[IN + 1] = {0};
    write_bytes(tpath("ml.idx"), buf, idx_encode(buf, 1, dl, labs));
    mia_dataset *d = (mia_dataset *)1;
    assert_int_equal(mia_dataset_load_idx(&d, tpath("m.idx"), tpath("ml.idx"), NULL),
                     MIA_ERR_MISMATCH);
    assert_non_null(strstr(mia_last_error(), "ml.idx"));
    assert_null(d);
    assert_int_equal(mia_dataset_load_idx(&d, tpath("nope.idx"), NULL, NULL), MIA_ERR_IO);
    assert_non_null(strstr(mia_last_error(), "nope.idx"));
}

/* ---- CIFAR ---- */
enum { CR = 3 }; /* records per train batch */
static uint8_t g_c10[6][CR * 3073];
static uint8_t g_c100[2][4 * 3074];

static void make_cifar10(void)
{
    for (int b = 0; b < 6; b++)
        for (int r = 0; r < CR; r++) {
            uint8_t *rec = g_c10[b] + r * 3073;
            rec[0] = (uint8_t)(xs_byte() % 10);
            for (int k = 1; k < 3073; k++) rec[k] = xs_byte();
        }
}

static const char g_meta[] = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";

static void test_formats__cifar10_tar_gz_and_dir(void **state)
{
    (void)state;
    make_cifar10();
    tar_item items[8];
    static const char *names[6] = {"cifar-10-batches-bin/data_batch_1.bin",
                                   "cifar-10-batches-bin/data_batch_2.bin",
                                   "cifar-10-batches-bin/data_batch_3.bin",
                                   "cifar-10-batches-bin/data_batch_4.bin",
                                   "cifar-10-batches-bin/data_batch_5.bin",
                                   "cifar-10-batches-bin/test_batch.bin"};
    /* archive order deliberately shuffled: the loader must order batches by name */
    int order[6] = {3, 5, 0, 4, 1, 2};
    items[0] = (tar_item){"cifar-10-batches-bin/", NULL, 0, 'd', NULL};
    for (int i = 0; i < 6; i++)
        items[1 + i] = (tar_item){names[order[i]], g_c10[order[i]], sizeof g_c10[0], 'f', NULL};
    items[7] = (tar_item){"cifar-10-batches-bin/batches.meta.txt", g_meta, strlen(g_meta), 'f',
                          NULL};
    const char *tgz = tpath("cifar-10-binary.tar.gz");
    write_tar(tgz, items, 8, 1);
    mkdir(tpath("c10"), 0755);
    mkdir(tpath("c10/cifar-10-batches-bin"), 0755);
    char p[600];
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/c10/%s", g_tmp, names[i]);
        write_bytes(p, g_c10[i], sizeof g_c10[0]);
    }
    snprintf(p, sizeof p, "%s/c10/cifar-10-batches-bin/batches.meta.txt", g_tmp);
    write_bytes(p, g_meta, strlen(g_meta));
    const char *srcs[2] = {tgz, tpath("c10")};
    for (int s = 0; s < 2; s++)
        for (int split = 0; split < 2; split++) {
            mia_dataset *d = NULL;
            assert_int_equal(mia_dataset_load_cifar(&d, 10, srcs[s], (mia_data_split)split, NULL),
                             MIA_OK);
            int nb = split ? 1 : 5;
            assert_int_equal(mia_dataset_n(d), nb * CR);
            assert_int_equal(mia_dataset_channels(d), 3);
            assert_int_equal(mia_dataset_n_classes(d), 10);
            assert_string_equal(mia_dataset_class_name(d, 1), "automobile");
            assert_string_equal(mia_dataset_class_name(d, 9), "truck");
            for (int b = 0; b < nb; b++)
                for (int r = 0; r < CR; r++) {
                    const uint8_t *rec = g_c10[split ? 5 : b] + r * 3073;
                    assert_int_equal(mia_dataset_label(d, b * CR + r), rec[0]);
                    assert_memory_equal(mia_dataset_pixels(d, b * CR + r), rec + 1, 3072);
                }
            mia_dataset_free(d);
        }
    mia_dataset *d = NULL;
    char spec[700];
    snprintf(spec, sizeof spec, "cifar10:%s:test", tgz);
    assert_int_equal(mia_dataset_load(&d, spec, NULL), MIA_OK);
    assert_int_equal(mia_dataset_n(d), CR);
    mia_dataset_free(d);
}

static void test_formats__cifar100_fine_and_coarse(void **state)
{
    (void)state;
    for (int s = 0; s < 2; s++)
        for (int r = 0; r < 4; r++) {
            uint8_t *rec = g_c100[s] + r * 3074;
            rec[0] = (uint8_t)(xs_byte() % 20);
            rec[1] = (uint8_t)(xs_byte() % 100);
            for (int k = 2; k < 3074; k++) rec[k] = xs_byte();
        }
    tar_item items[3] = {
        {"cifar-100-binary/train.bin", g_c100[0], sizeof g_c100[0], 'f', NULL},
        {"cifar-100-binary/test.bin", g_c100[1], sizeof g_c100[1], 'f', NULL},
        {"cifar-100-binary/coarse_label_names.txt", "c0\nc1\n", 6, 'f', NULL}};
    const char *tgz = tpath("cifar-100-binary.tar.gz");
    write_tar(tgz, items, 3, 1);
    mia_dataset_load_opts o;
    mia_dataset_load_opts_init(&o);
    for (int coarse = 0; coarse < 2; coarse++) {
        o.cifar100_coarse = coarse;
        mia_dataset *d = NULL;
        assert_int_equal(mia_dataset_load_cifar(&d, 100, tgz, MIA_DATA_TEST, &o), MIA_OK);
        assert_int_equal(mia_dataset_n(d), 4);
        assert_int_equal(mia_dataset_n_classes(d), coarse ? 20 : 100);
        for (int r = 0; r < 4; r++) {
            assert_int_equal(mia_dataset_label(d, r), g_c100[1][r * 3074 + (coarse ? 0 : 1)]);
            assert_memory_equal(mia_dataset_pixels(d, r), g_c100[1] + r * 3074 + 2, 3072);
        }
        if (coarse) assert_string_equal(mia_dataset_class_name(d, 1), "c1");
        mia_dataset_free(d);
    }
}

static const char *g_cifar_path;
static mia_status load_c10(mia_dataset **d)
{
    return mia_dataset_load_cifar(d, 10, g_cifar_path, MIA_DATA_TEST, NULL);
}

static void test_formats__cifar_bad_records_and_truncation(void **state)
{
    (void)state;
    make_cifar10();
    /* a label outside 0..9 names the record and offset */
    g_c10[5][3073] = 10;
    tar_item it = {"cifar-10-batches-bin/test_batch.bin", g_c10[5], sizeof g_c10[5], 'f', NULL};
    const char *tgz = tpath("bad.tar.gz");
    write_tar(tgz, &it, 1, 1);
    g_cifar_path = tgz;
    ASSERT_FAILS(load_c10, MIA_ERR_FORMAT, "record 1 (offset 3073)");
    /* partial record */
    it.size = sizeof g_c10[5] - 5;
    write_tar(tgz, &it, 1, 1);
    ASSERT_FAILS(load_c10, MIA_ERR_FORMAT, "multiple of the 3073-byte record");
    /* truncated archive at many offsets */
    g_c10[5][3073] = 1;
    it.size = sizeof g_c10[5];
    write_tar(tgz, &it, 1, 1);
    size_t n;
    uint8_t *full = read_bytes(tgz, &n);
    const char *cut = tpath("cut.tar.gz");
    g_cifar_path = cut;
    for (int k = 0; k < 16; k++) {
        write_bytes(cut, full, n * (size_t)k / 16);
        ASSERT_FAILS(load_c10, MIA_ERR_FORMAT, cut);
    }
    free(full);
    /* missing member */
    tar_item other = {"cifar-10-batches-bin/readme.html", "x", 1, 'f', NULL};
    write_tar(cut, &other, 1, 1);
    ASSERT_FAILS(load_c10, MIA_ERR_FORMAT, "test_batch.bin");
}

static void test_formats__memory_entry_points(void **state)
{
    (void)state;
    make_idx(tpath("mi.idx.gz"), tpath("ml.idx.gz"), 1);
    size_t ni, nl;
    uint8_t *bi = read_bytes(tpath("mi.idx.gz"), &ni), *bl = read_bytes(tpath("ml.idx.gz"), &nl);
    mia_dataset *d = NULL;
    assert_int_equal(mia__idx_load_mem(&d, bi, ni, "img", bl, nl, "lab", NULL), MIA_OK);
    check_idx_ds(d);
    mia_dataset_free(d);
    for (size_t cut = 0; cut < ni; cut += 7) {
        d = (mia_dataset *)1;
        assert_int_equal(mia__idx_load_mem(&d, bi, cut, "img-cut", bl, nl, "lab", NULL),
                         MIA_ERR_FORMAT);
        assert_non_null(strstr(mia_last_error(), "img-cut"));
        assert_null(d);
    }
    free(bi);
    free(bl);
    /* CIFAR-10 test batch inside a tar.gz held in memory, and raw records */
    make_cifar10();
    tar_item it = {"cifar-10-batches-bin/test_batch.bin", g_c10[5], sizeof g_c10[5], 'f', NULL};
    write_tar(tpath("m.tar.gz"), &it, 1, 1);
    size_t nt;
    uint8_t *bt = read_bytes(tpath("m.tar.gz"), &nt);
    assert_int_equal(mia__cifar_load_mem(&d, 10, MIA_DATA_TEST, bt, nt, "c10.tgz", NULL), MIA_OK);
    assert_int_equal(mia_dataset_n(d), CR);
    for (int r = 0; r < CR; r++) {
        assert_int_equal(mia_dataset_label(d, r), g_c10[5][r * 3073]);
        assert_memory_equal(mia_dataset_pixels(d, r), g_c10[5] + r * 3073 + 1, 3072);
    }
    mia_dataset_free(d);
    d = (mia_dataset *)1;
    assert_int_equal(mia__cifar_load_mem(&d, 10, MIA_DATA_TRAIN, bt, nt, "c10.tgz", NULL),
                     MIA_ERR_FORMAT);
    assert_non_null(strstr(mia_last_error(), "data_batch_1.bin"));
    assert_null(d);
    free(bt);
    assert_int_equal(mia__cifar_records_mem(&d, 10, g_c10[0], sizeof g_c10[0], "recs", NULL),
                     MIA_OK);
    assert_memory_equal(mia_dataset_pixels(d, 1), g_c10[0] + 3073 + 1, 3072);
    mia_dataset_free(d);
    d = (mia_dataset *)1;
    assert_int_equal(mia__cifar_records_mem(&d, 10, g_c10[0], 3073 + 5, "recs", NULL),
                     MIA_ERR_FORMAT);
    assert_non_null(strstr(mia_last_error(), "recs"));
    assert_null(d);
}

static void test_formats__tar_unsafe_entries_rejected(void **state)
{
    (void)state;
    struct { tar_item it; const char *needle; } cases[] = {
        {{"../x", "abc", 3, 'f', NULL}, "'..' path component"},
        {{"/etc/x", "abc", 3, 'f', NULL}, "absolute path"},
        {{"cifar-10-batches-bin/test_batch.bin", NULL, 0, 'l', "/etc/passwd"}, "symlink"},
        {{"cifar-10-batches-bin/test_batch.bin", NULL, 0, 'h', "other"}, "hardlink"},
        {{"a//b", "abc", 3, 'f', NULL}, "empty path component"},
    };
    g_cifar_path = tpath("unsafe.tar.gz");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_tar(g_cifar_path, &cases[i].it, 1, 1);
        ASSERT_FAILS(load_c10, MIA_ERR_FORMAT, cases[i].needle);
        assert_non_null(strstr(mia_last_error(), g_cifar_path));
    }
}

static void test_formats__tar_gzip_bomb_hits_cap(void **state)
{
    (void)state;
    uint8_t h[512];
    ustar_header(h, "cifar-10-batches-bin/test_batch.bin", (uint64_t)1 << 30);
    const char *p = tpath("bomb.tar.gz");
    write_gz_bomb(p, h, 512, ((uint64_t)1 << 30) + 1024);
    size_t fsz;
    free(read_bytes(p, &fsz));
    assert_true(fsz < 2u << 20);
    g_cifar_path = p;
    double t0 = now_s();
    /* the CIFAR loader caps entries at 256 MiB: refused from the header alone */
    ASSERT_FAILS(load_c10, MIA_ERR_FORMAT, "cap");
    assert_true(now_s() - t0 < 1.0);
    /* under the entry cap (200 MiB) in an entry the loader skips: the ratio cap stops the
     * inflation during the skip */
    ustar_header(h, "cifar-10-batches-bin/readme.html", (uint64_t)200 << 20);
    write_gz_bomb(p, h, 512, ((uint64_t)200 << 20) + 1024);
    t0 = now_s();
    ASSERT_FAILS(load_c10, MIA_ERR_FORMAT, "decompression ratio");
    assert_true(now_s() - t0 < 5.0);
}

/* ---- STL-10 ---- */
static void test_formats__stl10_column_major(void **state)
{
    (void)state;
    enum { SN = 3, S = 96, SI = 3 * 96 * 96 };
    static uint8_t chw[SN][SI], file[SN * SI];
    uint8_t y[SN] = {1, 10, 5};
    for (int i = 0; i < SN; i++)
        for (int k = 0; k < SI; k++) chw[i][k] = xs_byte();
    for (int i = 0; i < SN; i++)
        for (int c = 0; c < 3; c++)
            for (int r = 0; r < S; r++)
                for (int col = 0; col < S; col++)
                    file[i * SI + (c * S + col) * S + r] = chw[i][(c * S + r) * S + col];
    mkdir(tpath("stl"), 0755);
    mkdir(tpath("stl/stl10_binary"), 0755);
    write_bytes(tpath("stl/stl10_binary/train_X.bin"), file, sizeof file);
    write_bytes(tpath("stl/stl10_binary/train_y.bin"), y, SN);
    const char *names = "airplane\nbird\ncar\ncat\ndeer\ndog\nhorse\nmonkey\nship\ntruck\n";
    write_bytes(tpath("stl/stl10_binary/class_names.txt"), names, strlen(names));
    mia_dataset *d = NULL;
    assert_int_equal(mia_dataset_load_stl10(&d, tpath("stl"), MIA_DATA_TRAIN, NULL), MIA_OK);
    assert_int_equal(mia_dataset_n(d), SN);
    assert_int_equal(mia_dataset_height(d), 96);
    for (int i = 0; i < SN; i++) {
        assert_int_equal(mia_dataset_label(d, i), y[i] - 1);
        assert_memory_equal(mia_dataset_pixels(d, i), chw[i], SI);
    }
    assert_string_equal(mia_dataset_class_name(d, 7), "monkey");
    mia_dataset_free(d);
    /* bad label and a short file */
    y[1] = 0;
    write_bytes(tpath("stl/stl10_binary/train_y.bin"), y, SN);
    d = (mia_dataset *)1;
    assert_int_equal(mia_dataset_load_stl10(&d, tpath("stl"), MIA_DATA_TRAIN, NULL),
                     MIA_ERR_FORMAT);
    assert_non_null(strstr(mia_last_error(), "train_y.bin: label 0 at offset 1"));
    assert_null(d);
    write_bytes(tpath("stl/stl10_binary/train_X.bin"), file, sizeof file - 1);
    assert_int_equal(mia_dataset_load_stl10(&d, tpath("stl"), MIA_DATA_TRAIN, NULL),
                     MIA_ERR_FORMAT);
    assert_non_null(strstr(mia_last_error(), "train_X.bin"));
    assert_null(d);
}

#if MIA_HAVE_MATIO
/* ---- SVHN .mat (uncompressed, written by matio) ---- */
static void test_formats__svhn_mat(void **state)
{
    (void)state;
    enum { VN = 4 };
    static uint8_t x[32 * 32 * 3 * VN];
    double yv[VN] = {10, 1, 9, 10};
    for (size_t i = 0; i < sizeof x; i++) x[i] = xs_byte();
    const char *p = tpath("train_32x32.mat");
    mat_t *m = Mat_CreateVer(p, NULL, MAT_FT_MAT5);
    assert_non_null(m);
    size_t dx[4] = {32, 32, 3, VN}, dy[2] = {VN, 1};
    matvar_t *vx = Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, 4, dx, x, 0);
    matvar_t *vy = Mat_VarCreate("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dy, yv, 0);
    assert_int_equal(Mat_VarWrite(m, vx, MAT_COMPRESSION_NONE), 0);
    assert_int_equal(Mat_VarWrite(m, vy, MAT_COMPRESSION_NONE), 0);
    Mat_VarFree(vx);
    Mat_VarFree(vy);
    Mat_Close(m);
    mia_dataset *d = NULL;
    char spec[600];
    snprintf(spec, sizeof spec, "svhn:%s", p);
    assert_int_equal(mia_dataset_load(&d, spec, NULL), MIA_OK);
    assert_int_equal(mia_dataset_n(d), VN);
    int want[VN] = {0, 1, 9, 0};
    for (int i = 0; i < VN; i++) {
        assert_int_equal(mia_dataset_label(d, i), want[i]);
        const uint8_t *px = mia_dataset_pixels(d, i);
        for (int c = 0; c < 3; c++)
            for (int r = 0; r < 32; r += 7)
                for (int col = 0; col < 32; col += 5)
                    assert_int_equal(px[(c * 32 + r) * 32 + col],
                                     x[r + 32 * (col + 32 * (c + 3 * i))]);
    }
    char h1[65], h2[65];
    mia_dataset_hash_hex(d, h1);
    mia_dataset_free(d);
    /* truncations fail cleanly and name the file */
    size_t n;
    uint8_t *full = read_bytes(p, &n);
    /* the same bytes from memory (memfd, nothing on disk) */
    assert_int_equal(mia__svhn_load_mem(&d, full, n, "svhn-mem", NULL), MIA_OK);
    mia_dataset_hash_hex(d, h2);
    assert_string_equal(h1, h2);
    mia_dataset_free(d);
    d = (mia_dataset *)1;
    assert_int_not_equal(mia__svhn_load_mem(&d, full, n / 2, "svhn-mem", NULL), MIA_OK);
    assert_non_null(strstr(mia_last_error(), "svhn-mem"));
    assert_null(d);
    const char *cut = tpath("cut.mat");
    for (int k = 0; k < 16; k++) {
        write_bytes(cut, full, n * (size_t)k / 16);
        d = (mia_dataset *)1;
        assert_int_not_equal(mia_dataset_load_svhn(&d, cut, NULL), MIA_OK);
        assert_non_null(strstr(mia_last_error(), cut));
        assert_null(d);
    }
    free(full);
}

/* ---- Stanford Dogs lists ---- */
static void test_formats__dogs_lists_tar(void **state)
{
    (void)state;
    const char *files[5] = {"n02085620-Chihuahua/n02085620_10074.jpg",
                            "n02085782-Japanese_spaniel/n02085782_1.jpg",
                            "n02085620-Chihuahua/n02085620_2.jpg",
                            "n02116738-African_hunting_dog/n02116738_9.jpg",
                            "n02085782-Japanese_spaniel/n02085782_7.jpg"};
    double labs[5] = {1, 2, 1, 120, 2};
    const char *p = tpath("train_list.mat");
    mat_t *m = Mat_CreateVer(p, NULL, MAT_FT_MAT5);
    size_t dc[2] = {5, 1};
    matvar_t *cells[5];
    for (int i = 0; i < 5; i++) {
        size_t ds[2] = {1, strlen(files[i])};
        cells[i] = Mat_VarCreate(NULL, MAT_C_CHAR, MAT_T_UINT8, 2, ds, (void *)files[i], 0);
    }
    matvar_t *fl = Mat_VarCreate("file_list", MAT_C_CELL, MAT_T_CELL, 2, dc, cells, 0);
    matvar_t *lv = Mat_VarCreate("labels", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dc, labs, 0);
    assert_int_equal(Mat_VarWrite(m, fl, MAT_COMPRESSION_NONE), 0);
    assert_int_equal(Mat_VarWrite(m, lv, MAT_COMPRESSION_NONE), 0);
    Mat_VarFree(fl);
    Mat_VarFree(lv);
    Mat_Close(m);
    size_t n;
    uint8_t *mat = read_bytes(p, &n);
    tar_item it = {"train_list.mat", mat, n, 'f', NULL};
    write_tar(tpath("lists.tar"), &it, 1, 0);
    free(mat);
    char **names = NULL;
    int32_t *labels = NULL;
    int64_t cnt = 0;
    assert_int_equal(mia_dogs_list_load(&names, &labels, &cnt, tpath("lists.tar"),
                                        "train_list.mat"), MIA_OK);
    assert_int_equal(cnt, 5);
    int want[5] = {0, 1, 0, 2, 1}; /* sorted breed folders, not the .mat labels */
    for (int i = 0; i < 5; i++) {
        assert_string_equal(names[i], files[i]);
        assert_int_equal(labels[i], want[i]);
    }
    mia_dogs_list_free(names, labels, cnt);
    /* from a folder, and a missing list */
    assert_int_equal(mia_dogs_list_load(&names, &labels, &cnt, g_tmp, "train_list.mat"), MIA_OK);
    mia_dogs_list_free(names, labels, cnt);
    assert_int_equal(mia_dogs_list_load(&names, &labels, &cnt, tpath("lists.tar"),
                                        "test_list.mat"), MIA_ERR_FORMAT);
    assert_non_null(strstr(mia_last_error(), "test_list.mat"));
    assert_null(names);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats__idx_plain_and_gz),
        cmocka_unit_test(test_formats__idx_truncation_and_flips),
        cmocka_unit_test(test_formats__idx_huge_header_fails_fast),
        cmocka_unit_test(test_formats__idx_gzip_bomb),
        cmocka_unit_test(test_formats__idx_label_mismatch),
        cmocka_unit_test(test_formats__idx_gz_trailing_data_and_members),
        cmocka_unit_test(test_formats__cifar10_tar_gz_and_dir),
        cmocka_unit_test(test_formats__cifar100_fine_and_coarse),
        cmocka_unit_test(test_formats__cifar_bad_records_and_truncation),
        cmocka_unit_test(test_formats__memory_entry_points),
        cmocka_unit_test(test_formats__tar_unsafe_entries_rejected),
        cmocka_unit_test(test_formats__tar_gzip_bomb_hits_cap),
        cmocka_unit_test(test_formats__stl10_column_major),
#if MIA_HAVE_MATIO
        cmocka_unit_test(test_formats__svhn_mat),
        cmocka_unit_test(test_formats__dogs_lists_tar),
#endif
    };
    return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
