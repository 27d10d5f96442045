/*
 * Batch-time transforms (transform.h): rotation, PIL-exact resize, pad + random/center crop,
 * horizontal flip, gray -> RGB, ToTensor, Normalize. Geometry runs on u8 planes; the final step
 * gathers (crop, pad, flip, channel replication) and converts to float in one pass.
 *
 * Randomness: words r[0..3] = Philox(key(seed, epoch), MIA_STREAM_AUGMENT, counter = index),
 * with key(seed, epoch) = the first two words of Philox(seed, MIA_STREAM_AUGMENT, epoch).
 * r[0] angle, r[1] crop top, r[2] crop left, r[3] flip: fixed slots, so one option never shifts
 * the draws of another.
 */
#include <math.h>
#include <string.h>

#include <mia/dataset.h>
#include <mia/transform.h>

#include "core/rng.h"
#include "data/dataset-impl.h"
#include "data/image.h"

struct mia_transform {
    mia_transform_opts o;
    uint64_t epoch; /* for the hook only */
};

typedef struct geom {
    int64_t c, h, w;      /* input */
    int64_t rh, rw;       /* after resize */
    int64_t ph, pw;       /* after padding */
    int64_t oc, oh, ow;   /* output */
} geom;

/* Work buffers for one geometry; reused across the images of a batch. */
typedef struct work {
    geom g;
    mia__resize_plan *plan;
    uint8_t *rot, *res, *scratch;
} work;

void mia_transform_opts_init_sized(mia_transform_opts *o, size_t size)
{
    if (!o) return;
    mia_transform_opts d;
    memset(&d, 0, sizeof d);
    d.struct_size = (uint32_t)sizeof d;
    for (int i = 0; i < 4; i++) d.std[i] = 1.0f;
    memcpy(o, &d, size < sizeof d ? size : sizeof d);
    o->struct_size = (uint32_t)(size < sizeof d ? size : sizeof d);
}

void mia_transform_set_normalize(mia_transform_opts *o, mia_norm_preset preset)
{
    static const float cm[3] = {0.4914f, 0.4822f, 0.4465f}, cs[3] = {0.2470f, 0.2435f, 0.2616f};
    static const float im[3] = {0.485f, 0.456f, 0.406f}, is[3] = {0.229f, 0.224f, 0.225f};
    if (!o || (preset != MIA_NORM_CIFAR10 && preset != MIA_NORM_IMAGENET)) return;
    const float *m = preset == MIA_NORM_CIFAR10 ? cm : im, *s = preset == MIA_NORM_CIFAR10 ? cs : is;
    o->normalize = true;
    for (int i = 0; i < 3; i++) {
        o->mean[i] = m[i];
        o->std[i] = s[i];
    }
    o->mean[3] = 0.0f;
    o->std[3] = 1.0f;
}

mia_status mia_transform_create(mia_transform **out, const mia_transform_opts *opts)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(out != NULL, "out must not be NULL");
    mia_transform_opts o;
    mia_transform_opts_init(&o);
    if (opts) {
        MIA_CHECK_ARG(opts->struct_size >= sizeof(uint32_t) && opts->struct_size <= sizeof o,
                      "opts->struct_size %u is invalid (use mia_transform_opts_init)",
                      (unsigned)opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
        o.struct_size = (uint32_t)sizeof o;
    }
    MIA_CHECK_ARG(isfinite(o.rotate_degrees) && o.rotate_degrees >= 0 && o.rotate_degrees <= 360,
                  "opts.rotate_degrees must be in [0, 360] (got %g)", o.rotate_degrees);
    MIA_CHECK_ARG(o.resize_shorter >= 0, "opts.resize_shorter must be >= 0");
    MIA_CHECK_ARG(o.resize_h >= 0 && o.resize_w >= 0 && (o.resize_h > 0) == (o.resize_w > 0),
                  "opts.resize_h and opts.resize_w must both be 0 or both >= 1");
    MIA_CHECK_ARG(!(o.resize_shorter > 0 && o.resize_h > 0),
                  "opts.resize_shorter and opts.resize_h/resize_w are exclusive");
    MIA_CHECK_ARG(o.crop_h >= 0 && o.crop_w >= 0 && (o.crop_h > 0) == (o.crop_w > 0),
                  "opts.crop_h and opts.crop_w must both be 0 or both >= 1");
    MIA_CHECK_ARG(o.crop_padding >= 0 && o.crop_padding <= 4096,
                  "opts.crop_padding must be in [0, 4096]");
    MIA_CHECK_ARG(o.crop_padding == 0 || o.crop_h > 0,
                  "opts.crop_padding needs a crop (opts.crop_h/crop_w)");
    MIA_CHECK_ARG(o.hflip_p >= 0.0f && o.hflip_p <= 1.0f, "opts.hflip_p must be in [0, 1]");
    const int64_t lim = (int64_t)1 << 16;
    MIA_CHECK_ARG(o.resize_shorter <= lim && o.resize_h <= lim && o.resize_w <= lim &&
                      o.crop_h <= lim && o.crop_w <= lim,
                  "opts sizes must be <= %lld", (long long)lim);
    if (o.normalize)
        for (int i = 0; i < 4; i++)
            MIA_CHECK_ARG(isfinite(o.mean[i]) && isfinite(o.std[i]) && o.std[i] != 0.0f,
                          "opts.std[%d] must be finite and non-zero, opts.mean[%d] finite", i, i);
    mia_transform *t = mia__calloc(1, sizeof *t);
    if (!t) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    t->o = o;
    *out = t;
    return MIA_OK;
}

void mia_transform_free(mia_transform *t) { mia__free(t); }

void mia_transform_set_epoch(mia_transform *t, uint64_t epoch)
{
    if (t) t->epoch = epoch;
}

static mia_status compute_geom(const mia_transform *t, int64_t c, int64_t h, int64_t w, geom *g)
{
    const mia_transform_opts *o = &t->o;
    MIA_CHECK_ARG(c >= 1 && c <= 4 && h >= 1 && w >= 1 && h <= ((int64_t)1 << 20) &&
                      w <= ((int64_t)1 << 20),
                  "image geometry %lldx%lldx%lld out of range", (long long)c, (long long)h,
                  (long long)w);
    g->c = c;
    g->h = h;
    g->w = w;
    g->rh = h;
    g->rw = w;
    if (o->resize_shorter > 0) mia__resize_shorter_dims(w, h, o->resize_shorter, &g->rw, &g->rh);
    else if (o->resize_h > 0) {
        g->rh = o->resize_h;
        g->rw = o->resize_w;
    }
    MIA_CHECK_ARG(g->rh >= 1 && g->rw >= 1, "resized image would be empty (%lldx%lld)",
                  (long long)g->rh, (long long)g->rw);
    g->ph = g->rh + 2 * o->crop_padding;
    g->pw = g->rw + 2 * o->crop_padding;
    g->oh = g->ph;
    g->ow = g->pw;
    if (o->crop_h > 0) {
        MIA_CHECK_ARG(o->center_crop || (o->crop_h <= g->ph && o->crop_w <= g->pw),
                      "crop %lldx%lld is larger than the (padded) image %lldx%lld",
                      (long long)o->crop_h, (long long)o->crop_w, (long long)g->ph,
                      (long long)g->pw);
        g->oh = o->crop_h;
        g->ow = o->crop_w;
    }
    g->oc = (o->gray_to_rgb && c == 1) ? 3 : c;
    return MIA_OK;
}

mia_status mia_transform_output_shape(const mia_transform *t, int64_t c, int64_t h, int64_t w,
                                      int64_t *out_c, int64_t *out_h, int64_t *out_w)
{
    mia__error_begin();
    MIA_CHECK_ARG(t && out_c && out_h && out_w, "t and the out pointers must not be NULL");
    geom g;
    MIA_TRY(compute_geom(t, c, h, w, &g));
    *out_c = g.oc;
    *out_h = g.oh;
    *out_w = g.ow;
    return MIA_OK;
}

static void work_free(work *k)
{
    mia__resize_plan_free(k->plan);
    mia__free(k->rot);
    mia__free(k->res);
    mia__free(k->scratch);
    memset(k, 0, sizeof *k);
}

static mia_status work_init(const mia_transform *t, const geom *g, work *k)
{
    memset(k, 0, sizeof *k);
    k->g = *g;
    if (t->o.rotate_degrees > 0) {
        k->rot = mia__malloc((size_t)(g->c * g->h * g->w));
        if (!k->rot) goto nomem;
    }
    if (g->rh != g->h || g->rw != g->w) {
        mia_status s = mia__resize_plan_create(&k->plan, g->w, g->h, g->rw, g->rh);
        if (s != MIA_OK) {
            work_free(k);
            return s;
        }
        k->res = mia__malloc((size_t)(g->c * g->rh * g->rw));
        size_t ns = mia__resize_plan_scratch(k->plan);
        if (ns) k->scratch = mia__malloc(ns);
        if (!k->res || (ns && !k->scratch)) goto nomem;
    }
    return MIA_OK;
nomem:
    work_free(k);
    return MIA_ERROR(MIA_ERR_NOMEM, "transform: out of memory for work buffers");
}

static inline double unit(uint32_t r) { return (double)r * (1.0 / 4294967296.0); }
static inline int64_t below(uint32_t r, int64_t n) { return (int64_t)(((uint64_t)r * (uint64_t)n) >> 32); }

static void draws(const mia_transform *t, uint64_t epoch, int64_t index, uint32_t r[4])
{
    uint32_t k[4];
    mia__philox(t->o.seed, MIA_STREAM_AUGMENT, epoch, k);
    mia__philox((uint64_t)k[0] | ((uint64_t)k[1] << 32), MIA_STREAM_AUGMENT, (uint64_t)index, r);
}

/* torchvision CenterCrop offset: int(round((size - crop) / 2.0)), round half to even. */
static int64_t center_offset(int64_t size, int64_t crop)
{
    if (crop > size) return -((crop - size) / 2); /* torchvision pads (crop - size) // 2 first */
    return (int64_t)nearbyint((double)(size - crop) / 2.0);
}

static void run_one(const mia_transform *t, work *k, const uint8_t *src, uint64_t epoch,
                    int64_t index, float *dst, bool normalize)
{
    const mia_transform_opts *o = &t->o;
    const geom *g = &k->g;
    uint32_t r[4];
    draws(t, epoch, index, r);
    const uint8_t *cur = src;
    if (o->rotate_degrees > 0) {
        double angle = -o->rotate_degrees + 2.0 * o->rotate_degrees * unit(r[0]);
        for (int64_t ch = 0; ch < g->c; ch++)
            mia__rotate_plane(cur + ch * g->h * g->w, g->w, g->h, angle, k->rot + ch * g->h * g->w);
        cur = k->rot;
    }
    if (k->plan) {
        for (int64_t ch = 0; ch < g->c; ch++)
            mia__resize_plane(k->plan, cur + ch * g->h * g->w, (size_t)g->w,
                              k->res + ch * g->rh * g->rw, (size_t)g->rw, k->scratch);
        cur = k->res;
    }
    int64_t top = 0, left = 0;
    if (o->crop_h > 0) {
        if (o->center_crop) {
            top = center_offset(g->ph, g->oh);
            left = center_offset(g->pw, g->ow);
        } else {
            top = below(r[1], g->ph - g->oh + 1);
            left = below(r[2], g->pw - g->ow + 1);
        }
    }
    const bool flip = o->hflip_p > 0.0f && unit(r[3]) < (double)o->hflip_p;
    const int64_t pad = o->crop_padding, H = g->rh, W = g->rw;
    for (int64_t oc = 0; oc < g->oc; oc++) {
        const uint8_t *plane = cur + (g->c == 1 ? 0 : oc) * H * W;
        const float mean = normalize && o->normalize ? o->mean[oc] : 0.0f;
        const float sd = normalize && o->normalize ? o->std[oc] : 1.0f;
        const bool norm = normalize && o->normalize;
        float *d = dst + oc * g->oh * g->ow;
        for (int64_t y = 0; y < g->oh; y++) {
            int64_t sy = top + y - pad;
            bool row_in = sy >= 0 && sy < H;
            const uint8_t *srow = row_in ? plane + sy * W : NULL;
            for (int64_t x = 0; x < g->ow; x++) {
                int64_t sx = left + (flip ? g->ow - 1 - x : x) - pad;
                uint8_t v = (row_in && sx >= 0 && sx < W) ? srow[sx] : 0;
                float f = (float)v / 255.0f;
                if (norm) f = (f - mean) / sd;
                d[y * g->ow + x] = f;
            }
        }
    }
}

mia_status mia_transform_image(const mia_transform *t, const uint8_t *src, int64_t c, int64_t h,
                               int64_t w, uint64_t epoch, int64_t index, float *dst)
{
    mia__error_begin();
    MIA_CHECK_ARG(t && src && dst, "t, src and dst must not be NULL");
    geom g;
    work k;
    MIA_TRY(compute_geom(t, c, h, w, &g));
    MIA_TRY(work_init(t, &g, &k));
    run_one(t, &k, src, epoch, index, dst, true);
    work_free(&k);
    return MIA_OK;
}

mia_status mia_transform_batch(const mia_transform *t, const mia_dataset *d, const int64_t *idx,
                               int64_t n, uint64_t epoch, float *dst, int32_t *labels_out)
{
    mia__error_begin();
    MIA_CHECK_ARG(t && d && dst && (idx || n == 0), "t, d, idx and dst must not be NULL");
    MIA_CHECK_ARG(n >= 0, "n must be >= 0 (got %lld)", (long long)n);
    for (int64_t i = 0; i < n; i++)
        MIA_CHECK_ARG(idx[i] >= 0 && idx[i] < d->n, "idx[%lld] = %lld out of range [0, %lld)",
                      (long long)i, (long long)idx[i], (long long)d->n);
    geom g;
    work k;
    MIA_TRY(compute_geom(t, d->c, d->h, d->w, &g));
    MIA_TRY(work_init(t, &g, &k));
    const int64_t img = d->c * d->h * d->w, out = g.oc * g.oh * g.ow;
    for (int64_t i = 0; i < n; i++) {
        run_one(t, &k, d->pixels + idx[i] * img, epoch, idx[i], dst + i * out, true);
        if (labels_out) labels_out[i] = d->labels ? d->labels[idx[i]] : -1;
    }
    work_free(&k);
    return MIA_OK;
}

mia_status mia_transform_hook(float *dst, int64_t out_c, int64_t out_h, int64_t out_w,
                              const uint8_t *src, int64_t c, int64_t h, int64_t w, int64_t index,
                              int64_t slot, void *user_data)
{
    (void)slot;
    const mia_transform *t = user_data;
    MIA_CHECK_ARG(t && src && dst, "transform hook: user_data, src and dst must not be NULL");
    geom g;
    work k;
    MIA_TRY(compute_geom(t, c, h, w, &g));
    MIA_CHECK_ARG(g.oc == out_c && g.oh == out_h && g.ow == out_w,
                  "transform hook: output %lldx%lldx%lld expected, batch asks %lldx%lldx%lld",
                  (long long)g.oc, (long long)g.oh, (long long)g.ow, (long long)out_c,
                  (long long)out_h, (long long)out_w);
    MIA_TRY(work_init(t, &g, &k));
    run_one(t, &k, src, t->epoch, index, dst, false);
    work_free(&k);
    return MIA_OK;
}
