/*
 * Internals of the experiment module (config, plan, run, cache, report.html). Not installed.
 */
#ifndef MIA_EXPERIMENT_IMPL_H
#define MIA_EXPERIMENT_IMPL_H

#include <stdio.h>

#include "mia-internal.h"
#include "mia/attack.h"
#include "mia/dataset.h"
#include "mia/experiment.h"

#define MIA__EXP_MAX_SETS 32
#define MIA__EXP_MAX_VARIANTS 8

/* Kinds of non-member sets (config key non_members[i].kind). */
typedef enum mia__nm_kind {
    MIA__NM_TEST = 0,         /* "test": the target's non-members (in-distribution) */
    MIA__NM_PERMUTED = 1,     /* "permuted": pixel positions shuffled (after normalisation) */
    MIA__NM_SCALED = 2,       /* "scaled": normalised tensor x 255 */
    MIA__NM_UNNORMALIZED = 3, /* "unnormalized": [0,1] inputs, no normalisation */
    MIA__NM_DATASET = 4,      /* "dataset": an OOD set loaded from a spec */
    MIA__NM_NOISE_UNIFORM = 5,
    MIA__NM_NOISE_GAUSSIAN = 6,
    MIA__NM_FAKES = 7         /* "fakes": GAN samples of the target's training distribution */
} mia__nm_kind;

typedef struct mia__nm_set {
    char *name;          /* CSV row label */
    mia__nm_kind kind;
    char *spec;          /* DATASET: mia_dataset_load spec ("{data}" expanded at run time) */
    char *manifest;      /* DATASET: manifest name or NULL */
    char *files_dir;     /* folder the manifest's files live in ("{data}" expanded) */
    int32_t keep_label;  /* DATASET: keep only this label (-1 = all) */
    int32_t drop_label;  /* DATASET: drop this label (-1 = none) */
    bool subsample;      /* DATASET/FAKES: subsample to attack_size (default true) */
    double mean, std;    /* GAUSSIAN noise, u8 units */
} mia__nm_set;

typedef enum mia__variant_kind {
    MIA__VAR_BASE = 0,
    MIA__VAR_LS = 1,     /* label smoothing epsilon (train time) */
    MIA__VAR_L2 = 2,     /* Adam weight decay (train time) */
    MIA__VAR_LLLA = 3,   /* post-hoc on the base models */
    MIA__VAR_TEMP = 4    /* post-hoc softmax(z / T) on the base models */
} mia__variant_kind;

typedef struct mia__variant {
    mia__variant_kind kind;
    double value;        /* epsilon, weight decay or T (0 for base/LLLA) */
    char name[64];       /* display: "base", "LS 0.0083", "L2 0.0003", "LLLA", "temp 10.0" */
    char tag[64];        /* file tag of spec §9.2: "", "LS_0.0083_", "L2_0.0003_", "LLLA_",
                            "temp_10.0_calib_" */
} mia__variant;

struct mia_experiment_config {
    char *name;
    char *output_dir;
    char *data_dir;      /* may be NULL */
    char *base_dir;      /* folder of the config file (manifest resolution) */
    char *manifest_dir;  /* resolved data-manifests folder */
    char *file_prefix;   /* "{arch}_{dataset}" of the result files */
    /* dataset */
    char *train_spec, *test_spec, *manifest, *files_dir;
    /* With dataset.all: train_spec is that spec, test_spec NULL, and a seeded permutation of it
     * puts floor(train_fraction * n) images in train, the rest in test; 0 otherwise. */
    double train_fraction;
    int64_t channels, height, width; /* model input */
    int n_classes;
    float mean[4], std[4];
    /* splits */
    uint64_t split_seed, member_seed;
    int64_t train_size, test_size, attack_size;
    bool stratify_pool;
    /* model + training */
    char *arch;
    int64_t epochs, batch_size;
    double lr;
    uint64_t seed;
    /* variants */
    mia__variant variants[MIA__EXP_MAX_VARIANTS];
    int n_variants;
    int llla_samples;
    /* non-member sets and attacks */
    mia__nm_set sets[MIA__EXP_MAX_SETS];
    int n_sets;
    mia_attack_kind attacks[MIA_ATTACK_KIND_COUNT];
    int n_attacks;
    int salem_k;
    int64_t fakes_gan_steps;
    int n_samples_shown;  /* sample images per set in the report */
    double train_images_per_sec; /* estimate for the plan */
    /* canonical form */
    char *canonical;
    char hash[65];
};

/* "{data}" in s replaced by data_dir; caller frees (mia__free). */
MIA_PRIVATE char *mia__exp_expand(const char *s, const char *data_dir);
/* The data dir of a run: opts, config, $MIA_DATA_ROOT, "data". Borrowed. */
MIA_PRIVATE const char *mia__exp_data_dir(const mia_experiment_config *c,
                                          const mia_experiment_opts *o);
/* Python str(float) of v ("0.0083", "10.0", "1e-05"). */
MIA_PRIVATE void mia__exp_pyfloat(double v, char *buf, size_t n);
/* Growing string buffer. */
typedef struct mia__sbuf {
    char *s;
    size_t len, cap;
    bool failed;
} mia__sbuf;
MIA_PRIVATE void mia__sb_printf(mia__sbuf *b, const char *fmt, ...) MIA_PRINTF(2, 3);
MIA_PRIVATE void mia__sb_puts(mia__sbuf *b, const char *s);
MIA_PRIVATE void mia__sb_html(mia__sbuf *b, const char *s); /* HTML-escaped */
MIA_PRIVATE void mia__sb_base64(mia__sbuf *b, const uint8_t *d, size_t n);

/* mkdir -p. */
MIA_PRIVATE mia_status mia__exp_mkdirs(const char *path);
/* Path join "a/b" (mia__free). */
MIA_PRIVATE char *mia__exp_join(const char *a, const char *b);

/* ---- run state shared with html.c --------------------------------------------------------- */

typedef struct mia__exp_set {
    const char *name;
    mia__nm_kind kind;
    mia_dataset *data;   /* owned (or borrowed when owned == false) */
    bool owned;
    uint32_t flags;      /* MIA_BATCH_* of the batches */
    uint8_t *samples_png[8];
    size_t samples_len[8];
    int n_samples;
    char *note;          /* e.g. "skipped: no generator" */
} mia__exp_set;

typedef struct mia__exp_variant_result {
    double acc_train, acc_test, ece, oe;           /* target model */
    double acc_test_shadow, ece_shadow;
    double bin_conf[15], bin_acc[15];
    int64_t bin_n[15];
    double fpr[MIA__EXP_MAX_SETS][MIA_ATTACK_KIND_COUNT];
    mia_attack_metrics metrics[MIA__EXP_MAX_SETS][MIA_ATTACK_KIND_COUNT];
    char *svg_roc[MIA_ATTACK_KIND_COUNT];           /* file contents */
    char *svg_hist[MIA_ATTACK_KIND_COUNT];
    char csv_name[256];
    double T, var0;
} mia__exp_variant_result;

struct mia_experiment_result {
    char *dir;
    char *report_path;
    int n_variants, n_sets, n_attacks;
    const mia_experiment_config *cfg; /* borrowed during the run only */
    char *variant_names[MIA__EXP_MAX_VARIANTS];
    char *set_names[MIA__EXP_MAX_SETS];
    mia_attack_kind attacks[MIA_ATTACK_KIND_COUNT];
    mia__exp_variant_result *vr;      /* n_variants */
    int models_cached;
    int64_t set_sizes[MIA__EXP_MAX_SETS];
    char data_hash[65];
    char backend[32];
    double seconds_total;
    double stage_seconds[8];
};

/* Cache of trained models (cache.c). */
MIA_PRIVATE mia_status mia__exp_cache_key(char out[65], const mia_dataset *train_data,
                                          const char *train_config_hash, const char *backend,
                                          uint64_t model_seed);

/* report.html (html.c) from the result and the prepared sets. */
MIA_PRIVATE mia_status mia__exp_write_html(const mia_experiment_result *r,
                                           const mia_experiment_config *cfg,
                                           const mia__exp_set *sets, int n_sets,
                                           const char *path);

#endif
