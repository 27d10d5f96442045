/*
 * PNG / JPEG decoding with libpng and libjpeg-turbo: info -> caps -> decode, 8-bit, the channel
 * count the caller uses, errors caught with setjmp and reported as one message naming the file.
 * See image.h for the colour-conversion rules (they follow PIL's convert()).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "data/image.h"

#define NAME(n) ((n) ? (n) : "<memory>")
#define MAX_FILE_BYTES ((int64_t)1 << 28)

void mia__image_limits_init(mia__image_limits *l)
{
    l->max_dim = MIA__IMAGE_DEFAULT_MAX_DIM;
    l->max_bytes = MIA__IMAGE_DEFAULT_MAX_BYTES;
}

mia__image_format mia__image_sniff(const void *data, size_t n)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const uint8_t *d = data;
    if (n >= 8 && memcmp(d, png_sig, 8) == 0) return MIA__IMAGE_PNG;
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return MIA__IMAGE_JPEG;
    return MIA__IMAGE_UNKNOWN;
}

static mia_status unsupported(const void *data, size_t n, const char *name)
{
    const uint8_t *d = data;
    const char *what = "unknown";
    if (n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '7') what = "PNM (PPM/PGM/PBM)";
    else if (n >= 2 && d[0] == 'B' && d[1] == 'M') what = "BMP";
    else if (n >= 4 && memcmp(d, "GIF8", 4) == 0) what = "GIF";
    else if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0)) what = "TIFF";
    else if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0) what = "WebP";
    else if (n == 0) what = "empty file";
    return MIA_ERROR(MIA_ERR_UNSUPPORTED,
                     "%s: unsupported image format (%s); only PNG and JPEG are decoded", NAME(name),
                     what);
}

static mia_status check_caps(const char *name, int64_t w, int64_t h, int ch,
                             const mia__image_limits *lim)
{
    if (w < 1 || h < 1)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: invalid image size %lldx%lld", NAME(name),
                         (long long)w, (long long)h);
    if (w > lim->max_dim || h > lim->max_dim)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: image %lldx%lld exceeds the maximum dimension %lld",
                         NAME(name), (long long)w, (long long)h, (long long)lim->max_dim);
    if (w * h > lim->max_bytes / ch)
        return MIA_ERROR(MIA_ERR_FORMAT,
                         "%s: image %lldx%lldx%d exceeds the decoded size cap of %lld bytes",
                         NAME(name), (long long)w, (long long)h, ch, (long long)lim->max_bytes);
    return MIA_OK;
}

/* PIL's rgb2l: L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16. */
void mia__rgb_to_l(const uint8_t *rgb, int64_t n, uint8_t *l)
{
    for (int64_t i = 0; i < n; i++)
        l[i] = (uint8_t)(((uint32_t)rgb[3 * i] * 19595u + (uint32_t)rgb[3 * i + 1] * 38470u +
                          (uint32_t)rgb[3 * i + 2] * 7471u + 0x8000u) >> 16);
}

void mia__hwc_to_chw(const uint8_t *src, int64_t h, int64_t w, int64_t c, uint8_t *dst)
{
    if (c == 1) {
        memcpy(dst, src, (size_t)(h * w));
        return;
    }
    const int64_t plane = h * w;
    for (int64_t i = 0; i < plane; i++)
        for (int64_t k = 0; k < c; k++) dst[k * plane + i] = src[i * c + k];
}

/* Convert one row of `in_ch` interleaved samples (1 gray, 2 GA, 3 RGB, 4 RGBA) to `out_ch`
 * (1 or 3) as PIL's convert() does (alpha dropped, gray replicated, RGB -> L by rgb2l). */
static void convert_row(const uint8_t *in, int in_ch, uint8_t *out, int out_ch, int64_t w)
{
    for (int64_t x = 0; x < w; x++) {
        const uint8_t *p = in + x * in_ch;
        if (out_ch == 3) {
            if (in_ch <= 2) {
                out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = p[0];
            } else {
                out[3 * x] = p[0];
                out[3 * x + 1] = p[1];
                out[3 * x + 2] = p[2];
            }
        } else {
            if (in_ch <= 2) out[x] = p[0];
            else mia__rgb_to_l(p, 1, out + x);
        }
    }
}

/* ---- JPEG ---------------------------------------------------------------------------------- */

typedef struct jerr_ctx {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr_ctx;

static void jpeg_error_exit_cb(j_common_ptr c)
{
    jerr_ctx *e = (jerr_ctx *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings are silent, except a premature end of data: PIL refuses truncated JPEGs too. */
static void jpeg_emit_cb(j_common_ptr c, int level)
{
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) {
        jerr_ctx *e = (jerr_ctx *)c->err;
        snprintf(e->msg, sizeof e->msg, "truncated data (premature end of JPEG file)");
        longjmp(e->jb, 1);
    }
    if (level < 0) c->err->num_warnings++;
}

static void jpeg_output_cb(j_common_ptr c) { (void)c; }

static void jpeg_setup(struct jpeg_decompress_struct *ci, jerr_ctx *e)
{
    ci->err = jpeg_std_error(&e->pub);
    e->pub.error_exit = jpeg_error_exit_cb;
    e->pub.emit_message = jpeg_emit_cb;
    e->pub.output_message = jpeg_output_cb;
    e->msg[0] = '\0';
}

static mia_status decode_jpeg(const uint8_t *data, size_t n, const char *name, int channels,
                              const mia__image_limits *lim, uint8_t **pixels, int64_t *pw,
                              int64_t *ph)
{
    struct jpeg_decompress_struct ci;
    jerr_ctx e;
    uint8_t *volatile pix = NULL;
    uint8_t *volatile row = NULL;
    volatile int created = 0;
    mia_status s = MIA_OK;

    memset(&ci, 0, sizeof ci);
    jpeg_setup(&ci, &e);
    if (setjmp(e.jb)) {
        s = MIA_ERROR(MIA_ERR_FORMAT, "%s: JPEG: %s", NAME(name), e.msg);
        goto done;
    }
    jpeg_create_decompress(&ci);
    created = 1;
    ci.mem->max_memory_to_use = (long)(lim->max_bytes * 2 + (1 << 24));
    jpeg_mem_src(&ci, data, (unsigned long)n);
    jpeg_read_header(&ci, TRUE);

    int nc = ci.num_components;
    s = check_caps(name, (int64_t)ci.image_width, (int64_t)ci.image_height,
                   nc > 3 ? 4 : 3, lim);
    if (s != MIA_OK) goto done;

    /* What libjpeg hands back per row, before our conversion to `channels`. */
    int mode_ch;
    bool cmyk = false;
    if (ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK) {
        ci.out_color_space = JCS_CMYK;
        mode_ch = 4;
        cmyk = true;
    } else if (ci.jpeg_color_space == JCS_GRAYSCALE) {
        ci.out_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
        mode_ch = channels;
    } else {
        ci.out_color_space = JCS_RGB;
        mode_ch = 3;
    }
    ci.dct_method = JDCT_ISLOW;
    ci.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&ci);

    const int64_t w = ci.output_width, h = ci.output_height;
    if ((int)ci.output_components != mode_ch) {
        s = MIA_ERROR(MIA_ERR_FORMAT, "%s: JPEG: unexpected %d output components", NAME(name),
                      ci.output_components);
        goto done;
    }
    pix = mia__malloc((size_t)(w * h * channels));
    row = mia__malloc((size_t)(w * (mode_ch > 3 ? 4 : 3)));
    if (!pix || !row) {
        s = MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory for a %lldx%lld image", NAME(name),
                      (long long)w, (long long)h);
        goto done;
    }
    while (ci.output_scanline < ci.output_height) {
        int64_t y = ci.output_scanline;
        JSAMPROW rp = row;
        jpeg_read_scanlines(&ci, &rp, 1);
        uint8_t *dst = pix + y * w * channels;
        if (cmyk) {
            /* PIL: rawmode "CMYK;I" (Adobe inverted), then cmyk2rgb. */
            for (int64_t x = 0; x < w; x++) {
                const uint8_t *p = row + 4 * x;
                const int nk = p[3]; /* 255 - ink(K), ink = 255 - stored */
                for (int k = 0; k < 3; k++) {
                    int t = (255 - p[k]) * nk + 128;
                    int v = nk - (((t >> 8) + t) >> 8);
                    row[3 * x + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
            }
            convert_row(row, 3, dst, channels, w);
        } else if (mode_ch == channels) {
            memcpy(dst, row, (size_t)(w * channels));
        } else {
            convert_row(row, mode_ch, dst, channels, w);
        }
    }
    jpeg_finish_decompress(&ci);
    *pixels = pix;
    pix = NULL;
    *pw = w;
    *ph = h;
done:
    if (created) jpeg_destroy_decompress(&ci);
    mia__free(row);
    mia__free(pix);
    return s;
}

/* ---- PNG ----------------------------------------------------------------------------------- */

typedef struct png_ctx {
    jmp_buf jb;
    char msg[256];
    const uint8_t *data;
    size_t n, pos;
    bool oom; /* an allocation through png_malloc_cb failed */
} png_ctx;

static void png_error_cb(png_structp p, png_const_charp m)
{
    png_ctx *c = png_get_error_ptr(p);
    snprintf(c->msg, sizeof c->msg, "%s", m ? m : "error");
    longjmp(c->jb, 1);
}

static void png_warn_cb(png_structp p, png_const_charp m)
{
    (void)p;
    (void)m;
}

static void png_read_cb(png_structp p, png_bytep out, size_t len)
{
    png_ctx *c = png_get_io_ptr(p);
    if (len > c->n - c->pos) png_error(p, "truncated data (unexpected end of PNG file)");
    memcpy(out, c->data + c->pos, len);
    c->pos += len;
}

static png_voidp png_malloc_cb(png_structp p, png_alloc_size_t n)
{
    void *q = mia__malloc(n);
    if (!q) {
        png_ctx *c = png_get_error_ptr(p);
        if (c) c->oom = true;
    }
    return q;
}

static void png_free_cb(png_structp p, png_voidp ptr)
{
    (void)p;
    mia__free(ptr);
}

static mia_status decode_png(const uint8_t *data, size_t n, const char *name, int channels,
                             const mia__image_limits *lim, uint8_t **pixels, int64_t *pw,
                             int64_t *ph)
{
    png_ctx ctx = {.data = data, .n = n, .pos = 0};
    png_structp png = NULL;
    png_infop info = NULL;
    uint8_t *volatile pix = NULL;
    uint8_t *volatile tmp = NULL;
    png_bytep *volatile rows = NULL;
    mia_status s = MIA_OK;

    png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &ctx, png_error_cb, png_warn_cb, NULL,
                                   png_malloc_cb, png_free_cb);
    if (!png) return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory (PNG reader)", NAME(name));
    if (setjmp(ctx.jb)) {
        if (ctx.oom)
            s = MIA_ERROR(MIA_ERR_NOMEM, "%s: PNG: %s", NAME(name), ctx.msg);
        else
            s = MIA_ERROR(MIA_ERR_FORMAT, "%s: PNG: %s", NAME(name), ctx.msg);
        goto done;
    }
    info = png_create_info_struct(png);
    if (!info) png_error(png, "out of memory");
    /* Our caps (check_caps, right after the header) replace libpng's default 1e6 limit. */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_malloc_max(png, (png_alloc_size_t)(64u << 20));
    png_set_read_fn(png, &ctx, png_read_cb);
    png_read_info(png, info);

    png_uint_32 w32, h32;
    int depth, ctype, interlace;
    png_get_IHDR(png, info, &w32, &h32, &depth, &ctype, &interlace, NULL, NULL);
    s = check_caps(name, (int64_t)w32, (int64_t)h32, 4, lim);
    if (s != MIA_OK) goto done;
    if (depth == 16) png_set_strip_16(png); /* high byte, as PIL's RGB;16B */
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    const int64_t w = w32, h = h32;
    int nch = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (nch < 1 || nch > 4 || rowbytes != (size_t)(w * nch))
        png_error(png, "unsupported pixel layout after conversion");
    tmp = mia__malloc((size_t)(w * h * nch));
    rows = mia__malloc((size_t)h * sizeof(png_bytep));
    if (!tmp || !rows) {
        s = MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory for a %lldx%lld image", NAME(name),
                      (long long)w, (long long)h);
        goto done;
    }
    for (int64_t y = 0; y < h; y++) rows[y] = tmp + y * w * nch;
    png_read_image(png, rows);

    if (nch == channels) {
        pix = tmp;
        tmp = NULL;
    } else {
        pix = mia__malloc((size_t)(w * h * channels));
        if (!pix) {
            s = MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory for a %lldx%lld image", NAME(name),
                          (long long)w, (long long)h);
            goto done;
        }
        for (int64_t y = 0; y < h; y++)
            convert_row(tmp + y * w * nch, nch, pix + y * w * channels, channels, w);
    }
    *pixels = pix;
    pix = NULL;
    *pw = w;
    *ph = h;
done:
    png_destroy_read_struct(&png, info ? &info : NULL, NULL);
    mia__free(rows);
    mia__free(tmp);
    mia__free(pix);
    return s;
}

/* ---- public-internal entry points ---------------------------------------------------------- */

mia_status mia__image_info(const void *data, size_t n, const char *name, int64_t *width,
                           int64_t *height, int *channels)
{
    const uint8_t *d = data;
    switch (mia__image_sniff(data, n)) {
    case MIA__IMAGE_PNG: {
        if (n < 29 || memcmp(d + 12, "IHDR", 4) != 0)
            return MIA_ERROR(MIA_ERR_FORMAT, "%s: PNG: missing IHDR header", NAME(name));
        *width = ((int64_t)d[16] << 24) | (d[17] << 16) | (d[18] << 8) | d[19];
        *height = ((int64_t)d[20] << 24) | (d[21] << 16) | (d[22] << 8) | d[23];
        static const int ch[7] = {1, 0, 3, 3, 2, 0, 4};
        int ct = d[25];
        if (ct > 6 || ch[ct] == 0)
            return MIA_ERROR(MIA_ERR_FORMAT, "%s: PNG: invalid colour type %d", NAME(name), ct);
        *channels = ch[ct];
        return MIA_OK;
    }
    case MIA__IMAGE_JPEG: {
        struct jpeg_decompress_struct ci;
        jerr_ctx e;
        volatile int created = 0;
        memset(&ci, 0, sizeof ci);
        jpeg_setup(&ci, &e);
        if (setjmp(e.jb)) {
            if (created) jpeg_destroy_decompress(&ci);
            return MIA_ERROR(MIA_ERR_FORMAT, "%s: JPEG: %s", NAME(name), e.msg);
        }
        jpeg_create_decompress(&ci);
        created = 1;
        jpeg_mem_src(&ci, d, (unsigned long)n);
        jpeg_read_header(&ci, TRUE);
        *width = ci.image_width;
        *height = ci.image_height;
        *channels = ci.num_components;
        jpeg_destroy_decompress(&ci);
        return MIA_OK;
    }
    default:
        return unsupported(data, n, name);
    }
}

mia_status mia__image_decode(const void *data, size_t n, const char *name, int channels,
                             const mia__image_limits *limits, uint8_t **pixels, int64_t *width,
                             int64_t *height)
{
    mia__image_limits def;
    if (pixels) *pixels = NULL;
    MIA_CHECK_ARG(pixels && width && height, "%s: pixels, width and height must not be NULL",
                  NAME(name));
    MIA_CHECK_ARG(data || n == 0, "%s: data is NULL", NAME(name));
    MIA_CHECK_ARG(channels == 1 || channels == 3, "%s: channels must be 1 or 3 (got %d)",
                  NAME(name), channels);
    if (!limits) {
        mia__image_limits_init(&def);
        limits = &def;
    }
    MIA_CHECK_ARG(limits->max_dim >= 1 && limits->max_bytes >= 1,
                  "%s: limits.max_dim and limits.max_bytes must be >= 1", NAME(name));
    switch (mia__image_sniff(data, n)) {
    case MIA__IMAGE_PNG:
        return decode_png(data, n, name, channels, limits, pixels, width, height);
    case MIA__IMAGE_JPEG:
        return decode_jpeg(data, n, name, channels, limits, pixels, width, height);
    default:
        return unsupported(data, n, name);
    }
}

/* Bounded whole-file read (the caps keep a hostile file from sizing our allocation). */
static mia_status read_file_bounded(const char *path, int64_t max, uint8_t **out, size_t *len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return MIA_ERROR(MIA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return MIA_ERROR(MIA_ERR_IO, "%s: not a regular file", path);
    }
    if ((int64_t)st.st_size > max) {
        fclose(f);
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: file of %lld bytes exceeds the cap of %lld bytes",
                         path, (long long)st.st_size, (long long)max);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = mia__malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        mia__free(buf);
        return MIA_ERROR(MIA_ERR_IO, "%s: read error", path);
    }
    *out = buf;
    *len = n;
    return MIA_OK;
}

mia_status mia__image_load(const char *path, int channels, const mia__image_limits *limits,
                           uint8_t **pixels, int64_t *width, int64_t *height)
{
    if (pixels) *pixels = NULL;
    MIA_CHECK_ARG(path != NULL, "path must not be NULL");
    uint8_t *buf = NULL;
    size_t n = 0;
    int64_t cap = MAX_FILE_BYTES;
    if (limits && limits->max_bytes > cap) cap = limits->max_bytes;
    MIA_TRY(read_file_bounded(path, cap, &buf, &n));
    mia_status s = mia__image_decode(buf, n, path, channels, limits, pixels, width, height);
    mia__free(buf);
    return s;
}
