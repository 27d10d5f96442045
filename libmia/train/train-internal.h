/* Internals shared by libmia/train and libmia/calib: batch building, dataset-wide prediction,
 * checkpoints. Not installed. */
#ifndef MIA_TRAIN_INTERNAL_H
#define MIA_TRAIN_INTERNAL_H

#include <mia/dataset.h>
#include <mia/model.h>
#include <mia/tensor.h>
#include <mia/train.h>
#include <mia/transform.h>

#include "mia-internal.h"

/* Builds f32 batches of a dataset for a model and uploads them to the model's backend. */
typedef struct mia_batcher {
    mia_model *m;
    mia_backend *be;
    const mia_dataset *d;
    const mia_transform *t; /* NULL: x / 255 + the model's normalisation */
    int64_t in_ndim;        /* graph input rank (1 for mlp, 3 for images) */
    int64_t in_shape[3];
    int64_t numel;          /* per image */
    int64_t cap;            /* batch capacity */
    float *host;            /* cap * numel */
    int32_t *labels;        /* cap */
    mia_tensor *x;          /* [n, ...] for the current n (recreated when n changes) */
    int64_t x_n;
    float mean[4], std[4];
} mia_batcher;

/* Check the geometry (MIA_ERR_MISMATCH naming the dataset) and allocate. what names the set in
 * messages ("train", "val", ...). */
MIA_PRIVATE mia_status mia__batcher_init(mia_batcher *b, mia_model *m, const mia_dataset *d,
                                         const mia_transform *t, int64_t cap, const char *what);
MIA_PRIVATE void mia__batcher_free(mia_batcher *b);
/* Build images idx[0..n) (n <= cap) for epoch, upload; b->x then holds them, b->labels too. */
MIA_PRIVATE mia_status mia__batcher_load(mia_batcher *b, const int64_t *idx, int64_t n,
                                         uint64_t epoch);

/* Per-batch scorer for mia__predict_all: writes n * k floats for the uploaded batch x whose
 * first row is dataset image first. */
typedef mia_status (*mia_batch_score_fn)(void *ctx, const mia_tensor *x, int64_t n,
                                         int64_t first, float *out);

/* Run fn over d in order (batches of o->batch_size); out gets n * k floats, labels (may be
 * NULL) the labels. */
MIA_PRIVATE mia_status mia__predict_all(mia_model *m, const mia_dataset *d,
                                        const mia_eval_opts *o, mia_batch_score_fn fn,
                                        void *ctx, int64_t k, float *out, int32_t *labels,
                                        const char *stage);

/* Accuracy / NLL / ECE / OE from probabilities (loss: -log max(p_y, 1e-30)) or, when logits is
 * non-NULL, the loss from logits (log-sum-exp, f64) and probabilities computed from them. */
MIA_PRIVATE mia_status mia__eval_arrays(const float *probs, const float *logits,
                                        const int32_t *labels, int64_t n, int64_t k, int n_bins,
                                        mia_eval_result *out);

/* Test hook: poison one gradient element with NaN at global step `step` (1-based; <= 0 off). */
MIA_PRIVATE void mia__train_inject_nan(int64_t step);

/* Test hook: sleep this many milliseconds in the middle of each checkpoint write (widens the
 * window of kill tests); also read from $MIA_TEST_CKPT_DELAY_MS by mia_train(). */
MIA_PRIVATE void mia__train_ckpt_delay(int ms);

/* ---- checkpoints (checkpoint.c) ----------------------------------------------------------- */

typedef struct mia_optim_state mia_optim_state;

typedef struct mia_ckpt_pos {
    int64_t epoch;        /* 0-based epoch in progress */
    int64_t pos;          /* steps done within it */
    int64_t global_step;  /* steps done overall */
    int64_t optim_step;   /* optimiser step counter */
    double loss_sum;      /* running sums of the epoch in progress */
    int64_t correct, seen;
} mia_ckpt_pos;

/* Write <dir>/ckpt-<global_step>.safetensors atomically, then delete all but the newest two. */
MIA_PRIVATE mia_status mia__ckpt_save(const char *dir, mia_model *m, const mia_optim_state *os,
                                      const mia_ckpt_pos *pos, const char *config_hash,
                                      const char *dataset_hash, uint64_t seed);
/* Load the newest checkpoint of dir that validates (logs which, and skips invalid ones with a
 * warning). *found = false when there is none. A checkpoint with another config or dataset hash
 * is refused (MIA_ERR_MISMATCH). path_out (size path_size) receives the path. */
MIA_PRIVATE mia_status mia__ckpt_resume(const char *dir, mia_model *m, mia_optim_state *os,
                                        mia_ckpt_pos *pos, const char *config_hash,
                                        const char *dataset_hash, bool *found, char *path_out,
                                        size_t path_size);
/* Remove stale temporary files of interrupted writes in dir. */
MIA_PRIVATE void mia__ckpt_clean_tmp(const char *dir);

/* ---- optimiser (optim.c) ------------------------------------------------------------------ */

MIA_PRIVATE mia_status mia__optim_create(mia_optim_state **out, mia_model *m,
                                         const mia_train_opts *o);
MIA_PRIVATE void mia__optim_free(mia_optim_state *os);
/* One step on every trainable, non-detached parameter with learning rate lr. */
MIA_PRIVATE mia_status mia__optim_step(mia_optim_state *os, double lr, int64_t step);
/* Learning rate of 0-based epoch e. */
MIA_PRIVATE double mia__lr_at(const mia_train_opts *o, int64_t epoch);
/* Optimiser state tensors: count, name ("optim.m.<param>"), tensor. */
MIA_PRIVATE size_t mia__optim_n_state(const mia_optim_state *os);
MIA_PRIVATE const char *mia__optim_state_name(const mia_optim_state *os, size_t i);
MIA_PRIVATE mia_tensor *mia__optim_state_tensor(const mia_optim_state *os, size_t i);

#endif
