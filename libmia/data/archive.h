/*
 * Streaming, capped archive reader (libarchive). Not installed.
 *
 * Formats: tar (ustar, gnutar, pax) optionally gzip-compressed, and zip. Nothing is ever
 * extracted to disk: each wanted regular entry is read into memory and handed to a callback.
 * Safety rules (reliability.md §2.7, bar B6):
 *   - entry names that are absolute, contain a ".." component, an empty component (other than a
 *     trailing "/"), or are longer than caps.max_name_len are rejected (MIA_ERR_FORMAT);
 *   - symlinks, hardlinks, devices and fifos are rejected (MIA_ERR_FORMAT); directories skipped;
 *   - caps on entries, bytes per entry (declared and actually read; a mismatch between declared
 *     size and data is an error), total uncompressed bytes and uncompressed/compressed ratio
 *     (checked once more than caps.ratio_grace bytes were produced).
 * Every error message starts with the archive path, names the entry and what is wrong.
 */
#ifndef MIA_ARCHIVE_H
#define MIA_ARCHIVE_H

#include <stdint.h>

#include "mia-internal.h"

typedef struct mia_archive_caps {
    uint64_t max_entries;     /* entries of any kind (default 1,000,000) */
    uint64_t max_entry_bytes; /* per regular entry (default 4 GiB) */
    uint64_t max_total_bytes; /* sum over entries read (default 64 GiB) */
    double max_ratio;         /* uncompressed / compressed bytes (default 200) */
    uint64_t ratio_grace;     /* ratio is checked only beyond this many bytes (default 64 MiB) */
    size_t max_name_len;      /* default 4096 */
} mia_archive_caps;

MIA_PRIVATE void mia__archive_caps_default(mia_archive_caps *c);

/* Decide whether to read an entry: return 1 to read it, 0 to skip it (its data is not
 * decompressed into memory), or -1 to stop iterating (mia__archive_foreach returns MIA_OK). */
typedef int (*mia_archive_want_fn)(const char *name, int64_t declared_size, void *user);
/* Receive a wanted entry's bytes (borrowed for the duration of the call). Return MIA_OK to
 * continue, anything else stops the iteration and is returned. */
typedef mia_status (*mia_archive_entry_fn)(const char *name, const uint8_t *data, size_t size,
                                           void *user);

/* Iterate the regular entries of the archive at path. want may be NULL (read everything).
 * caps may be NULL (defaults). */
MIA_PRIVATE mia_status mia__archive_foreach(const char *path, const mia_archive_caps *caps,
                                            mia_archive_want_fn want, mia_archive_entry_fn fn,
                                            void *user);

/* The same on an archive held in memory (fuzzing, nested archives). name is used in messages
 * (NULL: "<memory>"). Nothing is copied: data must stay valid during the call. */
MIA_PRIVATE mia_status mia__archive_foreach_mem(const void *data, size_t len, const char *name,
                                                const mia_archive_caps *caps,
                                                mia_archive_want_fn want,
                                                mia_archive_entry_fn fn, void *user);

/* True when the file name looks like a supported archive (.tar, .tar.gz, .tgz, .zip). */
MIA_PRIVATE int mia__archive_is_archive_name(const char *path);

#endif
