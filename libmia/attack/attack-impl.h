/*
 * Private structures of the attack area (not installed).
 *
 * Attack scores are float32 throughout (max score, -entropy, -loss, sigmoid output), so ROC
 * construction sorts 32-bit keys with a radix sort: O(n) per pass, 3 passes.
 */
#ifndef MIA_ATTACK_IMPL_H
#define MIA_ATTACK_IMPL_H

#include <math.h>
#include <string.h>

#include "mia-internal.h"
#include <mia/attack.h>

/* float32 machine epsilon: torch.finfo(float32).eps, the clamp of Categorical's log. */
#define MIA_F32_EPS 1.1920928955078125e-07f

/* Salem MLP parameters (k -> hidden -> 1), PyTorch Linear layout: W [out, in]. */
#define MIA_SALEM_HIDDEN 64

struct mia_attack {
    mia_attack_kind kind;
    double tau;       /* threshold / LOSS: member iff score > tau (double compare, strict) */
    double theta;     /* entropy: the float64 grid value selected */
    float theta_f;    /* entropy: theta rounded to float32: member iff H < theta_f */
    int input;        /* mia_score_input of every set given to this attack */
    bool paper_exact; /* opts.paper_exact at fit */
    bool logits;      /* input is logits and features come straight from a float64
                       * log-softmax (not paper_exact, not Salem); else logit sets are first
                       * converted to float32 probabilities (mia__logits_to_probs) */
    int salem_k;
    int salem_epochs; /* epochs run until early stop */
    double salem_final_loss; /* training loss of the last epoch */
    float *w1, *b1, *w2, *b2; /* Salem: [64*k], [64], [64], [1] (one allocation at w1) */
};

struct mia_attack_result {
    mia_attack_kind kind;
    mia_attack_metrics m;
    int64_t roc_n;    /* points incl. (0,0) */
    float *roc_thr;   /* [roc_n], roc_thr[0] = +Inf */
    int64_t *roc_tp;  /* [roc_n] */
    int64_t *roc_fp;  /* [roc_n] */
    int64_t n_mem, n_non;
    float *score_mem, *score_non;
    float *max_mem, *max_non;
    uint8_t *pred_mem, *pred_non;
};

/* ---- ROC (roc.c) ------------------------------------------------------------------------- */
/* Curve over distinct scores, descending: point k = samples with score >= thr[k].
 * n excludes the (0, 0) origin. */
typedef struct mia__roc {
    int64_t n;
    float *thr;
    int64_t *tp, *fp;
    int64_t P, N;
    /* the allocations: n + 1 slots, slot 0 the origin (+Inf, 0, 0); thr = thr_base + 1 etc. */
    float *thr_base;
    int64_t *tp_base, *fp_base;
} mia__roc;

/* Order-preserving map float -> uint32 (-0.0 maps like +0.0; no NaN allowed). */
static inline uint32_t mia__f32_key(float x)
{
    uint32_t u;
    if (x == 0.0f) x = 0.0f;
    memcpy(&u, &x, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
static inline float mia__key_f32(uint32_t k)
{
    uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Sort keys ascending (LSD radix, 11/11/10 bits). tmp has n elements. */
MIA_PRIVATE void mia__radix_sort_u32(uint32_t *keys, uint32_t *tmp, int64_t n);
/* The same when the caller knows the key range [lo, hi]. */
MIA_PRIVATE void mia__radix_sort_range(uint32_t *keys, uint32_t *tmp, int64_t n, uint32_t lo,
                                       uint32_t hi);
/* keys = sorted mia__f32_key(x[0..n)) (range found while converting). tmp has n elements. */
MIA_PRIVATE void mia__keys_sort(const float *x, int64_t n, uint32_t *keys, uint32_t *tmp);

/* Digit counts of sort keys, gathered while the keys are written (mia__khist_add), so the sort
 * needs no counting or range pass of its own: raw key bits [0, 13) and [13, 26), and the key
 * range. Keys whose range spans more than 26 bits fall back to mia__radix_sort_u32. */
#define MIA_KHIST_BITS 13
typedef struct mia__khist {
    uint32_t lo, hi;
    uint32_t c[2][1u << MIA_KHIST_BITS];
} mia__khist;
static inline void mia__khist_init(mia__khist *h)
{
    memset(h, 0, sizeof *h);
    h->lo = UINT32_MAX;
}
static inline void mia__khist_add(mia__khist *h, uint32_t k)
{
    h->c[0][k & ((1u << MIA_KHIST_BITS) - 1u)]++;
    h->c[1][(k >> MIA_KHIST_BITS) & ((1u << MIA_KHIST_BITS) - 1u)]++;
    h->lo = k < h->lo ? k : h->lo;
    h->hi = k > h->hi ? k : h->hi;
}
/* Sort the n keys counted in h (n < 2^32; h is consumed). tmp has n elements. */
MIA_PRIVATE void mia__radix_sort_hist(uint32_t *keys, uint32_t *tmp, int64_t n, mia__khist *h);
/* mia__roc_build_keys on keys already sorted ascending. */
MIA_PRIVATE mia_status mia__roc_build_sorted(mia__roc *r, const uint32_t *kp, int64_t np,
                                             const uint32_t *kn, int64_t nn);
/* mia__youden_keys on keys already sorted ascending (cannot fail). */
MIA_PRIVATE double mia__youden_sorted(const uint32_t *kp, int64_t np, const uint32_t *kn,
                                      int64_t nn);
/* Build the ROC of positives pos[np] vs negatives neg[nn] (np, nn >= 1; finite scores). */
MIA_PRIVATE mia_status mia__roc_build(mia__roc *r, const float *pos, int64_t np, const float *neg,
                                      int64_t nn);
/* Same on sort keys (mia__f32_key) that the caller owns: kp and kn are sorted in place. */
MIA_PRIVATE mia_status mia__roc_build_keys(mia__roc *r, uint32_t *kp, int64_t np, uint32_t *kn,
                                           int64_t nn);
MIA_PRIVATE void mia__roc_free(mia__roc *r);
MIA_PRIVATE double mia__roc_auroc(const mia__roc *r);
MIA_PRIVATE double mia__roc_aupr(const mia__roc *r);
MIA_PRIVATE double mia__roc_fpr_at_tpr(const mia__roc *r, double tpr);
MIA_PRIVATE void mia__roc_tpr_at_fpr(const mia__roc *r, double target, mia_tpr_at_fpr *out);
/* sklearn roc_curve(drop_intermediate=True) + Youden's J, first maximum: returns tau
 * (thr[0] + 1 when the origin wins, as sklearn < 1.3 does). */
MIA_PRIVATE double mia__roc_youden(const mia__roc *r);
/* The same threshold from unsorted keys without storing the curve (kp, kn sorted in place);
 * *st is MIA_OK or MIA_ERR_NOMEM. */
MIA_PRIVATE double mia__youden_keys(uint32_t *kp, int64_t np, uint32_t *kn, int64_t nn,
                                    mia_status *st);

/* ---- features (attack.c) ------------------------------------------------------------------ */
/* Validate a score set; name is "members" / "non_members" for messages. */
MIA_PRIVATE mia_status mia__check_set(const char *name, const mia_score_set *x, bool labels);
/* Per-row max score; MIA_ERR_NUMERIC on NaN/Inf/negative entries (names set, row, column). */
MIA_PRIVATE mia_status mia__max_scores(const char *name, const mia_score_set *x, float *out);
/* Per-row max score as order-preserving sort keys (mia__f32_key), validated, in one pass;
 * h (nullable, initialised) counts the keys for mia__radix_sort_hist. */
MIA_PRIVATE mia_status mia__max_keys(const char *name, const mia_score_set *x, uint32_t *keys,
                                     mia__khist *h);
/* Threshold attack on probabilities, evaluation in one pass: max score (= attack score) into
 * score, prediction, sort key and its count (h initialised). */
MIA_PRIVATE mia_status mia__threshold_eval(const mia_attack *a, const char *name,
                                           const mia_score_set *x, float *score, uint8_t *pred,
                                           uint32_t *keys, mia__khist *h);
/* Per-row entropy as torch.distributions.Categorical computes it (float32). */
MIA_PRIVATE mia_status mia__entropies(const char *name, const mia_score_set *x, float *out);
/* Per-row cross-entropy. exact (paper_exact): float32 -log(clamp(p_y / sum p, eps, 1 - eps));
 * else float64 -log(p_y / sum p) (no upper clamp: no ties at 1 - eps), rounded to float32. */
MIA_PRIVATE mia_status mia__losses(const char *name, const mia_score_set *x, bool exact,
                                   float *out);

/* ---- logit inputs (attack.c) -------------------------------------------------------------- */
/* Softmax of the logit set x into probs [n, C] (caller buffer). exact: float32 like torch
 * (exp(z - max) / sum, float32 throughout); else float64 rounded once. Validates (finite). */
MIA_PRIVATE mia_status mia__logits_to_probs(const char *name, const mia_score_set *x, bool exact,
                                            float *probs);
/* The score set an attack's rules read: for an attack whose logit inputs are converted
 * (a->input logits, !a->logits) a float32 probability copy of x in *buf (caller frees with
 * mia__free); otherwise *view = *x and *buf = NULL. */
MIA_PRIVATE mia_status mia__input_view(const mia_attack *a, const char *name,
                                       const mia_score_set *x, mia_score_set *view, float **buf);
/* Full-resolution features of a logit set from a float64 log-softmax (one pass):
 * THRESHOLD: log max p; ENTROPY: H (>= 0); LOSS: log p_y (= -loss). Each rounded to float32
 * once. maxs (nullable): max p as float32. Validates (finite logits). */
MIA_PRIVATE mia_status mia__logit_features(const char *name, const mia_score_set *x,
                                           mia_attack_kind kind, float *out, float *maxs);

/* ---- per-attack fit / score (threshold.c entropy.c loss.c salem.c) ------------------------ */
MIA_PRIVATE mia_status mia__threshold_fit(mia_attack *a, const mia_score_set *mem,
                                          const mia_score_set *non, const mia_attack_opts *o);
MIA_PRIVATE mia_status mia__entropy_fit(mia_attack *a, const mia_score_set *mem,
                                        const mia_score_set *non, const mia_attack_opts *o);
MIA_PRIVATE mia_status mia__loss_fit(mia_attack *a, const mia_score_set *mem,
                                     const mia_score_set *non, const mia_attack_opts *o);
MIA_PRIVATE mia_status mia__salem_fit(mia_attack *a, const mia_score_set *mem,
                                      const mia_score_set *non, const mia_attack_opts *o);
/* Attack scores (float32, higher = member) and predictions of x; name for messages. */
MIA_PRIVATE mia_status mia__attack_scores(const mia_attack *a, const char *name,
                                          const mia_score_set *x, float *score, uint8_t *pred);
/* Same, and the per-row max scores into maxs (nullable), fused into the same pass. */
MIA_PRIVATE mia_status mia__attack_scores_max(const mia_attack *a, const char *name,
                                              const mia_score_set *x, float *score, uint8_t *pred,
                                              float *maxs);
MIA_PRIVATE mia_status mia__salem_scores(const mia_attack *a, const char *name,
                                         const mia_score_set *x, float *score, uint8_t *pred);

/* Salem internals (salem.c). Tests inject PyTorch's initial weights (w1 [64*k], b1 [64],
 * w2 [64], b2 [1], concatenated) and the per-epoch sample orders (n_orders x n) of a torch run. */
typedef struct mia__salem_inject {
    const float *init;
    const int64_t *orders;
    int64_t n_orders;
} mia__salem_inject;
/* Top-k (descending) of every row of x into feat [n, k]; validates the scores. */
MIA_PRIVATE mia_status mia__salem_features(const char *name, const mia_score_set *x, int k,
                                           float *feat);
/* Train the MLP on feat [n, k] with targets y [n] (0/1); fills a's weights. inj may be NULL. */
MIA_PRIVATE mia_status mia__salem_train(mia_attack *a, const float *feat, const float *y,
                                        int64_t n, int k, const mia_attack_opts *o,
                                        const mia__salem_inject *inj);
/* MLP output (logit) of one feature vector f [k]. */
MIA_PRIVATE float mia__salem_logit(const mia_attack *a, const float *f);

/* Entropy grid search on precomputed entropies: the paper's rule. exact = literal scan. */
MIA_PRIVATE mia_status mia__entropy_theta(const float *h_mem, int64_t nm, const float *h_non,
                                          int64_t nn, bool exact, double *theta);

#endif
