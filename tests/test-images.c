/* Image decoding (libpng / libjpeg-turbo), ImageFolder and AFHQ loading, batch transforms.
 * Oracles: PIL-decoded fixtures (tests/gen-resize-fixtures.py), pixels written by this test,
 * torchvision pipeline outputs, and hand-computed orderings of torchvision's ImageFolder rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "data/dataset-impl.h"
#include "data/image.h"
#include "mia-internal.h"
#include <mia/dataset.h>
#include <mia/status.h>
#include <mia/transform.h>

/* ---- helpers ---------------------------------------------------------------------------------- */

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    if (fread(b, 1, (size_t)len, f) != (size_t)len) fail_msg("short read %s", path);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static uint8_t *fixture(const char *name, size_t expect)
{
    const char *dir = getenv("MIA_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/resize/%s", dir ? dir : "tests/data", name);
    size_t n;
    uint8_t *b = read_all(path, &n);
    if (expect && n != expect) fail_msg("fixture %s: %zu bytes, expected %zu", name, n, expect);
    return b;
}

static void write_all(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) fail_msg("cannot write %s", path);
    fclose(f);
}

/* PNG through libpng's writer (any colour type / depth / interlace). rows: packed samples. */
typedef struct pngbuf {
    uint8_t *d;
    size_t n;
} pngbuf;

static void pw_cb(png_structp p, png_bytep data, size_t len)
{
    pngbuf *b = png_get_io_ptr(p);
    b->d = realloc(b->d, b->n + len);
    memcpy(b->d + b->n, data, len);
    b->n += len;
}
static void pf_cb(png_structp p) { (void)p; }

static pngbuf make_png(int w, int h, int ctype, int depth, int interlace, const uint8_t *data,
                       const png_color *pal, int npal, const uint8_t *trns, int ntrns)
{
    pngbuf b = {0};
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p))) fail_msg("libpng write failed");
    png_set_write_fn(p, &b, pw_cb, pf_cb);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, depth, ctype, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(p, info, pal, npal);
    if (trns) png_set_tRNS(p, info, trns, ntrns, NULL);
    png_write_info(p, info);
    int ch = ctype == PNG_COLOR_TYPE_RGB ? 3 : ctype == PNG_COLOR_TYPE_RGB_ALPHA ? 4
             : ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t rowbytes = (size_t)w * (size_t)ch * (size_t)(depth == 16 ? 2 : 1);
    png_bytep *rows = malloc(sizeof(png_bytep) * (size_t)h);
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)(data + (size_t)y * rowbytes);
    png_write_image(p, rows);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    free(rows);
    return b;
}

/* JPEG through libjpeg's compressor. */
static uint8_t *make_jpeg(const uint8_t *px, int w, int h, int ch, int quality, size_t *n)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&c, &out, &len);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = ch;
    c.in_color_space = ch == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)c.next_scanline * (size_t)(w * ch));
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    uint8_t *b = malloc(len);
    memcpy(b, out, len);
    free(out);
    *n = len;
    return b;
}

static uint8_t *rand_rgb(int w, int h, int ch, unsigned seed)
{
    uint8_t *p = malloc((size_t)(w * h * ch));
    uint32_t s = seed * 2654435761u + 1;
    for (int i = 0; i < w * h * ch; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (uint8_t)(s >> 24);
    }
    return p;
}

static char tmpdir[256];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mia-test-images-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- decoding ---------------------------------------------------------------------------------- */

static void test_images__png_rgb_roundtrip_exact(void **state)
{
    (void)state;
    uint8_t *px = rand_rgb(17, 11, 3, 1);
    uint8_t *png = NULL;
    size_t n = 0;
    assert_int_equal(mia__image_encode_png(px, 17, 11, 3, &png, &n), MIA_OK);
    uint8_t *out = NULL;
    int64_t w, h;
    assert_int_equal(mia__image_decode(png, n, "a.png", 3, NULL, &out, &w, &h), MIA_OK);
    assert_int_equal(w, 17);
    assert_int_equal(h, 11);
    assert_memory_equal(out, px, 17 * 11 * 3);
    mia__free(out);
    mia__free(png);
    free(px);
}

static void test_images__png_gray_palette_16bit_interlaced(void **state)
{
    (void)state;
    uint8_t *out = NULL;
    int64_t w, h;
    /* gray -> RGB replicates */
    uint8_t *g = rand_rgb(9, 7, 1, 2);
    pngbuf b = make_png(9, 7, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, g, NULL, 0, NULL, 0);
    assert_int_equal(mia__image_decode(b.d, b.n, "g.png", 3, NULL, &out, &w, &h), MIA_OK);
    for (int i = 0; i < 63; i++)
        for (int k = 0; k < 3; k++) assert_int_equal(out[3 * i + k], g[i]);
    mia__free(out);
    assert_int_equal(mia__image_decode(b.d, b.n, "g.png", 1, NULL, &out, &w, &h), MIA_OK);
    assert_memory_equal(out, g, 63);
    mia__free(out);
    free(b.d);
    /* palette with transparency: colours expanded, alpha dropped (PIL convert("RGB")) */
    png_color pal[3] = {{10, 20, 30}, {200, 100, 50}, {1, 2, 3}};
    uint8_t trns[3] = {0, 128, 255};
    uint8_t idx[12] = {0, 1, 2, 1, 0, 2, 2, 2, 1, 0, 0, 1};
    b = make_png(4, 3, PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE, idx, pal, 3, trns, 3);
    assert_int_equal(mia__image_decode(b.d, b.n, "p.png", 3, NULL, &out, &w, &h), MIA_OK);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(out[3 * i], pal[idx[i]].red);
        assert_int_equal(out[3 * i + 1], pal[idx[i]].green);
        assert_int_equal(out[3 * i + 2], pal[idx[i]].blue);
    }
    mia__free(out);
    free(b.d);
    /* 16-bit RGBA, Adam7: the high byte of each sample, alpha dropped */
    uint8_t *d16 = rand_rgb(13, 10, 8, 3);
    b = make_png(13, 10, PNG_COLOR_TYPE_RGB_ALPHA, 16, PNG_INTERLACE_ADAM7, d16, NULL, 0, NULL, 0);
    assert_int_equal(mia__image_decode(b.d, b.n, "d16.png", 3, NULL, &out, &w, &h), MIA_OK);
    for (int i = 0; i < 130; i++)
        for (int k = 0; k < 3; k++) assert_int_equal(out[3 * i + k], d16[8 * i + 2 * k]);
    mia__free(out);
    free(b.d);
    free(d16);
    free(g);
}

static void test_images__jpeg_matches_pil_decode(void **state)
{
    (void)state;
    const char *dir = getenv("MIA_TEST_DATA");
    char path[1024];
    uint8_t *out = NULL;
    int64_t w, h;
    snprintf(path, sizeof path, "%s/resize/smooth48x40.jpg", dir ? dir : "tests/data");
    uint8_t *want = fixture("smooth48x40-jpg-rgb-48x40x3.u8", 48 * 40 * 3);
    assert_int_equal(mia__image_load(path, 3, NULL, &out, &w, &h), MIA_OK);
    assert_int_equal(w, 48);
    assert_int_equal(h, 40);
    assert_memory_equal(out, want, 48 * 40 * 3);
    mia__free(out);
    free(want);
    want = fixture("smooth48x40-jpg-l-48x40x1.u8", 48 * 40);
    assert_int_equal(mia__image_load(path, 1, NULL, &out, &w, &h), MIA_OK);
    assert_memory_equal(out, want, 48 * 40);
    mia__free(out);
    free(want);
    snprintf(path, sizeof path, "%s/resize/smooth48x40-gray.jpg", dir ? dir : "tests/data");
    want = fixture("smooth48x40-gray-jpg-rgb-48x40x3.u8", 48 * 40 * 3);
    assert_int_equal(mia__image_load(path, 3, NULL, &out, &w, &h), MIA_OK);
    assert_memory_equal(out, want, 48 * 40 * 3);
    mia__free(out);
    free(want);
}

#define ASSERT_FAILS(call, status, substr)                                                     \
    do {                                                                                       \
        uint8_t *o_ = (uint8_t *)0x1;                                                          \
        int64_t w_ = 0, h_ = 0;                                                                \
        int64_t live_ = mia__alloc_live();                                                     \
        mia__error_begin();                                                                    \
        assert_int_equal(call, status);                                                        \
        (void)w_;                                                                              \
        (void)h_;                                                                              \
        assert_null(o_);                                                                       \
        assert_int_equal(mia__alloc_live(), live_);                                            \
        if (!strstr(mia_last_error(), substr))                                                 \
            fail_msg("message '%s' lacks '%s'", mia_last_error(), substr);                     \
    } while (0)

static void test_images__rejects_16bit_ppm(void **state)
{
    (void)state;
    const uint8_t ppm[19] = "P6\n1 1\n65535\n\x12\x34\x56\x78\x9a\xbc";
    ASSERT_FAILS(mia__image_decode(ppm, sizeof ppm, "tiny16.ppm", 3, NULL, &o_, &w_, &h_),
                 MIA_ERR_UNSUPPORTED, "tiny16.ppm: unsupported image format (PNM");
}

static void test_images__rejects_truncated_png(void **state)
{
    (void)state;
    uint8_t *px = rand_rgb(32, 32, 3, 4), *png = NULL;
    size_t n;
    assert_int_equal(mia__image_encode_png(px, 32, 32, 3, &png, &n), MIA_OK);
    size_t cuts[4] = {8, 30, n / 2, n - 13};
    for (int i = 0; i < 4; i++)
        ASSERT_FAILS(mia__image_decode(png, cuts[i], "cut.png", 3, NULL, &o_, &w_, &h_),
                     MIA_ERR_FORMAT, "cut.png: PNG: ");
    mia__free(png);
    free(px);
}

static void test_images__rejects_truncated_jpeg(void **state)
{
    (void)state;
    uint8_t *px = rand_rgb(40, 40, 3, 5);
    size_t n;
    uint8_t *jpg = make_jpeg(px, 40, 40, 3, 90, &n);
    ASSERT_FAILS(mia__image_decode(jpg, n * 6 / 10, "cut.jpg", 3, NULL, &o_, &w_, &h_),
                 MIA_ERR_FORMAT, "cut.jpg: JPEG: truncated");
    ASSERT_FAILS(mia__image_decode(jpg, 40, "head.jpg", 3, NULL, &o_, &w_, &h_), MIA_ERR_FORMAT,
                 "head.jpg: JPEG: ");
    free(jpg);
    free(px);
}

static void test_images__rejects_huffman_count_over_256(void **state)
{
    (void)state;
    uint8_t *px = rand_rgb(16, 16, 3, 6);
    size_t n;
    uint8_t *jpg = make_jpeg(px, 16, 16, 3, 75, &n);
    size_t i = 2;
    while (i + 4 < n && !(jpg[i] == 0xFF && jpg[i + 1] == 0xC4)) i++;
    assert_true(i + 21 < n);
    /* DHT: FFC4, length(2), Tc/Th(1), 16 counts: make them sum to 16*255 > 256 */
    for (int k = 0; k < 16; k++) jpg[i + 5 + k] = 255;
    ASSERT_FAILS(mia__image_decode(jpg, n, "huff.jpg", 3, NULL, &o_, &w_, &h_), MIA_ERR_FORMAT,
                 "huff.jpg: JPEG: Bogus Huffman table");
    free(jpg);
    free(px);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void test_images__rejects_oversized_dimensions_before_allocating(void **state)
{
    (void)state;
    /* signature + IHDR claiming 100000 x 100000 RGB (valid CRC) + a tiny IDAT */
    uint8_t f[64] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    put32(f + 8, 13);
    memcpy(f + 12, "IHDR", 4);
    put32(f + 16, 100000);
    put32(f + 20, 100000);
    f[24] = 8;
    f[25] = 2;
    put32(f + 29, (uint32_t)crc32(0, f + 12, 17));
    put32(f + 33, 0);
    memcpy(f + 37, "IDAT", 4);
    put32(f + 41, (uint32_t)crc32(0, f + 37, 4));
    ASSERT_FAILS(mia__image_decode(f, 45, "huge.png", 3, NULL, &o_, &w_, &h_), MIA_ERR_FORMAT,
                 "huge.png: image 100000x100000 exceeds the maximum dimension");
    /* the same cap on a real JPEG with a small configured limit */
    uint8_t *px = rand_rgb(40, 30, 3, 7);
    size_t n;
    uint8_t *jpg = make_jpeg(px, 40, 30, 3, 80, &n);
    mia__image_limits lim;
    mia__image_limits_init(&lim);
    lim.max_dim = 32;
    ASSERT_FAILS(mia__image_decode(jpg, n, "wide.jpg", 3, &lim, &o_, &w_, &h_), MIA_ERR_FORMAT,
                 "wide.jpg: image 40x30 exceeds the maximum dimension 32");
    lim.max_dim = 100;
    lim.max_bytes = 1000;
    ASSERT_FAILS(mia__image_decode(jpg, n, "big.jpg", 3, &lim, &o_, &w_, &h_), MIA_ERR_FORMAT,
                 "big.jpg: image 40x30x");
    free(jpg);
    free(px);
}

static void test_images__decode_alloc_failures_are_clean(void **state)
{
    (void)state;
    uint8_t *px = rand_rgb(20, 20, 3, 8), *png = NULL;
    size_t n, nj;
    assert_int_equal(mia__image_encode_png(px, 20, 20, 3, &png, &n), MIA_OK);
    uint8_t *jpg = make_jpeg(px, 20, 20, 3, 80, &nj);
    for (int which = 0; which < 2; which++) {
        for (long k = 1; k < 200; k++) {
            uint8_t *out = NULL;
            int64_t w, h, live = mia__alloc_live();
            mia__error_begin();
            mia__alloc_fail_after(k, 0);
            mia_status s = which ? mia__image_decode(jpg, nj, "x.jpg", 1, NULL, &out, &w, &h)
                                 : mia__image_decode(png, n, "x.png", 1, NULL, &out, &w, &h);
            mia__alloc_fail_after(0, 0);
            if (s == MIA_OK) {
                mia__free(out);
                break;
            }
            assert_int_equal(s, MIA_ERR_NOMEM);
            assert_null(out);
            assert_int_equal(mia__alloc_live(), live);
        }
    }
    mia__free(png);
    free(jpg);
    free(px);
}

/* ---- ImageFolder ------------------------------------------------------------------------------ */

/* Solid w x h RGB PNG of value v (solid images stay solid through the resize). */
static void solid_png(const char *path, int w, int h, uint8_t v)
{
    uint8_t *px = malloc((size_t)(w * h * 3));
    memset(px, v, (size_t)(w * h * 3));
    assert_int_equal(mia__image_write_png(path, px, w, h, 3), MIA_OK);
    free(px);
}

static void mk(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void test_images__folder_order_labels_and_resize(void **state)
{
    (void)state;
    mk("tree");
    mk("tree/cat");
    mk("tree/cat/sub");
    mk("tree/cat/sub a");
    mk("tree/cat/sub/deeper");
    mk("tree/Dog");
    mk("tree/bird");
    /* Expected order (hand-derived from torchvision's rules): classes Dog < bird < cat
     * (strcmp); inside cat: root files sorted, then dirs by full path "cat/sub" <
     * "cat/sub a" < "cat/sub/deeper" (' ' < '/'), i.e. not depth-first. Value = 10*k + 5. */
    struct { const char *rel; int w, h; } files[] = {
        {"tree/Dog/z.png", 8, 6},          {"tree/bird/A.PNG", 5, 7},
        {"tree/bird/a.png", 6, 6},         {"tree/cat/10.png", 4, 4},
        {"tree/cat/2.png", 9, 3},          {"tree/cat/b.jpeg.png", 4, 4},
        {"tree/cat/sub/x.png", 4, 4},      {"tree/cat/sub a/c.png", 3, 5},
        {"tree/cat/sub/deeper/d.png", 7, 7},
    };
    int order[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    int create_order[9] = {8, 3, 0, 6, 1, 7, 2, 5, 4}; /* creation order must not matter */
    for (int i = 0; i < 9; i++) {
        int k = create_order[i];
        char p[512];
        snprintf(p, sizeof p, "%s/%s", tmpdir, files[k].rel);
        solid_png(p, files[k].w, files[k].h, (uint8_t)(10 * k + 5));
    }
    char p[512];
    snprintf(p, sizeof p, "%s/tree/cat/notes.txt", tmpdir);
    write_all(p, "x", 1);
    snprintf(p, sizeof p, "%s/tree", tmpdir);
    mia__folder_opts o;
    mia__folder_opts_init(&o);
    o.height = 4;
    o.width = 4;
    mia_dataset *d = NULL;
    assert_int_equal(mia__folder_load(&d, p, &o), MIA_OK);
    assert_int_equal(mia_dataset_n(d), 9);
    assert_int_equal(mia_dataset_channels(d), 3);
    assert_int_equal(mia_dataset_n_classes(d), 3);
    assert_string_equal(mia_dataset_class_name(d, 0), "Dog");
    assert_string_equal(mia_dataset_class_name(d, 1), "bird");
    assert_string_equal(mia_dataset_class_name(d, 2), "cat");
    const int32_t labels[9] = {0, 1, 1, 2, 2, 2, 2, 2, 2};
    for (int i = 0; i < 9; i++) {
        assert_int_equal(mia_dataset_label(d, i), labels[i]);
        const uint8_t *px = mia_dataset_pixels(d, i);
        for (int j = 0; j < 48; j++) assert_int_equal(px[j], 10 * order[i] + 5);
    }
    mia_dataset_free(d);

    /* grayscale */
    o.channels = 1;
    assert_int_equal(mia__folder_load(&d, p, &o), MIA_OK);
    assert_int_equal(mia_dataset_channels(d), 1);
    assert_int_equal(mia_dataset_pixels(d, 8)[15], 85);
    mia_dataset_free(d);

    /* no size: the first image (8x6) sets it, a different size is an error naming the file */
    o.channels = 3;
    o.height = o.width = 0;
    d = (mia_dataset *)0x1;
    mia__error_begin();
    assert_int_equal(mia__folder_load(&d, p, &o), MIA_ERR_FORMAT);
    assert_null(d);
    assert_non_null(strstr(mia_last_error(), "bird/A.PNG: image is 5x7"));
}

static void test_images__folder_errors_name_the_file(void **state)
{
    (void)state;
    mk("bad");
    mk("bad/a");
    mk("bad/b");
    char p[512];
    snprintf(p, sizeof p, "%s/bad/a/one.png", tmpdir);
    solid_png(p, 4, 4, 7);
    mia_dataset *d = (mia_dataset *)0x1;
    snprintf(p, sizeof p, "%s/bad", tmpdir);
    mia__error_begin();
    assert_int_equal(mia__folder_load(&d, p, NULL), MIA_ERR_FORMAT);
    assert_null(d);
    assert_non_null(strstr(mia_last_error(), "class 'b' has no image files"));
    /* a 16-bit PPM with an allowed extension */
    snprintf(p, sizeof p, "%s/bad/b/x.ppm", tmpdir);
    write_all(p, "P6\n1 1\n65535\n\x12\x34\x56\x78\x9a\xbc", 19);
    snprintf(p, sizeof p, "%s/bad", tmpdir);
    d = (mia_dataset *)0x1;
    mia__error_begin();
    assert_int_equal(mia__folder_load(&d, p, NULL), MIA_ERR_UNSUPPORTED);
    assert_null(d);
    assert_non_null(strstr(mia_last_error(), "bad/b/x.ppm: unsupported image format"));
    snprintf(p, sizeof p, "%s/does-not-exist", tmpdir);
    d = (mia_dataset *)0x1;
    mia__error_begin();
    assert_int_equal(mia__folder_load(&d, p, NULL), MIA_ERR_IO);
    assert_null(d);
    assert_non_null(strstr(mia_last_error(), "does-not-exist"));
}

/* ---- AFHQ ------------------------------------------------------------------------------------- */

static void zip_add(struct archive *a, const char *name, const void *data, size_t n)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)n);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, data, n), (la_ssize_t)n);
    archive_entry_free(e);
}

static void test_images__afhq_zip_and_dir(void **state)
{
    (void)state;
    char zpath[512];
    snprintf(zpath, sizeof zpath, "%s/afhq.zip", tmpdir);
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    assert_int_equal(archive_write_open_filename(a, zpath), ARCHIVE_OK);
    /* archive order differs from ImageFolder order on purpose; value = 10*k + 5 */
    const char *names[] = {"afhq/train/wild/flickr_wild_000002.jpg",
                           "afhq/train/cat/flickr_cat_000010.jpg",
                           "afhq/val/dog/flickr_dog_000001.jpg",
                           "afhq/train/dog/pixabay_dog_000001.jpg",
                           "afhq/train/cat/flickr_cat_000002.jpg",
                           "afhq/train/dog/flickr_dog_000003.jpg"};
    const int want_k[5] = {4, 1, 5, 3, 0}; /* cat/…0002, cat/…0010, dog/flickr, dog/pixabay, wild */
    for (int k = 0; k < 6; k++) {
        uint8_t px[6 * 6 * 3];
        memset(px, 10 * k + 5, sizeof px);
        size_t n;
        uint8_t *j = make_jpeg(px, 6, 6, 3, 95, &n);
        zip_add(a, names[k], j, n);
        free(j);
    }
    archive_write_close(a);
    archive_write_free(a);
    mia__folder_opts o;
    mia__folder_opts_init(&o);
    o.height = o.width = 4;
    mia_dataset *d = NULL;
    mia__error_begin();
    if (mia__afhq_load(&d, zpath, "train", &o) != MIA_OK) fail_msg("afhq: %s", mia_last_error());
    assert_int_equal(mia_dataset_n(d), 5);
    assert_string_equal(mia_dataset_class_name(d, 0), "cat");
    assert_string_equal(mia_dataset_class_name(d, 2), "wild");
    const int32_t labels[5] = {0, 0, 1, 1, 2};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(mia_dataset_label(d, i), labels[i]);
        int v = mia_dataset_pixels(d, i)[5];
        /* a solid JPEG decodes to within +-1 of its value */
        if (abs(v - (10 * want_k[i] + 5)) > 1) fail_msg("image %d: %d vs %d", i, v, 10 * want_k[i] + 5);
    }
    mia_dataset_free(d);
    d = (mia_dataset *)0x1;
    mia__error_begin();
    assert_int_equal(mia__afhq_load(&d, zpath, "test", &o), MIA_ERR_INVALID);
    assert_null(d);
    assert_non_null(strstr(mia_last_error(), "split"));
    /* directory form: <dir>/afhq/val/... */
    mk("afhqdir");
    mk("afhqdir/afhq");
    mk("afhqdir/afhq/val");
    mk("afhqdir/afhq/val/cat");
    char p[512];
    snprintf(p, sizeof p, "%s/afhqdir/afhq/val/cat/flickr_cat_000001.png", tmpdir);
    solid_png(p, 6, 6, 77);
    snprintf(p, sizeof p, "%s/afhqdir", tmpdir);
    assert_int_equal(mia__afhq_load(&d, p, "val", &o), MIA_OK);
    assert_int_equal(mia_dataset_n(d), 1);
    assert_int_equal(mia_dataset_pixels(d, 0)[0], 77);
    mia_dataset_free(d);
}

/* ---- transforms ------------------------------------------------------------------------------- */

static mia_dataset *dataset_from_hwc(const uint8_t *hwc, int64_t n, int64_t c, int64_t h, int64_t w)
{
    mia_dataset *d = NULL;
    assert_int_equal(mia__dataset_new(&d, n, c, h, w, 2, "test"), MIA_OK);
    for (int64_t i = 0; i < n; i++) {
        mia__hwc_to_chw(hwc + i * c * h * w, h, w, c, d->pixels + i * c * h * w);
        d->labels[i] = (int32_t)(i % 2);
    }
    return d;
}

static void check_floats(const float *got, const float *want, size_t n, const char *what)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += memcmp(&got[i], &want[i], sizeof(float)) != 0;
    if (bad) fail_msg("%s: %zu of %zu floats differ from torchvision", what, bad, n);
}

static void test_images__transform_matches_torchvision_eval(void **state)
{
    (void)state;
    uint8_t *in = fixture("rand96-96x96x3.u8", 96 * 96 * 3);
    float *want = (float *)fixture("rand96-cifar-norm-32x32x3.f32", 32 * 32 * 3 * 4);
    mia_dataset *d = dataset_from_hwc(in, 1, 3, 96, 96);
    mia_transform_opts o;
    mia_transform_opts_init(&o);
    o.resize_h = o.resize_w = 32;
    mia_transform_set_normalize(&o, MIA_NORM_CIFAR10);
    mia_transform *t = NULL;
    assert_int_equal(mia_transform_create(&t, &o), MIA_OK);
    float got[32 * 32 * 3];
    int32_t lab = -5;
    int64_t idx = 0;
    assert_int_equal(mia_transform_batch(t, d, &idx, 1, 0, got, &lab), MIA_OK);
    assert_int_equal(lab, 0);
    check_floats(got, want, 32 * 32 * 3, "Resize((32,32)) + CIFAR Normalize");
    mia_transform_free(t);
    mia_dataset_free(d);
    free(in);
    free(want);

    /* Dogs eval: Resize(56) -> CenterCrop(56) -> ImageNet Normalize on 115x92 */
    in = fixture("rand115x92-115x92x3.u8", 115 * 92 * 3);
    want = (float *)fixture("rand115x92-dogs-eval-56x56x3.f32", 56 * 56 * 3 * 4);
    uint8_t *chw = malloc(115 * 92 * 3);
    mia__hwc_to_chw(in, 92, 115, 3, chw);
    mia_transform_opts_init(&o);
    o.resize_shorter = 56;
    o.crop_h = o.crop_w = 56;
    o.center_crop = true;
    mia_transform_set_normalize(&o, MIA_NORM_IMAGENET);
    assert_int_equal(mia_transform_create(&t, &o), MIA_OK);
    int64_t oc, oh, ow;
    assert_int_equal(mia_transform_output_shape(t, 3, 92, 115, &oc, &oh, &ow), MIA_OK);
    assert_true(oc == 3 && oh == 56 && ow == 56);
    float *g2 = malloc(56 * 56 * 3 * sizeof(float));
    assert_int_equal(mia_transform_image(t, chw, 3, 92, 115, 0, 0, g2), MIA_OK);
    check_floats(g2, want, 56 * 56 * 3, "Resize(56) + CenterCrop(56) + ImageNet Normalize");
    mia_transform_free(t);
    free(g2);
    free(chw);
    free(in);
    free(want);
}

static void test_images__transform_random_ops_seeded_and_order_free(void **state)
{
    (void)state;
    const int64_t n = 6, h = 20, w = 24;
    uint8_t *hwc = rand_rgb((int)w, (int)(h * n), 3, 9);
    mia_dataset *d = dataset_from_hwc(hwc, n, 3, h, w);
    mia_transform_opts o;
    mia_transform_opts_init(&o);
    o.seed = 1234;
    o.rotate_degrees = 20;
    o.resize_shorter = 22;
    o.crop_h = o.crop_w = 16;
    o.crop_padding = 2;
    o.hflip_p = 0.5f;
    mia_transform *t = NULL;
    assert_int_equal(mia_transform_create(&t, &o), MIA_OK);
    const size_t img = 3 * 16 * 16;
    float *a = malloc(n * img * sizeof(float)), *b = malloc(n * img * sizeof(float));
    int64_t fwd[6] = {0, 1, 2, 3, 4, 5}, rev[6] = {5, 4, 3, 2, 1, 0};
    assert_int_equal(mia_transform_batch(t, d, fwd, n, 3, a, NULL), MIA_OK);
    assert_int_equal(mia_transform_batch(t, d, rev, n, 3, b, NULL), MIA_OK);
    for (int i = 0; i < n; i++)
        assert_memory_equal(a + i * img, b + (n - 1 - i) * img, img * sizeof(float));
    /* single-image API, same key */
    float *one = malloc(img * sizeof(float));
    assert_int_equal(mia_transform_image(t, d->pixels + 4 * 3 * h * w, 3, h, w, 3, 4, one), MIA_OK);
    assert_memory_equal(one, a + 4 * img, img * sizeof(float));
    /* another epoch draws differently (for at least one of 6 images) */
    assert_int_equal(mia_transform_batch(t, d, fwd, n, 4, b, NULL), MIA_OK);
    assert_true(memcmp(a, b, n * img * sizeof(float)) != 0);
    mia_transform_free(t);

    /* flip with p = 1 + random crop with padding: the output is the mirror of some window of
     * the zero-padded image (checked against a brute-force search). */
    mia_transform_opts_init(&o);
    o.seed = 7;
    o.crop_h = 16;
    o.crop_w = 18;
    o.crop_padding = 4;
    o.hflip_p = 1.0f;
    assert_int_equal(mia_transform_create(&t, &o), MIA_OK);
    float *out = malloc(3 * 16 * 18 * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        assert_int_equal(mia_transform_batch(t, d, &i, 1, 0, out, NULL), MIA_OK);
        const uint8_t *src = d->pixels + i * 3 * h * w;
        int found = 0;
        for (int top = 0; top <= h + 8 - 16 && !found; top++)
            for (int left = 0; left <= w + 8 - 18 && !found; left++) {
                int ok = 1;
                for (int c = 0; c < 3 && ok; c++)
                    for (int y = 0; y < 16 && ok; y++)
                        for (int x = 0; x < 18 && ok; x++) {
                            int sy = top + y - 4, sx = left + (17 - x) - 4;
                            int v = (sy >= 0 && sy < h && sx >= 0 && sx < w)
                                        ? src[(c * h + sy) * w + sx] : 0;
                            ok = out[(c * 16 + y) * 18 + x] == (float)v / 255.0f;
                        }
                found = ok;
            }
        assert_true(found);
    }
    free(out);
    mia_transform_free(t);

    /* grayscale -> 3 channels, hook adapter = image API without normalisation */
    mia_dataset *g = NULL;
    assert_int_equal(mia__dataset_new(&g, 1, 1, 5, 5, 1, "g"), MIA_OK);
    for (int i = 0; i < 25; i++) g->pixels[i] = (uint8_t)(i * 10);
    mia_transform_opts_init(&o);
    o.gray_to_rgb = true;
    assert_int_equal(mia_transform_create(&t, &o), MIA_OK);
    float gout[75];
    assert_int_equal(mia_transform_hook(gout, 3, 5, 5, g->pixels, 1, 5, 5, 0, 0, t), MIA_OK);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 25; i++) assert_true(gout[c * 25 + i] == (float)(i * 10) / 255.0f);
    mia__error_begin();
    assert_int_equal(mia_transform_hook(gout, 3, 4, 5, g->pixels, 1, 5, 5, 0, 0, t),
                     MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "transform hook"));
    mia_transform_free(t);
    mia_dataset_free(g);

    /* bad options and a crop larger than the image */
    mia_transform_opts_init(&o);
    o.hflip_p = 1.5f;
    t = (mia_transform *)0x1;
    assert_int_equal(mia_transform_create(&t, &o), MIA_ERR_INVALID);
    assert_null(t);
    assert_non_null(strstr(mia_last_error(), "hflip_p"));
    mia_transform_opts_init(&o);
    o.crop_h = o.crop_w = 64;
    assert_int_equal(mia_transform_create(&t, &o), MIA_OK);
    assert_int_equal(mia_transform_batch(t, d, fwd, 1, 0, a, NULL), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "crop 64x64 is larger"));
    int64_t badidx = 6;
    assert_int_equal(mia_transform_batch(t, d, &badidx, 1, 0, a, NULL), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "idx[0] = 6"));
    mia_transform_free(t);

    free(a);
    free(b);
    free(one);
    free(hwc);
    mia_dataset_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_images__png_rgb_roundtrip_exact),
        cmocka_unit_test(test_images__png_gray_palette_16bit_interlaced),
        cmocka_unit_test(test_images__jpeg_matches_pil_decode),
        cmocka_unit_test(test_images__rejects_16bit_ppm),
        cmocka_unit_test(test_images__rejects_truncated_png),
        cmocka_unit_test(test_images__rejects_truncated_jpeg),
        cmocka_unit_test(test_images__rejects_huffman_count_over_256),
        cmocka_unit_test(test_images__rejects_oversized_dimensions_before_allocating),
        cmocka_unit_test(test_images__decode_alloc_failures_are_clean),
        cmocka_unit_test(test_images__folder_order_labels_and_resize),
        cmocka_unit_test(test_images__folder_errors_name_the_file),
        cmocka_unit_test(test_images__afhq_zip_and_dir),
        cmocka_unit_test(test_images__transform_matches_torchvision_eval),
        cmocka_unit_test(test_images__transform_random_ops_seeded_and_order_free),
    };
    return cmocka_run_group_tests_name("images", tests, setup_tmp, teardown_tmp);
}
