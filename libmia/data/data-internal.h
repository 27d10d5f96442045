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

/* ---- from-memory entry points (fuzzing, nested archives; nothing touches the disk) ----------
 * Each behaves like its path-based loader (same validation, caps and messages); `name` stands
 * for the file in messages (NULL: "<memory>"); buffers are borrowed for the call only. All call
 * mia__error_begin() and set *out = NULL on failure. */

/* IDX images (+ labels when labels != NULL), plain or gzip (multi-member allowed, trailing
 * bytes after the last member rejected). */
MIA_PRIVATE mia_status mia__idx_load_mem(mia_dataset **out, const void *images,
                                         size_t images_len, const char *images_name,
                                         const void *labels, size_t labels_len,
                                         const char *labels_name,
                                         const mia_dataset_load_opts *opts);
/* CIFAR-10/100 from the bytes of an archive (tar, tar.gz or zip) holding the .bin files. */
MIA_PRIVATE mia_status mia__cifar_load_mem(mia_dataset **out, int classes, mia_data_split split,
                                           const void *archive, size_t len, const char *name,
                                           const mia_dataset_load_opts *opts);
/* CIFAR-10/100 records (the content of one .bin file). */
MIA_PRIVATE mia_status mia__cifar_records_mem(mia_dataset **out, int classes,
                                              const void *records, size_t len, const char *name,
                                              const mia_dataset_load_opts *opts);
/* STL-10 from the contents of X.bin, y.bin and (optional, may be NULL) class_names.txt. */
MIA_PRIVATE mia_status mia__stl10_load_mem(mia_dataset **out, const void *x, size_t nx,
                                           const void *y, size_t ny, const char *names,
                                           size_t nn, const char *name,
                                           const mia_dataset_load_opts *opts);
/* STL-10 from the bytes of stl10_binary.tar(.gz). */
MIA_PRIVATE mia_status mia__stl10_archive_mem(mia_dataset **out, mia_data_split split,
                                              const void *archive, size_t len, const char *name,
                                              const mia_dataset_load_opts *opts);
/* SVHN .mat bytes (through an anonymous memfd: matio wants a path). */
MIA_PRIVATE mia_status mia__svhn_load_mem(mia_dataset **out, const void *data, size_t len,
                                          const char *name, const mia_dataset_load_opts *opts);
/* Stanford Dogs split list from the bytes of a .mat file. */
MIA_PRIVATE mia_status mia__dogs_list_load_mem(char ***files, int32_t **labels, int64_t *n,
                                               const void *mat, size_t len, const char *name);
/* Stanford Dogs images (see dogs-images.c): images.tar + lists.tar in dir / in memory.
 * split: "train", "test" (filter by the .mat list) or "all" (every image; lists not read).
 * shorter > 0: Resize(shorter) + CenterCrop((h, w)); shorter == 0: Resize((h, w)). */
MIA_PRIVATE mia_status mia__dogs_load(mia_dataset **out, const char *dir, const char *split,
                                      int64_t shorter, int64_t h, int64_t w,
                                      const mia_dataset_load_opts *opts);
MIA_PRIVATE mia_status mia__dogs_load_mem(mia_dataset **out, const void *images_tar,
                                          size_t images_len, const void *lists_tar,
                                          size_t lists_len, const char *split, int64_t shorter,
                                          int64_t h, int64_t w,
                                          const mia_dataset_load_opts *opts);
/* Resize (and center-crop) one CHW image as dogs-images.c does; dst holds c*out_h*out_w. */
MIA_PRIVATE mia_status mia__dogs_resize_into(uint8_t *dst, const uint8_t *chw, int64_t c,
                                             int64_t h, int64_t w, int64_t shorter,
                                             int64_t out_h, int64_t out_w, const char *name);
/* Manifest JSON text checked against data_dir (mia_manifest_verify on a buffer). */
MIA_PRIVATE mia_status mia__manifest_verify_mem(mia_manifest_report **out, const char *json,
                                                size_t len, const char *name,
                                                const char *data_dir);
/* Also from memory (declared in image.h / archive.h): mia__image_decode (PNG/JPEG),
 * mia__afhq_load_mem (afhq.zip bytes), mia__archive_foreach_mem (tar/tar.gz/zip). */

/* Copy len bytes into an anonymous memory file (memfd); *fd must be closed by the caller and
 * path ("/proc/self/fd/N") opens it. For libraries that insist on a path (matio). */
MIA_PRIVATE mia_status mia__mem_file(const void *data, size_t len, const char *name, int *fd,
                                     char path[64]);

#endif
