/* The dataset handle: construction, accessors, subsets, f32 batches. */
#include <math.h>
#include <string.h>

#include <mia/dataset.h>

#include "core/rng.h"
#include "data/data-internal.h"
#include "dataset-impl.h"
#include "io/io.h"

#define MIA_DATASET_MAX_BYTES ((uint64_t)1 << 34)

mia_status mia__dataset_new(mia_dataset **out, int64_t n, int64_t c, int64_t h, int64_t w,
                            int64_t n_classes, const char *source)
{
    *out = NULL;
    if (n < 1 || c < 1 || h < 1 || w < 1 || c > 4 || h > (1 << 16) || w > (1 << 16))
        return MIA_ERROR(MIA_ERR_INVALID,
                         "%s: invalid dataset geometry n=%lld c=%lld h=%lld w=%lld",
                         source ? source : "dataset", (long long)n, (long long)c,
                         (long long)h, (long long)w);
    if (n_classes < 0 || n_classes > (1 << 20))
        return MIA_ERROR(MIA_ERR_INVALID, "%s: invalid class count %lld",
                         source ? source : "dataset", (long long)n_classes);
    uint64_t per = (uint64_t)c * (uint64_t)h * (uint64_t)w;
    if ((uint64_t)n > MIA_DATASET_MAX_BYTES / per)
        return MIA_ERROR(MIA_ERR_INVALID, "%s: %lld images of %llu bytes exceed the 2^34-byte cap",
                         source ? source : "dataset", (long long)n, (unsigned long long)per);
    mia_dataset *d = mia__calloc(1, sizeof *d);
    if (!d) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory for a dataset handle");
    d->n = n;
    d->c = c;
    d->h = h;
    d->w = w;
    d->n_classes = n_classes;
    d->pixels = mia__calloc((size_t)(per * (uint64_t)n), 1);
    d->labels = mia__calloc((size_t)n, sizeof *d->labels);
    d->source = mia__strdup(source ? source : "");
    if (n_classes > 0) d->class_names = mia__calloc((size_t)n_classes, sizeof(char *));
    if (!d->pixels || !d->labels || !d->source || (n_classes > 0 && !d->class_names)) {
        mia_dataset_free(d);
        return MIA_ERROR(MIA_ERR_NOMEM, "%s: cannot allocate %lld images",
                         source ? source : "dataset", (long long)n);
    }
    *out = d;
    return MIA_OK;
}

mia_status mia__dataset_set_class_name(mia_dataset *d, int64_t i, const char *name)
{
    MIA_CHECK_ARG(i >= 0 && i < d->n_classes, "class index %lld out of range", (long long)i);
    char *s = mia__strdup(name);
    if (!s) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory for a class name");
    mia__free(d->class_names[i]);
    d->class_names[i] = s;
    return MIA_OK;
}

void mia__dataset_finish(mia_dataset *d)
{
    mia_sha256 s;
    mia__sha256_init(&s);
    mia__sha256_update(&s, d->pixels, (size_t)(d->n * d->c * d->h * d->w));
    uint8_t le[4096];
    size_t k = 0;
    for (int64_t i = 0; i < d->n; i++) {
        uint32_t v = (uint32_t)d->labels[i];
        le[k++] = (uint8_t)v;
        le[k++] = (uint8_t)(v >> 8);
        le[k++] = (uint8_t)(v >> 16);
        le[k++] = (uint8_t)(v >> 24);
        if (k == sizeof le) {
            mia__sha256_update(&s, le, k);
            k = 0;
        }
    }
    if (k) mia__sha256_update(&s, le, k);
    mia__sha256_final(&s, d->hash);
    d->hash_valid = true;
}

mia_status mia__dataset_check_labels(mia_dataset *d, const char *file)
{
    for (int64_t i = 0; i < d->n; i++)
        if (d->labels[i] < -1 || (d->n_classes > 0 && d->labels[i] >= d->n_classes))
            return MIA_ERROR(MIA_ERR_FORMAT, "%s: label %d of record %lld is outside 0..%lld",
                             file, (int)d->labels[i], (long long)i,
                             (long long)d->n_classes - 1);
    return MIA_OK;
}

void mia_dataset_free(mia_dataset *d)
{
    if (!d) return;
    if (d->class_names)
        for (int64_t i = 0; i < d->n_classes; i++) mia__free(d->class_names[i]);
    mia__free(d->class_names);
    mia__free(d->pixels);
    mia__free(d->labels);
    mia__free(d->source);
    mia__free(d);
}

/* ---- accessors ------------------------------------------------------------------------------ */

int64_t mia_dataset_n(const mia_dataset *d) { return d ? d->n : 0; }
int64_t mia_dataset_channels(const mia_dataset *d) { return d ? d->c : 0; }
int64_t mia_dataset_height(const mia_dataset *d) { return d ? d->h : 0; }
int64_t mia_dataset_width(const mia_dataset *d) { return d ? d->w : 0; }
int64_t mia_dataset_image_numel(const mia_dataset *d) { return d ? d->c * d->h * d->w : 0; }
int64_t mia_dataset_n_classes(const mia_dataset *d) { return d ? d->n_classes : 0; }

const char *mia_dataset_class_name(const mia_dataset *d, int64_t k)
{
    if (!d || !d->class_names || k < 0 || k >= d->n_classes) return NULL;
    return d->class_names[k];
}

int32_t mia_dataset_label(const mia_dataset *d, int64_t i)
{
    if (!d || i < 0 || i >= d->n) return -1;
    return d->labels[i];
}

const uint8_t *mia_dataset_pixels(const mia_dataset *d, int64_t i)
{
    if (!d || i < 0 || i >= d->n) return NULL;
    return d->pixels + (size_t)i * (size_t)(d->c * d->h * d->w);
}

const char *mia_dataset_source(const mia_dataset *d) { return d ? d->source : ""; }

void mia_dataset_hash_hex(const mia_dataset *d, char out[65])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        uint8_t b = (d && d->hash_valid) ? d->hash[i] : 0;
        out[2 * i] = hx[b >> 4];
        out[2 * i + 1] = hx[b & 15];
    }
    out[64] = '\0';
}

/* ---- new datasets from old ones --------------------------------------------------------------- */

static mia_status copy_class_names(mia_dataset *dst, const mia_dataset *src)
{
    if (!src->class_names || dst->n_classes != src->n_classes) return MIA_OK;
    for (int64_t k = 0; k < src->n_classes; k++)
        if (src->class_names[k]) MIA_TRY(mia__dataset_set_class_name(dst, k, src->class_names[k]));
    return MIA_OK;
}

mia_status mia_dataset_subset(mia_dataset **out, const mia_dataset *d, const int64_t *idx,
                              int64_t n)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(d != NULL, "dataset is NULL");
    MIA_CHECK_ARG(idx != NULL, "idx is NULL");
    MIA_CHECK_ARG(n >= 1, "n must be >= 1 (got %lld)", (long long)n);
    for (int64_t i = 0; i < n; i++)
        MIA_CHECK_ARG(idx[i] >= 0 && idx[i] < d->n, "idx[%lld] = %lld is outside 0..%lld",
                      (long long)i, (long long)idx[i], (long long)d->n - 1);
    size_t len = strlen(d->source) + 32;
    char *src = mia__malloc(len);
    if (!src) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    snprintf(src, len, "%s[subset %lld]", d->source, (long long)n);
    mia_dataset *s = NULL;
    mia_status st = mia__dataset_new(&s, n, d->c, d->h, d->w, d->n_classes, src);
    mia__free(src);
    if (st != MIA_OK) return st;
    size_t per = (size_t)(d->c * d->h * d->w);
    for (int64_t i = 0; i < n; i++) {
        memcpy(s->pixels + (size_t)i * per, d->pixels + (size_t)idx[i] * per, per);
        s->labels[i] = d->labels[idx[i]];
    }
    if ((st = copy_class_names(s, d)) != MIA_OK) {
        mia_dataset_free(s);
        return st;
    }
    mia__dataset_finish(s);
    *out = s;
    return MIA_OK;
}

mia_status mia_dataset_concat(mia_dataset **out, const mia_dataset *a, const mia_dataset *b)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(a != NULL && b != NULL, "dataset a or b is NULL");
    if (a->c != b->c || a->h != b->h || a->w != b->w)
        return MIA_ERROR(MIA_ERR_MISMATCH, "concat: geometry %lldx%lldx%lld of '%s' differs from "
                         "%lldx%lldx%lld of '%s'", (long long)a->c, (long long)a->h,
                         (long long)a->w, a->source, (long long)b->c, (long long)b->h,
                         (long long)b->w, b->source);
    const mia_dataset *names = b->n_classes > a->n_classes ? b : a;
    size_t len = strlen(a->source) + strlen(b->source) + 4;
    char *src = mia__malloc(len);
    if (!src) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    snprintf(src, len, "%s + %s", a->source, b->source);
    mia_dataset *s = NULL;
    mia_status st = mia__dataset_new(&s, a->n + b->n, a->c, a->h, a->w, names->n_classes, src);
    mia__free(src);
    if (st != MIA_OK) return st;
    size_t per = (size_t)(a->c * a->h * a->w);
    memcpy(s->pixels, a->pixels, per * (size_t)a->n);
    memcpy(s->pixels + per * (size_t)a->n, b->pixels, per * (size_t)b->n);
    memcpy(s->labels, a->labels, sizeof(int32_t) * (size_t)a->n);
    memcpy(s->labels + a->n, b->labels, sizeof(int32_t) * (size_t)b->n);
    if ((st = copy_class_names(s, names)) != MIA_OK) {
        mia_dataset_free(s);
        return st;
    }
    mia__dataset_finish(s);
    *out = s;
    return MIA_OK;
}

mia_status mia__dataset_clone(mia_dataset **out, const mia_dataset *d, const char *suffix,
                              int64_t n_classes)
{
    size_t len = strlen(d->source) + strlen(suffix) + 1;
    char *src = mia__malloc(len);
    if (!src) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    snprintf(src, len, "%s%s", d->source, suffix);
    mia_status st = mia__dataset_new(out, d->n, d->c, d->h, d->w, n_classes, src);
    mia__free(src);
    if (st != MIA_OK) return st;
    memcpy((*out)->pixels, d->pixels, (size_t)(d->n * d->c * d->h * d->w));
    memcpy((*out)->labels, d->labels, sizeof(int32_t) * (size_t)d->n);
    return MIA_OK;
}

/* The last step of a relabelled copy s of d: d's class names, finish, hand over (s is freed on
 * failure). */
static mia_status finish_relabelled(mia_dataset **out, mia_dataset *s, const mia_dataset *d)
{
    mia_status st = copy_class_names(s, d);
    if (st != MIA_OK) {
        mia_dataset_free(s);
        return st;
    }
    mia__dataset_finish(s);
    *out = s;
    return MIA_OK;
}

mia_status mia_dataset_relabel(mia_dataset **out, const mia_dataset *d, int32_t label)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(d != NULL, "dataset is NULL");
    MIA_CHECK_ARG(label >= -1, "label must be >= -1 (got %d)", (int)label);
    mia_dataset *s = NULL;
    int64_t nc = d->n_classes > label ? d->n_classes : (int64_t)label + 1;
    MIA_TRY(mia__dataset_clone(&s, d, "[relabel]", nc));
    for (int64_t i = 0; i < s->n; i++) s->labels[i] = label;
    return finish_relabelled(out, s, d);
}

mia_status mia_dataset_with_labels(mia_dataset **out, const mia_dataset *d,
                                   const int32_t *labels)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(d != NULL, "dataset is NULL");
    MIA_CHECK_ARG(labels != NULL, "labels is NULL");
    for (int64_t i = 0; i < d->n; i++)
        MIA_CHECK_ARG(labels[i] >= 0 && labels[i] < d->n_classes,
                      "labels[%lld] = %d is outside [0, %lld)", (long long)i, (int)labels[i],
                      (long long)d->n_classes);
    mia_dataset *s = NULL;
    MIA_TRY(mia__dataset_clone(&s, d, "[labels]", d->n_classes));
    memcpy(s->labels, labels, sizeof(int32_t) * (size_t)d->n);
    return finish_relabelled(out, s, d);
}

/* ---- batches ---------------------------------------------------------------------------------- */

void mia_batch_opts_init_sized(mia_batch_opts *o, size_t size)
{
    mia_batch_opts def;
    memset(&def, 0, sizeof def);
    def.struct_size = (uint32_t)sizeof def;
    for (int i = 0; i < 4; i++) def.std[i] = 1.0f;
    if (!o) return;
    memset(o, 0, size);
    memcpy(o, &def, size < sizeof def ? size : sizeof def);
    o->struct_size = (uint32_t)(size < sizeof def ? size : sizeof def);
}

void mia__permutation(int64_t *perm, int64_t n, uint64_t seed, int64_t index)
{
    /* stream MIA_STREAM_NOISE with the image index folded into the seed's high half keeps
     * every image's permutation independent of the batch it is drawn in */
    mia_rng r;
    mia__rng_init(&r, seed ^ ((uint64_t)index * 0x9E3779B97F4A7C15ull), MIA_STREAM_NOISE);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    mia__rng_shuffle(&r, perm, n);
}

mia_status mia_dataset_batch_f32(const mia_dataset *d, const int64_t *idx, int64_t n, float *dst,
                                 int32_t *labels_out, const mia_batch_opts *opts_in)
{
    mia__error_begin();
    MIA_CHECK_ARG(d != NULL, "dataset is NULL");
    MIA_CHECK_ARG(idx != NULL && dst != NULL, "idx or dst is NULL");
    MIA_CHECK_ARG(n >= 1, "n must be >= 1 (got %lld)", (long long)n);
    mia_batch_opts o;
    mia_batch_opts_init(&o);
    if (opts_in) {
        MIA_CHECK_ARG(opts_in->struct_size >= sizeof(uint32_t) &&
                      opts_in->struct_size <= sizeof o,
                      "opts.struct_size %u is invalid (use mia_batch_opts_init)",
                      (unsigned)opts_in->struct_size);
        memcpy(&o, opts_in, opts_in->struct_size);
    }
    int64_t oh = o.out_h ? o.out_h : d->h, ow = o.out_w ? o.out_w : d->w;
    MIA_CHECK_ARG(oh > 0 && ow > 0 && oh <= (1 << 16) && ow <= (1 << 16),
                  "opts.out_h/out_w %lldx%lld out of range", (long long)oh, (long long)ow);
    MIA_CHECK_ARG(o.transform != NULL || (oh == d->h && ow == d->w),
                  "opts.out_h/out_w %lldx%lld differ from the dataset's %lldx%lld but no "
                  "transform is set", (long long)oh, (long long)ow, (long long)d->h,
                  (long long)d->w);
    if (o.flags & MIA_BATCH_NORMALIZE)
        for (int64_t c = 0; c < d->c; c++)
            MIA_CHECK_ARG(o.std[c] > 0.0f && isfinite(o.std[c]) && isfinite(o.mean[c]),
                          "opts.std[%lld] must be finite and > 0", (long long)c);
    MIA_CHECK_ARG((o.flags & ~15u) == 0, "opts.flags has unknown bits 0x%x",
                  (unsigned)(o.flags & ~15u));
    MIA_CHECK_ARG(!(o.flags & MIA_BATCH_UNNORMALIZE) || (o.flags & MIA_BATCH_NORMALIZE),
                  "opts.flags: MIA_BATCH_UNNORMALIZE needs MIA_BATCH_NORMALIZE");
    float inv_a[4] = {0, 0, 0, 0}, inv_b[4] = {1, 1, 1, 1};
    if (o.flags & MIA_BATCH_UNNORMALIZE)
        for (int64_t c = 0; c < d->c; c++) {
            /* get_inverse_normalization: Normalize(mean=-mean/std, std=1/std), constants
             * computed in double (Python floats) and stored as float32 by torchvision */
            inv_a[c] = (float)(-(double)o.mean[c] / (double)o.std[c]);
            inv_b[c] = (float)(1.0 / (double)o.std[c]);
        }
    for (int64_t i = 0; i < n; i++)
        MIA_CHECK_ARG(idx[i] >= 0 && idx[i] < d->n, "idx[%lld] = %lld is outside 0..%lld",
                      (long long)i, (long long)idx[i], (long long)d->n - 1);
    int64_t plane = oh * ow, per = d->c * plane;
    int64_t *perm = NULL;
    float *tmp = NULL;
    if (o.flags & MIA_BATCH_PERMUTE) {
        perm = mia__malloc(sizeof(int64_t) * (size_t)plane);
        tmp = mia__malloc(sizeof(float) * (size_t)per);
        if (!perm || !tmp) {
            mia__free(perm);
            mia__free(tmp);
            return MIA_ERROR(MIA_ERR_NOMEM, "out of memory for the permutation buffers");
        }
    }
    size_t src_per = (size_t)(d->c * d->h * d->w);
    mia_status st = MIA_OK;
    for (int64_t i = 0; i < n && st == MIA_OK; i++) {
        float *x = dst + (size_t)(i * per);
        const uint8_t *p = d->pixels + (size_t)idx[i] * src_per;
        if (o.transform) {
            st = o.transform(x, d->c, oh, ow, p, d->c, d->h, d->w, idx[i], i,
                             o.transform_user_data);
            if (st != MIA_OK) break;
        } else {
            for (int64_t k = 0; k < per; k++) x[k] = (float)p[k] / 255.0f;
        }
        if (o.flags & MIA_BATCH_NORMALIZE)
            for (int64_t c = 0; c < d->c; c++)
                for (int64_t k = 0; k < plane; k++)
                    x[c * plane + k] = (x[c * plane + k] - o.mean[c]) / o.std[c];
        if (o.flags & MIA_BATCH_UNNORMALIZE)
            for (int64_t c = 0; c < d->c; c++)
                for (int64_t k = 0; k < plane; k++)
                    x[c * plane + k] = (x[c * plane + k] - inv_a[c]) / inv_b[c];
        if (o.flags & MIA_BATCH_PERMUTE) {
            mia__permutation(perm, plane, o.permute_seed, idx[i]);
            memcpy(tmp, x, sizeof(float) * (size_t)per);
            for (int64_t c = 0; c < d->c; c++)
                for (int64_t k = 0; k < plane; k++) x[c * plane + k] = tmp[c * plane + perm[k]];
        }
        if (o.flags & MIA_BATCH_SCALE_255)
            for (int64_t k = 0; k < per; k++) x[k] *= 255.0f;
        if (labels_out) labels_out[i] = d->labels[idx[i]];
    }
    mia__free(perm);
    mia__free(tmp);
    return st;
}

/* ---- derived sets by name ------------------------------------------------------------------ */

static const struct {
    const char *name;
    mia_derived_kind kind;
} g_derived[] = {
    {"original", MIA_DERIVED_NONE},          {"none", MIA_DERIVED_NONE},
    {"permuted", MIA_DERIVED_PERMUTED},      {"scaled", MIA_DERIVED_SCALED},
    {"unnormalized", MIA_DERIVED_UNNORMALIZED}, {"unnormalised", MIA_DERIVED_UNNORMALIZED},
    {"un-normalized", MIA_DERIVED_UNNORMALIZED}, {"un-normalised", MIA_DERIVED_UNNORMALIZED},
    {"no-normalization", MIA_DERIVED_UNNORMALIZED},
};

mia_status mia_derived_from_name(const char *name, mia_derived_kind *out)
{
    mia__error_begin();
    MIA_CHECK_ARG(name != NULL && out != NULL, "name or out is NULL");
    for (size_t i = 0; i < sizeof g_derived / sizeof g_derived[0]; i++)
        if (strcmp(name, g_derived[i].name) == 0) {
            *out = g_derived[i].kind;
            return MIA_OK;
        }
    return MIA_ERROR(MIA_ERR_INVALID, "derived set '%s' is unknown (original, permuted, scaled, "
                     "unnormalized)", name);
}

const char *mia_derived_name(mia_derived_kind k)
{
    switch (k) {
    case MIA_DERIVED_NONE: return "original";
    case MIA_DERIVED_PERMUTED: return "permuted";
    case MIA_DERIVED_SCALED: return "scaled";
    case MIA_DERIVED_UNNORMALIZED: return "unnormalized";
    }
    return "unknown";
}

mia_status mia_dataset_spec_derived(const char *spec, char *base, size_t cap,
                                    mia_derived_kind *kind)
{
    mia__error_begin();
    MIA_CHECK_ARG(spec && base && kind, "spec, base or kind is NULL");
    *kind = MIA_DERIVED_NONE;
    size_t n = strlen(spec);
    const char *plus = strrchr(spec, '+');
    if (plus) {
        mia_derived_kind k;
        for (size_t i = 0; i < sizeof g_derived / sizeof g_derived[0]; i++)
            if (strcmp(plus + 1, g_derived[i].name) == 0) {
                k = g_derived[i].kind;
                *kind = k;
                n = (size_t)(plus - spec);
                break;
            }
    }
    MIA_CHECK_ARG(n < cap, "spec '%s': base buffer of %zu bytes is too small", spec, cap);
    memcpy(base, spec, n);
    base[n] = '\0';
    return MIA_OK;
}

mia_status mia_batch_opts_set_derived(mia_batch_opts *o, mia_derived_kind kind, uint64_t seed)
{
    mia__error_begin();
    MIA_CHECK_ARG(o != NULL, "opts is NULL");
    static const uint32_t flags[4] = {MIA_BATCH_NORMALIZE, MIA_BATCH_NORMALIZE | MIA_BATCH_PERMUTE,
                                      MIA_BATCH_NORMALIZE | MIA_BATCH_SCALE_255,
                                      MIA_BATCH_NORMALIZE | MIA_BATCH_UNNORMALIZE};
    MIA_CHECK_ARG((int)kind >= 0 && (int)kind < 4, "derived kind %d is unknown", (int)kind);
    o->flags = flags[kind];
    o->permute_seed = seed;
    return MIA_OK;
}

/* ---- index lists ------------------------------------------------------------------------------ */

mia_status mia_indices_save_csv(const char *path, const int64_t *idx, int64_t n)
{
    mia__error_begin();
    MIA_CHECK_ARG(path != NULL, "path is NULL");
    MIA_CHECK_ARG(idx != NULL || n == 0, "idx is NULL");
    MIA_CHECK_ARG(n >= 0, "n must be >= 0");
    mia_afile *f = NULL;
    MIA_TRY(mia__afile_open(&f, path));
    mia_status st = mia__afile_printf(f, "index\n");
    for (int64_t i = 0; i < n && st == MIA_OK; i++)
        st = mia__afile_printf(f, "%lld\n", (long long)idx[i]);
    if (st != MIA_OK) {
        mia__afile_abort(f);
        return st;
    }
    return mia__afile_commit(f);
}

void mia_indices_free(int64_t *idx) { mia__free(idx); }
