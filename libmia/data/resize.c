/*
 * PIL-compatible resampling of 8-bit planes: bilinear with antialias (Pillow's ImagingResample)
 * and nearest-neighbour rotation (Pillow's Image.rotate + ImagingTransformAffine).
 *
 * Bit-exactness with Pillow 9.4 rests on doing the same arithmetic in the same order:
 *   - per output index i: center = in0 + (i + 0.5) * scale, with scale = (in1 - in0) / out in
 *     double and filterscale = max(scale, 1); support = 1.0 * filterscale;
 *     xmin = (int)(center - support + 0.5) clamped to >= 0; xmax = (int)(center + support + 0.5)
 *     clamped to <= in; w_j = tri((j + xmin - center + 0.5) / filterscale) normalised by their sum
 *     (all in double), then fixed point k_j = (int)(0.5 + w_j * 2^22) (weights are >= 0 here);
 *   - a pass computes acc = 2^21 + sum_j px_j * k_j in int and stores clamp(acc >> 22, 0, 255);
 *   - the horizontal pass runs first, over source rows [first row used, last row used) only, and
 *     is skipped when the width does not change; the vertical pass is skipped when the height does
 *     not change.
 * Pillow's box argument is always the full image here (torchvision never passes one).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"

#define PRECISION_BITS 22 /* 32 - 8 - 2, as Pillow */

/* Coefficients for one axis. */
typedef struct axis_coeffs {
    int64_t in_size, out_size;
    int ksize;        /* max taps per output */
    int *bounds;      /* out_size pairs: first input index, tap count */
    int32_t *kk;      /* out_size * ksize fixed-point weights */
} axis_coeffs;

struct mia__resize_plan {
    int64_t src_w, src_h, dst_w, dst_h;
    bool need_h, need_v;
    int row_first, row_last; /* source rows the vertical pass reads */
    axis_coeffs h, v;
};

static double bilinear_filter(double x)
{
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

static void axis_free(axis_coeffs *a)
{
    mia__free(a->bounds);
    mia__free(a->kk);
    a->bounds = NULL;
    a->kk = NULL;
}

static mia_status axis_compute(axis_coeffs *a, int64_t in_size, int64_t out_size)
{
    const double support_1 = 1.0; /* bilinear */
    /* Pillow passes the box edges as float; in0 = 0 and in1 = in_size are exact. */
    float in0 = 0.0f, in1 = (float)in_size;
    double scale = (double)(in1 - in0) / (double)out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = support_1 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    size_t nk;
    double *w = NULL;

    a->in_size = in_size;
    a->out_size = out_size;
    a->ksize = ksize;
    if (mia__mul_size((size_t)out_size, (size_t)ksize, &nk) != 0)
        return MIA_ERROR(MIA_ERR_INVALID, "resize: output size %lld too large",
                         (long long)out_size);
    a->bounds = mia__calloc((size_t)out_size * 2, sizeof(int));
    a->kk = mia__calloc(nk, sizeof(int32_t));
    w = mia__malloc((size_t)ksize * sizeof(double));
    if (!a->bounds || !a->kk || !w) {
        mia__free(w);
        axis_free(a);
        return MIA_ERROR(MIA_ERR_NOMEM, "resize: out of memory for %lld coefficients",
                         (long long)nk);
    }
    for (int64_t xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        int xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = (int)in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            double f = bilinear_filter((x + xmin - center + 0.5) * ss);
            w[x] = f;
            ww += f;
        }
        int32_t *k = &a->kk[xx * ksize];
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
                         : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        a->bounds[xx * 2 + 0] = xmin;
        a->bounds[xx * 2 + 1] = xmax;
    }
    mia__free(w);
    return MIA_OK;
}

static inline uint8_t clip8(int32_t acc)
{
    int32_t v = acc >> PRECISION_BITS; /* arithmetic shift, as Pillow's lookup index */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

mia_status mia__resize_plan_create(mia__resize_plan **out, int64_t src_w, int64_t src_h,
                                   int64_t dst_w, int64_t dst_h)
{
    *out = NULL;
    const int64_t lim = (int64_t)1 << 24;
    if (src_w < 1 || src_h < 1 || src_w > lim || src_h > lim)
        return MIA_ERROR(MIA_ERR_INVALID, "resize: source size %lldx%lld out of range",
                         (long long)src_w, (long long)src_h);
    if (dst_w < 1 || dst_h < 1 || dst_w > lim || dst_h > lim)
        return MIA_ERROR(MIA_ERR_INVALID, "resize: target size %lldx%lld out of range",
                         (long long)dst_w, (long long)dst_h);
    mia__resize_plan *p = mia__calloc(1, sizeof *p);
    if (!p) return MIA_ERROR(MIA_ERR_NOMEM, "resize: out of memory");
    p->src_w = src_w;
    p->src_h = src_h;
    p->dst_w = dst_w;
    p->dst_h = dst_h;
    p->need_h = dst_w != src_w;
    p->need_v = dst_h != src_h;
    mia_status s = axis_compute(&p->v, src_h, dst_h);
    if (s == MIA_OK && p->need_h) s = axis_compute(&p->h, src_w, dst_w);
    if (s != MIA_OK) {
        mia__resize_plan_free(p);
        return s;
    }
    p->row_first = p->v.bounds[0];
    p->row_last = p->v.bounds[(dst_h - 1) * 2] + p->v.bounds[(dst_h - 1) * 2 + 1];
    *out = p;
    return MIA_OK;
}

void mia__resize_plan_free(mia__resize_plan *p)
{
    if (!p) return;
    axis_free(&p->h);
    axis_free(&p->v);
    mia__free(p);
}

size_t mia__resize_plan_scratch(const mia__resize_plan *p)
{
    if (!p->need_h || !p->need_v) return 0;
    return (size_t)p->dst_w * (size_t)(p->row_last - p->row_first);
}

/* Horizontal pass over rows [row0, row0 + nrows) of src into dst rows 0.. */
static void pass_h(const axis_coeffs *a, const uint8_t *src, size_t src_stride, int row0,
                   int nrows, uint8_t *dst, size_t dst_stride)
{
    const int ksize = a->ksize;
    for (int y = 0; y < nrows; y++) {
        const uint8_t *in = src + (size_t)(y + row0) * src_stride;
        uint8_t *o = dst + (size_t)y * dst_stride;
        for (int64_t xx = 0; xx < a->out_size; xx++) {
            const int xmin = a->bounds[xx * 2], xmax = a->bounds[xx * 2 + 1];
            const int32_t *k = &a->kk[xx * ksize];
            const uint8_t *p = in + xmin;
            int32_t acc = 1 << (PRECISION_BITS - 1);
            for (int x = 0; x < xmax; x++) acc += (int32_t)p[x] * k[x];
            o[xx] = clip8(acc);
        }
    }
}

/* Vertical pass: src rows are offset by row_shift (rows before it were not produced). */
static void pass_v(const axis_coeffs *a, const uint8_t *src, size_t src_stride, int row_shift,
                   int64_t width, uint8_t *dst, size_t dst_stride)
{
    const int ksize = a->ksize;
    int32_t acc[256];
    for (int64_t yy = 0; yy < a->out_size; yy++) {
        const int ymin = a->bounds[yy * 2] - row_shift, ymax = a->bounds[yy * 2 + 1];
        const int32_t *k = &a->kk[yy * ksize];
        uint8_t *o = dst + (size_t)yy * dst_stride;
        /* Blocks of 256 columns; per column the same integer sum in the same order as Pillow. */
        for (int64_t x0 = 0; x0 < width; x0 += 256) {
            int64_t nb = width - x0 < 256 ? width - x0 : 256;
            for (int64_t i = 0; i < nb; i++) acc[i] = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < ymax; y++) {
                const uint8_t *in = src + (size_t)(y + ymin) * src_stride + x0;
                const int32_t kv = k[y];
                for (int64_t i = 0; i < nb; i++) acc[i] += (int32_t)in[i] * kv;
            }
            for (int64_t i = 0; i < nb; i++) o[x0 + i] = clip8(acc[i]);
        }
    }
}

void mia__resize_plane(const mia__resize_plan *p, const uint8_t *src, size_t src_stride,
                       uint8_t *dst, size_t dst_stride, uint8_t *scratch)
{
    if (p->need_h && p->need_v) {
        int nrows = p->row_last - p->row_first;
        pass_h(&p->h, src, src_stride, p->row_first, nrows, scratch, (size_t)p->dst_w);
        pass_v(&p->v, scratch, (size_t)p->dst_w, p->row_first, p->dst_w, dst, dst_stride);
    } else if (p->need_h) {
        pass_h(&p->h, src, src_stride, 0, (int)p->src_h, dst, dst_stride);
    } else if (p->need_v) {
        pass_v(&p->v, src, src_stride, 0, p->src_w, dst, dst_stride);
    } else {
        for (int64_t y = 0; y < p->src_h; y++)
            memcpy(dst + (size_t)y * dst_stride, src + (size_t)y * src_stride, (size_t)p->src_w);
    }
}

mia_status mia__resize_chw(const uint8_t *src, int64_t c, int64_t src_h, int64_t src_w,
                           uint8_t *dst, int64_t dst_h, int64_t dst_w)
{
    mia__resize_plan *p = NULL;
    MIA_TRY(mia__resize_plan_create(&p, src_w, src_h, dst_w, dst_h));
    size_t ns = mia__resize_plan_scratch(p);
    uint8_t *scratch = NULL;
    if (ns) {
        scratch = mia__malloc(ns);
        if (!scratch) {
            mia__resize_plan_free(p);
            return MIA_ERROR(MIA_ERR_NOMEM, "resize: out of memory (%zu bytes scratch)", ns);
        }
    }
    for (int64_t ch = 0; ch < c; ch++)
        mia__resize_plane(p, src + (size_t)(ch * src_h * src_w), (size_t)src_w,
                          dst + (size_t)(ch * dst_h * dst_w), (size_t)dst_w, scratch);
    mia__free(scratch);
    mia__resize_plan_free(p);
    return MIA_OK;
}

void mia__resize_shorter_dims(int64_t w, int64_t h, int64_t size, int64_t *new_w, int64_t *new_h)
{
    int64_t s = w <= h ? w : h, l = w <= h ? h : w;
    /* Python: int(size * long / short): exact integer product, correctly rounded true division,
     * truncation. Doubles reproduce it while size * long < 2^53. */
    int64_t nl = (int64_t)((double)(size * l) / (double)s);
    if (w <= h) {
        *new_w = size;
        *new_h = nl;
    } else {
        *new_w = nl;
        *new_h = size;
    }
}

/* ---- rotation (PIL Image.rotate, NEAREST, expand=False, fill 0) ---------------------------- */

/* Python's round(x, 15): correctly rounded to 15 decimals (glibc printf rounds exactly too). */
static double round15(double x)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.15f", x);
    return strtod(buf, NULL);
}

/* Pillow's FLOOR/COORD helpers for the 16.16 fixed-point affine loop. */
static int pil_floor(double v) { return v < 0.0 ? (int)floor(v) : (int)v; }

void mia__rotate_plane(const uint8_t *src, int64_t w, int64_t h, double angle_deg, uint8_t *dst)
{
    /* angle % 360.0 with Python's sign rule */
    double angle = fmod(angle_deg, 360.0);
    if (angle != 0.0 && angle < 0.0) angle += 360.0;
    const size_t n = (size_t)w * (size_t)h;
    if (angle == 0.0) {
        memcpy(dst, src, n);
        return;
    }
    if (angle == 180.0) {
        for (size_t i = 0; i < n; i++) dst[i] = src[n - 1 - i];
        return;
    }
    if ((angle == 90.0 || angle == 270.0) && w == h) {
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++)
                dst[y * w + x] = angle == 90.0 ? src[x * w + (w - 1 - y)]
                                               : src[(h - 1 - x) * w + y];
        return;
    }
    const double pi = 3.141592653589793;
    double rad = -(angle * (pi / 180.0));
    double a[6];
    a[0] = round15(cos(rad));
    a[1] = round15(sin(rad));
    a[2] = 0.0;
    a[3] = round15(-sin(rad));
    a[4] = round15(cos(rad));
    a[5] = 0.0;
    double cx = (double)w / 2.0, cy = (double)h / 2.0;
    double tx = -cx - 0.0, ty = -cy - 0.0;
    double c2 = a[0] * tx + a[1] * ty + a[2];
    double c5 = a[3] * tx + a[4] * ty + a[5];
    a[2] = c2 + cx;
    a[5] = c5 + cy;

    memset(dst, 0, n);
    if (a[1] == 0 && a[3] == 0) {
        /* Pillow's ImagingScaleAffine (reachable only for tiny |sin|): nearest with doubles. */
        double yo = a[5] + a[4] * 0.5;
        for (int64_t y = 0; y < h; y++) {
            int yi = yo < 0.0 ? -1 : (int)yo;
            double xo = a[2] + a[0] * 0.5;
            for (int64_t x = 0; x < w; x++) {
                int xi = xo < 0.0 ? -1 : (int)xo;
                if (yi >= 0 && yi < h && xi >= 0 && xi < w) dst[y * w + x] = src[yi * w + xi];
                xo += a[0];
            }
            yo += a[4];
        }
        return;
    }
    /* All four corners must fit 16.16 fixed point (true for any image up to 32767 px). */
    bool fixed = true;
    const int64_t cxs[4] = {0, w, 0, w}, cys[4] = {0, h, h, 0};
    for (int i = 0; i < 4; i++) {
        if (!(fabs(cxs[i] * a[0] + cys[i] * a[1] + a[2]) < 32768.0 &&
              fabs(cxs[i] * a[3] + cys[i] * a[4] + a[5]) < 32768.0))
            fixed = false;
    }
    if (fixed) {
        int32_t a0 = pil_floor(a[0] * 65536.0 + 0.5), a1 = pil_floor(a[1] * 65536.0 + 0.5);
        int32_t a3 = pil_floor(a[3] * 65536.0 + 0.5), a4 = pil_floor(a[4] * 65536.0 + 0.5);
        int32_t a2 = pil_floor((a[2] + a[0] * 0.5 + a[1] * 0.5) * 65536.0 + 0.5);
        int32_t a5 = pil_floor((a[5] + a[3] * 0.5 + a[4] * 0.5) * 65536.0 + 0.5);
        for (int64_t y = 0; y < h; y++) {
            int32_t xx = a2, yy = a5;
            uint8_t *o = dst + y * w;
            for (int64_t x = 0; x < w; x++) {
                int32_t xin = xx >> 16; /* arithmetic shift, as Pillow on gcc */
                if (xin >= 0 && xin < w) {
                    int32_t yin = yy >> 16;
                    if (yin >= 0 && yin < h) o[x] = src[(int64_t)yin * w + xin];
                }
                xx += a0;
                yy += a3;
            }
            a2 += a1;
            a5 += a4;
        }
        return;
    }
    double xo = a[2] + a[1] * 0.5 + a[0] * 0.5, yo = a[5] + a[4] * 0.5 + a[3] * 0.5;
    for (int64_t y = 0; y < h; y++) {
        double xx = xo, yy = yo;
        for (int64_t x = 0; x < w; x++) {
            int xin = xx < 0.0 ? -1 : (int)xx;
            if (xin >= 0 && xin < w) {
                int yin = yy < 0.0 ? -1 : (int)yy;
                if (yin >= 0 && yin < h) dst[y * w + x] = src[(int64_t)yin * w + xin];
            }
            xx += a[0];
            yy += a[3];
        }
        xo += a[1];
        yo += a[4];
    }
}
