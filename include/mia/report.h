/**
 * @file report.h
 * @brief Result files of attack evaluations: the paper's CSV, JSON with provenance, per-sample
 *        scores, the full ROC, and SVG plots (log-log ROC, score histograms).
 *
 * A report collects mia_attack_result objects, one per (non-member set, attack), and writes
 * them. Every file is written atomically (temporary file, fsync, rename): a crash never leaves
 * a half-written result.
 * @code
 *   mia_report_provenance p;
 *   mia_report_provenance_init(&p);
 *   p.seed = 42;
 *   p.config_hash = cfg_sha256_hex;
 *   mia_report *rep = NULL;
 *   mia_report_create(&rep, &p);
 *   mia_report_add(rep, "Original", res_threshold);   // results are borrowed
 *   mia_report_add(rep, "Original", res_entropy);
 *   mia_report_write_csv(rep, "run/attack_results.csv", true);
 *   mia_report_write_json(rep, "run/attack_results.json");
 *   mia_report_write_roc_svg(rep, MIA_ATTACK_THRESHOLD, "run/roc-threshold.svg");
 *   mia_report_free(rep);                             // then free the results
 * @endcode
 * Thread-safety: a report is used by one thread at a time.
 */
#ifndef MIA_REPORT_H
#define MIA_REPORT_H

#include "attack.h"
#include "common.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mia_report mia_report;

/** A named SHA-256 (lower-case hex), e.g. of a dataset or a model file. */
typedef struct mia_report_hash {
    const char *name;
    const char *sha256;
} mia_report_hash;

/** Provenance recorded in the JSON and in the comment lines of the auxiliary CSVs (B17).
 *  Strings may be NULL (written as null). Everything is copied by mia_report_create(). */
typedef struct mia_report_provenance {
    uint32_t struct_size;           /**< set by mia_report_provenance_init() */
    uint64_t seed;
    const char *config_hash;
    const char *keep_mask_hash;     /**< hash of the membership (keep) mask or split indices */
    const mia_report_hash *datasets;
    size_t n_datasets;
    const mia_report_hash *models;  /**< target and shadow/reference models */
    size_t n_models;
    bool cross_source;              /**< members and non-members come from different sources
                                         (e.g. train vs test set): results are marked (B14) */
} mia_report_provenance;

/** Fill @p p with defaults (all empty); use the macro mia_report_provenance_init(). */
MIA_API void mia_report_provenance_init_sized(mia_report_provenance *p, size_t size);
#define mia_report_provenance_init(p) mia_report_provenance_init_sized((p), sizeof *(p))

/**
 * @brief Create an empty report.
 * @param[out] out caller owns; free with mia_report_free(). NULL on failure.
 * @param prov copied; NULL for empty provenance.
 * @return MIA_OK; MIA_ERR_INVALID; MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_report_create(mia_report **out, const mia_report_provenance *prov);

/** Free @p rep (not the results it borrows). Accepts NULL. */
MIA_API void mia_report_free(mia_report *rep);

/**
 * @brief Add the result of one attack on one non-member set.
 * @param set_name row label (copied), e.g. "Original", "SVHN"; rows keep first-seen order.
 * @param res borrowed: must stay alive until @p rep is freed.
 * @return MIA_OK; MIA_ERR_INVALID (NULL, empty name, or (set, attack) already present);
 *         MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_report_add(mia_report *rep, const char *set_name,
                                  const mia_attack_result *res);

/**
 * @brief The paper's attack_results CSV (spec §9.3): CRLF, QUOTE_MINIMAL, header cell "" then
 *        "{attack} {metric}" for the Threshold, Salem and Entropy attacks and the ten metrics,
 *        values "%.4f", missing attacks as empty cells. With @p extra_columns, more columns
 *        follow (per attack present: counts, accuracy, balanced accuracy, TPR at 10/1/0.1% FPR
 *        with their 95% intervals or "not resolvable"; the LOSS attack's paper metrics).
 * @return MIA_OK; MIA_ERR_INVALID; MIA_ERR_IO (names the path); MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_report_write_csv(const mia_report *rep, const char *path,
                                        bool extra_columns);

/**
 * @brief JSON with provenance (seed, hashes, libmia version, counts) and every metric. Doubles
 *        are printed with 17 significant digits; NaN/Inf become null and the field is listed in
 *        the entry's "null_fields"; unresolvable TPR@FPR entries carry "resolvable": false.
 * @return MIA_OK; MIA_ERR_INVALID; MIA_ERR_IO; MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_report_write_json(const mia_report *rep, const char *path);

/**
 * @brief Per-sample scores: "#" provenance lines, then
 *        non_member_set,attack,role,index,score,prediction,max_score (floats "%.9g").
 * @return MIA_OK; MIA_ERR_INVALID; MIA_ERR_IO; MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_report_write_scores_csv(const mia_report *rep, const char *path);

/**
 * @brief Full ROC curves: "#" provenance lines, then
 *        non_member_set,attack,threshold,fpr,tpr,tp,fp (first point: threshold inf, 0, 0).
 * @return MIA_OK; MIA_ERR_INVALID; MIA_ERR_IO; MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_report_write_roc_csv(const mia_report *rep, const char *path);

/**
 * @brief SVG plot of the log-log ROC of attack @p kind, one curve per non-member set.
 * @return MIA_OK; MIA_ERR_INVALID (no result of that kind); MIA_ERR_IO; MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_report_write_roc_svg(const mia_report *rep, mia_attack_kind kind,
                                            const char *path);

/**
 * @brief SVG histogram of attack @p kind's scores: members vs each non-member set.
 * @return MIA_OK; MIA_ERR_INVALID (no result of that kind); MIA_ERR_IO; MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_report_write_hist_svg(const mia_report *rep, mia_attack_kind kind,
                                             const char *path);

/** SHA-256 of @p n bytes at @p data as 64 lower-case hex digits + NUL (e.g. a config hash).
 *  Thread-safe. */
MIA_API void mia_report_sha256_hex(const void *data, size_t n, char out[65]);

/**
 * @brief SHA-256 of the file at @p path (e.g. a model file for the provenance).
 * @return MIA_OK; MIA_ERR_INVALID (NULL); MIA_ERR_IO (names the path). Thread-safe.
 */
MIA_API mia_status mia_report_file_sha256(const char *path, char out[65]);

#ifdef __cplusplus
}
#endif
#endif
