/**
 * @file transform.h
 * @brief Batch-time image transforms: torchvision's PIL pipeline, reproduced exactly, seeded.
 *
 * A mia_transform applies, in this order (each step optional):
 * RandomRotation(degrees) -> Resize -> [pad] RandomCrop / CenterCrop -> RandomHorizontalFlip(p)
 * -> grayscale-to-RGB -> ToTensor (x / 255) -> Normalize(mean, std).
 * Resize is PIL bilinear with antialias, bit-exact to Pillow 9.4 (what torchvision uses for PIL
 * images); rotation is PIL's nearest rotate with fill 0; CenterCrop uses torchvision's offsets.
 * The random choices of image @c index in epoch @c epoch come from Philox keyed by
 * (seed, epoch, index) only, so a batch is identical whatever the order, batch composition or
 * thread count.
 * @code
 *   // Stanford Dogs training augmentation (spec §1): RandomRotation(20), Resize(230),
 *   // RandomCrop(224), RandomHorizontalFlip(0.5), ToTensor, ImageNet Normalize.
 *   mia_transform_opts o;
 *   mia_transform_opts_init(&o);
 *   o.seed = 42;
 *   o.rotate_degrees = 20;
 *   o.resize_shorter = 230;
 *   o.crop_h = o.crop_w = 224;
 *   o.hflip_p = 0.5f;
 *   mia_transform_set_normalize(&o, MIA_NORM_IMAGENET);
 *   mia_transform *t;
 *   if (mia_transform_create(&t, &o) != MIA_OK) { ... mia_last_error() ... }
 *   mia_transform_batch(t, ds, idx, 64, epoch, x, labels);   // x: 64*3*224*224 floats
 *   mia_transform_free(t);
 * @endcode
 */
#ifndef MIA_TRANSFORM_H
#define MIA_TRANSFORM_H

#include "common.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mia_transform mia_transform;

/** Normalisation constants of the paper (spec §1). */
typedef enum mia_norm_preset {
    MIA_NORM_CIFAR10 = 0,  /**< mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616) */
    MIA_NORM_IMAGENET = 1  /**< mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225) (Dogs) */
} mia_norm_preset;

/** Options of mia_transform_create(). Initialise with mia_transform_opts_init(). */
typedef struct mia_transform_opts {
    uint32_t struct_size;   /**< set by mia_transform_opts_init() */
    uint64_t seed;          /**< key of every random choice (default 0) */
    double rotate_degrees;  /**< RandomRotation: angle uniform in [-d, d]; 0 = off */
    int64_t resize_shorter; /**< Resize(int): shorter side -> this, longer side
                                 int(size * long / short); 0 = off */
    int64_t resize_h, resize_w; /**< Resize((h, w)); 0 = off. Exclusive with resize_shorter */
    int64_t crop_h, crop_w; /**< crop to this size; 0 = no crop */
    int64_t crop_padding;   /**< RandomCrop(padding=p): p zero pixels on every side first */
    bool center_crop;       /**< CenterCrop (deterministic) instead of RandomCrop */
    float hflip_p;          /**< RandomHorizontalFlip(p); 0 = off */
    bool gray_to_rgb;       /**< 1-channel images become 3 identical channels */
    bool normalize;         /**< apply (x - mean[c]) / std[c] after x / 255 */
    float mean[4], std[4];  /**< per channel (first C used) */
} mia_transform_opts;

/** Defaults: everything off (plain ToTensor), seed 0, mean 0, std 1. */
MIA_API void mia_transform_opts_init_sized(mia_transform_opts *o, size_t size);
#define mia_transform_opts_init(o) mia_transform_opts_init_sized((o), sizeof *(o))

/** Turn on normalisation with the paper's constants for @p preset. Accepts an unknown preset
 *  by leaving @p o unchanged. */
MIA_API void mia_transform_set_normalize(mia_transform_opts *o, mia_norm_preset preset);

/**
 * @brief Create a transform pipeline.
 * @param[out] out caller owns; free with mia_transform_free(). NULL on failure.
 * @param opts NULL = defaults (identity ToTensor).
 * @return MIA_OK; MIA_ERR_INVALID naming the field (negative sizes, both resize forms, std 0,
 *         hflip_p outside [0,1], rotate_degrees < 0 or > 360); MIA_ERR_NOMEM.
 * @note The transform is immutable after creation except for the epoch of the hook
 *       (mia_transform_set_epoch()); concurrent calls of mia_transform_image/batch are safe.
 */
MIA_API mia_status mia_transform_create(mia_transform **out, const mia_transform_opts *opts);

/** Free @p t. Accepts NULL. */
MIA_API void mia_transform_free(mia_transform *t);

/**
 * @brief Output geometry for an input of (c, h, w).
 * @return MIA_OK; MIA_ERR_INVALID when the crop does not fit the (padded, resized) image or a
 *         dimension is < 1.
 */
MIA_API mia_status mia_transform_output_shape(const mia_transform *t, int64_t c, int64_t h,
                                              int64_t w, int64_t *out_c, int64_t *out_h,
                                              int64_t *out_w);

/**
 * @brief Transform one u8 CHW image into f32 CHW (including normalisation).
 * @param dst out_c*out_h*out_w floats (see mia_transform_output_shape()), caller-owned.
 * @param index the image's index in its dataset: with @p epoch, it keys the random choices.
 * @return MIA_OK; MIA_ERR_INVALID; MIA_ERR_NOMEM.
 * @note Thread-safe.
 */
MIA_API mia_status mia_transform_image(const mia_transform *t, const uint8_t *src, int64_t c,
                                       int64_t h, int64_t w, uint64_t epoch, int64_t index,
                                       float *dst);

/**
 * @brief Transform the images @p idx[0..n) of @p d into an f32 NCHW host batch.
 * @param dst n*out_c*out_h*out_w floats, caller-owned.
 * @param labels_out n labels, or NULL.
 * @return MIA_OK; MIA_ERR_INVALID (index out of range: named; crop too large); MIA_ERR_NOMEM.
 * @note Thread-safe (read-only on @p t and @p d).
 */
MIA_API mia_status mia_transform_batch(const mia_transform *t, const mia_dataset *d,
                                       const int64_t *idx, int64_t n, uint64_t epoch,
                                       float *dst, int32_t *labels_out);

/** Epoch used by mia_transform_hook() (default 0). Not thread-safe against running hooks. */
MIA_API void mia_transform_set_epoch(mia_transform *t, uint64_t epoch);

/**
 * @brief Adapter for mia_batch_opts.transform (dataset.h): @p user_data is a mia_transform*.
 *
 * Writes x / 255 after the geometric steps; normalisation is left to the batch builder
 * (MIA_BATCH_NORMALIZE), as that hook's contract says. Uses the epoch set with
 * mia_transform_set_epoch(). Fails with MIA_ERR_INVALID when out_c/out_h/out_w differ from
 * mia_transform_output_shape().
 */
MIA_API mia_status mia_transform_hook(float *dst, int64_t out_c, int64_t out_h, int64_t out_w,
                                      const uint8_t *src, int64_t c, int64_t h, int64_t w,
                                      int64_t index, int64_t slot, void *user_data);

#ifdef __cplusplus
}
#endif
#endif
