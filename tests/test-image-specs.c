/* Dataset specs for image data (folder:, afhq:, stanford-dogs:, stl10 from .tar.gz), the
 * from-memory loader entry points, and the derived-set names / batch flags.
 * Fixtures are generated here (JPEG/PNG through libjpeg/libpng, tar/zip through libarchive's
 * writer, .mat lists through matio). Oracles: pixels decoded by libjpeg directly in the test,
 * PIL's L formula, Python's int()/round() written out, and the resampler that test-resize checks
 * against PIL fixtures. */
#include "test-data-fixtures.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jpeglib.h>
#include <png.h>

#include <mia/dataset.h>

#include "config.h"
#include "data/data-internal.h"
#include "data/dataset-impl.h"
#include "data/image.h"
#include "mia-internal.h"
#if MIA_HAVE_MATIO
#include <matio.h>
#endif

/* ---- image helpers ---- */

static uint8_t *make_jpeg(const uint8_t *px, int w, int h, size_t *n)
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
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    for (int y = 0; y < h; y++) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)y * (size_t)w * 3);
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

/* Oracle decode: libjpeg with its defaults (ISLOW, fancy upsampling: what PIL uses), RGB HWC. */
static uint8_t *oracle_jpeg(const uint8_t *data, size_t n, int *w, int *h)
{
    struct jpeg_decompress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, data, (unsigned long)n);
    jpeg_read_header(&c, TRUE);
    c.out_color_space = JCS_RGB;
    jpeg_start_decompress(&c);
    *w = (int)c.output_width;
    *h = (int)c.output_height;
    uint8_t *p = malloc((size_t)*w * (size_t)*h * 3);
    while (c.output_scanline < c.output_height) {
        JSAMPROW r = p + (size_t)c.output_scanline * (size_t)*w * 3;
        jpeg_read_scanlines(&c, &r, 1);
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
    return p;
}

static uint8_t *smooth_rgb(int w, int h, unsigned seed)
{
    uint8_t *p = malloc((size_t)(w * h * 3));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                p[(y * w + x) * 3 + c] =
                    (uint8_t)((x * (7 + (int)seed) + y * (3 + c) + (int)seed * 40 + c * 60) & 255);
    return p;
}

typedef struct membuf {
    uint8_t *p;
    size_t n, cap;
} membuf;

static void png_w(png_structp p, png_bytep d, size_t len)
{
    membuf *m = png_get_io_ptr(p);
    if (m->n + len > m->cap) {
        m->cap = (m->n + len) * 2;
        m->p = realloc(m->p, m->cap);
    }
    memcpy(m->p + m->n, d, len);
    m->n += len;
}
static void png_f(png_structp p) { (void)p; }

static membuf make_png_rgb(const uint8_t *px, int w, int h)
{
    membuf m = {NULL, 0, 0};
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop i = png_create_info_struct(p);
    png_set_write_fn(p, &m, png_w, png_f);
    png_set_IHDR(p, i, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, i);
    for (int y = 0; y < h; y++) png_write_row(p, (png_const_bytep)(px + (size_t)y * (size_t)w * 3));
    png_write_end(p, i);
    png_destroy_write_struct(&p, &i);
    return m;
}

static void zip_write(const char *path, const tar_item *items, int n)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) abort();
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, items[i].name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)items[i].size);
        archive_write_header(a, e);
        archive_write_data(a, items[i].data, items[i].size);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

/* Python's int(size * long / short) and round-half-even crop offsets, written out. */
static void py_shorter(int w, int h, int s, int *nw, int *nh)
{
    if (w <= h) {
        *nw = s;
        *nh = (int)((double)((long long)s * h) / (double)w);
    } else {
        *nh = s;
        *nw = (int)((double)((long long)s * w) / (double)h);
    }
}
static int py_round_half(int d) /* round(d / 2), half to even */
{
    int q = d / 2;
    if (d % 2 == 0) return q;
    return (q % 2 == 0) ? q : q + 1;
}

/* Expected CHW u8 of one JPEG under Resize(s)+CenterCrop(oh,ow) (s > 0) or Resize((oh,ow)). */
static uint8_t *expect_dogs(const uint8_t *jpg, size_t n, int s, int oh, int ow)
{
    int w, h;
    uint8_t *hwc = oracle_jpeg(jpg, n, &w, &h);
    uint8_t *chw = malloc((size_t)(3 * w * h));
    for (int y = 0; y < h * w; y++)
        for (int c = 0; c < 3; c++) chw[c * h * w + y] = hwc[y * 3 + c];
    free(hwc);
    uint8_t *out = malloc((size_t)(3 * oh * ow));
    if (s == 0) {
        assert_int_equal(mia__resize_chw(chw, 3, h, w, out, oh, ow), MIA_OK);
    } else {
        int nw, nh;
        py_shorter(w, h, s, &nw, &nh);
        uint8_t *r = malloc((size_t)(3 * nw * nh));
        assert_int_equal(mia__resize_chw(chw, 3, h, w, r, nh, nw), MIA_OK);
        int top = py_round_half(nh - oh), left = py_round_half(nw - ow);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                    out[(c * oh + y) * ow + x] = r[(c * nh + top + y) * nw + left + x];
        free(r);
    }
    free(chw);
    return out;
}

#define ASSERT_FAIL_NULL(st_expr, status, needle)                                              \
    do {                                                                                       \
        mia_status s_ = (st_expr);                                                             \
        if (s_ != (status) || strstr(mia_last_error(), (needle)) == NULL)                      \
            fail_msg("got %d '%s', want %d containing '%s'", s_, mia_last_error(), status,     \
                     needle);                                                                  \
    } while (0)

/* ---- Stanford Dogs ---- */
#if MIA_HAVE_MATIO
enum { DN = 7 };
/* tar order deliberately unsorted; sorted breeds: n01-Alpha (0), n02-Beta (1), n03-Gamma (2) */
static const char *g_dog_rel[DN] = {"n03-Gamma/g_2.jpg", "n01-Alpha/a_9.jpg", "n02-Beta/b_1.jpg",
                                    "n01-Alpha/a_10.jpg", "n03-Gamma/g_1.jpg", "n02-Beta/b_0.jpg",
                                    "n01-Alpha/a_1.jpg"};
static const int g_dog_w[DN] = {40, 31, 23, 50, 29, 36, 24};
static const int g_dog_h[DN] = {30, 45, 23, 21, 29, 37, 33};
/* ImageFolder order (label, then name by strcmp) as indices into g_dog_rel */
static const int g_dog_sorted[DN] = {6, 3, 1, 5, 2, 4, 0};
static const int g_dog_label[DN] = {0, 0, 0, 1, 1, 2, 2};

static uint8_t *g_jpg[DN];
static size_t g_jpg_n[DN];

static void write_list_mat(const char *path, const char **files, int n)
{
    mat_t *m = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    assert_non_null(m);
    size_t dc[2] = {(size_t)n, 1};
    matvar_t **cells = calloc((size_t)n + 1, sizeof *cells);
    double *labs = calloc((size_t)n, sizeof *labs);
    for (int i = 0; i < n; i++) {
        size_t ds[2] = {1, strlen(files[i])};
        cells[i] = Mat_VarCreate(NULL, MAT_C_CHAR, MAT_T_UINT8, 2, ds, (void *)files[i], 0);
        labs[i] = 1 + i % 3; /* 1-based .mat labels: must NOT be used */
    }
    matvar_t *fl = Mat_VarCreate("file_list", MAT_C_CELL, MAT_T_CELL, 2, dc, cells, 0);
    matvar_t *lv = Mat_VarCreate("labels", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dc, labs, 0);
    assert_int_equal(Mat_VarWrite(m, fl, MAT_COMPRESSION_NONE), 0);
    assert_int_equal(Mat_VarWrite(m, lv, MAT_COMPRESSION_NONE), 0);
    Mat_VarFree(fl);
    Mat_VarFree(lv);
    Mat_Close(m);
    free(cells);
    free(labs);
}

static void make_dogs(const char *dir, bool missing_in_test)
{
    tar_item it[DN + 1];
    char names[DN][128];
    it[0] = (tar_item){"Images/n02-Beta", NULL, 0, 'd', NULL};
    for (int i = 0; i < DN; i++) {
        if (!g_jpg[i]) {
            uint8_t *px = smooth_rgb(g_dog_w[i], g_dog_h[i], (unsigned)i);
            g_jpg[i] = make_jpeg(px, g_dog_w[i], g_dog_h[i], &g_jpg_n[i]);
            free(px);
        }
        snprintf(names[i], sizeof names[i], "Images/%s", g_dog_rel[i]);
        it[i + 1] = (tar_item){names[i], g_jpg[i], g_jpg_n[i], 'f', NULL};
    }
    char p[600];
    snprintf(p, sizeof p, "%s/images.tar", dir);
    write_tar(p, it, DN + 1, 0);
    /* train: a_9, b_0, g_2 (listed in another order); test: the other four (+ a missing one) */
    const char *train[3] = {g_dog_rel[5], g_dog_rel[0], g_dog_rel[1]};
    const char *test[5] = {g_dog_rel[2], g_dog_rel[3], g_dog_rel[4], g_dog_rel[6],
                           "n02-Beta/b_404.jpg"};
    char mtr[600], mte[600];
    snprintf(mtr, sizeof mtr, "%s/train_list.mat", dir);
    snprintf(mte, sizeof mte, "%s/test_list.mat", dir);
    write_list_mat(mtr, train, 3);
    write_list_mat(mte, test, missing_in_test ? 5 : 4);
    size_t n1, n2;
    uint8_t *b1 = read_bytes(mtr, &n1), *b2 = read_bytes(mte, &n2);
    tar_item li[2] = {{"train_list.mat", b1, n1, 'f', NULL}, {"test_list.mat", b2, n2, 'f', NULL}};
    snprintf(p, sizeof p, "%s/lists.tar", dir);
    write_tar(p, li, 2, 0);
    free(b1);
    free(b2);
    remove(mtr);
    remove(mte);
}

static void check_dogs(const mia_dataset *d, const int *which, int n, int s, int oh, int ow)
{
    assert_int_equal(mia_dataset_n(d), n);
    assert_int_equal(mia_dataset_channels(d), 3);
    assert_int_equal(mia_dataset_height(d), oh);
    assert_int_equal(mia_dataset_width(d), ow);
    assert_int_equal(mia_dataset_n_classes(d), 3);
    assert_string_equal(mia_dataset_class_name(d, 0), "n01-Alpha");
    assert_string_equal(mia_dataset_class_name(d, 2), "n03-Gamma");
    for (int k = 0; k < n; k++) {
        int j = which[k]; /* position in ImageFolder order */
        int i = g_dog_sorted[j];
        assert_int_equal(mia_dataset_label(d, k), g_dog_label[j]);
        uint8_t *want = expect_dogs(g_jpg[i], g_jpg_n[i], s, oh, ow);
        assert_memory_equal(mia_dataset_pixels(d, k), want, (size_t)(3 * oh * ow));
        free(want);
    }
}

static void test_image_specs__stanford_dogs_tar(void **state)
{
    (void)state;
    make_dogs(g_tmp, false);
    char spec[700];
    mia_dataset *d = NULL;
    /* default: all images, Resize(224) + CenterCrop(224) -> use 16 here to keep it small */
    snprintf(spec, sizeof spec, "stanford-dogs:%s:all:16", g_tmp);
    assert_int_equal(mia_dataset_load(&d, spec, NULL), MIA_OK);
    int all[DN] = {0, 1, 2, 3, 4, 5, 6};
    check_dogs(d, all, DN, 16, 16, 16);
    char h1[65];
    mia_dataset_hash_hex(d, h1);
    mia_dataset_free(d);
    /* the CIFAR pipeline's squash: Resize((12, 20)) */
    snprintf(spec, sizeof spec, "stanford-dogs:%s:all:12x20", g_tmp);
    assert_int_equal(mia_dataset_load(&d, spec, NULL), MIA_OK);
    check_dogs(d, all, DN, 0, 12, 20);
    mia_dataset_free(d);
    /* train list: ImageFolder order restricted to the listed files, folder labels */
    snprintf(spec, sizeof spec, "stanford-dogs:%s:train:16", g_tmp);
    assert_int_equal(mia_dataset_load(&d, spec, NULL), MIA_OK);
    int tr[3] = {2, 3, 6}; /* a_9 (0), b_0 (1), g_2 (2) in sorted order */
    check_dogs(d, tr, 3, 16, 16, 16);
    mia_dataset_free(d);
    snprintf(spec, sizeof spec, "stanford-dogs:%s:test:16", g_tmp);
    assert_int_equal(mia_dataset_load(&d, spec, NULL), MIA_OK);
    int te[4] = {0, 1, 4, 5};
    check_dogs(d, te, 4, 16, 16, 16);
    mia_dataset_free(d);
    /* from memory: same dataset */
    char p[600];
    size_t ni, nl;
    snprintf(p, sizeof p, "%s/images.tar", g_tmp);
    uint8_t *bi = read_bytes(p, &ni);
    snprintf(p, sizeof p, "%s/lists.tar", g_tmp);
    uint8_t *bl = read_bytes(p, &nl);
    assert_int_equal(mia__dogs_load_mem(&d, bi, ni, bl, nl, "all", 16, 16, 16, NULL), MIA_OK);
    char h2[65];
    mia_dataset_hash_hex(d, h2);
    assert_string_equal(h1, h2);
    mia_dataset_free(d);
    /* a truncated images.tar fails and names it */
    d = (mia_dataset *)1;
    ASSERT_FAIL_NULL(mia__dogs_load_mem(&d, bi, ni / 2, bl, nl, "all", 16, 16, 16, NULL),
                     MIA_ERR_FORMAT, "images.tar");
    assert_null(d);
    free(bi);
    free(bl);
    /* a listed file that is not in images.tar */
    make_dogs(g_tmp, true);
    snprintf(spec, sizeof spec, "stanford-dogs:%s:test", g_tmp);
    d = (mia_dataset *)1;
    ASSERT_FAIL_NULL(mia_dataset_load(&d, spec, NULL), MIA_ERR_FORMAT, "b_404.jpg");
    assert_null(d);
    /* missing archive, bad split, crop larger than the resize */
    d = (mia_dataset *)1;
    ASSERT_FAIL_NULL(mia_dataset_load(&d, "stanford-dogs:/nonexistent/dogs:all", NULL),
                     MIA_ERR_IO, "/nonexistent/dogs/images.tar");
    assert_null(d);
    d = (mia_dataset *)1;
    ASSERT_FAIL_NULL(mia__dogs_load(&d, g_tmp, "val", 16, 16, 16, NULL), MIA_ERR_INVALID, "val");
    assert_null(d);
}
#endif

/* ---- folder: and afhq: specs ---- */

static void test_image_specs__folder_spec_size_and_gray(void **state)
{
    (void)state;
    char root[600], p[700];
    snprintf(root, sizeof root, "%s/folder", g_tmp);
    mkdir(root, 0755);
    const char *cls[2] = {"zebra", "ant"};
    uint8_t *px[2][2];
    for (int c = 0; c < 2; c++) {
        snprintf(p, sizeof p, "%s/%s", root, cls[c]);
        mkdir(p, 0755);
        for (int k = 0; k < 2; k++) {
            px[c][k] = smooth_rgb(10, 8, (unsigned)(c * 2 + k));
            membuf m = make_png_rgb(px[c][k], 10, 8);
            snprintf(p, sizeof p, "%s/%s/img%d.png", root, cls[c], 1 - k);
            write_bytes(p, m.p, m.n);
            free(m.p);
        }
    }
    mia_dataset *d = NULL;
    char spec[800];
    snprintf(spec, sizeof spec, "folder:%s:gray", root);
    assert_int_equal(mia_dataset_load(&d, spec, NULL), MIA_OK);
    assert_int_equal(mia_dataset_n(d), 4);
    assert_int_equal(mia_dataset_channels(d), 1);
    assert_int_equal(mia_dataset_height(d), 8);
    assert_string_equal(mia_dataset_class_name(d, 0), "ant");
    /* sorted: ant/img0 (k=1), ant/img1 (k=0), zebra/img0, zebra/img1 */
    for (int i = 0; i < 4; i++) {
        int c = i < 2 ? 1 : 0, k = 1 - (i & 1);
        assert_int_equal(mia_dataset_label(d, i), i < 2 ? 0 : 1);
        const uint8_t *g = mia_dataset_pixels(d, i);
        for (int j = 0; j < 80; j++) {
            const uint8_t *q = px[c][k] + 3 * j;
            uint8_t l = (uint8_t)((q[0] * 19595u + q[1] * 38470u + q[2] * 7471u + 0x8000u) >> 16);
            assert_int_equal(g[j], l);
        }
    }
    mia_dataset_free(d);
    snprintf(spec, sizeof spec, "folder:%s:5x4:rgb", root);
    assert_int_equal(mia_dataset_load(&d, spec, NULL), MIA_OK);
    assert_int_equal(mia_dataset_channels(d), 3);
    assert_int_equal(mia_dataset_height(d), 5);
    assert_int_equal(mia_dataset_width(d), 4);
    uint8_t chw[240], want[60];
    for (int j = 0; j < 80; j++)
        for (int ch = 0; ch < 3; ch++) chw[ch * 80 + j] = px[1][1][3 * j + ch];
    assert_int_equal(mia__resize_chw(chw, 3, 8, 10, want, 5, 4), MIA_OK);
    assert_memory_equal(mia_dataset_pixels(d, 0), want, 60);
    mia_dataset_free(d);
    d = (mia_dataset *)1;
    snprintf(spec, sizeof spec, "folder:%s/nope:5x4", root);
    ASSERT_FAIL_NULL(mia_dataset_load(&d, spec, NULL), MIA_ERR_IO, "nope");
    assert_null(d);
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 2; k++) free(px[c][k]);
}

static void test_image_specs__afhq_zip_class_and_memory(void **state)
{
    (void)state;
    const char *cls[3] = {"wild", "cat", "dog"};
    tar_item it[7];
    char names[7][64];
    membuf m[7];
    uint8_t *px[7];
    for (int i = 0; i < 6; i++) {
        px[i] = smooth_rgb(6, 6, (unsigned)i);
        m[i] = make_png_rgb(px[i], 6, 6);
        snprintf(names[i], sizeof names[i], "afhq/%s/%s/f%d.png", i < 3 ? "train" : "val",
                 cls[i % 3], i);
        it[i] = (tar_item){names[i], m[i].p, m[i].n, 'f', NULL};
    }
    px[6] = smooth_rgb(6, 6, 9);
    m[6] = make_png_rgb(px[6], 6, 6);
    it[6] = (tar_item){"afhq/train/dog/f7.png", m[6].p, m[6].n, 'f', NULL};
    char zip[600], spec[700];
    snprintf(zip, sizeof zip, "%s/afhq.zip", g_tmp);
    zip_write(zip, it, 7);
    mia_dataset *d = NULL;
    snprintf(spec, sizeof spec, "afhq:%s:train:dog", zip);
    assert_int_equal(mia_dataset_load(&d, spec, NULL), MIA_OK);
    assert_int_equal(mia_dataset_n(d), 2); /* f2 and f7, labels stay dog = 1 */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mia_dataset_label(d, i), 1);
        const uint8_t *g = mia_dataset_pixels(d, i);
        const uint8_t *src = px[i == 0 ? 2 : 6];
        for (int j = 0; j < 36; j++)
            for (int ch = 0; ch < 3; ch++) assert_int_equal(g[ch * 36 + j], src[3 * j + ch]);
    }
    mia_dataset_free(d);
    snprintf(spec, sizeof spec, "afhq:%s:val:3x3", zip);
    assert_int_equal(mia_dataset_load(&d, spec, NULL), MIA_OK);
    assert_int_equal(mia_dataset_n(d), 3);
    assert_int_equal(mia_dataset_height(d), 3);
    char h1[65], h2[65];
    mia_dataset_hash_hex(d, h1);
    mia_dataset_free(d);
    size_t n;
    uint8_t *bytes = read_bytes(zip, &n);
    mia__folder_opts fo;
    mia__folder_opts_init(&fo);
    fo.height = fo.width = 3;
    assert_int_equal(mia__afhq_load_mem(&d, bytes, n, "afhq.zip", "val", &fo), MIA_OK);
    mia_dataset_hash_hex(d, h2);
    assert_string_equal(h1, h2);
    mia_dataset_free(d);
    d = (mia_dataset *)1;
    ASSERT_FAIL_NULL(mia__afhq_load_mem(&d, bytes, n / 3, "afhq-cut.zip", "val", &fo),
                     MIA_ERR_FORMAT, "afhq-cut.zip");
    assert_null(d);
    free(bytes);
    d = (mia_dataset *)1;
    snprintf(spec, sizeof spec, "afhq:%s:train:horse", zip);
    ASSERT_FAIL_NULL(mia_dataset_load(&d, spec, NULL), MIA_ERR_INVALID, "horse");
    assert_null(d);
    for (int i = 0; i < 7; i++) {
        free(px[i]);
        free(m[i].p);
    }
}

/* ---- STL-10 from its .tar.gz ---- */

static void test_image_specs__stl10_tar_gz(void **state)
{
    (void)state;
    enum { SN = 3, IMG = 3 * 96 * 96 };
    static uint8_t x[SN * IMG], un[IMG];
    uint8_t y[SN] = {10, 1, 4};
    for (size_t i = 0; i < sizeof x; i++) x[i] = xs_byte();
    const char names[] = "airplane\nbird\ncar\ncat\ndeer\ndog\nhorse\nmonkey\nship\ntruck\n";
    tar_item it[4] = {{"stl10_binary/unlabeled_X.bin", un, sizeof un, 'f', NULL},
                      {"stl10_binary/test_X.bin", x, sizeof x, 'f', NULL},
                      {"stl10_binary/test_y.bin", y, SN, 'f', NULL},
                      {"stl10_binary/class_names.txt", names, strlen(names), 'f', NULL}};
    char p[600], spec[700];
    snprintf(p, sizeof p, "%s/stl10_binary.tar.gz", g_tmp);
    write_tar(p, it, 4, 1);
    mia_dataset *d = NULL;
    snprintf(spec, sizeof spec, "stl10:%s:test", p);
    assert_int_equal(mia_dataset_load(&d, spec, NULL), MIA_OK);
    assert_int_equal(mia_dataset_n(d), SN);
    assert_string_equal(mia_dataset_class_name(d, 7), "monkey");
    for (int i = 0; i < SN; i++) {
        assert_int_equal(mia_dataset_label(d, i), y[i] - 1);
        const uint8_t *g = mia_dataset_pixels(d, i);
        for (int c = 0; c < 3; c++)
            for (int r = 0; r < 96; r += 5)
                for (int col = 0; col < 96; col += 7)
                    assert_int_equal(g[(c * 96 + r) * 96 + col],
                                     x[(size_t)i * IMG + (size_t)(c * 96 + col) * 96 + r]);
    }
    char h1[65], h2[65];
    mia_dataset_hash_hex(d, h1);
    mia_dataset_free(d);
    size_t n;
    uint8_t *b = read_bytes(p, &n);
    assert_int_equal(mia__stl10_archive_mem(&d, MIA_DATA_TEST, b, n, "stl.tgz", NULL), MIA_OK);
    mia_dataset_hash_hex(d, h2);
    assert_string_equal(h1, h2);
    mia_dataset_free(d);
    assert_int_equal(mia__stl10_load_mem(&d, x, sizeof x, y, SN, names, strlen(names), "raw",
                                         NULL), MIA_OK);
    mia_dataset_hash_hex(d, h2);
    assert_string_equal(h1, h2);
    mia_dataset_free(d);
    /* no train split in this archive; truncated archive; bad label */
    d = (mia_dataset *)1;
    ASSERT_FAIL_NULL(mia__stl10_archive_mem(&d, MIA_DATA_TRAIN, b, n, "stl.tgz", NULL),
                     MIA_ERR_FORMAT, "train_X.bin");
    assert_null(d);
    d = (mia_dataset *)1;
    ASSERT_FAIL_NULL(mia__stl10_archive_mem(&d, MIA_DATA_TEST, b, n / 2, "stl.tgz", NULL),
                     MIA_ERR_FORMAT, "stl.tgz");
    assert_null(d);
    y[1] = 11;
    d = (mia_dataset *)1;
    ASSERT_FAIL_NULL(mia__stl10_load_mem(&d, x, sizeof x, y, SN, NULL, 0, "raw", NULL),
                     MIA_ERR_FORMAT, "raw:y");
    assert_null(d);
    free(b);
}

/* ---- derived sets by name ---- */

static void test_image_specs__derived_names_and_unnormalize(void **state)
{
    (void)state;
    mia_derived_kind k;
    assert_int_equal(mia_derived_from_name("permuted", &k), MIA_OK);
    assert_int_equal(k, MIA_DERIVED_PERMUTED);
    assert_int_equal(mia_derived_from_name("un-normalised", &k), MIA_OK);
    assert_int_equal(k, MIA_DERIVED_UNNORMALIZED);
    ASSERT_FAIL_NULL(mia_derived_from_name("shuffled", &k), MIA_ERR_INVALID, "shuffled");
    assert_string_equal(mia_derived_name(MIA_DERIVED_SCALED), "scaled");
    char base[64];
    assert_int_equal(mia_dataset_spec_derived("fashion-mnist:test+permuted", base, sizeof base, &k),
                     MIA_OK);
    assert_string_equal(base, "fashion-mnist:test");
    assert_int_equal(k, MIA_DERIVED_PERMUTED);
    assert_int_equal(mia_dataset_spec_derived("folder:/a+b", base, sizeof base, &k), MIA_OK);
    assert_string_equal(base, "folder:/a+b");
    assert_int_equal(k, MIA_DERIVED_NONE);
    assert_int_equal(mia_dataset_spec_derived("fashion-mnist:test+scaled", base, 5, &k),
                     MIA_ERR_INVALID);
    mia_dataset *d = (mia_dataset *)1;
    ASSERT_FAIL_NULL(mia_dataset_load(&d, "fashion-mnist:test+scaled", NULL), MIA_ERR_INVALID,
                     "+scaled");
    assert_null(d);

    /* batches: every kind against values computed here in float32 */
    /* 3 images with pixel values unique within each image, so permutations are recoverable */
    mia_dataset *n = NULL;
    assert_int_equal(mia__dataset_new(&n, 3, 3, 4, 5, 1, "unique"), MIA_OK);
    for (int i = 0; i < 180; i++) n->pixels[i] = (uint8_t)(i * 7 % 256);
    mia__dataset_finish(n);
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, sd[3] = {0.2470f, 0.2435f, 0.2616f};
    mia_batch_opts o;
    mia_batch_opts_init(&o);
    memcpy(o.mean, mean, sizeof mean);
    memcpy(o.std, sd, sizeof sd);
    int64_t idx[3] = {0, 1, 2};
    float got[3 * 60], plain[3 * 60];
    for (int kind = 0; kind < 4; kind++) {
        assert_int_equal(mia_batch_opts_set_derived(&o, (mia_derived_kind)kind, 5), MIA_OK);
        assert_int_equal(mia_dataset_batch_f32(n, idx, 3, got, NULL, &o), MIA_OK);
        if (kind == 0) memcpy(plain, got, sizeof got);
        for (int i = 0; i < 3; i++)
            for (int c = 0; c < 3; c++)
                for (int j = 0; j < 20; j++) {
                    float x = (float)mia_dataset_pixels(n, i)[c * 20 + j] / 255.0f;
                    float y = (x - mean[c]) / sd[c];
                    float g = got[i * 60 + c * 20 + j];
                    if (kind == 0) assert_true(g == y);
                    if (kind == 2) assert_true(g == y * 255.0f);
                    if (kind == 3) {
                        float a = (float)(-(double)mean[c] / (double)sd[c]);
                        float b = (float)(1.0 / (double)sd[c]);
                        assert_true(g == (y - a) / b);
                        assert_true(fabsf(g - x) < 1e-6f);
                    }
                }
        if (kind == 1) { /* per image: one permutation of positions, shared by the channels */
            int differ = 0;
            for (int i = 0; i < 3; i++) {
                int perm[20], used[20] = {0};
                for (int j = 0; j < 20; j++) {
                    perm[j] = -1;
                    for (int q = 0; q < 20; q++)
                        if (got[i * 60 + j] == plain[i * 60 + q]) perm[j] = q;
                    assert_true(perm[j] >= 0 && !used[perm[j]]);
                    used[perm[j]] = 1;
                    differ += perm[j] != j;
                }
                for (int c = 1; c < 3; c++)
                    for (int j = 0; j < 20; j++)
                        assert_true(got[i * 60 + c * 20 + j] == plain[i * 60 + c * 20 + perm[j]]);
            }
            assert_true(differ > 0);
        }
    }
    o.flags = MIA_BATCH_UNNORMALIZE;
    ASSERT_FAIL_NULL(mia_dataset_batch_f32(n, idx, 3, got, NULL, &o), MIA_ERR_INVALID,
                     "MIA_BATCH_UNNORMALIZE");
    ASSERT_FAIL_NULL(mia_batch_opts_set_derived(&o, (mia_derived_kind)9, 0), MIA_ERR_INVALID,
                     "9");
    mia_dataset_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#if MIA_HAVE_MATIO
        cmocka_unit_test(test_image_specs__stanford_dogs_tar),
#endif
        cmocka_unit_test(test_image_specs__folder_spec_size_and_gray),
        cmocka_unit_test(test_image_specs__afhq_zip_class_and_memory),
        cmocka_unit_test(test_image_specs__stl10_tar_gz),
        cmocka_unit_test(test_image_specs__derived_names_and_unnormalize),
    };
    int r = cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
#if MIA_HAVE_MATIO
    for (int i = 0; i < DN; i++) free(g_jpg[i]);
#endif
    return r;
}
