/* Derived non-member sets (spec §1.1): permuted pixels and noise. "Scaled" and "No
 * Normalization" live in f32 space: see MIA_BATCH_SCALE_255 and MIA_BATCH_NORMALIZE. */
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "data/data-internal.h"
#include "dataset-impl.h"

mia_status mia_dataset_permuted(mia_dataset **out, const mia_dataset *d, uint64_t seed)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(d != NULL, "dataset is NULL");
    int64_t plane = d->h * d->w;
    int64_t *perm = mia__malloc(sizeof(int64_t) * (size_t)plane);
    if (!perm) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory for a permutation");
    mia_dataset *s = NULL;
    mia_status st = mia__dataset_clone(&s, d, "[permuted]", 1);
    if (st != MIA_OK) {
        mia__free(perm);
        return st;
    }
    size_t per = (size_t)(d->c * plane);
    for (int64_t i = 0; i < d->n; i++) {
        mia__permutation(perm, plane, seed, i);
        const uint8_t *src = d->pixels + (size_t)i * per;
        uint8_t *dst = s->pixels + (size_t)i * per;
        for (int64_t c = 0; c < d->c; c++)
            for (int64_t k = 0; k < plane; k++) dst[c * plane + k] = src[c * plane + perm[k]];
        s->labels[i] = 0;
    }
    mia__free(perm);
    mia__dataset_finish(s);
    *out = s;
    return MIA_OK;
}

mia_status mia_dataset_noise(mia_dataset **out, mia_noise_kind kind, int64_t n, int64_t c,
                             int64_t h, int64_t w, double mean, double std, uint64_t seed)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(kind == MIA_NOISE_UNIFORM || kind == MIA_NOISE_GAUSSIAN,
                  "kind %d is not a mia_noise_kind", (int)kind);
    MIA_CHECK_ARG(kind != MIA_NOISE_GAUSSIAN || (isfinite(mean) && isfinite(std) && std >= 0),
                  "mean/std must be finite and std >= 0");
    mia_dataset *s = NULL;
    MIA_TRY(mia__dataset_new(&s, n, c, h, w, 1,
                             kind == MIA_NOISE_UNIFORM ? "noise:uniform" : "noise:gaussian"));
    size_t total = (size_t)(n * c * h * w);
    mia_rng r;
    mia__rng_init(&r, seed, MIA_STREAM_NOISE);
    if (kind == MIA_NOISE_UNIFORM) {
        for (size_t k = 0; k < total; k++) s->pixels[k] = (uint8_t)(mia__rng_u32(&r) >> 24);
    } else {
        for (size_t k = 0; k < total; k++) {
            double v = nearbyint(mean + std * mia__rng_normal(&r));
            s->pixels[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    mia__dataset_finish(s);
    *out = s;
    return MIA_OK;
}
