/* IDX files (MNIST family), plain or gzip-compressed, read with zlib's gz* API. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data/data-internal.h"
#include "dataset-impl.h"

/* deflate cannot expand more than ~1032:1; anything claiming more is not a real file */
#define GZ_MAX_RATIO 1040u

typedef struct idx_file {
    gzFile gz;
    const char *path;
    int compressed;
    uint64_t file_size;
    uint64_t pos; /* decompressed offset */
} idx_file;

static mia_status idx_open(idx_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return MIA_ERROR(MIA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return MIA_ERROR(MIA_ERR_IO, "%s: not a regular file", path);
    f->file_size = (uint64_t)sb.st_size;
    FILE *fp = fopen(path, "rb");
    if (!fp) return MIA_ERROR(MIA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char m[2] = {0, 0};
    size_t k = fread(m, 1, 2, fp);
    fclose(fp);
    f->compressed = k == 2 && m[0] == 0x1f && m[1] == 0x8b;
    f->gz = gzopen(path, "rb");
    if (!f->gz) return MIA_ERROR(MIA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(f->gz, 1 << 17);
    return MIA_OK;
}

static void idx_close(idx_file *f)
{
    if (f->gz) gzclose(f->gz);
    f->gz = NULL;
}

static mia_status idx_read(idx_file *f, void *dst, uint64_t n, const char *what)
{
    uint8_t *p = dst;
    uint64_t done = 0;
    while (done < n) {
        uint64_t chunk = n - done;
        if (chunk > (1u << 30)) chunk = 1u << 30;
        int r = gzread(f->gz, p + done, (unsigned)chunk);
        if (r < 0) {
            int zerr = 0;
            const char *msg = gzerror(f->gz, &zerr);
            return MIA_ERROR(MIA_ERR_FORMAT, "%s: %s at decompressed offset %llu: %s", f->path,
                             what, (unsigned long long)(f->pos + done),
                             f->compressed ? (msg ? msg : "gzip error") : "read error");
        }
        if (r == 0) {
            int zerr = 0;
            const char *msg = gzerror(f->gz, &zerr);
            return MIA_ERROR(MIA_ERR_FORMAT,
                             "%s: truncated: %s needs %llu bytes at offset %llu, file ends "
                             "after %llu%s%s",
                             f->path, what, (unsigned long long)n, (unsigned long long)f->pos,
                             (unsigned long long)done, zerr ? ": " : "",
                             zerr ? (msg ? msg : "gzip error") : "");
        }
        done += (uint64_t)r;
    }
    f->pos += n;
    return MIA_OK;
}

/* After the payload: the file must end here (and for gzip, the CRC/length trailer must check). */
static mia_status idx_expect_end(idx_file *f)
{
    uint8_t b;
    int r = gzread(f->gz, &b, 1);
    if (r > 0)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: trailing data after the last record at offset %llu",
                         f->path, (unsigned long long)f->pos);
    int zerr = 0;
    const char *msg = gzerror(f->gz, &zerr);
    if (r < 0 || (zerr != Z_OK && zerr != Z_STREAM_END))
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: corrupt gzip trailer after offset %llu: %s",
                         f->path, (unsigned long long)f->pos, msg ? msg : "gzip error");
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
    mia_dataset *d = NULL;
    uint8_t *lab = NULL;
    mia_status st = idx_open(&fi, images_path);
    if (st != MIA_OK) return st;
    idx_header hi, hl;
    if ((st = idx_header_read(&fi, &hi, 3, 4)) != MIA_OK) goto done;
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
    if ((st = idx_check_size(&fi, hdr_i, per * (uint64_t)take, take < n, o.max_bytes)) != MIA_OK)
        goto done;
    if (!(take < n) && (st = idx_check_size(&fi, hdr_i, per * (uint64_t)n, false,
                                            o.max_bytes)) != MIA_OK)
        goto done;
    if (labels_path) {
        if ((st = idx_open(&fl, labels_path)) != MIA_OK) goto done;
        if ((st = idx_header_read(&fl, &hl, 1, 1)) != MIA_OK) goto done;
        if (hl.dims[0] != (uint32_t)n) {
            st = MIA_ERROR(MIA_ERR_MISMATCH, "%s: %u labels (offset 4) but %s holds %lld images",
                           labels_path, hl.dims[0], images_path, (long long)n);
            goto done;
        }
        if ((st = idx_check_size(&fl, 8, (uint64_t)take, take < n, o.max_bytes)) != MIA_OK)
            goto done;
        lab = mia__malloc((size_t)take);
        if (!lab) {
            st = MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory", labels_path);
            goto done;
        }
        if ((st = idx_read(&fl, lab, (uint64_t)take, "the labels")) != MIA_OK) goto done;
        if (take == n && (st = idx_expect_end(&fl)) != MIA_OK) goto done;
    }
    int64_t ncls = 0;
    if (lab)
        for (int64_t i = 0; i < take; i++)
            if ((int64_t)lab[i] + 1 > ncls) ncls = (int64_t)lab[i] + 1;
    char src[1024];
    snprintf(src, sizeof src, "idx:%s%s%s", images_path, labels_path ? "," : "",
             labels_path ? labels_path : "");
    if ((st = mia__dataset_new(&d, take, c, h, w, ncls, src)) != MIA_OK) goto done;
    if ((st = idx_read(&fi, d->pixels, per * (uint64_t)take, "the image data")) != MIA_OK)
        goto done;
    if (take == n && (st = idx_expect_end(&fi)) != MIA_OK) goto done;
    for (int64_t i = 0; i < take; i++) d->labels[i] = lab ? lab[i] : -1;
    mia__dataset_finish(d);
done:
    idx_close(&fi);
    idx_close(&fl);
    mia__free(lab);
    if (st != MIA_OK) {
        mia_dataset_free(d);
        return st;
    }
    *out = d;
    return MIA_OK;
}
