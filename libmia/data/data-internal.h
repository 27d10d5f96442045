/*
 * Helpers shared by the data engineer's loaders (libmia/data/). Not installed.
 */
#ifndef MIA_DATA_INTERNAL_H
#define MIA_DATA_INTERNAL_H

#include <stdint.h>

#include <mia/dataset.h>

#include "mia-internal.h"

/* Every label must be in -1..n_classes-1; the message names file and record. */
MIA_PRIVATE mia_status mia__dataset_check_labels(mia_dataset *d, const char *file);
/* New dataset with d's pixels and labels (no class names), source = d->source + suffix. */
MIA_PRIVATE mia_status mia__dataset_clone(mia_dataset **out, const mia_dataset *d,
                                          const char *suffix, int64_t n_classes);
/* The per-image pixel permutation used by MIA_BATCH_PERMUTE and mia_dataset_permuted(). */
MIA_PRIVATE void mia__permutation(int64_t *perm, int64_t n, uint64_t seed, int64_t index);
/* Options with defaults filled in from a caller struct (NULL = defaults). */
MIA_PRIVATE mia_status mia__load_opts_get(mia_dataset_load_opts *o,
                                          const mia_dataset_load_opts *in);
/* Set class names from a newline-separated text (empty lines skipped). */
MIA_PRIVATE mia_status mia__dataset_names_from_text(mia_dataset *d, const char *text,
                                                    size_t len);

/* ---- MD5 (RFC 1321), for upstream checksums ---- */
typedef struct mia_md5 {
    uint32_t a, b, c, d;
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
} mia_md5;
MIA_PRIVATE void mia__md5_init(mia_md5 *m);
MIA_PRIVATE void mia__md5_update(mia_md5 *m, const void *data, size_t n);
MIA_PRIVATE void mia__md5_final(mia_md5 *m, uint8_t out[16]);

/* Cache directory of the named offline sets (caller frees with mia__free). */
MIA_PRIVATE mia_status mia__data_dir(char **out, const char *override_dir);
/* Named offline sets ("fashion-mnist:train", "mnist-opencv", ...): returns MIA_ERR_INVALID with
 * *handled = 0 when the spec is not a named set. */
MIA_PRIVATE mia_status mia__load_named(mia_dataset **out, const char *spec,
                                       const mia_dataset_load_opts *o, int *handled);

#endif
