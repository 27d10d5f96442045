/**
 * @file experiment.h
 * @brief The paper's whole pipeline from one JSON config: verify data, split, train target and
 *        shadow per variant (cached, resumable), calibrate, make fakes, build every non-member
 *        set, run every attack, write CSV / JSON / SVG / report.html.
 *
 * @code
 *   mia_experiment_config *cfg = NULL;
 *   if (mia_experiment_config_load(&cfg, "configs/fashion-mnist.json") != MIA_OK) {
 *       fprintf(stderr, "%s\n", mia_last_error());   // names the key that is wrong
 *       return 1;
 *   }
 *   mia_experiment_opts o;
 *   mia_experiment_opts_init(&o);
 *   o.output_dir = "runs/fmnist";
 *   mia_experiment_result *r = NULL;
 *   if (mia_experiment_run(&r, cfg, &o) == MIA_OK)
 *       printf("report: %s\n", mia_experiment_result_report_path(r));
 *   mia_experiment_result_free(r);
 *   mia_experiment_config_free(cfg);
 * @endcode
 *
 * The config format, the run directory layout and the output files are documented in
 * doc/file-formats.md and doc/tools.md (mia-experiment).
 *
 * Thread-safety: a config is immutable after loading and may be shared; one run uses its own
 * backend and models (different runs may proceed concurrently in different output directories).
 */
#ifndef MIA_EXPERIMENT_H
#define MIA_EXPERIMENT_H

#include "common.h"
#include "log.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mia_experiment_config mia_experiment_config;
typedef struct mia_experiment_result mia_experiment_result;

/* ---- config ------------------------------------------------------------------------------- */

/**
 * @brief Load and validate an experiment config (JSON).
 *
 * Relative manifest directories in the config are resolved against the config file's folder.
 * @param[out] out caller owns; free with mia_experiment_config_free(). NULL on failure.
 * @return MIA_OK; MIA_ERR_IO (unreadable file, named); MIA_ERR_FORMAT (not JSON: line and
 *         column); MIA_ERR_INVALID (a bad, missing or unknown key: the message names the key
 *         path, e.g. "training.epochs", and what is wrong); MIA_ERR_NOMEM.
 * @note Thread-safe.
 */
MIA_API mia_status mia_experiment_config_load(mia_experiment_config **out, const char *path);

/**
 * @brief Parse a config from JSON text. @p base_dir resolves relative manifest paths (NULL:
 *        the current directory). Errors as mia_experiment_config_load().
 */
MIA_API mia_status mia_experiment_config_parse(mia_experiment_config **out, const char *json,
                                               const char *base_dir);

/** Free @p c. Accepts NULL. */
MIA_API void mia_experiment_config_free(mia_experiment_config *c);

/** Borrowed: the experiment name (config key "name"). */
MIA_API const char *mia_experiment_config_name(const mia_experiment_config *c);

/** Borrowed: the output directory of the config (key "output_dir"). */
MIA_API const char *mia_experiment_config_output_dir(const mia_experiment_config *c);

/** SHA-256 (64 hex + NUL) of the config's canonical JSON (sorted keys, compact): two configs
 *  that differ only in formatting or key order hash equally. */
MIA_API void mia_experiment_config_hash_hex(const mia_experiment_config *c, char out[65]);

/* ---- running ------------------------------------------------------------------------------ */

/**
 * Hook that makes the fake non-member set (stage 5). libmia calls it with the target model's
 * training data; it returns @p n images of the same geometry (caller of the hook owns them).
 * When NULL and the library has no generator, the fakes stage is skipped with a log line.
 */
typedef mia_status (*mia_experiment_fakes_fn)(mia_dataset **out, const mia_dataset *train,
                                              int64_t n, uint64_t seed, void *user_data);

/** Options of mia_experiment_run(). Initialise with mia_experiment_opts_init(). */
typedef struct mia_experiment_opts {
    uint32_t struct_size;     /**< set by mia_experiment_opts_init() */
    const char *output_dir;   /**< NULL: the config's output_dir */
    const char *backend;      /**< NULL: "auto" */
    int32_t n_threads;        /**< intra-op threads; 0 = all online CPUs */
    const char *data_dir;     /**< replaces "{data}" in dataset specs and manifest folders; NULL:
                                   the config's data_dir, else $MIA_DATA_ROOT, else "data" */
    bool verify_data;         /**< stage 1 checks manifests (default true) */
    mia_progress_fn progress; /**< every stage reports through it (stage names below); returning
                                   false cancels (MIA_ERR_CANCELLED, checkpoints kept) */
    void *progress_user_data;
    mia_experiment_fakes_fn fakes; /**< NULL: libmia's generator if built, else skip */
    void *fakes_user_data;
} mia_experiment_opts;

/** Defaults: as documented on each field. */
MIA_API void mia_experiment_opts_init_sized(mia_experiment_opts *o, size_t size);
#define mia_experiment_opts_init(o) mia_experiment_opts_init_sized((o), sizeof *(o))

/**
 * @brief Run the pipeline. Stages (mia_progress.stage): "verify", "split", "train",
 *        "calibrate", "fakes", "nonmembers", "attack", "write".
 *
 * Run directory (created): splits/ (index lists), models/ (cached safetensors, named by the
 * SHA-256 of training data + training config), checkpoints/ (resume), samples/, per variant
 * `<prefix>_<tag>attack_results.csv` (paper layout) and `.json`, `*.svg`, results.json
 * (provenance + every table; timing only under the key "timing"), report.html.
 * A second run of the same config reuses the models and writes byte-identical CSV and JSON
 * except results.json's "timing".
 * @param[out] out caller owns; free with mia_experiment_result_free(). NULL on failure.
 * @return MIA_OK; MIA_ERR_IO (missing data: names the file and its manifest); any error of
 *         the stages (the message says which stage); MIA_ERR_CANCELLED.
 */
MIA_API mia_status mia_experiment_run(mia_experiment_result **out,
                                      const mia_experiment_config *cfg,
                                      const mia_experiment_opts *opts);

/** Free @p r. Accepts NULL. */
MIA_API void mia_experiment_result_free(mia_experiment_result *r);
/** Borrowed: path of report.html. */
MIA_API const char *mia_experiment_result_report_path(const mia_experiment_result *r);
/** Borrowed: the run directory. */
MIA_API const char *mia_experiment_result_dir(const mia_experiment_result *r);
/** Number of variants (base first). */
MIA_API int mia_experiment_result_n_variants(const mia_experiment_result *r);
/** Borrowed display name of variant @p v ("base", "LS 0.0083", ...); NULL out of range. */
MIA_API const char *mia_experiment_result_variant(const mia_experiment_result *r, int v);
/** Number of non-member sets evaluated (same for every variant). */
MIA_API int mia_experiment_result_n_sets(const mia_experiment_result *r);
/** Borrowed row label of non-member set @p s; NULL out of range. */
MIA_API const char *mia_experiment_result_set(const mia_experiment_result *r, int s);
/** Number of attacks run. */
MIA_API int mia_experiment_result_n_attacks(const mia_experiment_result *r);
/** Kind (mia_attack_kind value) of attack @p a; -1 out of range. */
MIA_API int mia_experiment_result_attack(const mia_experiment_result *r, int a);
/** FPR of attack @p a on set @p s for variant @p v; NaN out of range. */
MIA_API double mia_experiment_result_fpr(const mia_experiment_result *r, int v, int s, int a);
/** Target model test accuracy and ECE of variant @p v (NaN out of range). */
MIA_API double mia_experiment_result_accuracy(const mia_experiment_result *r, int v);
MIA_API double mia_experiment_result_ece(const mia_experiment_result *r, int v);
/** Number of trained models loaded from the cache instead of trained in this run. */
MIA_API int mia_experiment_result_models_cached(const mia_experiment_result *r);

/* ---- plan and data check ------------------------------------------------------------------ */

/**
 * @brief The plan of a run as text, without running it: every stage with its sizes (images,
 *        epochs, models) and an estimated time, then every data file that is missing or wrong,
 *        with its manifest and the expected size, SHA-256 and MD5.
 * @param[out] text caller owns; free with mia_experiment_free_string().
 * @param[out] n_missing may be NULL: number of missing or wrong data files.
 * @return MIA_OK (whatever the state of the data); MIA_ERR_IO / MIA_ERR_FORMAT for an
 *         unreadable manifest; MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_experiment_plan(char **text, int64_t *n_missing,
                                       const mia_experiment_config *cfg,
                                       const mia_experiment_opts *opts);

/**
 * @brief Check every data file the config needs against its manifest (or, for the offline
 *        sets, that the prepared files exist).
 * @param[out] text caller owns (mia_experiment_free_string()): one line per file.
 * @param[out] ok true when everything is present and matches.
 * @return MIA_OK; MIA_ERR_IO / MIA_ERR_FORMAT for an unreadable manifest; MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_experiment_verify_data(char **text, bool *ok,
                                              const mia_experiment_config *cfg,
                                              const mia_experiment_opts *opts);

/** Free a string returned by this module. Accepts NULL. */
MIA_API void mia_experiment_free_string(char *s);

#ifdef __cplusplus
}
#endif
#endif
