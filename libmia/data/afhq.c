/*
 * AFHQ v1 (StarGAN v2): afhq/{train,val}/{cat,dog,wild}/NAME.jpg, loaded as ImageFolder does
 * (classes sorted: cat=0, dog=1, wild=2), from a directory or straight from afhq.zip.
 * The zip is read twice through the capped archive reader (archive.h): once for the names
 * (entries skipped, nothing decompressed), once to decode the wanted entries into their sorted
 * slots. Nothing is extracted to disk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mia/dataset.h>

#include "data/archive.h"
#include "data/dataset-impl.h"
#include "data/image.h"

typedef struct zip_name {
    const char *full; /* entry name in the archive (owned by names[]) */
    int64_t slot;     /* index in the sorted dataset */
} zip_name;

typedef struct afhq_ctx {
    const char *path;
    const void *mem;      /* non-NULL: the zip is in memory (mem, mem_len); path names it */
    size_t mem_len;
    char prefix[32];      /* "afhq/<split>/" */
    char prefix2[32];     /* "<split>/" (archives without the top folder) */
    mia__image_list l;    /* entries; dir = "<class>[/sub...]" */
    char **full;          /* full entry names, parallel to l.e before sorting */
    int64_t n_full, cap_full;
    zip_name *index;      /* sorted by full name */
    mia_dataset *d;
    const mia__folder_opts *o;
    const char *source;
    int64_t filled;
    mia_status err;
} afhq_ctx;

/* Part of name after the split prefix, or NULL when the entry is not in the split. */
static const char *strip_prefix(const afhq_ctx *c, const char *name)
{
    size_t n1 = strlen(c->prefix), n2 = strlen(c->prefix2);
    if (strncmp(name, c->prefix, n1) == 0) return name + n1;
    if (strncmp(name, c->prefix2, n2) == 0) return name + n2;
    return NULL;
}

static int collect_names(const char *name, int64_t declared_size, void *user)
{
    (void)declared_size;
    afhq_ctx *c = user;
    const char *rest = strip_prefix(c, name);
    if (!rest) return 0;
    const char *slash = strchr(rest, '/');
    const char *base = strrchr(rest, '/');
    if (!slash || !base || !base[1] || !mia__image_ext_ok(base + 1)) return 0;
    size_t dl = (size_t)(base - rest);
    char *dir = mia__malloc(dl + 1);
    char *full = mia__strdup(name);
    if (!dir || !full) goto nomem;
    memcpy(dir, rest, dl);
    dir[dl] = '\0';
    if (c->n_full == c->cap_full) {
        int64_t cap = c->cap_full ? c->cap_full * 2 : 1024;
        char **f = mia__realloc(c->full, (size_t)cap * sizeof *f);
        if (!f) goto nomem;
        c->full = f;
        c->cap_full = cap;
    }
    /* label is provisional (-1); the class is dir's first component */
    if (mia__image_list_add(&c->l, dir, base + 1, -1) != MIA_OK) goto nomem_err;
    c->full[c->n_full++] = full;
    mia__free(dir);
    return 0;
nomem:
    c->err = MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory listing entries", c->path);
nomem_err:
    if (c->err == MIA_OK) c->err = MIA_ERR_NOMEM;
    mia__free(dir);
    mia__free(full);
    return -1;
}

/* Pass 1 reads nothing (collect_names answers 0 for every entry); the reader wants a callback. */
static mia_status ignore_entry(const char *name, const uint8_t *data, size_t size, void *user)
{
    (void)name;
    (void)data;
    (void)size;
    (void)user;
    return MIA_OK;
}

static int cmp_zip_name(const void *a, const void *b)
{
    return strcmp(((const zip_name *)a)->full, ((const zip_name *)b)->full);
}

typedef struct paired {
    mia__image_entry e;
    char *full;
} paired;

static int cmp_paired(const void *a, const void *b)
{
    const mia__image_entry *x = &((const paired *)a)->e, *y = &((const paired *)b)->e;
    if (x->label != y->label) return x->label < y->label ? -1 : 1;
    int c = strcmp(x->dir, y->dir);
    return c ? c : strcmp(x->name, y->name);
}

static int find_slot(const afhq_ctx *c, const char *name)
{
    zip_name key = {name, 0};
    const zip_name *z = bsearch(&key, c->index, (size_t)c->l.n, sizeof key, cmp_zip_name);
    return z ? (int)(z - c->index) : -1;
}

static int want_entry(const char *name, int64_t declared_size, void *user)
{
    (void)declared_size;
    return find_slot(user, name) >= 0 ? 1 : 0;
}

static mia_status take_entry(const char *name, const uint8_t *data, size_t size, void *user)
{
    afhq_ctx *c = user;
    int k = find_slot(c, name);
    if (k < 0) return MIA_OK;
    char *label = mia__malloc(strlen(c->path) + strlen(name) + 4);
    if (!label) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    sprintf(label, "%s!/%s", c->path, name); /* errors name archive and entry */
    mia_status s = MIA_OK;
    if (!c->d) {
        int64_t w = 0, h = 0;
        int ch = 0;
        if (c->o->height == 0) s = mia__image_info(data, size, label, &w, &h, &ch);
        if (s == MIA_OK) s = mia__image_list_dataset(&c->d, &c->l, c->o, c->source, w, h);
    }
    if (s == MIA_OK) s = mia__image_into_slot(c->d, c->index[k].slot, data, size, label, c->o);
    if (s == MIA_OK) c->filled++;
    mia__free(label);
    return s;
}

static mia_status zip_foreach(const afhq_ctx *c, mia_archive_want_fn want,
                              mia_archive_entry_fn fn, void *user)
{
    if (c->mem) return mia__archive_foreach_mem(c->mem, c->mem_len, c->path, NULL, want, fn, user);
    return mia__archive_foreach(c->path, NULL, want, fn, user);
}

static mia_status load_zip(mia_dataset **out, const char *path, const void *mem, size_t mem_len,
                           const char *split, const mia__folder_opts *o, const char *source)
{
    afhq_ctx c;
    memset(&c, 0, sizeof c);
    c.path = path;
    c.mem = mem;
    c.mem_len = mem_len;
    c.o = o;
    c.source = source;
    snprintf(c.prefix, sizeof c.prefix, "afhq/%s/", split);
    snprintf(c.prefix2, sizeof c.prefix2, "%s/", split);
    mia_status s = zip_foreach(&c, collect_names, ignore_entry, &c);
    if (s == MIA_OK && c.err != MIA_OK) s = c.err;
    if (s != MIA_OK) goto done;
    if (c.l.n == 0) {
        s = MIA_ERROR(MIA_ERR_FORMAT, "%s: no images under afhq/%s/<class>/ in the archive", path,
                      split);
        goto done;
    }
    /* classes = sorted distinct first components of dir */
    c.l.classes = mia__calloc((size_t)c.l.n, sizeof(char *));
    c.index = mia__malloc((size_t)c.l.n * sizeof *c.index);
    if (!c.l.classes || !c.index) {
        s = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < c.l.n && s == MIA_OK; i++) {
        const char *dir = c.l.e[i].dir;
        size_t k = strcspn(dir, "/");
        bool seen = false;
        for (int64_t j = 0; j < c.l.n_classes && !seen; j++)
            seen = strlen(c.l.classes[j]) == k && strncmp(c.l.classes[j], dir, k) == 0;
        if (seen) continue;
        char *cls = mia__malloc(k + 1);
        if (!cls) {
            s = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(cls, dir, k);
        cls[k] = '\0';
        c.l.classes[c.l.n_classes++] = cls;
    }
    if (s != MIA_OK) goto done;
    mia__sort_strings(c.l.classes, c.l.n_classes);
    /* labels, then ImageFolder's order; the full names travel with their entries */
    paired *pr = mia__malloc((size_t)c.l.n * sizeof *pr);
    if (!pr) {
        s = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < c.l.n; i++) {
        const char *dir = c.l.e[i].dir;
        size_t k = strcspn(dir, "/");
        for (int64_t j = 0; j < c.l.n_classes; j++)
            if (strlen(c.l.classes[j]) == k && strncmp(c.l.classes[j], dir, k) == 0)
                c.l.e[i].label = (int32_t)j;
        pr[i].e = c.l.e[i];
        pr[i].full = c.full[i];
    }
    qsort(pr, (size_t)c.l.n, sizeof *pr, cmp_paired);
    for (int64_t i = 0; i < c.l.n; i++) {
        c.l.e[i] = pr[i].e;
        c.index[i].full = pr[i].full;
        c.index[i].slot = i;
    }
    mia__free(pr);
    qsort(c.index, (size_t)c.l.n, sizeof *c.index, cmp_zip_name);
    for (int64_t i = 1; i < c.l.n; i++)
        if (strcmp(c.index[i].full, c.index[i - 1].full) == 0) {
            s = MIA_ERROR(MIA_ERR_FORMAT, "%s: duplicate entry '%s'", path, c.index[i].full);
            goto done;
        }
    s = zip_foreach(&c, want_entry, take_entry, &c);
    if (s == MIA_OK && c.filled != c.l.n)
        s = MIA_ERROR(MIA_ERR_FORMAT, "%s: %lld of %lld listed images could not be read again",
                      path, (long long)(c.l.n - c.filled), (long long)c.l.n);
done:
    if (s == MIA_OK) {
        mia__dataset_finish(c.d);
        *out = c.d;
    } else {
        mia_dataset_free(c.d);
    }
    for (int64_t i = 0; i < c.n_full; i++) mia__free(c.full[i]);
    mia__free(c.full);
    mia__free(c.index);
    mia__image_list_free(&c.l);
    return s;
}

mia_status mia__afhq_load(mia_dataset **out, const char *path, const char *split,
                          const mia__folder_opts *opts)
{
    if (out) *out = NULL;
    MIA_CHECK_ARG(out && path, "out and path must not be NULL");
    if (!split) split = "train";
    MIA_CHECK_ARG(strcmp(split, "train") == 0 || strcmp(split, "val") == 0,
                  "AFHQ split must be \"train\" or \"val\" (got \"%s\")", split);
    mia__folder_opts o;
    if (opts) o = *opts;
    else mia__folder_opts_init(&o);
    MIA_CHECK_ARG(o.channels == 1 || o.channels == 3, "opts.channels must be 1 or 3 (got %d)",
                  o.channels);
    struct stat st;
    if (stat(path, &st) != 0)
        return MIA_ERROR(MIA_ERR_IO, "%s: cannot access: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        const char *sub[2] = {"afhq/", ""};
        for (int i = 0; i < 2; i++) {
            size_t n = strlen(path) + strlen(sub[i]) + strlen(split) + 3;
            char *p = mia__malloc(n);
            if (!p) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
            snprintf(p, n, "%s/%s%s", path, sub[i], split);
            struct stat s2;
            if (stat(p, &s2) == 0 && S_ISDIR(s2.st_mode)) {
                mia_status s = mia__folder_load(out, p, &o);
                mia__free(p);
                return s;
            }
            mia__free(p);
        }
        return MIA_ERROR(MIA_ERR_IO, "%s: neither afhq/%s/ nor %s/ exists in this directory",
                         path, split, split);
    }
    size_t n = strlen(path) + strlen(split) + 8;
    char *source = mia__malloc(n);
    if (!source) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    snprintf(source, n, "afhq:%s:%s", path, split);
    mia_status s = load_zip(out, path, NULL, 0, split, &o, source);
    mia__free(source);
    return s;
}

mia_status mia__afhq_load_mem(mia_dataset **out, const void *zip, size_t len, const char *name,
                              const char *split, const mia__folder_opts *opts)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(out && (zip || len == 0), "out and zip must not be NULL");
    if (!split) split = "train";
    if (!name) name = "<memory>";
    MIA_CHECK_ARG(strcmp(split, "train") == 0 || strcmp(split, "val") == 0,
                  "AFHQ split must be \"train\" or \"val\" (got \"%s\")", split);
    mia__folder_opts o;
    if (opts) o = *opts;
    else mia__folder_opts_init(&o);
    MIA_CHECK_ARG(o.channels == 1 || o.channels == 3, "opts.channels must be 1 or 3 (got %d)",
                  o.channels);
    static const uint8_t empty[1] = {0};
    char source[600];
    snprintf(source, sizeof source, "afhq:%.500s:%s", name, split);
    return load_zip(out, name, zip ? zip : empty, len, split, &o, source);
}
