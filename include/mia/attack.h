/**
 * @file attack.h
 * @brief Score-based membership inference attacks and their metrics.
 *
 * Attacks work on prediction-score matrices (host f32, [n, n_classes], one probability vector
 * per row), so they need no model: compute the shadow and target models' softmax outputs first.
 * An attack is fitted on the shadow model's members / non-members, then evaluated on the target
 * model's members against one non-member set at a time (FPR is reported per non-member source).
 * @code
 *   mia_score_set sm = {shadow_member_probs, NULL, n_sm, 10};
 *   mia_score_set sn = {shadow_nonmember_probs, NULL, n_sn, 10};
 *   mia_attack_opts o;
 *   mia_attack_opts_init(&o);
 *   mia_attack *atk = NULL;
 *   if (mia_attack_fit(&atk, MIA_ATTACK_THRESHOLD, &sm, &sn, &o) != MIA_OK)
 *       fprintf(stderr, "%s\n", mia_last_error());
 *   mia_attack_result *res = NULL;
 *   mia_attack_evaluate(&res, atk, &target_members, &target_nonmembers);
 *   const mia_attack_metrics *m = mia_attack_result_metrics(res);
 *   printf("FPR %.4f, TPR@1%%FPR %.4f\n", m->fpr, m->tpr_at_fpr[1].tpr);
 *   mia_attack_result_free(res);
 *   mia_attack_free(atk);
 * @endcode
 * Decision rules are the paper's (spec §5); doc/attacks.md lists every deviation.
 */
#ifndef MIA_ATTACK_H
#define MIA_ATTACK_H

#include "common.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Attack kinds. Values are persisted in result files: never renumber. */
typedef enum mia_attack_kind {
    MIA_ATTACK_THRESHOLD = 0, /**< max score > tau, tau by Youden's J (paper "Max. Confidence") */
    MIA_ATTACK_SALEM     = 1, /**< top-k scores -> MLP 3-64-1 (paper "Top-3 Confidences") */
    MIA_ATTACK_ENTROPY   = 2, /**< entropy < theta, 10,000-point grid (paper "Entropy") */
    MIA_ATTACK_LOSS      = 3  /**< per-sample cross-entropy (Yeom et al.); needs labels */
} mia_attack_kind;

/** Number of attack kinds. */
#define MIA_ATTACK_KIND_COUNT 4

/**
 * @brief Display name of @p kind as the paper's CSV writes it ("Threshold Attack",
 *        "Salem Attack", "Entropy Attack", "LOSS Attack"); "unknown" otherwise. Static text.
 */
MIA_API const char *mia_attack_kind_name(mia_attack_kind kind);

/**
 * A borrowed view of prediction scores: @c probs is row-major [n, n_classes], @c labels is [n]
 * class indices or NULL (required by MIA_ATTACK_LOSS only). What @c probs holds is fixed when
 * the attack is fitted (mia_attack_opts.input) and applies to every later evaluate/predict:
 * - MIA_INPUT_PROBS (default): probabilities, finite and >= 0 (rows need not sum to exactly 1);
 * - MIA_INPUT_LOGITS: raw model outputs (finite, any sign). The attack then computes its
 *   per-sample features in float64 from a stable log-softmax, so a confident model whose
 *   float32 softmax saturates to 1.0f still yields distinct scores (doc/attacks.md).
 */
typedef struct mia_score_set {
    const float   *probs;
    const int32_t *labels;
    int64_t        n;
    int64_t        n_classes;
} mia_score_set;

/** What the @c probs arrays of the score sets hold (mia_attack_opts.input). */
typedef enum mia_score_input {
    MIA_INPUT_PROBS  = 0, /**< probabilities (softmax outputs), as the paper's code uses */
    MIA_INPUT_LOGITS = 1  /**< logits: full-resolution features from a float64 log-softmax */
} mia_score_input;

/** Options of mia_attack_fit(). Initialise with mia_attack_opts_init(). */
typedef struct mia_attack_opts {
    uint32_t struct_size;      /**< set by mia_attack_opts_init() */
    uint64_t seed;             /**< Salem MLP init and batch order (default 42) */
    bool     paper_exact;      /**< the paper's literal rules where libmia differs: entropy
                                    runs the literal 10,000 x n scan (same decisions, slow);
                                    LOSS uses float32 -log clamp(p_y, eps, 1 - eps); logits are
                                    first turned into float32 softmax probabilities */
    bool     scores_from_target; /**< provenance flag: the fit scores come from the TARGET model.
                                      Fitting is then refused (reliability bar B14) */
    int      salem_k;          /**< top-k for Salem (default 3) */
    int      salem_max_epochs; /**< safety cap on Salem epochs (default 10000; paper: none) */
    int      input;            /**< mia_score_input of every score set given to this attack
                                    (fit, evaluate, predict); default MIA_INPUT_PROBS */
} mia_attack_opts;

/** Fill @p o with defaults; use the macro mia_attack_opts_init(). */
MIA_API void mia_attack_opts_init_sized(mia_attack_opts *o, size_t size);
#define mia_attack_opts_init(o) mia_attack_opts_init_sized((o), sizeof *(o))

typedef struct mia_attack        mia_attack;
typedef struct mia_attack_result mia_attack_result;

/** Number of TPR-at-fixed-FPR operating points in mia_attack_metrics. */
#define MIA_N_TPR_AT_FPR 5

/** TPR at a fixed FPR on the attack-score ROC (threshold chosen on the evaluated data). */
typedef struct mia_tpr_at_fpr {
    double  target_fpr;   /**< 0.1, 0.01, 0.001, 1e-4, 1e-5 */
    bool    resolvable;   /**< false when target_fpr < 1/n_non_members: then tpr/ci are NaN and
                               must be reported as "not resolvable", never as a number */
    double  tpr;          /**< largest TPR among ROC points with FPR <= target_fpr */
    double  fpr;          /**< the FPR actually achieved at that point (<= target_fpr) */
    int64_t tp;           /**< members at or above that threshold */
    int64_t n_members;
    int64_t n_non_members;
    double  ci_low;       /**< Clopper-Pearson 95% interval of tpr (binomial tp / n_members) */
    double  ci_high;
} mia_tpr_at_fpr;

/** All metrics of one attack on one (members, non-member set) pair. Formulas: spec §6. */
typedef struct mia_attack_metrics {
    int64_t n_members, n_non_members;
    int64_t tp, fp, fn, tn;
    double  precision;          /**< TP/(TP+FP); 0 when TP == 0 (paper quirk) */
    double  recall;             /**< TPR = TP/n_members */
    double  fpr;                /**< FP/n_non_members */
    double  accuracy;           /**< (TP+TN)/(n_members+n_non_members) */
    double  balanced_accuracy;  /**< (TPR + TNR)/2 */
    double  auroc;              /**< trapezoid over the full ROC (ties grouped) */
    double  aupr;               /**< trapezoid over the PR curve as the paper computes it */
    double  fpr_at_95_tpr;      /**< smallest FPR with TPR >= 0.95 */
    double  tp_mmps, fp_mmps, fn_mmps, tn_mmps; /**< mean max score per outcome; 0 if empty */
    mia_tpr_at_fpr tpr_at_fpr[MIA_N_TPR_AT_FPR];
} mia_attack_metrics;

/**
 * @brief Fit an attack on shadow-model scores of members (label 1) and non-members (label 0).
 * @param[out] out caller owns; free with mia_attack_free(). NULL on failure.
 * @param members, non_members borrowed for the call; n >= 1 each, same n_classes; LOSS needs
 *        labels in [0, n_classes); Salem needs n_classes >= salem_k.
 * @param opts NULL for defaults.
 * @return MIA_OK; MIA_ERR_INVALID (names the argument; also when opts->scores_from_target);
 *         MIA_ERR_NUMERIC on NaN/Inf or negative scores; MIA_ERR_UNSUPPORTED for Salem when
 *         this build lacks the MLP; MIA_ERR_NOMEM.
 * @note Thread-safe: no shared state.
 */
MIA_API mia_status mia_attack_fit(mia_attack **out, mia_attack_kind kind,
                                  const mia_score_set *members, const mia_score_set *non_members,
                                  const mia_attack_opts *opts);

/** Free @p a. Accepts NULL. */
MIA_API void mia_attack_free(mia_attack *a);

/** Kind of a fitted attack. */
MIA_API mia_attack_kind mia_attack_get_kind(const mia_attack *a);

/**
 * @brief The fitted decision threshold: tau (threshold, LOSS: on the attack score),
 *        theta (entropy: on the entropy), 0.5 (Salem: on the sigmoid output).
 */
MIA_API double mia_attack_threshold(const mia_attack *a);

/** Training epochs run by a fitted Salem attack until its early stop; 0 for other kinds. */
MIA_API int mia_attack_epochs(const mia_attack *a);

/**
 * @brief Attack scores (higher = more likely member; float32) and member predictions.
 *        Scores: max p (threshold), -H (entropy), -loss = log p_y (LOSS), sigmoid output
 *        (Salem); with MIA_INPUT_LOGITS (not paper_exact) the threshold attack's score is
 *        log max p (float64 log-softmax rounded to float32: full relative resolution near 0).
 * @param[out] scores_out  caller buffer of x->n floats, or NULL.
 * @param[out] pred_out    caller buffer of x->n bytes (1 = member), or NULL.
 * @return MIA_OK; MIA_ERR_INVALID (names the argument); MIA_ERR_NUMERIC; MIA_ERR_NOMEM.
 * @note A fitted attack is read-only here: several threads may predict with one attack.
 */
MIA_API mia_status mia_attack_predict(const mia_attack *a, const mia_score_set *x,
                                      float *scores_out, uint8_t *pred_out);

/**
 * @brief Evaluate a fitted attack on target members vs one non-member set: every metric of
 *        mia_attack_metrics, the full ROC and the per-sample scores.
 * @param[out] out caller owns; free with mia_attack_result_free(). NULL on failure.
 * @return MIA_OK; MIA_ERR_INVALID; MIA_ERR_NUMERIC; MIA_ERR_NOMEM.
 * @note Read-only on @p a (thread-safe for distinct @p out).
 */
MIA_API mia_status mia_attack_evaluate(mia_attack_result **out, const mia_attack *a,
                                       const mia_score_set *members,
                                       const mia_score_set *non_members);

/** Free @p r. Accepts NULL. */
MIA_API void mia_attack_result_free(mia_attack_result *r);

/** Borrowed: the metrics of @p r; valid while @p r lives. */
MIA_API const mia_attack_metrics *mia_attack_result_metrics(const mia_attack_result *r);

/** Kind of the attack that produced @p r. */
MIA_API mia_attack_kind mia_attack_result_kind(const mia_attack_result *r);

/**
 * @brief Borrowed full ROC curve of @p r: n_points >= 2; point 0 is (0, 0) with threshold
 *        +Inf, then one point per distinct attack score, descending; point k counts samples
 *        with score >= threshold[k]. Arrays stay valid while @p r lives. Any out may be NULL.
 */
MIA_API void mia_attack_result_roc(const mia_attack_result *r, int64_t *n_points,
                                   const float **threshold, const int64_t **tp,
                                   const int64_t **fp);

/**
 * @brief Borrowed per-sample arrays of @p r for members (@p member true) or non-members:
 *        attack score, member prediction (0/1) and max prediction score. Valid while @p r lives.
 *        Any out may be NULL.
 */
MIA_API void mia_attack_result_samples(const mia_attack_result *r, bool member, int64_t *n,
                                       const float **score, const uint8_t **pred,
                                       const float **max_score);

/**
 * @brief Clopper-Pearson interval of a binomial proportion k/n at confidence 1 - alpha.
 * @return MIA_OK; MIA_ERR_INVALID when n < 1, k outside [0, n] or alpha outside (0, 1).
 * @note Thread-safe.
 */
MIA_API mia_status mia_clopper_pearson(int64_t k, int64_t n, double alpha, double *lo,
                                       double *hi);

/**
 * @brief Quantile of the Beta(a, b) distribution (inverse of the regularised incomplete beta).
 * @return MIA_OK; MIA_ERR_INVALID when a <= 0, b <= 0 or p outside [0, 1].
 * @note Thread-safe.
 */
MIA_API mia_status mia_beta_quantile(double p, double a, double b, double *x);

#ifdef __cplusplus
}
#endif
#endif
