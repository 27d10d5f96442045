/**
 * @file calib.h
 * @brief Post-hoc calibration (temperature scaling, last-layer Laplace "LLLA" with KFAC
 *        factors) and calibration metrics (ECE and overconfidence error, spec §6).
 *
 * A mia_calibrated wraps a model (borrowed: the model must outlive it) and returns probability
 * vectors wherever a model's scores are used.
 * @code
 *   mia_calibrated *c;
 *   mia_llla_opts lo;
 *   mia_llla_opts_init(&lo);
 *   lo.fit = target_train; lo.val = non_member_target;   // lo.ood: NULL = the paper's noise
 *   if (mia_calibrated_llla(&c, model, &lo) != MIA_OK) ...
 *   float *p = malloc(n * 10 * sizeof *p);
 *   mia_calibrated_predict_dataset(c, images, NULL, p);  // MC-averaged probabilities
 *   mia_calibrated_free(c);
 * @endcode
 * Thread-safety: a mia_calibrated uses its model; one thread at a time. The metric functions
 * are pure and thread-safe.
 */
#ifndef MIA_CALIB_H
#define MIA_CALIB_H

#include "common.h"
#include "log.h"
#include "status.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- metrics -------------------------------------------------------------------------------- */

/**
 * @brief Expected calibration error and overconfidence error of probability rows (spec §6).
 *
 * Bin bounds are torch.linspace(0, 1, n_bins + 1) in float32; confidence = max probability
 * (float32), prediction = argmax (first maximum); sample i belongs to bin b iff
 * lo_b < conf_i <= hi_b (so a confidence of exactly 0 belongs to no bin and one equal to a
 * bound belongs to the bin below it). ECE = sum_b |B_b|/n |mean conf_b - acc_b|;
 * OE = sum_b |B_b|/n mean conf_b max(mean conf_b - acc_b, 0); empty bins are skipped. Sums are
 * in f64.
 * @param probs  n x k probabilities, row-major.
 * @param labels n labels in [0, k).
 * @param n_bins 15 in the paper; 1..1000.
 * @param ece, oe out-parameters; either may be NULL.
 * @return MIA_OK; MIA_ERR_INVALID (NULL, n < 1, k < 1, bad n_bins, label out of range: named).
 */
MIA_API mia_status mia_calibration_errors(const float *probs, const int32_t *labels, int64_t n,
                                          int64_t k, int n_bins, double *ece, double *oe);

/**
 * @brief Fit a temperature T > 0 minimising mean NLL of softmax(logits / T) (f64).
 *
 * The NLL is convex in beta = 1/T; its derivative is solved by safeguarded Newton steps inside a
 * bracket (bisection whenever Newton leaves it). T is clamped to [1e-2, 1e4] (separable data
 * drives the optimum towards 0).
 * @param logits n x k, row-major. @param labels n labels in [0, k).
 * @return MIA_OK; MIA_ERR_INVALID (NULL, sizes, labels); MIA_ERR_NUMERIC (non-finite logits).
 */
MIA_API mia_status mia_temperature_fit(double *T, const float *logits, const int32_t *labels,
                                       int64_t n, int64_t k);

/* ---- calibrated models -------------------------------------------------------------------- */

typedef struct mia_calibrated mia_calibrated;

/** Calibration methods. Values are persisted: never renumber. */
typedef enum mia_calib_method {
    MIA_CALIB_TEMPERATURE = 0, /**< softmax(logits / T) */
    MIA_CALIB_LLLA = 1         /**< last-layer Laplace, KFAC, MC predictive */
} mia_calib_method;

/**
 * @brief Temperature scaling with a fixed T (the paper's result files use T = 10).
 * @param m borrowed; must outlive the wrapper.
 * @return MIA_OK; MIA_ERR_INVALID (NULL, T not finite or <= 0); MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_calibrated_temperature(mia_calibrated **out, mia_model *m, double T);

/**
 * @brief Temperature scaling with T fitted on the held-out labelled set @p heldout
 *        (mia_temperature_fit() on the model's logits).
 * @param opts batch size / transform of the forward passes (NULL: defaults).
 * @return MIA_OK; errors of mia_model_predict_dataset() and mia_temperature_fit().
 */
MIA_API mia_status mia_calibrated_fit_temperature(mia_calibrated **out, mia_model *m,
                                                  const mia_dataset *heldout,
                                                  const mia_eval_opts *opts);

/** Options of mia_calibrated_llla(). Initialise with mia_llla_opts_init(). */
typedef struct mia_llla_opts {
    uint32_t struct_size;
    const mia_dataset *fit;       /**< data of the Hessian (the model's training set); required */
    const mia_dataset *val;       /**< labelled data of the var0 search (non-members); required
                                       unless var0 > 0 */
    const mia_dataset *ood;       /**< OOD set of the search; NULL = |val| noise images as the
                                       paper's FakeData (randn, truncated to u8) */
    const mia_transform *transform; /**< inputs of every set (NULL: x/255 + model normalisation) */
    int64_t batch_size;           /**< forward batches; default 128 (the paper's 2 x 64) */
    int n_samples;                /**< MC samples of the predictive; default 100 */
    int n_samples_search;         /**< MC samples inside the search; default 10 */
    int n_grid;                   /**< var0 candidates, log-spaced; default 100 */
    double grid_lo, grid_hi;      /**< default 1 and 1000 (torch.logspace(0, 3, 100)) */
    double lambda;                /**< weight of the OOD loss; default 0.25 */
    double var0;                  /**< > 0: use this prior variance and skip the search */
    uint64_t seed;                /**< KFAC label samples, MC noise, noise set; default 0 */
    /** false (default): deterministic — the MC noise of row r of a predict call depends only on
     *  (seed, r), so the same batch gives the same probabilities every time. true: the paper's
     *  behaviour — fresh noise on every call (a counter advancing across calls). */
    bool paper_exact;
    mia_progress_fn progress;
    void *progress_user_data;
} mia_llla_opts;

MIA_API void mia_llla_opts_init_sized(mia_llla_opts *o, size_t size);
#define mia_llla_opts_init(o) mia_llla_opts_init_sized((o), sizeof *(o))

/**
 * @brief Fit a last-layer Laplace approximation (spec §4.2) on @p m, whose output node must be
 *        a linear layer with bias (the last layer: "out", "linear", "fc").
 *
 * KFAC factors from eval-mode forwards over opts->fit in batches (no shuffle) with one sampled
 * label per image (y ~ Categorical(softmax), Philox (seed, MIA_STREAM_CALIB)); running average
 * rho = min(1 - 1/(i+1), 0.95); scaled by sqrt(n), sqrt(n), n. Then the var0 search (unless
 * opts->var0 > 0): for each of n_grid values log-spaced in [grid_lo, grid_hi], loss = NLL(val) +
 * lambda * mean(-log(p_ood + 1e-8)) with n_samples_search MC samples; the first minimum wins.
 * Linear algebra in f64 (eigen-decomposition of the D x D factor once, so every candidate costs
 * O(D) per image).
 * @param m borrowed; must outlive the wrapper.
 * @return MIA_OK; MIA_ERR_INVALID (options, no linear output layer: named); MIA_ERR_MISMATCH
 *         (geometry); MIA_ERR_NUMERIC (a factor is not positive definite / non-finite);
 *         MIA_ERR_CANCELLED; MIA_ERR_NOMEM; MIA_ERR_DEVICE.
 */
MIA_API mia_status mia_calibrated_llla(mia_calibrated **out, mia_model *m,
                                       const mia_llla_opts *opts);

/** Free @p c (not its model). Accepts NULL. */
MIA_API void mia_calibrated_free(mia_calibrated *c);

/** The method of @p c. */
MIA_API mia_calib_method mia_calibrated_method(const mia_calibrated *c);
/** The temperature (temperature scaling), or NaN. */
MIA_API double mia_calibrated_T(const mia_calibrated *c);
/** The prior variance chosen (LLLA), or NaN. */
MIA_API double mia_calibrated_var0(const mia_calibrated *c);
/** Borrowed: the wrapped model. */
MIA_API mia_model *mia_calibrated_model(const mia_calibrated *c);

/**
 * @brief Calibrated probabilities of a batch.
 * @param x    f32 [N, C, H, W] input as for mia_model_predict() (already normalised).
 * @param out  N x n_classes floats, caller-owned.
 * @return MIA_OK; MIA_ERR_INVALID; MIA_ERR_NUMERIC; MIA_ERR_NOMEM; MIA_ERR_DEVICE.
 */
MIA_API mia_status mia_calibrated_predict(mia_calibrated *c, const mia_tensor *x, float *out);

/**
 * @brief Calibrated probabilities of every image of @p d, in order (row r of a batch is keyed
 *        by its index in @p d for the LLLA noise, so results do not depend on the batch size).
 * @return as mia_model_predict_dataset().
 */
MIA_API mia_status mia_calibrated_predict_dataset(mia_calibrated *c, const mia_dataset *d,
                                                  const mia_eval_opts *opts, float *out);

/**
 * @brief Accuracy, NLL (-log of the calibrated probability of the label, floored at 1e-30), ECE
 *        and OE of the calibrated model on labelled @p d.
 */
MIA_API mia_status mia_calibrated_evaluate(mia_calibrated *c, const mia_dataset *d,
                                           const mia_eval_opts *opts, mia_eval_result *out);

#ifdef __cplusplus
}
#endif
#endif
