/* Fixture helpers shared by test-formats.c, test-dataset.c and test-splits.c (data area).
 * Everything is generated at test time into a private temporary directory. */
#ifndef TEST_DATA_FIXTURES_H
#define TEST_DATA_FIXTURES_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <archive.h>
#include <archive_entry.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char g_tmp[256];

static __attribute__((unused)) int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    return remove(p);
}

static __attribute__((unused)) int tmp_setup(void **state)
{
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/mia-data-test-XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static __attribute__((unused)) int tmp_teardown(void **state)
{
    (void)state;
    nftw(g_tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static __attribute__((unused)) const char *tpath(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) & 7;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_tmp, name);
    return buf[k];
}

static __attribute__((unused)) void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(data, 1, n, f) != n) abort();
    fclose(f);
}

static __attribute__((unused)) void write_gz(const char *path, const void *data, size_t n)
{
    gzFile g = gzopen(path, "wb6");
    if (!g) abort();
    if (n && gzwrite(g, data, (unsigned)n) != (int)n) abort();
    gzclose(g);
}

static __attribute__((unused)) uint8_t *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    if (fread(b, 1, (size_t)sz, f) != (size_t)sz) abort();
    fclose(f);
    *n = (size_t)sz;
    return b;
}

/* deterministic bytes (xorshift), independent of libmia's RNG */
static uint64_t g_xs = 88172645463325252ull;
static __attribute__((unused)) uint8_t xs_byte(void)
{
    g_xs ^= g_xs << 13;
    g_xs ^= g_xs >> 7;
    g_xs ^= g_xs << 17;
    return (uint8_t)(g_xs >> 32);
}

/* IDX writer (u8), big-endian dims */
static __attribute__((unused)) size_t idx_encode(uint8_t *dst, int ndim, const uint32_t *dims, const uint8_t *data)
{
    size_t k = 0, cnt = 1;
    dst[k++] = 0; dst[k++] = 0; dst[k++] = 8; dst[k++] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) {
        dst[k++] = (uint8_t)(dims[i] >> 24); dst[k++] = (uint8_t)(dims[i] >> 16);
        dst[k++] = (uint8_t)(dims[i] >> 8); dst[k++] = (uint8_t)dims[i];
        cnt *= dims[i];
    }
    if (data) memcpy(dst + k, data, cnt);
    return k + (data ? cnt : 0);
}

/* One tar.gz (or plain tar) entry to write. type: 'f' file, 'l' symlink, 'h' hardlink, 'd' dir */
typedef struct tar_item {
    const char *name;
    const void *data;
    size_t size;
    char type;
    const char *target;
} tar_item;

static __attribute__((unused)) void write_tar(const char *path, const tar_item *items, int n, int gzip)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (gzip) archive_write_add_filter_gzip(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) abort();
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, items[i].name);
        archive_entry_set_perm(e, 0644);
        if (items[i].type == 'l') {
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, items[i].target);
            archive_entry_set_size(e, 0);
        } else if (items[i].type == 'h') {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, items[i].target);
            archive_entry_set_size(e, 0);
        } else if (items[i].type == 'd') {
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_entry_set_size(e, 0);
        } else {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_size(e, (la_int64_t)items[i].size);
        }
        if (archive_write_header(a, e) != ARCHIVE_OK) abort();
        if (items[i].type == 'f' && items[i].size)
            if (archive_write_data(a, items[i].data, items[i].size) != (la_ssize_t)items[i].size)
                abort();
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

/* A gzip file whose content is prefix followed by n_zero zero bytes, produced in ~ms for any size:
 * raw deflate with Z_FULL_FLUSH makes every 1 MiB zero chunk compress to the same bytes, which
 * are repeated; header and CRC/ISIZE trailer are written by hand. Size ~1 KiB per MiB. */
static __attribute__((unused)) void write_gz_bomb(const char *path, const uint8_t *prefix, size_t np, uint64_t n_zero)
{
    enum { CH = 1 << 20 };
    static uint8_t zero[CH];
    static uint8_t out[CH * 2];
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    static const uint8_t hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    fwrite(hdr, 1, 10, f);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    uLong crc = crc32(0, Z_NULL, 0);
    /* prefix + first chunk */
    z.next_in = (Bytef *)prefix; z.avail_in = (uInt)np;
    z.next_out = out; z.avail_out = sizeof out;
    if (deflate(&z, Z_FULL_FLUSH) != Z_OK) abort();
    fwrite(out, 1, sizeof out - z.avail_out, f);
    crc = crc32(crc, prefix, (uInt)np);
    uint8_t *rep = NULL;
    size_t rep_n = 0;
    uLong crc_chunk = crc32(0, zero, CH);
    uint64_t left = n_zero;
    int chunks = 0;
    while (left >= CH) {
        if (chunks < 3) {
            z.next_in = zero; z.avail_in = CH; z.next_out = out; z.avail_out = sizeof out;
            if (deflate(&z, Z_FULL_FLUSH) != Z_OK) abort();
            size_t k = sizeof out - z.avail_out;
            if (chunks == 2) { /* the 2nd and 3rd outputs must agree to be repeatable */
                if (k != rep_n || memcmp(rep, out, k) != 0) abort();
            } else if (chunks == 1) {
                rep = malloc(k); memcpy(rep, out, k); rep_n = k;
            }
            fwrite(out, 1, k, f);
        } else {
            fwrite(rep, 1, rep_n, f);
        }
        crc = crc32_combine(crc, crc_chunk, CH);
        left -= CH;
        chunks++;
    }
    z.next_in = zero; z.avail_in = (uInt)left; z.next_out = out; z.avail_out = sizeof out;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    fwrite(out, 1, sizeof out - z.avail_out, f);
    crc = crc32(crc, zero, (uInt)left);
    deflateEnd(&z);
    uint64_t total = np + n_zero;
    uint8_t tr[8];
    for (int i = 0; i < 4; i++) tr[i] = (uint8_t)(crc >> (8 * i));
    for (int i = 0; i < 4; i++) tr[4 + i] = (uint8_t)(total >> (8 * i));
    fwrite(tr, 1, 8, f);
    fclose(f);
    free(rep);
}

/* ustar header for a regular file of `size` bytes (for bombs) */
static __attribute__((unused)) void ustar_header(uint8_t h[512], const char *name, uint64_t size)
{
    memset(h, 0, 512);
    snprintf((char *)h, 100, "%s", name);
    memcpy(h + 100, "0000644", 7);
    memcpy(h + 108, "0000000", 7);
    memcpy(h + 116, "0000000", 7);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    memcpy(h + 136, "00000000000", 11);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
}

#endif
