/*
 * Dataset internals shared by the loaders (the .c files of libmia/data). Not installed.
 * A dataset holds decoded u8 images, NCHW, and int32 labels.
 */
#ifndef MIA_DATASET_IMPL_H
#define MIA_DATASET_IMPL_H

#include <stdint.h>

#include "mia-internal.h"

struct mia_dataset {
    int64_t n;            /* images */
    int64_t c, h, w;      /* every image has the same geometry */
    uint8_t *pixels;      /* n*c*h*w, NCHW, owned (mia__malloc) */
    int32_t *labels;      /* n, owned; -1 = unlabelled */
    int64_t n_classes;
    char **class_names;   /* n_classes strings, owned; may be NULL */
    char *source;         /* human-readable description, e.g. "idx:/usr/share/...", owned */
    uint8_t hash[32];     /* SHA-256 of pixels then labels (little-endian int32) */
    bool hash_valid;
};

/* Allocate a dataset with zeroed pixels and labels. Validates sizes (caps at 2^34 pixels bytes)
 * before allocating. source is copied. */
MIA_PRIVATE mia_status mia__dataset_new(mia_dataset **out, int64_t n, int64_t c, int64_t h,
                                        int64_t w, int64_t n_classes, const char *source);
/* Set class name i (copied). */
MIA_PRIVATE mia_status mia__dataset_set_class_name(mia_dataset *d, int64_t i, const char *name);
/* Recompute the content hash after the pixels/labels were filled. */
MIA_PRIVATE void mia__dataset_finish(mia_dataset *d);

#endif
