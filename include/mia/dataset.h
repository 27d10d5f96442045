/**
 * @file dataset.h
 * @brief Image datasets: loaders for the paper's on-disk formats, offline sets, splits,
 *        derived non-member sets, f32 batches and manifest verification.
 *
 * A mia_dataset holds decoded u8 images (N, C, H, W; every image has the same geometry),
 * int32 labels (-1 = unlabelled), optional class names, a description of its source and a
 * SHA-256 content hash. Datasets are immutable after loading: every accessor is thread-safe,
 * and several threads may build batches from one dataset at the same time.
 * @code
 *   mia_dataset *train = NULL;
 *   if (mia_dataset_load(&train, "fashion-mnist:train", NULL) != MIA_OK)
 *       fprintf(stderr, "%s\n", mia_last_error());
 *   float *x = malloc(64 * mia_dataset_image_numel(train) * sizeof *x);
 *   int64_t idx[64]; for (int i = 0; i < 64; i++) idx[i] = i;
 *   mia_dataset_batch_f32(train, idx, 64, x, NULL, NULL);   // [0,1], NCHW
 *   mia_dataset_free(train);
 * @endcode
 */
#ifndef MIA_DATASET_H
#define MIA_DATASET_H

#include "common.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- loading -------------------------------------------------------------------------------- */

/** Options for every loader. Initialise with mia_dataset_load_opts_init(). */
typedef struct mia_dataset_load_opts {
    uint32_t struct_size;   /**< set by mia_dataset_load_opts_init() */
    int64_t max_images;     /**< read at most this many records (0 = all) */
    uint64_t max_bytes;     /**< cap on decoded pixel bytes (default 2^34) */
    bool cifar100_coarse;   /**< CIFAR-100: use the 20 coarse labels instead of the 100 fine */
    const char *data_dir;   /**< named offline sets: cache directory (NULL = $MIA_DATA_DIR,
                                 else $XDG_CACHE_HOME/libmia, else ~/.cache/libmia) */
} mia_dataset_load_opts;

/** Fill @p o with defaults; @p size is sizeof(*o) (use the macro). */
MIA_API void mia_dataset_load_opts_init_sized(mia_dataset_load_opts *o, size_t size);
#define mia_dataset_load_opts_init(o) mia_dataset_load_opts_init_sized((o), sizeof *(o))

/**
 * @brief Load a dataset described by a spec string.
 *
 * Specs (PATH may be a directory or, where noted, an archive read without extracting):
 * - `idx:IMAGES[,LABELS]`: IDX files, optionally .gz. IMAGES has 3 dims (N,H,W; C = 1) or 4
 *   dims (N,C,H,W); u8 only. LABELS is a 1-dim u8 IDX file with N entries.
 * - `cifar10:PATH[:train|test]`, `cifar100:PATH[:train|test]`: the binary version; PATH is
 *   the folder with the .bin files (or its parent) or the official `*-binary.tar.gz`.
 * - `stl10:DIR[:train|test]`: `stl10_binary` folder (labels 1..10 become 0..9).
 * - `svhn:FILE.mat`: SVHN format 2 (label 10 becomes 0). Needs matio.
 * - `fashion-mnist[:train|test]`: Debian's dataset-fashion-mnist
 *   (/usr/share/datasets/fashion-mnist, override with $MIA_FASHION_MNIST_DIR).
 * - `mnist-opencv`, `sklearn-digits`, `skimage-patches`: offline sets prepared by
 *   scripts/fetch-offline-data.sh into the cache directory (see opts->data_dir).
 * - `stl10:FILE.tar.gz[:train|test]`: STL-10 straight from the official stl10_binary.tar.gz
 *   (streamed; reading stops once the split's files were found).
 * - `folder:DIR[:HxW][:gray|rgb]`: torchvision ImageFolder (classes = sorted subfolders, files
 *   sorted, PNG/JPEG decoded like PIL's convert("RGB"/"L")). With HxW every image is resized
 *   (PIL bilinear, antialias: torchvision Resize((H, W))); without it all images must share
 *   the first image's size. Default rgb.
 * - `afhq:PATH[:train|val[:CLASS]][:HxW][:gray|rgb]`: AFHQ v1 from the folder (holding
 *   afhq/<split>/ or <split>/) or afhq.zip (read in place); classes cat=0, dog=1, wild=2;
 *   CLASS keeps only that class (labels unchanged). Default split train, original size.
 * - `stanford-dogs:DIR[:train|test|all][:S|:HxW]`: DIR holds images.tar and lists.tar
 *   (official archives, read in place). Labels as the paper (spec §1.3): ImageFolder index of
 *   the breed folder in images.tar (0..119); order = ImageFolder order. `all` (the default,
 *   like the paper's all_data=True) keeps all 20,580 images; train/test keep the files of
 *   train_list.mat / test_list.mat. Each JPEG is decoded and sized as the paper's pipelines do:
 *   `:S` = Resize(S) + CenterCrop(S) (the Dogs eval transform; default S = 224), `:HxW` =
 *   Resize((H, W)) (the CIFAR pipeline's squash, e.g. `:32x32`). Training augmentation
 *   (rotation before the resize) cannot be reproduced from stored pixels: store a larger size.
 * PATH may contain ':'; options are recognised from the right. The split defaults to train
 * (Stanford Dogs: all). A `+KIND` derived-set suffix (e.g. `fashion-mnist:test+permuted`) is
 * rejected here: split it off with mia_dataset_spec_derived() (see mia_derived_kind).
 * @param[out] out caller owns; free with mia_dataset_free(). NULL on failure.
 * @param opts NULL for defaults.
 * @return MIA_OK; MIA_ERR_INVALID (bad spec); MIA_ERR_IO (missing file, named);
 *         MIA_ERR_FORMAT (malformed file: message names file, offset and problem);
 *         MIA_ERR_UNSUPPORTED (e.g. built without matio); MIA_ERR_NOMEM.
 * @note Thread-safe (no shared state).
 */
MIA_API mia_status mia_dataset_load(mia_dataset **out, const char *spec,
                                    const mia_dataset_load_opts *opts);

/** Splits of datasets that have them. */
typedef enum mia_data_split {
    MIA_DATA_TRAIN = 0,
    MIA_DATA_TEST = 1
} mia_data_split;

/** IDX images (+ optional labels, may be NULL). Same rules as the `idx:` spec. */
MIA_API mia_status mia_dataset_load_idx(mia_dataset **out, const char *images_path,
                                        const char *labels_path,
                                        const mia_dataset_load_opts *opts);
/** CIFAR-10 (@p classes = 10) or CIFAR-100 (100) binary, from a folder or the .tar.gz. */
MIA_API mia_status mia_dataset_load_cifar(mia_dataset **out, int classes, const char *path,
                                          mia_data_split split,
                                          const mia_dataset_load_opts *opts);
/** STL-10 binary folder (train_X.bin/train_y.bin, test_*.bin, class_names.txt). */
MIA_API mia_status mia_dataset_load_stl10(mia_dataset **out, const char *dir,
                                          mia_data_split split,
                                          const mia_dataset_load_opts *opts);
/** SVHN train_32x32.mat / test_32x32.mat (MAT v5 through matio; v7.3/HDF5 is refused). */
MIA_API mia_status mia_dataset_load_svhn(mia_dataset **out, const char *path,
                                         const mia_dataset_load_opts *opts);

/**
 * @brief Stanford Dogs split list (train_list.mat, test_list.mat or file_list.mat), read from
 *        a folder holding the .mat files or straight from lists.tar.
 *
 * Labels follow the paper (spec §1.3): the index of the breed folder (first path component)
 * in the sorted list of all breed folders seen in @p list_name, 0-based — which equals
 * ImageFolder's index when the list covers every breed — not the 1-based .mat labels.
 * @param list_name "train_list.mat", "test_list.mat" or "file_list.mat".
 * @param[out] files_out n_out paths relative to Images/ (one allocation: free with
 *             mia_dogs_list_free()).
 * @param[out] labels_out n_out labels (freed by mia_dogs_list_free()).
 */
MIA_API mia_status mia_dogs_list_load(char ***files_out, int32_t **labels_out, int64_t *n_out,
                                      const char *lists_path, const char *list_name);
/** Free what mia_dogs_list_load() returned. Accepts NULLs. */
MIA_API void mia_dogs_list_free(char **files, int32_t *labels, int64_t n);

/** Free @p d. Accepts NULL. */
MIA_API void mia_dataset_free(mia_dataset *d);

/* ---- accessors (all thread-safe, never fail on a valid handle) ------------------------------ */

/** Number of images. */
MIA_API int64_t mia_dataset_n(const mia_dataset *d);
/** Channels of every image. */
MIA_API int64_t mia_dataset_channels(const mia_dataset *d);
/** Height of every image. */
MIA_API int64_t mia_dataset_height(const mia_dataset *d);
/** Width of every image. */
MIA_API int64_t mia_dataset_width(const mia_dataset *d);
/** C*H*W. */
MIA_API int64_t mia_dataset_image_numel(const mia_dataset *d);
/** Number of classes (0 for unlabelled data). */
MIA_API int64_t mia_dataset_n_classes(const mia_dataset *d);
/** Borrowed name of class @p k (lives as long as @p d); NULL if unknown or out of range. */
MIA_API const char *mia_dataset_class_name(const mia_dataset *d, int64_t k);
/** Label of image @p i (-1 = unlabelled or @p i out of range). */
MIA_API int32_t mia_dataset_label(const mia_dataset *d, int64_t i);
/** Borrowed pointer to the u8 CHW pixels of image @p i; NULL when out of range. */
MIA_API const uint8_t *mia_dataset_pixels(const mia_dataset *d, int64_t i);
/** Borrowed description of where the data came from (e.g. "cifar10:/data/x.tar.gz:test"). */
MIA_API const char *mia_dataset_source(const mia_dataset *d);
/** SHA-256 of the pixels then the labels (int32 little-endian), as 64 hex digits + NUL. */
MIA_API void mia_dataset_hash_hex(const mia_dataset *d, char out[65]);

/* ---- new datasets from old ones --------------------------------------------------------------- */

/** Copy of the images @p idx[0..n) of @p d, in that order (repeats allowed). n >= 1. */
MIA_API mia_status mia_dataset_subset(mia_dataset **out, const mia_dataset *d,
                                      const int64_t *idx, int64_t n);
/** @p a followed by @p b. Same geometry required (MIA_ERR_MISMATCH). Class names come from
 *  the one with more classes. */
MIA_API mia_status mia_dataset_concat(mia_dataset **out, const mia_dataset *a,
                                      const mia_dataset *b);
/** Copy of @p d with every label set to @p label (the paper labels derived sets 0). */
MIA_API mia_status mia_dataset_relabel(mia_dataset **out, const mia_dataset *d, int32_t label);
/**
 * @brief Copy of @p d whose image i gets label @p labels[i] (label noise, random-label
 *        memorisation controls). @p labels holds mia_dataset_n(d) entries, each in
 *        [0, n_classes); class names are kept.
 * @param[out] out caller owns; free with mia_dataset_free(). NULL on failure.
 * @return MIA_OK; MIA_ERR_INVALID (names the first bad label); MIA_ERR_NOMEM.
 * @note Thread-safe: reads @p d only.
 */
MIA_API mia_status mia_dataset_with_labels(mia_dataset **out, const mia_dataset *d,
                                           const int32_t *labels);

/**
 * @brief "Permuted" non-member set on u8 pixels: image i gets its own permutation of the H*W
 *        pixel positions, shared by its channels (spec §1.1 permute_pixels), drawn from Philox
 *        (seed, MIA_STREAM_NOISE, i). Labels become 0. Use this when no resize happens between
 *        the dataset and the model; otherwise use MIA_BATCH_PERMUTE, which permutes after the
 *        transform.
 */
MIA_API mia_status mia_dataset_permuted(mia_dataset **out, const mia_dataset *d, uint64_t seed);

/** Noise kinds for mia_dataset_noise(). */
typedef enum mia_noise_kind {
    MIA_NOISE_UNIFORM = 0,  /**< every byte uniform in 0..255 */
    MIA_NOISE_GAUSSIAN = 1  /**< clamp(round(mean + std*N(0,1)), 0, 255) */
} mia_noise_kind;
/** @p n noise images of geometry (c, h, w), label 0, from Philox (seed, MIA_STREAM_NOISE).
 *  @p mean and @p std (u8 units) are used by MIA_NOISE_GAUSSIAN only. */
MIA_API mia_status mia_dataset_noise(mia_dataset **out, mia_noise_kind kind, int64_t n,
                                     int64_t c, int64_t h, int64_t w, double mean, double std,
                                     uint64_t seed);

/* ---- f32 batches ------------------------------------------------------------------------------ */

/**
 * @brief Per-image transform hook (resize, crop, flip, ... — see transform.h).
 *
 * Called once per image with the u8 CHW source. It writes out_c*out_h*out_w floats in CHW
 * order, scaled to [0,1] like ToTensor (normalisation is applied afterwards by the batch).
 * @p index is the image's index in the dataset and @p slot its position in the batch (for
 * per-image randomness keyed by (seed, epoch, index)). Must be thread-safe if the caller builds
 * batches from several threads. Return MIA_OK or an error recorded with a message.
 */
typedef mia_status (*mia_image_transform_fn)(float *dst, int64_t out_c, int64_t out_h,
                                             int64_t out_w, const uint8_t *src, int64_t c,
                                             int64_t h, int64_t w, int64_t index,
                                             int64_t slot, void *user_data);

/** Flags of mia_batch_opts.flags. Applied in this order after ToTensor + transform. */
enum {
    MIA_BATCH_NORMALIZE = 1u << 0, /**< (x - mean[c]) / std[c] */
    MIA_BATCH_PERMUTE = 1u << 1,   /**< derived set "Permuted": per-image pixel permutation
                                        keyed by (permute_seed, image index) */
    MIA_BATCH_SCALE_255 = 1u << 2, /**< derived set "Scaled": the (normalised) tensor × 255 */
    MIA_BATCH_UNNORMALIZE = 1u << 3 /**< derived set "No Normalization", paper-exact: after
                                         MIA_BATCH_NORMALIZE, apply the inverse Normalize(
                                         mean = -mean/std, std = 1/std) in float32, i.e.
                                         (y - f32(-mean/std)) / f32(1/std) with the constants
                                         computed in double (Python) then rounded. Requires
                                         MIA_BATCH_NORMALIZE. */
};
/* "No Normalization" (un-normalised) = MIA_BATCH_NORMALIZE | MIA_BATCH_UNNORMALIZE (exactly the
 * paper's round trip), or approximately a batch without MIA_BATCH_NORMALIZE (x / 255, which
 * differs from the round trip in the last float bit for some pixels). */

/** Options for mia_dataset_batch_f32(). Initialise with mia_batch_opts_init(). */
typedef struct mia_batch_opts {
    uint32_t struct_size;
    uint32_t flags;                  /**< MIA_BATCH_* (default 0: plain [0,1] ToTensor) */
    float mean[4], std[4];           /**< per channel, used with MIA_BATCH_NORMALIZE */
    uint64_t permute_seed;           /**< used with MIA_BATCH_PERMUTE */
    int64_t out_h, out_w;            /**< output size (0 = the dataset's) ; needs a transform
                                          when it differs */
    mia_image_transform_fn transform; /**< NULL: plain ToTensor (x/255) */
    void *transform_user_data;
} mia_batch_opts;

/** Defaults: no flags, mean 0, std 1, no transform. */
MIA_API void mia_batch_opts_init_sized(mia_batch_opts *o, size_t size);
#define mia_batch_opts_init(o) mia_batch_opts_init_sized((o), sizeof *(o))

/**
 * @brief Build an f32 NCHW host batch of the images @p idx[0..n).
 * @param dst n*C*out_h*out_w floats, caller-owned.
 * @param labels_out n labels, or NULL.
 * @return MIA_OK; MIA_ERR_INVALID (index out of range: named; bad opts); errors of the hook.
 * @note Thread-safe for concurrent calls on the same dataset (if the hook is).
 */
MIA_API mia_status mia_dataset_batch_f32(const mia_dataset *d, const int64_t *idx, int64_t n,
                                         float *dst, int32_t *labels_out,
                                         const mia_batch_opts *opts);

/* ---- the paper's derived non-member sets, by name ------------------------------------------ */

/**
 * The paper's derived non-member sets (spec §1.1): built from an existing set (the target's
 * non-members) at batch time, after the model's transform and normalisation, exactly as
 * create_permuted_dataset / create_scaled_dataset / create_un_normalized_dataset do.
 *
 * Configs name them with these strings (mia_derived_from_name()), or append them to a dataset
 * spec with '+': `"fashion-mnist:test+permuted"`, `"cifar10:/data/c10.tar.gz:test+scaled"`
 * (mia_dataset_spec_derived() splits the suffix off; mia_dataset_load() itself rejects it,
 * because the u8 dataset cannot hold a scaled or un-normalised set). Then the batches of that
 * set are built with mia_batch_opts_set_derived(). Labels of derived sets are 0 in the paper:
 * use mia_dataset_relabel() if the labels matter.
 */
typedef enum mia_derived_kind {
    MIA_DERIVED_NONE = 0,         /**< "original": plain normalised batches */
    MIA_DERIVED_PERMUTED = 1,     /**< "permuted": one pixel permutation per image, shared by
                                       its channels, applied to the normalised tensor */
    MIA_DERIVED_SCALED = 2,       /**< "scaled": the normalised tensor × 255 */
    MIA_DERIVED_UNNORMALIZED = 3  /**< "unnormalized" (also "un-normalised", "no-normalization"):
                                       inverse-normalised normalised tensor (≈ x / 255) */
} mia_derived_kind;

/** Parse a derived-set name ("original"/"none", "permuted", "scaled", "unnormalized",
 *  "unnormalised", "un-normalised", "un-normalized", "no-normalization"; case-sensitive).
 *  @return MIA_OK; MIA_ERR_INVALID naming @p name and listing the accepted names. */
MIA_API mia_status mia_derived_from_name(const char *name, mia_derived_kind *out);
/** Canonical name of @p k ("original", "permuted", "scaled", "unnormalized"); static text,
 *  "unknown" for an invalid value. */
MIA_API const char *mia_derived_name(mia_derived_kind k);
/**
 * @brief Split an optional "+KIND" suffix off a dataset spec.
 * @param base receives the spec without the suffix (NUL-terminated; @p cap bytes).
 * @param[out] kind MIA_DERIVED_NONE when there is no (recognised) suffix.
 * @return MIA_OK; MIA_ERR_INVALID when @p base is too small or an argument is NULL.
 */
MIA_API mia_status mia_dataset_spec_derived(const char *spec, char *base, size_t cap,
                                            mia_derived_kind *kind);
/**
 * @brief Set the flags of @p o for derived set @p kind. @p o's mean/std must already hold the
 *        model's normalisation (they are used by every kind); @p seed keys the permutations.
 *        NONE → NORMALIZE; PERMUTED → NORMALIZE|PERMUTE; SCALED → NORMALIZE|SCALE_255;
 *        UNNORMALIZED → NORMALIZE|UNNORMALIZE. Other flags are cleared.
 * @return MIA_OK; MIA_ERR_INVALID for a NULL @p o or an unknown kind.
 */
MIA_API mia_status mia_batch_opts_set_derived(mia_batch_opts *o, mia_derived_kind kind,
                                              uint64_t seed);

/* ---- splits ------------------------------------------------------------------------------------ */

/** Which random-number family draws the splits. */
typedef enum mia_split_rng {
    MIA_SPLIT_RNG_PHILOX = 0, /**< libmia's counter RNG (default) */
    MIA_SPLIT_RNG_TORCH = 1   /**< paper-exact for random splits: torch.manual_seed(seed) +
                                   randperm (MT19937, spec §1.1 [ext]); stratified draws
                                   still use Philox */
} mia_split_rng;

/**
 * @brief A random permutation-based split of 0..n-1: @p first gets n_first indices, @p second
 *        the next n_second (like random_split / first part of randperm).
 * @param second may be NULL when n_second is 0.
 */
MIA_API mia_status mia_split_random(int64_t *first, int64_t n_first, int64_t *second,
                                    int64_t n_second, int64_t n, uint64_t seed,
                                    mia_split_rng rng);

/**
 * @brief Seeded stratified subsample: @p k indices of 0..n-1 keeping class proportions.
 *
 * Per-class counts follow the largest-remainder rule (ties to the lower class), then each
 * class contributes a seeded random choice; the result is sorted ascending then shuffled with
 * the same seed. Labels must be >= 0.
 */
MIA_API mia_status mia_split_stratified(int64_t *out, int64_t k, const int32_t *labels,
                                        int64_t n, uint64_t seed);

/** Options of the target/shadow/member/non-member split (spec §1.2 steps 3-5). */
typedef struct mia_split_opts {
    uint32_t struct_size;
    uint64_t seed;              /**< pools (default 42, the paper's SEED) */
    uint64_t member_seed;       /**< member / non-member draws (default 0: spec §1.2 step 5) */
    int64_t train_size;         /**< per model (default 12500) */
    int64_t test_size;          /**< per model (default 5000) */
    int64_t attack_size;        /**< members and non-members per model (default 2500) */
    bool stratify_pool;         /**< class-balanced 2*train_size pool (default true) */
    bool stratify_target_shadow;/**< stratify the target/shadow split; the paper does not
                                     (quirk §10.1, default false) */
    mia_split_rng rng;          /**< default MIA_SPLIT_RNG_PHILOX */
} mia_split_opts;
MIA_API void mia_split_opts_init_sized(mia_split_opts *o, size_t size);
#define mia_split_opts_init(o) mia_split_opts_init_sized((o), sizeof *(o))

/** Parts of a mia_split. Indices point into the original train or test dataset. */
typedef enum mia_split_part {
    MIA_PART_TARGET_TRAIN = 0,  /**< into train */
    MIA_PART_SHADOW_TRAIN = 1,  /**< into train */
    MIA_PART_TARGET_TEST = 2,   /**< into test */
    MIA_PART_SHADOW_TEST = 3,   /**< into test */
    MIA_PART_MEMBER_TARGET = 4, /**< into train, subset of TARGET_TRAIN */
    MIA_PART_NON_MEMBER_TARGET = 5, /**< into test, subset of TARGET_TEST */
    MIA_PART_MEMBER_SHADOW = 6,
    MIA_PART_NON_MEMBER_SHADOW = 7,
    MIA_PART_COUNT_ = 8
} mia_split_part;

typedef struct mia_split mia_split;

/**
 * @brief The paper's split: stratified pool of 2*train_size from @p train, split 50/50 into
 *        target/shadow train; test pool = all of @p test if it has <= 2*test_size images,
 *        else a 2*test_size random subsample; split into target/shadow test; then
 *        attack_size members / non-members drawn from each (first attack_size of a
 *        permutation with member_seed).
 * @param[out] out free with mia_split_free().
 * @return MIA_OK; MIA_ERR_INVALID when sizes do not fit (named); MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_split_create(mia_split **out, const mia_dataset *train,
                                    const mia_dataset *test, const mia_split_opts *opts);
/** Borrowed index array of @p part; *n_out gets its length. NULL for an invalid part. */
MIA_API const int64_t *mia_split_indices(const mia_split *s, mia_split_part part,
                                         int64_t *n_out);
/** Lower-case name of @p part ("member_target", ...). Static text. */
MIA_API const char *mia_split_part_name(mia_split_part part);
/** Write every part as `<dir>/<part>.csv` (header "index", one index per line), atomically. */
MIA_API mia_status mia_split_save(const mia_split *s, const char *dir);
/** Free @p s. Accepts NULL. */
MIA_API void mia_split_free(mia_split *s);

/** Write an index list as CSV ("index" header, CRLF-free, one per line), atomically. */
MIA_API mia_status mia_indices_save_csv(const char *path, const int64_t *idx, int64_t n);

/**
 * @brief Exact duplicates across a member/non-member boundary, by pixel hash (confirmed
 *        byte by byte). For each image of set B (@p b, @p idx_b) equal to some image of set A,
 *        one pair (index into A's list position, index into B's list position) is written.
 * @param[out] pairs_out 2*n_pairs int64 (pos_a, pos_b), mia__free'd with mia_indices_free();
 *             NULL when there are none.
 * Geometry must match (MIA_ERR_MISMATCH).
 */
MIA_API mia_status mia_dataset_find_duplicates(int64_t **pairs_out, int64_t *n_pairs,
                                               const mia_dataset *a, const int64_t *idx_a,
                                               int64_t na, const mia_dataset *b,
                                               const int64_t *idx_b, int64_t nb);
/** Free an index array returned by libmia. Accepts NULL. */
MIA_API void mia_indices_free(int64_t *idx);

/* ---- manifests ---------------------------------------------------------------------------------- */

/** Result of checking one manifest file. */
typedef enum mia_file_check {
    MIA_FILE_OK = 0,
    MIA_FILE_MISSING = 1,
    MIA_FILE_MISMATCH = 2   /**< size or checksum differs */
} mia_file_check;

typedef struct mia_manifest_report mia_manifest_report;

/**
 * @brief Check the files of a data manifest (data-manifests/NAME.json) in @p data_dir.
 *
 * For each file it checks existence, size, SHA-256, MD5 and the MD5 of the gunzipped content
 * where the manifest gives them (all given ones must match; "md5_alt" lists accepted
 * alternatives). The call succeeds when the report could be built, whatever the files' state.
 * @return MIA_OK; MIA_ERR_IO / MIA_ERR_FORMAT for an unreadable or malformed manifest.
 */
MIA_API mia_status mia_manifest_verify(mia_manifest_report **out, const char *manifest_path,
                                       const char *data_dir);
/** Number of files in the report. */
MIA_API int64_t mia_manifest_report_count(const mia_manifest_report *r);
/** Borrowed file name of entry @p i (NULL when out of range). */
MIA_API const char *mia_manifest_report_name(const mia_manifest_report *r, int64_t i);
/** Check result of entry @p i. */
MIA_API mia_file_check mia_manifest_report_status(const mia_manifest_report *r, int64_t i);
/** Borrowed human-readable detail of entry @p i ("ok", "missing", "sha256 mismatch: ..."). */
MIA_API const char *mia_manifest_report_detail(const mia_manifest_report *r, int64_t i);
/** True when every entry is MIA_FILE_OK. */
MIA_API bool mia_manifest_report_ok(const mia_manifest_report *r);
/** Free @p r. Accepts NULL. */
MIA_API void mia_manifest_report_free(mia_manifest_report *r);

#ifdef __cplusplus
}
#endif
#endif
