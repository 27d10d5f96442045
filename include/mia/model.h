/**
 * @file model.h
 * @brief The paper's architectures: builders, metadata and batch prediction.
 *
 * A model is a graph (graph.h) plus what is needed to use it: architecture name, number of
 * classes, input shape and the input normalisation. Parameter names are PyTorch's state_dict
 * keys and initialisation follows PyTorch's defaults in distribution.
 * @code
 *   mia_model_opts o;
 *   mia_model_opts_init(&o);
 *   o.n_classes = 10;
 *   o.seed = 42;
 *   mia_model *m;
 *   if (mia_model_create(&m, be, "resnet18_cifar", &o) != MIA_OK) return 1;
 *   float *probs = malloc(n * 10 * sizeof *probs);
 *   mia_model_predict(m, images, MIA_PREDICT_SOFTMAX, probs);   // images: [n, 3, 32, 32]
 *   mia_model_free(m);
 * @endcode
 * Architectures: "salem_cnn" (SalemCNN_Relu), "resnet18_cifar" (kuangliu CIFAR ResNet-18),
 * "efficientnet_b0_cifar" (kuangliu CIFAR EfficientNet-B0), "resnet50" (torchvision layout, any
 * head size and input size), "mlp" (fully connected; the Salem attack model by default).
 * Thread-safety: a model is used by one thread at a time.
 */
#ifndef MIA_MODEL_H
#define MIA_MODEL_H

#include "common.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Maximum number of hidden layers of the "mlp" architecture. */
#define MIA_MODEL_MLP_MAX_HIDDEN 8
/** Maximum number of input channels with recorded normalisation. */
#define MIA_MODEL_MAX_CHANNELS 4

/** Hidden-layer activation of the "mlp" architecture. */
typedef enum mia_mlp_act {
    MIA_MLP_ACT_RELU = 0,
    MIA_MLP_ACT_TANH = 1
} mia_mlp_act;

/** Options of mia_model_create(). Initialise with mia_model_opts_init(); 0 means "the
 *  architecture's default" for the shape fields. */
typedef struct mia_model_opts {
    uint32_t struct_size; /**< set by mia_model_opts_init() */
    int32_t n_classes;    /**< outputs; default 10 (resnet50: 120, mlp: 1) */
    int32_t in_channels;  /**< default 3 (mlp: input features = in_channels * in_h * in_w) */
    int32_t in_h, in_w;   /**< default 32x32 (resnet50: 224x224, mlp: 1x1) */
    uint64_t seed;        /**< initialisation seed (stream MIA_STREAM_INIT); default 0 */
    int32_t mlp_n_hidden; /**< mlp: number of hidden layers, 0..MIA_MODEL_MLP_MAX_HIDDEN; default 1 */
    int32_t mlp_hidden[MIA_MODEL_MLP_MAX_HIDDEN]; /**< mlp: hidden widths; default {64} */
    mia_mlp_act mlp_act;  /**< mlp: hidden activation; default ReLU */
    /** Normalisation metadata of the inputs (x - mean) / std per channel, recorded with the
     *  model (the data pipeline applies it). Default mean 0, std 1 (none). */
    float mean[MIA_MODEL_MAX_CHANNELS];
    float std[MIA_MODEL_MAX_CHANNELS];
} mia_model_opts;

/** Fill @p o with defaults. Use the mia_model_opts_init() macro. Thread-safe. */
MIA_API void mia_model_opts_init_sized(mia_model_opts *o, size_t size);
#define mia_model_opts_init(o) mia_model_opts_init_sized((o), sizeof *(o))

/**
 * @brief Build and initialise a model.
 * @param[out] out caller owns; free with mia_model_free() before freeing @p be.
 * @param arch     one of the names listed by mia_model_arch_name().
 * @param opts     NULL for defaults.
 * @return MIA_OK; MIA_ERR_INVALID (unknown arch, an option out of range or an input too small
 *         for the architecture; the message names it); MIA_ERR_NOMEM; MIA_ERR_DEVICE.
 * @note The same seed gives bit-identical weights on every backend.
 */
MIA_API mia_status mia_model_create(mia_model **out, mia_backend *be, const char *arch,
                                    const mia_model_opts *opts);

/** Free @p m. Accepts NULL. */
MIA_API void mia_model_free(mia_model *m);

/** Number of architectures known to mia_model_create(). Thread-safe. */
MIA_API size_t mia_model_arch_count(void);

/** Name of architecture @p i, NULL if out of range. Static text. Thread-safe. */
MIA_API const char *mia_model_arch_name(size_t i);

/** One-line description of architecture @p i, NULL if out of range. Static text. */
MIA_API const char *mia_model_arch_description(size_t i);

/**
 * @brief Trainable parameter count of @p arch with @p opts (NULL: defaults), without
 *        allocating its tensors (for listings such as `mia-train --list-archs`).
 * @return MIA_OK; MIA_ERR_INVALID as mia_model_create(); MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_model_arch_param_count(int64_t *out, const char *arch,
                                              const mia_model_opts *opts);

/** Borrowed: the model's graph (parameters, forward/backward); lives as long as @p m. */
MIA_API mia_graph *mia_model_graph(const mia_model *m);
/** Borrowed: the architecture name. */
MIA_API const char *mia_model_arch(const mia_model *m);
/** Number of outputs (classes). */
MIA_API int32_t mia_model_n_classes(const mia_model *m);
/** Input shape per sample: writes {C, H, W} (mlp: {features, 1, 1}). */
MIA_API void mia_model_input_shape(const mia_model *m, int64_t out[3]);
/** Trainable parameter count (PyTorch sum of numel over parameters()). */
MIA_API int64_t mia_model_n_params(const mia_model *m);
/** Normalisation metadata: copies in_channels (<= MIA_MODEL_MAX_CHANNELS) means and stds. */
MIA_API void mia_model_normalization(const mia_model *m, float *mean, float *std);
/** Record the normalisation metadata (@p n = input channels values each).
 *  @return MIA_OK; MIA_ERR_INVALID (n differs from in_channels, or std <= 0). */
MIA_API mia_status mia_model_set_normalization(mia_model *m, int n, const float *mean,
                                               const float *std);

/** What mia_model_predict() returns. */
typedef enum mia_predict_kind {
    MIA_PREDICT_LOGITS = 0,  /**< raw outputs */
    MIA_PREDICT_SOFTMAX = 1  /**< softmax over the classes */
} mia_predict_kind;

/**
 * @brief Eval-mode forward of a batch, results copied to host memory.
 * @param x    f32 [N, C, H, W] (mlp: [N, features]) on any backend (copied if it is not the
 *             model's).
 * @param out  host buffer of N * n_classes floats, row-major.
 * @return MIA_OK; MIA_ERR_INVALID (shape, dtype, NULL); MIA_ERR_NOMEM; MIA_ERR_DEVICE.
 * @note Does not change BN running statistics; invalidates a pending backward.
 */
MIA_API mia_status mia_model_predict(mia_model *m, const mia_tensor *x, mia_predict_kind kind,
                                     float *out);


/* ---- files (safetensors, PyTorch state_dict keys) ---------------------------------------- */

/**
 * @brief Write every parameter and buffer of @p m to a safetensors file at @p path (atomically).
 *
 * Tensor names are the PyTorch state_dict keys; num_batches_tracked is an I64 scalar (shape []),
 * everything else f32. `__metadata__` records "format" = "pt", "mia_arch", "mia_n_classes",
 * "mia_input_shape" ("C,H,W"), "mia_mean", "mia_std" (comma-separated) and, for mlp,
 * "mia_mlp_hidden" and "mia_mlp_act".
 * @return MIA_OK; MIA_ERR_INVALID; MIA_ERR_IO (message names the path); MIA_ERR_NOMEM;
 *         MIA_ERR_DEVICE.
 */
MIA_API mia_status mia_model_save(mia_model *m, const char *path);

/**
 * @brief Create a model from a file written by mia_model_save() (architecture and shapes from
 *        its metadata), then load its weights.
 * @param[out] out caller owns; NULL on failure.
 * @return MIA_OK; MIA_ERR_IO; MIA_ERR_FORMAT (malformed file or metadata, names the key);
 *         MIA_ERR_MISMATCH (a tensor missing, unexpected or of the wrong shape; names it);
 *         MIA_ERR_NUMERIC (non-finite weights); MIA_ERR_NOMEM; MIA_ERR_DEVICE.
 */
MIA_API mia_status mia_model_load(mia_model **out, mia_backend *be, const char *path);

/**
 * @brief Load the weights of a safetensors state_dict (e.g. converted from a PyTorch .pt) into
 *        an existing model, strictly: every key of the model must be present with its shape
 *        (a scalar num_batches_tracked may be [] or [1]; f32 or I64 respectively) and no other
 *        key may exist. Metadata is ignored. On failure the model's weights are unspecified.
 * @return as mia_model_load().
 */
MIA_API mia_status mia_model_load_weights(mia_model *m, const char *path);

#ifdef __cplusplus
}
#endif
#endif
