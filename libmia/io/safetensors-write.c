/* safetensors writer: reference layout (tensors by descending dtype order then name, compact
 * JSON header padded with spaces to a multiple of 8), written atomically. See safetensors.h. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "io/safetensors-impl.h"

typedef struct wt {
    char *name;
    mia_safetensors_dtype dtype;
    int ndim;
    int64_t shape[MIA_MAX_DIMS];
    size_t nbytes;
    uint8_t *data;
} wt;

struct mia_safetensors_writer {
    wt *t;
    size_t n, cap;
    char **mk, **mv;
    size_t nm, mcap;
};

mia_status mia_safetensors_writer_create(mia_safetensors_writer **out)
{
    mia__error_begin();
    if (!out) return MIA_ERROR(MIA_ERR_INVALID, "out is NULL");
    *out = mia__calloc(1, sizeof **out);
    if (!*out) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory creating a safetensors writer");
    return MIA_OK;
}

void mia_safetensors_writer_free(mia_safetensors_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        mia__free(w->t[i].name);
        mia__free(w->t[i].data);
    }
    for (size_t i = 0; i < w->nm; i++) {
        mia__free(w->mk[i]);
        mia__free(w->mv[i]);
    }
    mia__free(w->t);
    mia__free(w->mk);
    mia__free(w->mv);
    mia__free(w);
}

static int valid_utf8_str(const char *s)
{
    return mia__utf8_valid((const uint8_t *)s, strlen(s), NULL);
}

mia_status mia_safetensors_writer_add(mia_safetensors_writer *w, const char *name,
                                      mia_safetensors_dtype dtype, int ndim,
                                      const int64_t *shape, const void *data)
{
    mia__error_begin();
    MIA_CHECK_ARG(w, "writer is NULL");
    MIA_CHECK_ARG(name && *name, "tensor name is NULL or empty");
    MIA_CHECK_ARG(valid_utf8_str(name), "tensor name '%s' is not valid UTF-8", name);
    MIA_CHECK_ARG(strcmp(name, "__metadata__") != 0, "tensor name '__metadata__' is reserved");
    MIA_CHECK_ARG(mia__st_dtype_desc(dtype), "tensor '%s': dtype %d is not a "
                  "mia_safetensors_dtype", name, (int)dtype);
    MIA_CHECK_ARG(ndim >= 0 && ndim <= MIA_MAX_DIMS, "tensor '%s': ndim %d is outside 0..%d",
                  name, ndim, MIA_MAX_DIMS);
    MIA_CHECK_ARG(ndim == 0 || shape, "tensor '%s': shape is NULL", name);
    size_t elems = 1, nbytes;
    for (int k = 0; k < ndim; k++) {
        MIA_CHECK_ARG(shape[k] >= 0, "tensor '%s': shape[%d] = %lld is negative", name, k,
                      (long long)shape[k]);
        MIA_CHECK_ARG((uint64_t)shape[k] <= SIZE_MAX &&
                          !mia__mul_size(elems, (size_t)shape[k], &elems),
                      "tensor '%s': element count overflows", name);
    }
    MIA_CHECK_ARG(!mia__mul_size(elems, mia_safetensors_dtype_size(dtype), &nbytes),
                  "tensor '%s': byte size overflows", name);
    MIA_CHECK_ARG(data || nbytes == 0, "tensor '%s': data is NULL", name);
    for (size_t i = 0; i < w->n; i++)
        MIA_CHECK_ARG(strcmp(w->t[i].name, name) != 0, "tensor name '%s' is already in the "
                      "writer", name);
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 16;
        wt *nt = mia__realloc(w->t, nc * sizeof *nt);
        if (!nt) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory adding tensor '%s'", name);
        w->t = nt;
        w->cap = nc;
    }
    wt *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    t->name = mia__strdup(name);
    t->data = mia__malloc(nbytes ? nbytes : 1);
    if (!t->name || !t->data) {
        mia__free(t->name);
        mia__free(t->data);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory adding tensor '%s' (%zu bytes)", name,
                         nbytes);
    }
    if (nbytes) memcpy(t->data, data, nbytes);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int k = 0; k < ndim; k++) t->shape[k] = shape[k];
    t->nbytes = nbytes;
    w->n++;
    return MIA_OK;
}

mia_status mia_safetensors_writer_set_metadata(mia_safetensors_writer *w, const char *key,
                                               const char *value)
{
    mia__error_begin();
    MIA_CHECK_ARG(w, "writer is NULL");
    MIA_CHECK_ARG(key, "metadata key is NULL");
    MIA_CHECK_ARG(value, "metadata value of key '%s' is NULL", key);
    MIA_CHECK_ARG(valid_utf8_str(key), "metadata key is not valid UTF-8");
    MIA_CHECK_ARG(valid_utf8_str(value), "metadata value of key '%s' is not valid UTF-8", key);
    char *v = mia__strdup(value);
    if (!v) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory setting metadata '%s'", key);
    for (size_t i = 0; i < w->nm; i++)
        if (strcmp(w->mk[i], key) == 0) {
            mia__free(w->mv[i]);
            w->mv[i] = v;
            return MIA_OK;
        }
    if (w->nm == w->mcap) {
        size_t nc = w->mcap ? w->mcap * 2 : 8;
        char **a = mia__realloc(w->mk, nc * sizeof *a);
        if (a) w->mk = a;
        char **b = a ? mia__realloc(w->mv, nc * sizeof *b) : NULL;
        if (b) w->mv = b;
        if (!a || !b) {
            mia__free(v);
            return MIA_ERROR(MIA_ERR_NOMEM, "out of memory setting metadata '%s'", key);
        }
        w->mcap = nc;
    }
    char *k = mia__strdup(key);
    if (!k) {
        mia__free(v);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory setting metadata '%s'", key);
    }
    w->mk[w->nm] = k;
    w->mv[w->nm] = v;
    w->nm++;
    return MIA_OK;
}

/* Reference order: descending dtype enum position, then name (bytewise). */
static int cmp_layout(const void *a, const void *b)
{
    const wt *x = *(const wt *const *)a, *y = *(const wt *const *)b;
    int ox = mia__st_dtype_desc(x->dtype)->order, oy = mia__st_dtype_desc(y->dtype)->order;
    if (ox != oy) return oy - ox;
    return strcmp(x->name, y->name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct plan {
    const wt **order;
    char *header; /* padded, not NUL-terminated beyond hlen */
    size_t hlen;  /* multiple of 8 */
    size_t total; /* 8 + hlen + data */
} plan;

static void plan_free(plan *p)
{
    mia__free(p->order);
    mia__free(p->header);
}

#define NOMEM()                                                                                 \
    do {                                                                                        \
        s = MIA_ERROR(MIA_ERR_NOMEM, "out of memory building the safetensors header");          \
        goto done;                                                                              \
    } while (0)

static mia_status make_plan(const mia_safetensors_writer *w, plan *p)
{
    mia_status s = MIA_OK;
    memset(p, 0, sizeof *p);
    json_t *root = NULL;
    char *dumped = NULL;
    size_t *midx = NULL;
    char **keys = NULL;
    p->order = mia__malloc((w->n ? w->n : 1) * sizeof *p->order);
    if (!p->order) NOMEM();
    for (size_t i = 0; i < w->n; i++) p->order[i] = &w->t[i];
    qsort(p->order, w->n, sizeof *p->order, cmp_layout);
    root = json_object();
    if (!root) NOMEM();
    if (w->nm) {
        json_t *meta = json_object();
        if (!meta || json_object_set_new(root, "__metadata__", meta)) NOMEM();
        keys = mia__malloc(w->nm * sizeof *keys);
        if (!keys) NOMEM();
        memcpy(keys, w->mk, w->nm * sizeof *keys);
        qsort(keys, w->nm, sizeof *keys, cmp_str);
        for (size_t i = 0; i < w->nm; i++) {
            size_t j = 0;
            while (w->mk[j] != keys[i]) j++;
            if (json_object_set_new(meta, keys[i], json_string(w->mv[j]))) NOMEM();
        }
    }
    size_t off = 0;
    for (size_t i = 0; i < w->n; i++) {
        const wt *t = p->order[i];
        json_t *e = json_object(), *sh = json_array(), *of = json_array();
        if (!e || !sh || !of) {
            json_decref(e);
            json_decref(sh);
            json_decref(of);
            NOMEM();
        }
        if (json_object_set_new(root, t->name, e)) {
            json_decref(sh);
            json_decref(of);
            NOMEM();
        }
        if (json_object_set_new(e, "dtype", json_string(mia_safetensors_dtype_name(t->dtype))) ||
            json_object_set_new(e, "shape", sh)) {
            json_decref(of);
            NOMEM();
        }
        if (json_object_set_new(e, "data_offsets", of)) NOMEM();
        for (int k = 0; k < t->ndim; k++)
            if (json_array_append_new(sh, json_integer((json_int_t)t->shape[k]))) NOMEM();
        if (json_array_append_new(of, json_integer((json_int_t)off)) ||
            json_array_append_new(of, json_integer((json_int_t)(off + t->nbytes))))
            NOMEM();
        off += t->nbytes;
    }
    dumped = json_dumps(root, JSON_COMPACT);
    if (!dumped) NOMEM();
    size_t n = strlen(dumped);
    size_t hlen = n + (8 - n % 8) % 8;
    if (hlen > MIA_SAFETENSORS_MAX_HEADER) {
        s = MIA_ERROR(MIA_ERR_INVALID, "safetensors header would be %zu bytes, more than the "
                      "limit of %llu", hlen, MIA_SAFETENSORS_MAX_HEADER);
        goto done;
    }
    p->header = mia__malloc(hlen ? hlen : 1);
    if (!p->header) NOMEM();
    memcpy(p->header, dumped, n);
    memset(p->header + n, ' ', hlen - n);
    p->hlen = hlen;
    p->total = 8 + hlen + off;
done:
    free(dumped); /* allocated by jansson */
    json_decref(root);
    mia__free(midx);
    mia__free(keys);
    if (s != MIA_OK) plan_free(p);
    return s;
}
#undef NOMEM

static void put_le64(uint8_t b[8], uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
}

mia_status mia_safetensors_writer_write(const mia_safetensors_writer *w, const char *path)
{
    mia__error_begin();
    MIA_CHECK_ARG(w, "writer is NULL");
    MIA_CHECK_ARG(path && *path, "path is NULL or empty");
    plan p;
    MIA_TRY(make_plan(w, &p));
    mia_afile *f = NULL;
    mia_status s = mia__afile_open(&f, path);
    if (s == MIA_OK) {
        uint8_t le[8];
        put_le64(le, p.hlen);
        s = mia__afile_write(f, le, 8);
        if (s == MIA_OK) s = mia__afile_write(f, p.header, p.hlen);
        for (size_t i = 0; s == MIA_OK && i < w->n; i++)
            s = mia__afile_write(f, p.order[i]->data, p.order[i]->nbytes);
        if (s == MIA_OK) s = mia__afile_commit(f);
        else mia__afile_abort(f);
    }
    plan_free(&p);
    return s;
}

mia_status mia_safetensors_writer_write_memory(const mia_safetensors_writer *w, void **out,
                                               size_t *len)
{
    mia__error_begin();
    if (out) *out = NULL;
    if (len) *len = 0;
    MIA_CHECK_ARG(out && len, "out/len is NULL");
    MIA_CHECK_ARG(w, "writer is NULL");
    plan p;
    MIA_TRY(make_plan(w, &p));
    uint8_t *buf = mia__malloc(p.total);
    if (!buf) {
        plan_free(&p);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory for a %zu-byte safetensors image", p.total);
    }
    put_le64(buf, p.hlen);
    memcpy(buf + 8, p.header, p.hlen);
    size_t pos = 8 + p.hlen;
    for (size_t i = 0; i < w->n; i++) {
        if (p.order[i]->nbytes) memcpy(buf + pos, p.order[i]->data, p.order[i]->nbytes);
        pos += p.order[i]->nbytes;
    }
    *out = buf;
    *len = p.total;
    plan_free(&p);
    return MIA_OK;
}

void mia_safetensors_buffer_free(void *buf) { mia__free(buf); }
