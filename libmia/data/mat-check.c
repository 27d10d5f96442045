/* Structural pre-check of MATLAB v5 files before matio reads them (reliability.md B3).
 *
 * matio's Mat_VarReadInfo / Mat_VarRead allocate cell and struct arrays from the dims in the
 * file without comparing them with the bytes that follow, and Mat_VarFree then walks every
 * element: a 373-byte file claiming a 3 x 838874878 nested cell costs minutes of CPU and a
 * 20 GB (lazily mapped) allocation (fuzz regression corpus/mat/regress-dogs-nested-cell). This
 * walker checks, for every miMATRIX element (inflating miCOMPRESSED ones, capped), that the
 * sub-element tags fit, dims are non-negative, and that a cell or struct array does not claim
 * more elements than its remaining bytes can hold (each element needs at least an 8-byte tag).
 * Char and numeric arrays must not claim more elements than their data element has bytes.
 * Files that are not MAT v5 (v4, v7.3 / HDF5) are refused. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "data/mat-util.h"
#include "io/io.h"

#if MIA_HAVE_MATIO

#define MI_MATRIX 14u
#define MI_COMPRESSED 15u
#define MX_CELL 1u
#define MX_STRUCT 2u
#define MAX_DEPTH 32
#define MAX_INFLATE ((size_t)256 << 20)

typedef struct {
    int be; /* big-endian file ("MI") */
} mctx;

static uint32_t rd32(const mctx *c, const uint8_t *p)
{
    return c->be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
                 : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Next data element at *off of buf: the element must fit in the declared length len; its
 * header must lie in the first avail bytes (avail <= len: what is actually in memory), and so
 * must its data when need_data. Returns its type, payload and the offset after it. */
static int next_tag(const mctx *c, const uint8_t *buf, size_t len, size_t avail, size_t *off,
                    uint32_t *type, const uint8_t **data, size_t *nb, int need_data)
{
    if (*off > avail || avail - *off < 8) return -1;
    uint32_t t = rd32(c, buf + *off);
    if (t >> 16) { /* small data element: 2-byte type and size, data in the next 4 bytes */
        *type = t & 0xffffu;
        *nb = t >> 16;
        if (*nb > 4) return -1;
        *data = buf + *off + 4;
        *off += 8;
        return 0;
    }
    *type = t;
    *nb = rd32(c, buf + *off + 4);
    if (*nb > len - *off - 8) return -1;
    if (need_data && *nb > avail - *off - 8) return -1;
    *data = buf + *off + 8;
    size_t adv = 8 + *nb;
    if (adv & 7) adv += 8 - (adv & 7);
    *off = adv > len - *off ? len : *off + adv;
    return 0;
}

static int check_matrix(const mctx *c, const uint8_t *p, size_t len, size_t avail, int depth);

/* Elements of a cell/struct array: n miMATRIX elements in p[off..len) (all in memory). */
static int check_elems(const mctx *c, const uint8_t *p, size_t len, size_t off, uint64_t n,
                       int depth)
{
    if (off > len || n > (len - off) / 8) return -1;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t type;
        const uint8_t *d;
        size_t nb;
        if (next_tag(c, p, len, len, &off, &type, &d, &nb, 1) != 0 || type != MI_MATRIX)
            return -1;
        if (check_matrix(c, d, nb, nb, depth + 1) != 0) return -1;
    }
    return 0;
}

/* One miMATRIX payload p[0..len), of which avail bytes are in memory. */
static int check_matrix(const mctx *c, const uint8_t *p, size_t len, size_t avail, int depth)
{
    if (depth > MAX_DEPTH) return -1;
    if (len == 0) return 0; /* empty matrix (allowed by the format) */
    size_t off = 0, nb;
    uint32_t type;
    const uint8_t *d;
    if (next_tag(c, p, len, avail, &off, &type, &d, &nb, 1) != 0 || nb < 8) return -1; /* flags */
    uint32_t cls = rd32(c, d) & 0xffu;
    /* cell, struct, char and numeric only: objects, sparse, function and opaque arrays are
     * never needed, and matio leaks reading some of them (fuzz: regress-function-class-leak) */
    if (!(cls == MX_CELL || cls == MX_STRUCT || cls == 4 || (cls >= 6 && cls <= 15))) return -1;
    if (next_tag(c, p, len, avail, &off, &type, &d, &nb, 1) != 0 || nb % 4) return -1; /* dims */
    uint64_t numel = 1;
    for (size_t k = 0; k < nb / 4; k++) {
        int32_t dim = (int32_t)rd32(c, d + 4 * k);
        if (dim < 0) return -1;
        if (dim && numel > UINT64_MAX / (uint64_t)dim) return -1;
        numel *= (uint64_t)dim;
    }
    if (next_tag(c, p, len, avail, &off, &type, &d, &nb, 1) != 0) return -1; /* name */
    if (cls == MX_CELL) return avail < len ? -1 : check_elems(c, p, len, off, numel, depth);
    if (cls == MX_STRUCT) {
        if (avail < len) return -1;
        /* field-name length, then the field names, then numel * nfields matrices */
        if (next_tag(c, p, len, len, &off, &type, &d, &nb, 1) != 0 || nb < 4) return -1;
        uint32_t fl = rd32(c, d);
        if (next_tag(c, p, len, len, &off, &type, &d, &nb, 1) != 0) return -1;
        uint64_t nf = fl ? nb / fl : 0;
        if (nf && numel > UINT64_MAX / nf) return -1;
        return check_elems(c, p, len, off, numel * nf, depth);
    }
    if ((cls == 4 || (cls >= 6 && cls <= 15)) && numel > 0) {
        /* char and numeric: matio allocates numel elements before reading the real part, which
         * stores each element in at least one byte */
        if (next_tag(c, p, len, avail, &off, &type, &d, &nb, 0) != 0 || numel > nb) return -1;
    }
    return 0;
}

/* Inflate up to cap bytes of a compressed element into a new buffer (*got bytes). */
static uint8_t *inflate_some(const uint8_t *z, size_t zn, size_t cap, size_t *got)
{
    uint8_t *out = mia__malloc(cap);
    if (!out) return NULL;
    z_stream s;
    memset(&s, 0, sizeof s);
    *got = 0;
    if (inflateInit(&s) != Z_OK) return out;
    s.next_in = (Bytef *)(uintptr_t)z;
    s.avail_in = (uInt)(zn > UINT32_MAX ? UINT32_MAX : zn);
    s.next_out = out;
    s.avail_out = (uInt)cap;
    (void)inflate(&s, Z_SYNC_FLUSH); /* a corrupt or short stream is matio's to report */
    *got = cap - s.avail_out;
    inflateEnd(&s);
    return out;
}

/* A compressed element: one miMATRIX once inflated. Only its headers are needed unless it is a
 * cell or struct array, which is inflated whole (capped). */
static int check_compressed(const mctx *c, const uint8_t *z, size_t zn)
{
    size_t got;
    uint8_t *head = inflate_some(z, zn, 1 << 16, &got);
    if (!head) return -2;
    int r = 0;
    if (got >= 8 && rd32(c, head) == MI_MATRIX) {
        uint64_t L = rd32(c, head + 4);
        /* zlib cannot expand more than ~1032:1 */
        if (L > (uint64_t)zn * 1032u + 1024u) r = -1;
        uint32_t cls = got >= 24 ? rd32(c, head + 16) & 0xffu : 0;
        if (r == 0 && (cls == MX_CELL || cls == MX_STRUCT) && L + 8 > got) {
            mia__free(head);
            if (L + 8 > MAX_INFLATE) return -1;
            head = inflate_some(z, zn, (size_t)L + 8, &got);
            if (!head) return -2;
        }
        if (r == 0 && L < 8) r = -1; /* empty top-level matrix: see mia__mat_precheck */
        if (r == 0) r = check_matrix(c, head + 8, (size_t)L, got - 8 < L ? got - 8 : (size_t)L, 0);
    }
    mia__free(head);
    return r;
}

mia_status mia__mat_precheck(const char *path, const char *label)
{
    FILE *f = fopen(path, "rb");
    if (!f) return MIA_OK; /* matio reports the open error */
    uint8_t hdr[128];
    size_t hn = fread(hdr, 1, sizeof hdr, f);
    fclose(f);
    /* Only MAT v5 (the format of the SVHN and Stanford Dogs files, also what MATLAB's -v6 and
     * -v7 write) is accepted: v4 files (no 128-byte header) and v7.3 (HDF5: a large parser
     * that allocates from its headers, fuzz oom-* in HDF5) are refused before matio sees them. */
    int le = hn == 128 && hdr[126] == 'I' && hdr[127] == 'M' && hdr[124] == 0 && hdr[125] == 1;
    int be = hn == 128 && hdr[126] == 'M' && hdr[127] == 'I' && hdr[124] == 1 && hdr[125] == 0;
    if (!le && !be) {
        if (hn == 128 && (hdr[124] | hdr[125] << 8) == 0x0200 && hdr[126] == 'I')
            return MIA_ERROR(MIA_ERR_UNSUPPORTED, "%s: MATLAB v7.3 (HDF5) .mat files are not "
                             "supported; save it as v7 (MAT v5 format)", label);
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: not a MATLAB v5 .mat file (no v5 header: version "
                         "and endian mark at bytes 124-127)", label);
    }
    mctx c = {be};
    uint8_t *buf = NULL;
    size_t len = 0;
    MIA_TRY(mia__read_file(path, (size_t)1 << 34, &buf, &len));
    size_t off = 128, nb;
    uint32_t type;
    const uint8_t *d;
    int r = 0;
    while (r == 0 && len - off >= 8) {
        size_t at = off;
        if (next_tag(&c, buf, len, len, &off, &type, &d, &nb, 1) != 0) {
            r = -1; /* an element runs past the end: truncated */
            break;
        }
        if (type == MI_MATRIX) {
            /* matio does not honour an empty top-level matrix: it parses the bytes after it */
            r = nb < 8 ? -1 : check_matrix(&c, d, nb, nb, 0);
        } else if (type == MI_COMPRESSED) {
            off = at + 8 + nb; /* compressed elements are not padded */
            r = check_compressed(&c, d, nb);
        }
        if (off > len) off = len;
    }
    mia__free(buf);
    if (r == -2) return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory checking the .mat file", label);
    if (r != 0)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: corrupt or truncated .mat file: an element "
                         "or an array's dimensions do not fit in its data", label);
    return MIA_OK;
}

#endif /* MIA_HAVE_MATIO */
