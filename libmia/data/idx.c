/* IDX files (MNIST family), plain or gzip-compressed (inflate on the bytes in memory), from a
 * path or from memory (mia__idx_load_mem). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data/data-internal.h"
#include "dataset-impl.h"
#include "io/io.h"

/* deflate cannot expand more than ~1032:1; anything claiming more is not a real file */
#define GZ_MAX_RATIO 1040u

/* A whole IDX file held in memory, plain or gzip (one or more members). Decompression is done
 * here with inflate() rather than gzread(): gzread silently ignores bytes after the last gzip
 * member, and we want to reject them (and name the offset). */
typedef struct idx_file {
    const uint8_t *data;  /* file bytes (borrowed) */
    size_t len;
    uint8_t *owned;       /* when read from a path */
    const char *path;     /* name used in messages */
    int compressed;
    uint64_t file_size;
    uint64_t pos;         /* decompressed offset */
    size_t raw;           /* plain files: read offset */
    z_stream z;
    int z_init;
    int z_end;            /* the last member ended and no input is left */
} idx_file;

static mia_status idx_open_mem(idx_file *f, const void *data, size_t len, const char *name)
{
    memset(f, 0, sizeof *f);
    f->path = name ? name : "<memory>";
    f->data = data;
    f->len = len;
    f->file_size = len;
    f->compressed = len >= 2 && f->data[0] == 0x1f && f->data[1] == 0x8b;
    if (f->compressed) {
        if (inflateInit2(&f->z, 16 + 15) != Z_OK)
            return MIA_ERROR(MIA_ERR_NOMEM, "%s: cannot initialise zlib", f->path);
        f->z_init = 1;
        f->z.next_in = (Bytef *)(uintptr_t)f->data;
        f->z.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
    }
    return MIA_OK;
}

static mia_status idx_open(idx_file *f, const char *path, uint64_t cap)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return MIA_ERROR(MIA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return MIA_ERROR(MIA_ERR_IO, "%s: not a regular file", path);
    uint8_t *buf = NULL;
    size_t len = 0;
    MIA_TRY(mia__read_file(path, (size_t)(cap + (1u << 16)), &buf, &len));
    mia_status st = idx_open_mem(f, buf, len, path);
    f->owned = buf;
    return st;
}

static void idx_close(idx_file *f)
{
    if (f->z_init) inflateEnd(&f->z);
    f->z_init = 0;
    mia__free(f->owned);
    f->owned = NULL;
}

static uint64_t z_in_offset(const idx_file *f)
{
    return (uint64_t)((const uint8_t *)f->z.next_in - f->data);
}

/* Produce up to n bytes; *got < n only at a clean end of the data. */
static mia_status idx_pull(idx_file *f, uint8_t *dst, uint64_t n, uint64_t *got, const char *what)
{
    *got = 0;
    if (!f->compressed) {
        uint64_t have = f->len - f->raw;
        uint64_t k = n < have ? n : have;
        if (k) memcpy(dst, f->data + f->raw, (size_t)k);
        f->raw += (size_t)k;
        *got = k;
        return MIA_OK;
    }
    uint64_t done = 0;
    while (done < n && !f->z_end) {
        uint64_t chunk = n - done;
        if (chunk > (1u << 30)) chunk = 1u << 30;
        f->z.next_out = dst + done;
        f->z.avail_out = (uInt)chunk;
        /* refill the 32-bit input window for files over 4 GiB */
        if (f->z.avail_in == 0 && z_in_offset(f) < f->len) {
            size_t left = f->len - (size_t)z_in_offset(f);
            f->z.avail_in = left > UINT32_MAX ? UINT32_MAX : (uInt)left;
        }
        int r = inflate(&f->z, Z_NO_FLUSH);
        done += chunk - f->z.avail_out;
        if (r == Z_STREAM_END) {
            /* end of one gzip member: the file may hold another member, nothing else */
            uint64_t off = z_in_offset(f);
            if (off == f->len) {
                f->z_end = 1;
                break;
            }
            if (f->len - off >= 2 && f->data[off] == 0x1f && f->data[off + 1] == 0x8b) {
                if (inflateReset(&f->z) != Z_OK)
                    return MIA_ERROR(MIA_ERR_FORMAT, "%s: zlib reset failed", f->path);
                continue;
            }
            return MIA_ERROR(MIA_ERR_FORMAT,
                             "%s: trailing data after the final gzip member at file offset %llu "
                             "(%llu bytes that are not a gzip member)",
                             f->path, (unsigned long long)off,
                             (unsigned long long)(f->len - off));
        }
        if (r == Z_OK) continue;
        if (r == Z_BUF_ERROR && f->z.avail_in == 0 && z_in_offset(f) >= f->len)
            return MIA_ERROR(MIA_ERR_FORMAT,
                             "%s: truncated gzip stream: %s stops at decompressed offset %llu "
                             "(compressed file ends at %llu)",
                             f->path, what, (unsigned long long)(f->pos + done),
                             (unsigned long long)f->len);
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: corrupt gzip data near file offset %llu "
                         "(decompressed offset %llu, reading %s): %s",
                         f->path, (unsigned long long)z_in_offset(f),
                         (unsigned long long)(f->pos + done), what,
                         f->z.msg ? f->z.msg : "inflate error");
    }
    *got = done;
    return MIA_OK;
}

static mia_status idx_read(idx_file *f, void *dst, uint64_t n, const char *what)
{
    uint64_t got = 0;
    MIA_TRY(idx_pull(f, dst, n, &got, what));
    if (got < n)
        return MIA_ERROR(MIA_ERR_FORMAT,
                         "%s: truncated: %s needs %llu bytes at offset %llu, file ends "
                         "after %llu",
                         f->path, what, (unsigned long long)n, (unsigned long long)f->pos,
                         (unsigned long long)got);
    f->pos += n;
    return MIA_OK;
}

/* After the payload: the file must end here (for gzip: every member complete, CRCs checked by
 * inflate, and no bytes after the last member). */
static mia_status idx_expect_end(idx_file *f)
{
    uint8_t b;
    uint64_t got = 0;
    MIA_TRY(idx_pull(f, &b, 1, &got, "the end of the file"));
    if (got > 0)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: trailing data after the last record at offset %llu",
                         f->path, (unsigned long long)f->pos);
    return MIA_OK;
}

typedef struct idx_header {
    int type;
    int ndim;
    uint32_t dims[4];
    uint64_t count; /* product of all dims */
} idx_header;

static mia_status idx_header_read(idx_file *f, idx_header *h, int want_ndim_lo, int want_ndim_hi)
{
    uint8_t m[4];
    MIA_TRY(idx_read(f, m, 4, "the 4-byte magic"));
    if (m[0] != 0 || m[1] != 0)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: not an IDX file: magic bytes 0-1 are %02x %02x, "
                         "expected 00 00", f->path, m[0], m[1]);
    h->type = m[2];
    h->ndim = m[3];
    if (h->type != 0x08) {
        const char *tn = h->type == 0x09 ? "i8" : h->type == 0x0B ? "i16" : h->type == 0x0C ? "i32"
                       : h->type == 0x0D ? "f32" : h->type == 0x0E ? "f64" : "unknown";
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: IDX element type 0x%02x (%s) at offset 2 is not "
                         "supported (only 0x08 = u8)", f->path, h->type, tn);
    }
    if (h->ndim < want_ndim_lo || h->ndim > want_ndim_hi)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: IDX has %d dimensions at offset 3, expected %d..%d",
                         f->path, h->ndim, want_ndim_lo, want_ndim_hi);
    uint8_t d[16];
    MIA_TRY(idx_read(f, d, 4u * (unsigned)h->ndim, "the dimension sizes"));
    h->count = 1;
    for (int i = 0; i < h->ndim; i++) {
        h->dims[i] = (uint32_t)d[4 * i] << 24 | (uint32_t)d[4 * i + 1] << 16 |
                     (uint32_t)d[4 * i + 2] << 8 | d[4 * i + 3];
        if (h->dims[i] == 0)
            return MIA_ERROR(MIA_ERR_FORMAT, "%s: dimension %d (offset %d) is 0", f->path, i,
                             4 + 4 * i);
        if (h->count > UINT64_MAX / h->dims[i]) h->count = UINT64_MAX;
        else h->count *= h->dims[i];
    }
    return MIA_OK;
}

/* Is `bytes` of payload plausible for this file? Checked before allocating anything. */
static mia_status idx_check_size(idx_file *f, uint64_t header, uint64_t bytes, bool partial,
                                 uint64_t cap)
{
    if (bytes > cap)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: header claims %llu data bytes, above the cap of "
                         "%llu", f->path, (unsigned long long)bytes, (unsigned long long)cap);
    if (!f->compressed) {
        uint64_t have = f->file_size > header ? f->file_size - header : 0;
        if (have < bytes || (!partial && have != bytes))
            return MIA_ERROR(MIA_ERR_FORMAT, "%s: header (dims ending at offset %llu) claims %llu "
                             "data bytes but the file holds %llu", f->path,
                             (unsigned long long)header, (unsigned long long)bytes,
                             (unsigned long long)have);
    } else {
        uint64_t lim = f->file_size * GZ_MAX_RATIO + (1u << 20);
        if (bytes + header > lim)
            return MIA_ERROR(MIA_ERR_FORMAT, "%s: header claims %llu data bytes, more than a "
                             "%llu-byte gzip file can hold", f->path, (unsigned long long)bytes,
                             (unsigned long long)f->file_size);
    }
    return MIA_OK;
}

/* Decode opened image (and optional label) files. */
static mia_status idx_decode(mia_dataset **out, idx_file *fi, idx_file *fl,
                             const mia_dataset_load_opts *opts)
{
    const mia_dataset_load_opts o = *opts;
    const char *images_path = fi->path;
    const char *labels_path = fl ? fl->path : NULL;
    mia_dataset *d = NULL;
    uint8_t *lab = NULL;
    mia_status st = MIA_OK;
    idx_header hi, hl;
    if ((st = idx_header_read(fi, &hi, 3, 4)) != MIA_OK) goto done;
    int64_t n = hi.dims[0];
    int64_t c = hi.ndim == 4 ? hi.dims[1] : 1;
    int64_t h = hi.dims[hi.ndim - 2], w = hi.dims[hi.ndim - 1];
    if (c > 4) {
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: %lld channels (dimension 1 at offset 8); at most 4 "
                       "are supported (4-D IDX is read as N,C,H,W)", images_path, (long long)c);
        goto done;
    }
    if (h > 65536 || w > 65536) {
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: image size %lldx%lld exceeds 65536", images_path,
                       (long long)h, (long long)w);
        goto done;
    }
    int64_t take = n;
    if (o.max_images > 0 && o.max_images < n) take = o.max_images;
    uint64_t per = (uint64_t)(c * h * w);
    uint64_t hdr_i = 4 + 4 * (uint64_t)hi.ndim;
    if ((uint64_t)n > UINT64_MAX / per) {
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: dimensions overflow 64 bits", images_path);
        goto done;
    }
    if ((st = idx_check_size(fi, hdr_i, per * (uint64_t)take, take < n, o.max_bytes)) != MIA_OK)
        goto done;
    if (!(take < n) && (st = idx_check_size(fi, hdr_i, per * (uint64_t)n, false,
                                            o.max_bytes)) != MIA_OK)
        goto done;
    if (fl) {
        if ((st = idx_header_read(fl, &hl, 1, 1)) != MIA_OK) goto done;
        if (hl.dims[0] != (uint32_t)n) {
            st = MIA_ERROR(MIA_ERR_MISMATCH, "%s: %u labels (offset 4) but %s holds %lld images",
                           labels_path, hl.dims[0], images_path, (long long)n);
            goto done;
        }
        if ((st = idx_check_size(fl, 8, (uint64_t)take, take < n, o.max_bytes)) != MIA_OK)
            goto done;
        lab = mia__malloc((size_t)take);
        if (!lab) {
            st = MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory", labels_path);
            goto done;
        }
        if ((st = idx_read(fl, lab, (uint64_t)take, "the labels")) != MIA_OK) goto done;
        if (take == n && (st = idx_expect_end(fl)) != MIA_OK) goto done;
    }
    int64_t ncls = 0;
    if (lab)
        for (int64_t i = 0; i < take; i++)
            if ((int64_t)lab[i] + 1 > ncls) ncls = (int64_t)lab[i] + 1;
    char src[1024];
    snprintf(src, sizeof src, "idx:%s%s%s", images_path, labels_path ? "," : "",
             labels_path ? labels_path : "");
    if ((st = mia__dataset_new(&d, take, c, h, w, ncls, src)) != MIA_OK) goto done;
    if ((st = idx_read(fi, d->pixels, per * (uint64_t)take, "the image data")) != MIA_OK)
        goto done;
    if (take == n && (st = idx_expect_end(fi)) != MIA_OK) goto done;
    for (int64_t i = 0; i < take; i++) d->labels[i] = lab ? lab[i] : -1;
    mia__dataset_finish(d);
done:
    mia__free(lab);
    if (st != MIA_OK) {
        mia_dataset_free(d);
        return st;
    }
    *out = d;
    return MIA_OK;
}

mia_status mia_dataset_load_idx(mia_dataset **out, const char *images_path,
                                const char *labels_path, const mia_dataset_load_opts *opts_in)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(images_path != NULL, "images_path is NULL");
    mia_dataset_load_opts o;
    MIA_TRY(mia__load_opts_get(&o, opts_in));
    idx_file fi, fl;
    memset(&fl, 0, sizeof fl);
    mia_status st = idx_open(&fi, images_path, o.max_bytes);
    if (st == MIA_OK && labels_path) st = idx_open(&fl, labels_path, o.max_bytes);
    if (st == MIA_OK) st = idx_decode(out, &fi, labels_path ? &fl : NULL, &o);
    idx_close(&fi);
    idx_close(&fl);
    return st;
}

mia_status mia__idx_load_mem(mia_dataset **out, const void *images, size_t images_len,
                             const char *images_name, const void *labels, size_t labels_len,
                             const char *labels_name, const mia_dataset_load_opts *opts_in)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(images != NULL || images_len == 0, "images is NULL");
    MIA_CHECK_ARG(labels != NULL || labels_len == 0, "labels is NULL");
    mia_dataset_load_opts o;
    MIA_TRY(mia__load_opts_get(&o, opts_in));
    static const uint8_t empty[1] = {0};
    idx_file fi, fl;
    memset(&fl, 0, sizeof fl);
    mia_status st = idx_open_mem(&fi, images ? images : empty, images_len,
                                 images_name ? images_name : "<images>");
    bool with_labels = labels != NULL;
    if (st == MIA_OK && with_labels)
        st = idx_open_mem(&fl, labels, labels_len, labels_name ? labels_name : "<labels>");
    if (st == MIA_OK) st = idx_decode(out, &fi, with_labels ? &fl : NULL, &o);
    idx_close(&fi);
    idx_close(&fl);
    return st;
}
