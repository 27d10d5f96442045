/**
 * @file gen.h
 * @brief Fake images: a class-conditional GAN trained on any dataset, StyleGAN2-ADA inference
 *        from converted weights, and PNG image folders with a SHA-256 manifest.
 *
 * The paper's fakes (spec §7) come from NVIDIA's StyleGAN2-ADA `cifar10` and `afhqdog` pickles;
 * convert them with tools/stylegan2-pkl-to-safetensors.py and load the result with
 * mia_stylegan2_load(). For any other dataset, train a conditional DCGAN with mia_cgan_train().
 * Both write an ImageFolder tree (DIR/Images/<class>/<%05d>.png) plus DIR/manifest.json
 * (generator, seed, psi, model hash, size and SHA-256 of every file) with
 * mia_gen_write_folder(); mia_gen_verify_folder() re-hashes the files.
 *
 * Thread-safety: a generator handle is used by one thread at a time; distinct handles are
 * independent. Lifetime: the backend outlives every handle created on it.
 */
#ifndef MIA_GEN_H
#define MIA_GEN_H

#include "common.h"
#include "log.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif


/** The paper's conversion of a generator output to pixels: u8 = (x * 127.5 + 128) clamped to
 *  [0, 255] and truncated toward zero (torch .to(uint8)). @p chw is [c, h, w] f32, @p hwc gets
 *  [h, w, c] u8. NaN maps to 0. Thread-safe. */
MIA_API void mia_gen_to_u8(const float *chw, int64_t c, int64_t h, int64_t w, uint8_t *hwc);

/* ---- class-conditional GAN ---------------------------------------------------------------- */

typedef struct mia_cgan mia_cgan;

/** Options of the conditional GAN. Initialise with mia_cgan_opts_init(). */
typedef struct mia_cgan_opts {
    uint32_t struct_size;   /**< set by mia_cgan_opts_init() */
    int32_t z_dim;          /**< latent size (default 64) */
    int32_t width;          /**< base feature maps (default 32): G 2w -> w -> C, D w -> 2w */
    int32_t batch_size;     /**< default 64 */
    int64_t steps;          /**< total optimiser steps of mia_cgan_train() (default 2000) */
    float lr;               /**< Adam learning rate of G and D (default 2e-4) */
    float beta1, beta2;     /**< Adam betas (default 0.5, 0.999) */
    uint64_t seed;          /**< initialisation and training seed (default 0) */
    const char *checkpoint; /**< safetensors checkpoint path; NULL: none. An existing file is
                                 resumed from; written atomically every checkpoint_every steps
                                 and at the end */
    int64_t checkpoint_every; /**< default 500 */
    mia_progress_fn progress; /**< stage "gan"; loss = D loss; NULL: none */
    void *progress_data;
} mia_cgan_opts;

/** Fill @p o with defaults (use the macro). Thread-safe. */
MIA_API void mia_cgan_opts_init_sized(mia_cgan_opts *o, size_t size);
#define mia_cgan_opts_init(o) mia_cgan_opts_init_sized((o), sizeof *(o))

/**
 * @brief Create a conditional DCGAN for images [channels, h, w] with @p n_classes classes.
 *
 * Generator: input [z_dim + n_classes, 1, 1] (z concatenated with the one-hot class),
 * ConvTranspose(k = h/4) - BN - ReLU - ConvTranspose(4, s2) - BN - ReLU - ConvTranspose(4, s2)
 * - tanh. Discriminator: the image concatenated with n_classes one-hot planes, Conv(4, s2) -
 * LeakyReLU(0.2) - Conv(4, s2) - BN - LeakyReLU(0.2) - Linear(1). Weights N(0, 0.02), BN
 * weight N(1, 0.02) (DCGAN), from opts->seed.
 * @param[out] out caller owns; free with mia_cgan_free(). NULL on failure.
 * @param opts NULL for defaults (copied; checkpoint string copied).
 * @return MIA_OK; MIA_ERR_INVALID (NULL argument; h != w, h not a multiple of 4 or outside
 *         [8, 64]; channels not 1 or 3; n_classes < 1; an option out of range);
 *         MIA_ERR_NOMEM; MIA_ERR_DEVICE.
 */
MIA_API mia_status mia_cgan_create(mia_cgan **out, mia_backend *be, int64_t n_classes,
                                   int64_t channels, int64_t h, int64_t w,
                                   const mia_cgan_opts *opts);

/** Free @p g. Accepts NULL. */
MIA_API void mia_cgan_free(mia_cgan *g);

/**
 * @brief Train on @p d (pixels scaled to [-1, 1]) until opts->steps steps in total.
 *
 * Non-saturating GAN loss, Adam(beta1 0.5) on both nets, one D and one G step per batch,
 * batches drawn with the seeded Philox RNG. With opts->checkpoint set, an existing checkpoint
 * is loaded first (the run resumes at its step; the result is identical to an uninterrupted
 * run) and checkpoints are written atomically.
 * @return MIA_OK; MIA_ERR_INVALID (dataset shape/classes differ from the GAN's);
 *         MIA_ERR_CANCELLED (the progress callback returned false; a checkpoint is written
 *         first when configured); MIA_ERR_IO / MIA_ERR_FORMAT (checkpoint); MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_cgan_train(mia_cgan *g, const mia_dataset *d);

/** Training steps done so far. */
MIA_API int64_t mia_cgan_step(const mia_cgan *g);

/**
 * @brief Save the full state (G, D, Adam moments, step, architecture) as safetensors,
 *        atomically. @return MIA_OK; MIA_ERR_IO naming the path; MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_cgan_save(mia_cgan *g, const char *path);

/**
 * @brief Load a GAN saved by mia_cgan_save() (its architecture comes from the file).
 * @param opts NULL for defaults; training options (steps, lr, checkpoint...) are taken from it.
 * @return MIA_OK; MIA_ERR_IO; MIA_ERR_FORMAT (not a libmia GAN file, or a tensor missing or
 *         mis-shaped: the message names it); MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_cgan_load(mia_cgan **out, mia_backend *be, const char *path,
                                 const mia_cgan_opts *opts);

/** Architecture of @p g: classes, channels, height, width (any pointer may be NULL). */
MIA_API void mia_cgan_shape(const mia_cgan *g, int64_t *n_classes, int64_t *channels,
                            int64_t *h, int64_t *w);

/**
 * @brief Generate images @p first .. @p first + @p n - 1 of class @p cls.
 *
 * Image i's latent comes from Philox(seed, stream of class cls, i) only, so a given (seed,
 * class, index) always yields the same image whatever the batching. @p truncation > 0
 * resamples latent components with |z| > truncation (truncated normal); 0 = no truncation.
 * @param hwc out: n * h * w * channels u8 (mia_gen_to_u8 of the tanh output).
 * @return MIA_OK; MIA_ERR_INVALID (class out of range, n < 0, NULL); MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_cgan_generate(mia_cgan *g, int32_t cls, int64_t first, int64_t n,
                                     uint64_t seed, float truncation, uint8_t *hwc);

/* ---- StyleGAN2-ADA inference -------------------------------------------------------------- */

typedef struct mia_stylegan2 mia_stylegan2;

/** Noise inputs of the synthesis layers. Values are persisted: never renumber. */
typedef enum mia_stylegan2_noise {
    MIA_STYLEGAN2_NOISE_RANDOM = 0, /**< fresh N(0,1) per layer from Philox(noise_seed, image) */
    MIA_STYLEGAN2_NOISE_CONST = 1,  /**< the stored noise_const buffers */
    MIA_STYLEGAN2_NOISE_NONE = 2    /**< no noise */
} mia_stylegan2_noise;

/**
 * @brief Load a generator converted by tools/stylegan2-pkl-to-safetensors.py.
 *
 * The architecture comes from the `init_kwargs` metadata (z_dim, c_dim, w_dim,
 * img_resolution, img_channels, mapping_kwargs.num_layers / lr_multiplier, synthesis_kwargs
 * channel_base, channel_max, conv_clamp, architecture = "skip"); every tensor is checked.
 * Inference runs in f32 on a host backend (ref or onednn) through its conv dispatch.
 * @param[out] out caller owns; free with mia_stylegan2_free(). NULL on failure.
 * @return MIA_OK; MIA_ERR_IO (file); MIA_ERR_FORMAT (missing/malformed init_kwargs, a missing
 *         or mis-shaped tensor: the message names the tensor and the expected shape);
 *         MIA_ERR_UNSUPPORTED (architecture other than "skip", a device backend);
 *         MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_stylegan2_load(mia_stylegan2 **out, mia_backend *be, const char *path);

/** Free @p g. Accepts NULL. */
MIA_API void mia_stylegan2_free(mia_stylegan2 *g);

/** Shape of @p g (any pointer may be NULL): z_dim, c_dim, channels, resolution. */
MIA_API void mia_stylegan2_shape(const mia_stylegan2 *g, int64_t *z_dim, int64_t *c_dim,
                                 int64_t *channels, int64_t *resolution);

/** Borrowed: SHA-256 (hex) of the weight file. */
MIA_API const char *mia_stylegan2_hash(const mia_stylegan2 *g);

/**
 * @brief Run G(z, c) as the paper does: mapping (2nd-moment normalisation, class embedding),
 *        truncation w = w_avg + psi (w - w_avg), synthesis.
 * @param z    [n, z_dim] latents.
 * @param cls  [n] class indices (one-hot c) for conditional models; NULL for unconditional.
 * @param img  out: [n, channels, res, res] f32 (before the u8 conversion).
 * @param noise_seed seed of MIA_STYLEGAN2_NOISE_RANDOM: image i's noise depends on
 *        (noise_seed, noise_index0 + i) only.
 * @return MIA_OK; MIA_ERR_INVALID (NULL, n < 1, class out of range, cls NULL for a conditional
 *         model); MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_stylegan2_generate(mia_stylegan2 *g, const float *z, int64_t n,
                                          const int32_t *cls, float psi,
                                          mia_stylegan2_noise noise, uint64_t noise_seed,
                                          int64_t noise_index0, float *img);

/* ---- image folders ------------------------------------------------------------------------ */

/** Options of mia_gen_write_folder(). Initialise with mia_gen_folder_opts_init(). */
typedef struct mia_gen_folder_opts {
    uint32_t struct_size;
    int64_t per_class;       /**< images per class (default 100) */
    uint64_t seed;           /**< default 42 (the paper's) */
    float truncation;        /**< StyleGAN2 psi (default 1.0); cGAN truncation (default 0) */
    mia_stylegan2_noise noise; /**< StyleGAN2 noise mode (default RANDOM) */
    const char *const *class_names; /**< folder names, one per class; NULL: class%d (cGAN) or
                                         the paper's names for a 10-class StyleGAN2 */
    int64_t batch;           /**< images per generator call (default 16) */
    mia_progress_fn progress; /**< stage "sample" */
    void *progress_data;
} mia_gen_folder_opts;

MIA_API void mia_gen_folder_opts_init_sized(mia_gen_folder_opts *o, size_t size);
#define mia_gen_folder_opts_init(o) mia_gen_folder_opts_init_sized((o), sizeof *(o))

/**
 * @brief Sample per_class images of every class from a cGAN (@p cgan) or a StyleGAN2 (@p sg;
 *        exactly one non-NULL) into DIR/Images/<class>/<%05d>.png, then DIR/manifest.json.
 *
 * StyleGAN2 latents: z_i ~ N(0,1) from Philox(seed, MIA_STREAM of the class, i); an
 * unconditional model gets 10 folders (the paper's GoodBoys0..9 layout for afhqdog) unless
 * class_names is given. Every PNG and the manifest are written atomically; the same inputs
 * give byte-identical files.
 * @return MIA_OK; MIA_ERR_INVALID; MIA_ERR_IO (naming the file); MIA_ERR_CANCELLED;
 *         MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_gen_write_folder(const char *dir, mia_cgan *cgan, mia_stylegan2 *sg,
                                        const mia_gen_folder_opts *opts);

/**
 * @brief Re-hash every file listed in DIR/manifest.json.
 * @param[out] n_bad number of missing or modified files (0 = all good).
 * @param first_bad optional buffer of @p cap bytes: the first bad file's relative name and
 *        what is wrong with it ("" when all are good).
 * @return MIA_OK (whatever the files' state); MIA_ERR_IO / MIA_ERR_FORMAT (manifest).
 */
MIA_API mia_status mia_gen_verify_folder(const char *dir, int64_t *n_bad, char *first_bad,
                                         size_t cap);

/** Load a written folder as a dataset (ImageFolder over DIR/Images). Same errors as the
 *  ImageFolder loader. */
MIA_API mia_status mia_gen_load_folder(mia_dataset **out, const char *dir);

#ifdef __cplusplus
}
#endif
#endif
