/* safetensors reader: the reference reader's validation rules in its order, plus explicit
 * duplicate-key, nesting-depth, metadata-type, dtype and NaN/Inf checks. See safetensors.h. */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "io/safetensors-impl.h"

/* ---- dtype table ------------------------------------------------------------------------ */
static const st_dtype_desc k_dtypes[] = {
    /* name, bits, reference enum order, mia_safetensors_dtype or -1 */
    {"BOOL", 8, 0, -1},         {"F4", 4, 1, -1},          {"F6_E2M3", 6, 2, -1},
    {"F6_E3M2", 6, 3, -1},      {"U8", 8, 4, MIA_SAFETENSORS_U8},
    {"I8", 8, 5, -1},           {"F8_E5M2", 8, 6, -1},     {"F8_E4M3", 8, 7, -1},
    {"F8_E8M0", 8, 8, -1},      {"F8_E4M3FNUZ", 8, 8, -1}, {"F8_E5M2FNUZ", 8, 8, -1},
    {"I16", 16, 9, -1},         {"U16", 16, 10, -1},       {"F16", 16, 11, MIA_SAFETENSORS_F16},
    {"BF16", 16, 12, MIA_SAFETENSORS_BF16},
    {"I32", 32, 13, MIA_SAFETENSORS_I32},
    {"U32", 32, 14, -1},        {"F32", 32, 15, MIA_SAFETENSORS_F32},
    {"C64", 64, 16, -1},        {"F64", 64, 17, MIA_SAFETENSORS_F64},
    {"I64", 64, 18, MIA_SAFETENSORS_I64},
    {"U64", 64, 19, -1},
};
#define N_DTYPES (sizeof k_dtypes / sizeof k_dtypes[0])

const st_dtype_desc *mia__st_dtype_lookup(const char *name)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (strcmp(k_dtypes[i].name, name) == 0) return &k_dtypes[i];
    return NULL;
}

const st_dtype_desc *mia__st_dtype_desc(mia_safetensors_dtype dt)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (k_dtypes[i].supported >= 0 && k_dtypes[i].supported == (int)dt) return &k_dtypes[i];
    return NULL;
}

const char *mia_safetensors_dtype_name(mia_safetensors_dtype dtype)
{
    const st_dtype_desc *d = mia__st_dtype_desc(dtype);
    return d ? d->name : "unknown";
}

size_t mia_safetensors_dtype_size(mia_safetensors_dtype dtype)
{
    const st_dtype_desc *d = mia__st_dtype_desc(dtype);
    return d ? (size_t)d->bits / 8 : 0;
}

bool mia_safetensors_dtype_to_tensor(mia_safetensors_dtype dtype, mia_dtype *out)
{
    mia_dtype t;
    switch (dtype) {
    case MIA_SAFETENSORS_F32: t = MIA_DTYPE_F32; break;
    case MIA_SAFETENSORS_F64: t = MIA_DTYPE_F64; break;
    case MIA_SAFETENSORS_I64: t = MIA_DTYPE_I64; break;
    case MIA_SAFETENSORS_I32: t = MIA_DTYPE_I32; break;
    case MIA_SAFETENSORS_U8: t = MIA_DTYPE_U8; break;
    default: return false;
    }
    if (out) *out = t;
    return true;
}

int mia__utf8_valid(const uint8_t *s, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            goto fail;
        }
        if (n - i < len) goto fail;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) goto fail;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            goto fail;
        i += len;
    }
    return 1;
fail:
    if (bad) *bad = i;
    return 0;
}

/* ---- reader ----------------------------------------------------------------------------- */
typedef struct st_tensor {
    char *name;
    mia_safetensors_dtype dtype;
    int ndim;
    int64_t shape[MIA_MAX_DIMS];
    size_t begin, end; /* relative to the buffer */
    uint64_t nonfinite;
} st_tensor;

struct mia_safetensors {
    uint8_t *file;
    size_t len;
    size_t data_start; /* 8 + N */
    size_t n;
    st_tensor *t;      /* sorted by data offsets */
    size_t *by_name;   /* indices into t sorted by name */
    size_t nmeta;
    char **meta_key, **meta_val;
};

void mia_safetensors_opts_init_sized(mia_safetensors_opts *o, size_t size)
{
    if (!o) return;
    memset(o, 0, size);
    if (size >= sizeof(uint32_t)) o->struct_size = (uint32_t)size;
}

void mia_safetensors_free(mia_safetensors *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) mia__free(st->t[i].name);
    for (size_t i = 0; i < st->nmeta; i++) {
        mia__free(st->meta_key[i]);
        mia__free(st->meta_val[i]);
    }
    mia__free(st->meta_key);
    mia__free(st->meta_val);
    mia__free(st->t);
    mia__free(st->by_name);
    mia__free(st->file);
    mia__free(st);
}

#define FAIL(status, ...)                                                                       \
    do {                                                                                        \
        s = MIA_ERROR((status), __VA_ARGS__);                                                   \
        goto done;                                                                              \
    } while (0)

/* Maximum nesting of [ and { outside strings; stops early past limit. */
static int json_depth(const uint8_t *p, size_t n, int limit, size_t *where)
{
    int depth = 0, maxd = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > maxd) {
                maxd = depth;
                if (maxd > limit) {
                    *where = i;
                    return maxd;
                }
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return maxd;
}

static int cmp_offsets(const void *a, const void *b)
{
    const st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}


static int cmp_names_idx(const void *a, const void *b, void *base)
{
    const st_tensor *t = base;
    return strcmp(t[*(const size_t *)a].name, t[*(const size_t *)b].name);
}

/* Simple merge sort of index array by name (qsort_r is a GNU extension; keep it portable). */
static void sort_by_name(size_t *idx, size_t *tmp, size_t n, const st_tensor *t)
{
    if (n < 2) return;
    size_t h = n / 2;
    sort_by_name(idx, tmp, h, t);
    sort_by_name(idx + h, tmp, n - h, t);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = cmp_names_idx(&idx[j], &idx[i], (void *)t) < 0 ? idx[j++] : idx[i++];
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

/* Get a non-negative integer (json_int_t) as uint64. */
static int get_u64(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v)) return 0;
    json_int_t x = json_integer_value(v);
    if (x < 0) return 0;
    *out = (uint64_t)x;
    return 1;
}

static uint64_t count_nonfinite(const uint8_t *p, size_t nbytes, mia_safetensors_dtype dt,
                                uint64_t *first)
{
    uint64_t cnt = 0;
    size_t es = mia_safetensors_dtype_size(dt);
    size_t n = es ? nbytes / es : 0;
    for (size_t i = 0; i < n; i++) {
        int bad = 0;
        if (dt == MIA_SAFETENSORS_F32) {
            uint32_t u;
            memcpy(&u, p + 4 * i, 4);
            bad = (u & 0x7F800000u) == 0x7F800000u;
        } else if (dt == MIA_SAFETENSORS_F64) {
            uint64_t u;
            memcpy(&u, p + 8 * i, 8);
            bad = (u & 0x7FF0000000000000ull) == 0x7FF0000000000000ull;
        } else if (dt == MIA_SAFETENSORS_F16 || dt == MIA_SAFETENSORS_BF16) {
            uint16_t u = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
            uint16_t m = dt == MIA_SAFETENSORS_F16 ? 0x7C00 : 0x7F80;
            bad = (u & m) == m;
        }
        if (bad) {
            if (!cnt) *first = i;
            cnt++;
        }
    }
    return cnt;
}

static mia_status parse(mia_safetensors *st, const char *fname, mia_safetensors_nonfinite pol)
{
    mia_status s = MIA_OK;
    json_t *root = NULL;
    size_t len = st->len;
    const uint8_t *f = st->file;

    /* 1. header length prefix */
    if (len < 8)
        FAIL(MIA_ERR_FORMAT, "%s: header too small: file is %zu bytes, the 8-byte header "
             "length is missing", fname, len);
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--) hn = hn << 8 | f[i];
    /* 2. */
    if (hn > MIA_SAFETENSORS_MAX_HEADER)
        FAIL(MIA_ERR_FORMAT, "%s: header length %" PRIu64 " at offset 0 is larger than the "
             "limit of %llu bytes", fname, hn, MIA_SAFETENSORS_MAX_HEADER);
    /* 3. */
    if (hn + 8 > len)
        FAIL(MIA_ERR_FORMAT, "%s: header length %" PRIu64 " at offset 0 runs past the end of "
             "the file (%zu bytes)", fname, hn, len);
    st->data_start = 8 + (size_t)hn;
    const uint8_t *hdr = f + 8;
    size_t hlen = (size_t)hn;
    size_t buflen = len - st->data_start;

    /* 4. UTF-8, depth, JSON, shape */
    size_t bad;
    if (!mia__utf8_valid(hdr, hlen, &bad))
        FAIL(MIA_ERR_FORMAT, "%s: header is not valid UTF-8 (byte 0x%02x at file offset %zu)",
             fname, hdr[bad], 8 + bad);
    size_t where = 0;
    if (json_depth(hdr, hlen, MIA_SAFETENSORS_MAX_DEPTH, &where) > MIA_SAFETENSORS_MAX_DEPTH)
        FAIL(MIA_ERR_FORMAT, "%s: header JSON nesting depth exceeds %d at file offset %zu",
             fname, MIA_SAFETENSORS_MAX_DEPTH, 8 + where);
    json_error_t jerr;
    root = json_loadb((const char *)hdr, hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_duplicate_key)
            FAIL(MIA_ERR_FORMAT, "%s: header has a duplicate key (%s) near file offset %zu",
                 fname, jerr.text, 8 + (size_t)(jerr.position > 0 ? jerr.position : 0));
        FAIL(MIA_ERR_FORMAT, "%s: header is not valid JSON: %s at file offset %zu", fname,
             jerr.text, 8 + (size_t)(jerr.position > 0 ? jerr.position : 0));
    }
    if (!json_is_object(root))
        FAIL(MIA_ERR_FORMAT, "%s: header is not a JSON object", fname);

    size_t nkeys = json_object_size(root);
    json_t *meta = json_object_get(root, "__metadata__");
    size_t ntens = nkeys - (meta ? 1 : 0);
    if (meta) {
        if (!json_is_object(meta))
            FAIL(MIA_ERR_FORMAT, "%s: header field __metadata__ is not an object", fname);
        size_t nm = json_object_size(meta);
        st->meta_key = mia__calloc(nm ? nm : 1, sizeof *st->meta_key);
        st->meta_val = mia__calloc(nm ? nm : 1, sizeof *st->meta_val);
        if (!st->meta_key || !st->meta_val) FAIL(MIA_ERR_NOMEM, "%s: out of memory", fname);
        const char *k;
        json_t *v;
        json_object_foreach(meta, k, v) {
            if (!json_is_string(v))
                FAIL(MIA_ERR_FORMAT, "%s: __metadata__ value of key '%s' is not a string",
                     fname, k);
            st->meta_key[st->nmeta] = mia__strdup(k);
            st->meta_val[st->nmeta] = mia__strdup(json_string_value(v));
            st->nmeta++;
            if (!st->meta_key[st->nmeta - 1] || !st->meta_val[st->nmeta - 1])
                FAIL(MIA_ERR_NOMEM, "%s: out of memory", fname);
            if (strlen(json_string_value(v)) != json_string_length(v))
                FAIL(MIA_ERR_FORMAT, "%s: __metadata__ value of key '%s' contains a NUL", fname,
                     k);
        }
    }
    st->t = mia__calloc(ntens ? ntens : 1, sizeof *st->t);
    st->by_name = mia__calloc(ntens ? ntens : 1, sizeof *st->by_name);
    if (!st->t || !st->by_name) FAIL(MIA_ERR_NOMEM, "%s: out of memory (%zu tensors)", fname, ntens);

    const char *name;
    json_t *e;
    json_object_foreach(root, name, e) {
        if (strcmp(name, "__metadata__") == 0) continue;
        st_tensor *t = &st->t[st->n];
        if (!json_is_object(e))
            FAIL(MIA_ERR_FORMAT, "%s: entry of tensor '%s' is not an object", fname, name);
        json_t *jd = json_object_get(e, "dtype");
        json_t *js = json_object_get(e, "shape");
        json_t *jo = json_object_get(e, "data_offsets");
        if (!json_is_string(jd))
            FAIL(MIA_ERR_FORMAT, "%s: tensor '%s': field dtype is %s", fname, name,
                 jd ? "not a string" : "missing");
        if (!json_is_array(js))
            FAIL(MIA_ERR_FORMAT, "%s: tensor '%s': field shape is %s", fname, name,
                 js ? "not an array" : "missing");
        if (!json_is_array(jo) || json_array_size(jo) != 2)
            FAIL(MIA_ERR_FORMAT, "%s: tensor '%s': field data_offsets is %s", fname, name,
                 jo ? "not an array of two integers" : "missing");
        const char *dname = json_string_value(jd);
        const st_dtype_desc *dd = mia__st_dtype_lookup(dname);
        if (!dd)
            FAIL(MIA_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", fname, name, dname);
        if (dd->supported < 0)
            FAIL(MIA_ERR_UNSUPPORTED, "%s: dtype %s of tensor '%s' is not supported (libmia "
                 "reads F32, F64, I64, I32, U8, BF16, F16)", fname, dname, name);
        t->dtype = (mia_safetensors_dtype)dd->supported;
        size_t nd = json_array_size(js);
        if (nd > MIA_MAX_DIMS)
            FAIL(MIA_ERR_UNSUPPORTED, "%s: tensor '%s' has rank %zu, more than MIA_MAX_DIMS = %d",
                 fname, name, nd, MIA_MAX_DIMS);
        t->ndim = (int)nd;
        for (size_t k = 0; k < nd; k++) {
            uint64_t d;
            if (!get_u64(json_array_get(js, k), &d))
                FAIL(MIA_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer",
                     fname, name, k);
            t->shape[k] = (int64_t)d;
        }
        uint64_t b, en;
        if (!get_u64(json_array_get(jo, 0), &b) || !get_u64(json_array_get(jo, 1), &en))
            FAIL(MIA_ERR_FORMAT, "%s: tensor '%s': data_offsets are not non-negative integers",
                 fname, name);
        if (b > SIZE_MAX || en > SIZE_MAX)
            FAIL(MIA_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] "
                 "overflow", fname, name, b, en);
        t->begin = (size_t)b;
        t->end = (size_t)en;
        t->name = mia__strdup(name);
        if (!t->name) FAIL(MIA_ERR_NOMEM, "%s: out of memory", fname);
        st->n++;
    }

    /* 5 + 6. contiguous tiling from 0, and sizes */
    qsort(st->t, st->n, sizeof *st->t, cmp_offsets);
    size_t pos = 0;
    for (size_t i = 0; i < st->n; i++) {
        st_tensor *t = &st->t[i];
        if (t->begin != pos || t->end < t->begin) {
            if (t->end < t->begin)
                FAIL(MIA_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] end before begin",
                     fname, t->name, t->begin, t->end);
            if (t->begin > pos)
                FAIL(MIA_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] leave a gap of "
                     "%zu bytes after buffer offset %zu", fname, t->name, t->begin, t->end,
                     t->begin - pos, pos);
            FAIL(MIA_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] overlap tensor '%s' "
                 "(which ends at buffer offset %zu)", fname, t->name, t->begin, t->end,
                 st->t[i - 1].name, pos);
        }
        size_t elems = 1, bytes;
        for (int k = 0; k < t->ndim; k++)
            if (mia__mul_size(elems, (size_t)t->shape[k], &elems) ||
                (uint64_t)t->shape[k] > (uint64_t)INT64_MAX)
                FAIL(MIA_ERR_FORMAT, "%s: tensor '%s': element count of the shape overflows",
                     fname, t->name);
        if (mia__mul_size(elems, mia_safetensors_dtype_size(t->dtype), &bytes))
            FAIL(MIA_ERR_FORMAT, "%s: tensor '%s': byte size of the shape overflows", fname,
                 t->name);
        if (t->end - t->begin != bytes)
            FAIL(MIA_ERR_FORMAT, "%s: tensor '%s': shape holds %zu elements of %s = %zu bytes, "
                 "but data_offsets [%zu, %zu] span %zu bytes", fname, t->name, elems,
                 mia_safetensors_dtype_name(t->dtype), bytes, t->begin, t->end,
                 t->end - t->begin);
        pos = t->end;
    }
    /* 7. exact end of file */
    if (pos != buflen)
        FAIL(MIA_ERR_FORMAT, "%s: file is %zu bytes but the header describes %zu "
             "(8 + header %zu + data %zu): %s", fname, len, st->data_start + pos, hlen, pos,
             pos > buflen ? "truncated" : "trailing bytes after the last tensor");

    /* name index, explicit duplicate check is already done by jansson */
    for (size_t i = 0; i < st->n; i++) st->by_name[i] = i;
    if (st->n > 1) {
        size_t *tmp = mia__malloc(st->n * sizeof *tmp);
        if (!tmp) FAIL(MIA_ERR_NOMEM, "%s: out of memory", fname);
        sort_by_name(st->by_name, tmp, st->n, st->t);
        mia__free(tmp);
    }

    /* NaN / Inf policy */
    if (pol != MIA_SAFETENSORS_NONFINITE_IGNORE) {
        for (size_t i = 0; i < st->n; i++) {
            st_tensor *t = &st->t[i];
            uint64_t first = 0;
            t->nonfinite = count_nonfinite(f + st->data_start + t->begin, t->end - t->begin,
                                           t->dtype, &first);
            if (!t->nonfinite) continue;
            if (pol == MIA_SAFETENSORS_NONFINITE_REJECT)
                FAIL(MIA_ERR_NUMERIC, "%s: tensor '%s' has %" PRIu64 " NaN/Inf values (first at "
                     "element %" PRIu64 ", file offset %zu)", fname, t->name, t->nonfinite,
                     first, st->data_start + t->begin +
                                (size_t)first * mia_safetensors_dtype_size(t->dtype));
            mia__log(MIA_LOG_WARN, "%s: tensor '%s' has %" PRIu64 " NaN/Inf values", fname,
                     t->name, t->nonfinite);
        }
    }
done:
    json_decref(root);
    return s;
}
#undef FAIL

static mia_status open_common(mia_safetensors **out, uint8_t *file, size_t len, const char *fname,
                              const mia_safetensors_opts *opts)
{
    mia_safetensors_nonfinite pol = opts ? opts->nonfinite : MIA_SAFETENSORS_NONFINITE_REJECT;
    mia_safetensors *st = mia__calloc(1, sizeof *st);
    if (!st) {
        mia__free(file);
        return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory", fname);
    }
    st->file = file;
    st->len = len;
    mia_status s = parse(st, fname, pol);
    if (s != MIA_OK) {
        mia_safetensors_free(st);
        return s;
    }
    *out = st;
    return MIA_OK;
}

static mia_status check_opts(const mia_safetensors_opts *opts)
{
    if (!opts) return MIA_OK;
    if (opts->struct_size != 0 && opts->struct_size < sizeof(uint32_t))
        return MIA_ERROR(MIA_ERR_INVALID, "opts->struct_size %u is too small (use "
                         "mia_safetensors_opts_init)", opts->struct_size);
    if ((unsigned)opts->nonfinite > MIA_SAFETENSORS_NONFINITE_IGNORE)
        return MIA_ERROR(MIA_ERR_INVALID, "opts->nonfinite %d is not a mia_safetensors_nonfinite",
                         (int)opts->nonfinite);
    return MIA_OK;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#  define MIA_ST_BIG_ENDIAN 1
#else
#  define MIA_ST_BIG_ENDIAN 0
#endif

mia_status mia_safetensors_open(mia_safetensors **out, const char *path,
                                const mia_safetensors_opts *opts)
{
    mia__error_begin();
    if (!out) return MIA_ERROR(MIA_ERR_INVALID, "out is NULL");
    *out = NULL;
    if (!path) return MIA_ERROR(MIA_ERR_INVALID, "path is NULL");
    MIA_TRY(check_opts(opts));
    if (MIA_ST_BIG_ENDIAN)
        return MIA_ERROR(MIA_ERR_UNSUPPORTED, "%s: big-endian hosts are not supported", path);
    size_t cap = SIZE_MAX;
    if (opts && opts->max_file_bytes && opts->max_file_bytes < (uint64_t)SIZE_MAX)
        cap = (size_t)opts->max_file_bytes;
    uint8_t *file = NULL;
    size_t len = 0;
    MIA_TRY(mia__read_file(path, cap, &file, &len));
    return open_common(out, file, len, path, opts);
}

mia_status mia_safetensors_open_memory(mia_safetensors **out, const void *data, size_t len,
                                       const mia_safetensors_opts *opts)
{
    mia__error_begin();
    if (!out) return MIA_ERROR(MIA_ERR_INVALID, "out is NULL");
    *out = NULL;
    if (!data && len) return MIA_ERROR(MIA_ERR_INVALID, "data is NULL");
    MIA_TRY(check_opts(opts));
    if (MIA_ST_BIG_ENDIAN)
        return MIA_ERROR(MIA_ERR_UNSUPPORTED, "<memory>: big-endian hosts are not supported");
    if (opts && opts->max_file_bytes && len > opts->max_file_bytes)
        return MIA_ERROR(MIA_ERR_FORMAT, "<memory>: %zu bytes, more than the limit of %" PRIu64,
                         len, opts->max_file_bytes);
    uint8_t *copy = mia__malloc(len ? len : 1);
    if (!copy) return MIA_ERROR(MIA_ERR_NOMEM, "<memory>: out of memory copying %zu bytes", len);
    if (len) memcpy(copy, data, len);
    return open_common(out, copy, len, "<memory>", opts);
}

size_t mia_safetensors_count(const mia_safetensors *st) { return st ? st->n : 0; }

const char *mia_safetensors_name(const mia_safetensors *st, size_t i)
{
    return st && i < st->n ? st->t[i].name : NULL;
}

int64_t mia_safetensors_find(const mia_safetensors *st, const char *name)
{
    if (!st || !name) return -1;
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->t[st->by_name[mid]].name, name);
        if (c == 0) return (int64_t)st->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

mia_status mia_safetensors_info(const mia_safetensors *st, size_t i, mia_safetensors_dtype *dtype,
                                int *ndim, int64_t *shape)
{
    mia__error_begin();
    if (!st) return MIA_ERROR(MIA_ERR_INVALID, "st is NULL");
    if (i >= st->n)
        return MIA_ERROR(MIA_ERR_INVALID, "tensor index %zu out of range (count %zu)", i, st->n);
    const st_tensor *t = &st->t[i];
    if (dtype) *dtype = t->dtype;
    if (ndim) *ndim = t->ndim;
    if (shape)
        for (int k = 0; k < t->ndim; k++) shape[k] = t->shape[k];
    return MIA_OK;
}

const void *mia_safetensors_data(const mia_safetensors *st, size_t i)
{
    if (!st || i >= st->n) return NULL;
    return st->file + st->data_start + st->t[i].begin;
}

size_t mia_safetensors_nbytes(const mia_safetensors *st, size_t i)
{
    return st && i < st->n ? st->t[i].end - st->t[i].begin : 0;
}

uint64_t mia_safetensors_nonfinite_count(const mia_safetensors *st, size_t i)
{
    return st && i < st->n ? st->t[i].nonfinite : 0;
}

size_t mia_safetensors_metadata_count(const mia_safetensors *st) { return st ? st->nmeta : 0; }

bool mia_safetensors_metadata_at(const mia_safetensors *st, size_t i, const char **key,
                                 const char **value)
{
    if (!st || i >= st->nmeta) return false;
    if (key) *key = st->meta_key[i];
    if (value) *value = st->meta_val[i];
    return true;
}

const char *mia_safetensors_metadata_get(const mia_safetensors *st, const char *key)
{
    if (!st || !key) return NULL;
    for (size_t i = 0; i < st->nmeta; i++)
        if (strcmp(st->meta_key[i], key) == 0) return st->meta_val[i];
    return NULL;
}
