/**
 * @file train.h
 * @brief Training (Adam / SGD, LR schedules, label smoothing, augmentation), crash-safe
 *        checkpoints with bit-identical resume, and evaluation (accuracy, loss, ECE, OE).
 *
 * @code
 *   mia_train_opts o;
 *   mia_train_opts_init(&o);
 *   mia_train_opts_paper(&o, "salem_cnn");   // Adam, lr 0.001, batch 64, 100 epochs
 *   o.epochs = 10;
 *   o.seed = 42;
 *   o.checkpoint_dir = "run/ckpt";          // optional: checkpoints + resume
 *   o.resume = true;
 *   mia_train_result r;
 *   if (mia_train(model, train_set, &o, &r) != MIA_OK)
 *       fprintf(stderr, "%s\n", mia_last_error());
 *   mia_eval_result e;
 *   mia_evaluate(model, test_set, NULL, &e);   // e.accuracy, e.loss, e.ece, e.oe
 * @endcode
 *
 * Determinism: every random choice is counter-based (Philox) and keyed by the seed: the order
 * of epoch e is a Fisher-Yates shuffle from stream MIA_STREAM_SHUFFLE keyed by e, dropout masks
 * are keyed by the global step, augmentation by (transform seed, epoch, image index). So the
 * same seed, options, data, backend and thread count give bit-identical weights, and a run
 * resumed from a checkpoint gives the same weights as an uninterrupted one.
 *
 * Thread-safety: a call uses its model exclusively; different models may train concurrently.
 */
#ifndef MIA_TRAIN_H
#define MIA_TRAIN_H

#include "common.h"
#include "log.h"
#include "model.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mia_transform mia_transform;

/** Optimisers. Values are persisted in checkpoints: never renumber. */
typedef enum mia_optimizer {
    MIA_OPTIM_ADAM = 0, /**< torch.optim.Adam (coupled L2: grad += wd * param on all params) */
    MIA_OPTIM_SGD = 1   /**< torch.optim.SGD with momentum / dampening / nesterov */
} mia_optimizer;

/** Learning-rate schedules, applied per epoch like PyTorch's schedulers stepped once an
 *  epoch. Values are persisted: never renumber. */
typedef enum mia_lr_schedule {
    MIA_SCHEDULE_NONE = 0,  /**< constant lr (the paper) */
    MIA_SCHEDULE_STEP = 1,  /**< lr * gamma^floor(epoch / step_size) (StepLR) */
    MIA_SCHEDULE_COSINE = 2 /**< min_lr + (lr - min_lr)(1 + cos(pi epoch / epochs)) / 2
                                 (CosineAnnealingLR, T_max = epochs) */
} mia_lr_schedule;

/** Per-epoch statistics, passed to mia_train_opts.on_epoch and returned in the result. */
typedef struct mia_epoch_stats {
    int64_t epoch;          /**< 1-based */
    double train_loss;      /**< mean training loss (with label smoothing if used) */
    double train_accuracy;  /**< argmax of the training-mode outputs == label, fraction */
    double val_loss;        /**< mean cross-entropy on the validation set, NaN without one */
    double val_accuracy;    /**< NaN without a validation set */
    double lr;              /**< learning rate used in this epoch */
    double seconds;         /**< wall time of the epoch (not deterministic) */
} mia_epoch_stats;

/** Per-epoch callback. Return false to cancel the run (MIA_ERR_CANCELLED). */
typedef bool (*mia_epoch_fn)(const mia_epoch_stats *s, void *user_data);

/** Options of mia_train(). Initialise with mia_train_opts_init(). */
typedef struct mia_train_opts {
    uint32_t struct_size;        /**< set by mia_train_opts_init() */
    mia_optimizer optimizer;     /**< default MIA_OPTIM_ADAM */
    double lr;                   /**< default 0.01 (the paper, except salem_cnn: 0.001) */
    double beta1, beta2, eps;    /**< Adam; default 0.9, 0.999, 1e-8 */
    double momentum;             /**< SGD; default 0.9 */
    double dampening;            /**< SGD; default 0 */
    bool nesterov;               /**< SGD; default false */
    double weight_decay;         /**< coupled L2 on every parameter; default 0 */
    mia_lr_schedule schedule;    /**< default MIA_SCHEDULE_NONE */
    int64_t step_size;           /**< StepLR period in epochs; default 30 */
    double gamma;                /**< StepLR factor; default 0.1 */
    double min_lr;               /**< cosine floor (eta_min); default 0 */
    int64_t epochs;              /**< default 100 */
    int64_t batch_size;          /**< default 64; the last partial batch is kept */
    double label_smoothing;      /**< epsilon in [0, 1); default 0 (plain cross-entropy) */
    uint64_t seed;               /**< shuffling and dropout; default 0 */
    /** Training augmentation (borrowed, may be NULL). When set, it builds the whole input
     *  (including its own normalisation, see transform.h) keyed by (its seed, epoch, index);
     *  otherwise images are x / 255 normalised with the model's mean/std. */
    const mia_transform *augment;
    /** Transform of evaluation inputs (borrowed, may be NULL: x / 255 + model normalisation).
     *  Used for the validation set. */
    const mia_transform *eval_transform;
    const mia_dataset *val;      /**< validation set evaluated after each epoch (may be NULL) */
    int64_t eval_batch_size;     /**< default 128 */
    /** Directory of checkpoints (created if missing; NULL = no checkpoints). */
    const char *checkpoint_dir;
    /** Save every this many steps as well as at the end of each epoch (0 = epoch ends only). */
    int64_t checkpoint_every;
    /** Resume from the newest valid checkpoint in checkpoint_dir (start fresh when there is
     *  none). A checkpoint of another configuration or dataset is refused (MIA_ERR_MISMATCH). */
    bool resume;
    mia_progress_fn progress;    /**< per step; returning false cancels (may be NULL) */
    void *progress_user_data;
    mia_epoch_fn on_epoch;       /**< after each epoch (may be NULL) */
    void *on_epoch_user_data;
} mia_train_opts;

/** Fill @p o with defaults (above). Use the mia_train_opts_init() macro. Thread-safe. */
MIA_API void mia_train_opts_init_sized(mia_train_opts *o, size_t size);
#define mia_train_opts_init(o) mia_train_opts_init_sized((o), sizeof *(o))

/**
 * @brief Apply the paper's preset (spec §3): Adam (0.9, 0.999, 1e-8), lr 0.001 for
 *        "salem_cnn" and 0.01 otherwise, batch 64, 100 epochs, no schedule, no weight decay,
 *        no label smoothing. Other fields are left alone.
 * @param arch architecture name (NULL: treated as not salem_cnn).
 */
MIA_API void mia_train_opts_paper(mia_train_opts *o, const char *arch);

/** Summary of a mia_train() run. */
typedef struct mia_train_result {
    int64_t epochs_done;         /**< epochs completed (including resumed ones) */
    int64_t steps_done;          /**< optimiser steps completed */
    int64_t resumed_step;        /**< global step of the checkpoint resumed from, -1 if none */
    char resumed_from[512];      /**< path of that checkpoint ("" if none) */
    mia_epoch_stats last;        /**< statistics of the last epoch (epoch 0 if none ran) */
} mia_train_result;

/**
 * @brief Train @p m on @p train in place.
 *
 * Each step: build the batch (u8 -> f32, normalised, uploaded to the model's backend),
 * training-mode forward, (smoothed) cross-entropy averaged over the batch, backward, check that
 * the loss and every gradient are finite, optimiser step. After each epoch the validation set
 * (if any) is evaluated in eval mode. With a checkpoint directory, a checkpoint is written at
 * the end of each epoch (and every checkpoint_every steps, and when cancelled); the last two are
 * kept.
 * @param train labelled dataset; its geometry (or the augment output) must match the model's
 *              input, labels must lie in [0, n_classes).
 * @param opts  NULL for defaults.
 * @param[out] result may be NULL.
 * @return MIA_OK; MIA_ERR_INVALID (bad option, unlabelled data; named); MIA_ERR_MISMATCH
 *         (geometry, or a checkpoint of another configuration/dataset); MIA_ERR_NUMERIC (a
 *         non-finite loss or gradient: the message names the step and the tensor; the last good
 *         checkpoint is kept, the model's weights are those of the failing step);
 *         MIA_ERR_CANCELLED (a callback returned false; a checkpoint is written first when a
 *         directory is set); MIA_ERR_IO (checkpoint write, names the path); MIA_ERR_FORMAT;
 *         MIA_ERR_NOMEM; MIA_ERR_DEVICE.
 */
MIA_API mia_status mia_train(mia_model *m, const mia_dataset *train, const mia_train_opts *opts,
                             mia_train_result *result);

/**
 * @brief SHA-256 (64 hex digits + NUL) of the options that determine the trained weights
 *        (optimiser and its hyper-parameters, schedule, epochs, batch size, smoothing, seed,
 *        augmentation presence) together with the model's architecture, classes and input shape.
 *        Checkpoints record it; resume refuses another value.
 */
MIA_API mia_status mia_train_config_hash(const mia_model *m, const mia_train_opts *opts,
                                         char out[65]);

/* ---- evaluation ---------------------------------------------------------------------------- */

/** Options of mia_evaluate(). Initialise with mia_eval_opts_init(). */
typedef struct mia_eval_opts {
    uint32_t struct_size;
    int64_t batch_size;              /**< default 128 */
    const mia_transform *transform;  /**< NULL: x / 255 + the model's normalisation */
    int n_bins;                      /**< ECE / OE bins; default 15 (spec §6) */
    mia_progress_fn progress;
    void *progress_user_data;
} mia_eval_opts;

MIA_API void mia_eval_opts_init_sized(mia_eval_opts *o, size_t size);
#define mia_eval_opts_init(o) mia_eval_opts_init_sized((o), sizeof *(o))

/** Results of mia_evaluate(). */
typedef struct mia_eval_result {
    int64_t n;        /**< images evaluated */
    double accuracy;  /**< argmax == label, fraction */
    double loss;      /**< mean cross-entropy (from the logits, log-sum-exp in f64) */
    double ece;       /**< expected calibration error of softmax(logits), spec §6 */
    double oe;        /**< overconfidence error, spec §6 */
} mia_eval_result;

/**
 * @brief Eval-mode accuracy, loss, ECE and OE of @p m on the labelled dataset @p d.
 * @return MIA_OK; MIA_ERR_INVALID (NULL, unlabelled data, label out of range);
 *         MIA_ERR_MISMATCH (geometry); MIA_ERR_CANCELLED; MIA_ERR_NOMEM; MIA_ERR_DEVICE.
 */
MIA_API mia_status mia_evaluate(mia_model *m, const mia_dataset *d, const mia_eval_opts *opts,
                                mia_eval_result *out);

/**
 * @brief Model outputs for every image of @p d, in order, into host memory.
 * @param kind   MIA_PREDICT_LOGITS or MIA_PREDICT_SOFTMAX (model.h).
 * @param out    n * n_classes floats, row-major, caller-owned.
 * @param opts   batch size and transform (NULL: defaults).
 * @return as mia_evaluate() (labels are not needed).
 */
MIA_API mia_status mia_model_predict_dataset(mia_model *m, const mia_dataset *d,
                                             mia_predict_kind kind,
                                             const mia_eval_opts *opts, float *out);

#ifdef __cplusplus
}
#endif
#endif
