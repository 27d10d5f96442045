/*
 * File helpers shared inside libmia: SHA-256, atomic durable writes, bounded whole-file reads.
 * Not installed. Implemented in libmia/io/{sha256,atomic,file}.c.
 */
#ifndef MIA_IO_H
#define MIA_IO_H

#include <stdint.h>
#include <stdio.h>

#include "mia-internal.h"

/* ---- SHA-256 (FIPS 180-4) ------------------------------------------------------------------- */
typedef struct mia_sha256 {
    uint32_t h[8];
    uint64_t len;      /* bytes hashed so far */
    uint8_t buf[64];
    size_t nbuf;
} mia_sha256;

MIA_PRIVATE void mia__sha256_init(mia_sha256 *s);
MIA_PRIVATE void mia__sha256_update(mia_sha256 *s, const void *data, size_t n);
MIA_PRIVATE void mia__sha256_final(mia_sha256 *s, uint8_t out[32]);
/* One-shot convenience. */
MIA_PRIVATE void mia__sha256(const void *data, size_t n, uint8_t out[32]);
/* Lower-case hex of a 32-byte digest into out[65] (NUL-terminated). */
MIA_PRIVATE void mia__sha256_hex(const uint8_t digest[32], char out[65]);
/* SHA-256 of a whole file, streamed. MIA_ERR_IO names the file. */
MIA_PRIVATE mia_status mia__sha256_file(const char *path, uint8_t out[32]);

/* ---- atomic, durable file writes ------------------------------------------------------------
 * open:   creates "<path>.tmp.<random>" in the same directory (O_EXCL, 0644).
 * write/printf: buffered; the first failure is sticky and reported by commit.
 * commit: flush, fsync(file), rename over <path>, fsync(directory); frees the handle. On any
 *         failure the temp file is removed, <path> is untouched, the status is MIA_ERR_IO with
 *         the path and strerror text.
 * abort:  remove the temp file and free the handle (accepts NULL). */
typedef struct mia_afile mia_afile;
MIA_PRIVATE mia_status mia__afile_open(mia_afile **out, const char *path);
MIA_PRIVATE mia_status mia__afile_write(mia_afile *f, const void *data, size_t n);
MIA_PRIVATE mia_status mia__afile_printf(mia_afile *f, const char *fmt, ...) MIA_PRINTF(2, 3);
MIA_PRIVATE mia_status mia__afile_commit(mia_afile *f);
MIA_PRIVATE void mia__afile_abort(mia_afile *f);
/* Write a whole buffer atomically (open + write + commit). */
MIA_PRIVATE mia_status mia__write_file_atomic(const char *path, const void *data, size_t n);

/* Test hook (I/O fault injection): make the k-th write/fsync/rename issued by the atomic-file
 * code from now fail with errno err (k >= 1); k <= 0 disables it. Process-wide, not for
 * concurrent use. mia__io_ops() counts the hooked calls made since the hook was last armed. */
MIA_PRIVATE void mia__io_fail_after(int k, int err);
MIA_PRIVATE long mia__io_ops(void);

/* Read a whole file into a new buffer (free with mia__free). Refuses files larger than max_bytes
 * with MIA_ERR_FORMAT before allocating. Errors name the path. The buffer has one extra NUL
 * byte after the *len bytes (handy for text); *data is NULL on failure. */
MIA_PRIVATE mia_status mia__read_file(const char *path, size_t max_bytes, uint8_t **data,
                                      size_t *len);

#endif
