/*
 * Helpers shared by the libFuzzer targets in this folder (header-only, static functions).
 *
 * Parsers that only take paths get their input through a private temporary directory
 * (/dev/shm when it exists, so nothing touches the disk), created once per process and
 * removed at exit. Every helper aborts on a failure of the harness itself (never of libmia):
 * that is a harness bug, not a finding.
 */
#ifndef MIA_FUZZ_COMMON_H
#define MIA_FUZZ_COMMON_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional (replay.c's corruption matrix): where the header of a valid input ends, 0 = unknown. */
size_t fuzz_header_end(const uint8_t *data, size_t size);

static char fuzz_dir_path[256];
/* Sink for values read only so the sanitizers see the reads. */
static volatile size_t fuzz_sink;
/* Number of inputs the parser accepted (read by replay.c's MIA_FUZZ_VERBOSE audit). */
long fuzz_accepted;

static inline void fuzz_rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        if (snprintf(p, sizeof p, "%s/%s", path, e->d_name) >= (int)sizeof p) continue;
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            fuzz_rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(path);
}

static inline void fuzz_cleanup(void)
{
    if (fuzz_dir_path[0]) fuzz_rm_tree(fuzz_dir_path);
}

/* The per-process scratch directory. */
static inline const char *fuzz_dir(void)
{
    if (!fuzz_dir_path[0]) {
        struct stat sb;
        const char *base = (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) &&
                            access("/dev/shm", W_OK) == 0) ? "/dev/shm" : "/tmp";
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/mia-fuzz-XXXXXX", base);
        if (!mkdtemp(fuzz_dir_path)) abort();
        atexit(fuzz_cleanup);
    }
    return fuzz_dir_path;
}

/* Path of `name` inside the scratch directory (static buffer per slot 0..3). */
static inline const char *fuzz_path(int slot, const char *name)
{
    static char buf[4][512];
    snprintf(buf[slot & 3], sizeof buf[0], "%s/%s", fuzz_dir(), name);
    return buf[slot & 3];
}

/* Write `n` bytes to the scratch file `name`; returns its path (slot as in fuzz_path). */
static inline const char *fuzz_write(int slot, const char *name, const void *data, size_t n)
{
    const char *p = fuzz_path(slot, name);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    if (n && fwrite(data, 1, n, f) != n) abort();
    if (fclose(f) != 0) abort();
    return p;
}

/* Remove every file of the scratch directory (keeps the directory). */
static inline void fuzz_clear(void)
{
    const char *dir = fuzz_dir();
    DIR *d = opendir(dir);
    if (!d) abort();
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            fuzz_rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
}

/* Make the sub-directory `name` of the scratch directory; returns its path. */
static inline const char *fuzz_mkdir(int slot, const char *name)
{
    const char *p = fuzz_path(slot, name);
    if (mkdir(p, 0700) != 0) abort();
    return p;
}

/* Little-endian u16 at data[0..1] (0 when short). */
static inline size_t fuzz_u16(const uint8_t *data, size_t size)
{
    return size >= 2 ? (size_t)data[0] | (size_t)data[1] << 8 : 0;
}

#endif
