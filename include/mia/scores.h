/**
 * @file scores.h
 * @brief Inputs of an attack run read from disk: per-sample score files and index lists.
 *
 * A score file is the CSV that `mia-train predict` writes: optional `#` comment lines, a header
 * `index,label,score_0,...,score_{k-1}` (probabilities) or `index,label,logit_0,...` (logits),
 * then one row per sample `index,label,v_0,...,v_{k-1}` (LF or CRLF line ends, blank lines
 * ignored). The scores are loaded as a mia_score_set ready for mia_attack_fit() and
 * mia_attack_evaluate(); they are kept exactly as read (NaN and infinities included): the
 * attacks validate them.
 * @code
 *   mia_score_file *sm = NULL, *sn = NULL;
 *   if (mia_score_file_load(&sm, "shadow-members.csv") != MIA_OK ||
 *       mia_score_file_load(&sn, "shadow-non-members.csv") != MIA_OK)
 *       fprintf(stderr, "%s\n", mia_last_error());      // "shadow-members.csv:7: malformed row ..."
 *   mia_attack_opts o;
 *   mia_attack_opts_init(&o);
 *   o.input = (int)mia_score_file_input(sm);           // probabilities or logits
 *   mia_attack *atk = NULL;
 *   mia_attack_fit(&atk, MIA_ATTACK_THRESHOLD, mia_score_file_scores(sm),
 *                  mia_score_file_scores(sn), &o);
 *   printf("sha256 %s\n", mia_score_file_sha256(sm));  // provenance of the file read
 *   mia_attack_free(atk);
 *   mia_score_file_free(sn);
 *   mia_score_file_free(sm);
 * @endcode
 * Index lists are the one-column CSVs of mia_indices_save_csv() (dataset.h), e.g. the training
 * indices of the target and shadow models, whose overlap mia_indices_overlap() counts.
 * Thread-safety: no shared state; a loaded mia_score_file is read-only and may be read by several
 * threads at once.
 */
#ifndef MIA_SCORES_H
#define MIA_SCORES_H

#include <stdbool.h>
#include <stdint.h>

#include "attack.h"
#include "common.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- score files ---------------------------------------------------------------------------- */

/** A loaded per-sample score file (opaque; see the file comment for the format). */
typedef struct mia_score_file mia_score_file;

/**
 * @brief Read the score file at @p path.
 *
 * The header must name the columns `index,label,score_0,...,score_{k-1}` or
 * `index,label,logit_0,...,logit_{k-1}` in that order (k >= 1); each row must hold an integer
 * index, an integer label and exactly k numbers. The index column is checked but not kept
 * (rows are kept in file order). Labels outside [0, k) are kept (a label that does not fit in
 * int32 reads as -1) and make mia_score_file_labels_valid() false. Lines are at most 65,536
 * bytes. The SHA-256 is computed over the bytes parsed, in the same pass.
 * @param[out] out  caller owns; free with mia_score_file_free(). NULL on failure.
 * @param path      file to read.
 * @return MIA_OK; MIA_ERR_INVALID (NULL argument); MIA_ERR_IO ("PATH: <strerror>", also for a
 *         read error); MIA_ERR_FORMAT ("PATH:LINE: what is wrong": a bad header, a malformed
 *         row, a line too long, no score rows); MIA_ERR_NOMEM.
 * @note Thread-safe: no shared state.
 */
MIA_API mia_status mia_score_file_load(mia_score_file **out, const char *path);

/** Free @p f and every array borrowed from it. Accepts NULL. */
MIA_API void mia_score_file_free(mia_score_file *f);

/**
 * @brief Write @p s as a score file that mia_score_file_load() reads back exactly: the header
 *        `index,label,score_0,...` (MIA_INPUT_PROBS) or `index,label,logit_0,...`
 *        (MIA_INPUT_LOGITS), then one row per sample: its position, its label (-1 when
 *        @c s->labels is NULL) and every value as `%.9g` (float32 round-trips exactly).
 *        Written atomically (temporary file, fsync, rename): on failure nothing is left at
 *        @p path and an existing file there is untouched.
 * @return MIA_OK; MIA_ERR_INVALID (names the argument); MIA_ERR_IO (names the path);
 *         MIA_ERR_NOMEM.
 * @note Thread-safe: reads @p s only.
 */
MIA_API mia_status mia_score_file_write(const char *path, const mia_score_set *s,
                                        mia_score_input input);

/**
 * @brief The scores as an attack input: @c probs [n, n_classes] row-major (probabilities or
 *        logits, see mia_score_file_input()), @c labels [n] (always set, valid or not).
 * @return borrowed: valid until mia_score_file_free(@p f); NULL when @p f is NULL.
 */
MIA_API const mia_score_set *mia_score_file_scores(const mia_score_file *f);

/** MIA_INPUT_LOGITS for a `logit_0` header, MIA_INPUT_PROBS for `score_0` (and for NULL). */
MIA_API mia_score_input mia_score_file_input(const mia_score_file *f);

/** True when every label is a class index in [0, n_classes) (MIA_ATTACK_LOSS needs this);
 *  false for NULL. */
MIA_API bool mia_score_file_labels_valid(const mia_score_file *f);

/**
 * @brief SHA-256 of the file's bytes as 64 lower-case hex digits (as mia_report_file_sha256()).
 * @return borrowed: valid until mia_score_file_free(@p f); "" when @p f is NULL.
 */
MIA_API const char *mia_score_file_sha256(const mia_score_file *f);

/* ---- index lists ---------------------------------------------------------------------------- */

/**
 * @brief Read an index list: non-negative integers separated by commas, blanks or line ends.
 *
 * Lines starting with `#` are comments. The first other line may be a header (e.g. the
 * `index` that mia_indices_save_csv() writes): a word before any index on it skips the rest of
 * that line.
 * @param[out] out    the indices in file order; caller owns, free with mia_indices_free()
 *                    (dataset.h). NULL on failure and for an empty list.
 * @param[out] n_out  number of indices (0 for a file without any).
 * @param path        file to read.
 * @return MIA_OK; MIA_ERR_INVALID (NULL argument); MIA_ERR_IO ("PATH: <strerror>");
 *         MIA_ERR_FORMAT ("PATH:LINE: not a non-negative index", also for a NUL byte);
 *         MIA_ERR_NOMEM.
 * @note Thread-safe: no shared state.
 */
MIA_API mia_status mia_indices_load_csv(int64_t **out, int64_t *n_out, const char *path);

/**
 * @brief Number of values present in both @p a and @p b (a sorted merge of copies: each
 *        occurrence in one list pairs with at most one in the other).
 * @param[out] count_out the count; 0 on failure.
 * @return MIA_OK; MIA_ERR_INVALID (NULL output, negative length, NULL list of non-zero
 *         length); MIA_ERR_NOMEM.
 * @note Thread-safe: the lists are only read.
 */
MIA_API mia_status mia_indices_overlap(int64_t *count_out, const int64_t *a, int64_t na,
                                       const int64_t *b, int64_t nb);

#ifdef __cplusplus
}
#endif
#endif
