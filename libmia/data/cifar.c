/* CIFAR-10 / CIFAR-100 binary version, from a folder or straight from the official .tar.gz. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "data/archive.h"
#include "data/data-internal.h"
#include "dataset-impl.h"
#include "io/io.h"

#define CIFAR_PIX 3072
#define MAX_PARTS 6

typedef struct cifar_ctx {
    int classes;          /* 10 or 100 */
    bool coarse;
    const char *parts[MAX_PARTS]; /* file base names in order */
    int n_parts;
    const char *names_file;
    uint8_t *data[MAX_PARTS];
    size_t len[MAX_PARTS];
    char *names;
    size_t names_len;
    const char *path;
} cifar_ctx;

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static size_t rec_size(const cifar_ctx *c) { return c->classes == 10 ? 3073 : 3074; }

static int part_index(const cifar_ctx *c, const char *name)
{
    const char *b = base_name(name);
    for (int i = 0; i < c->n_parts; i++)
        if (strcmp(b, c->parts[i]) == 0) return i;
    return -1;
}

static int want_entry(const char *name, int64_t size, void *user)
{
    cifar_ctx *c = user;
    (void)size;
    if (part_index(c, name) >= 0) return 1;
    if (strcmp(base_name(name), c->names_file) == 0) return 1;
    return 0;
}

static mia_status take_entry(const char *name, const uint8_t *data, size_t size, void *user)
{
    cifar_ctx *c = user;
    int i = part_index(c, name);
    uint8_t *copy = mia__malloc(size ? size : 1);
    if (!copy) return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory for '%s'", c->path, name);
    memcpy(copy, data, size);
    if (i >= 0) {
        if (c->data[i]) {
            mia__free(copy);
            return MIA_ERROR(MIA_ERR_FORMAT, "%s: entry '%s' appears twice", c->path, name);
        }
        c->data[i] = copy;
        c->len[i] = size;
    } else {
        mia__free(c->names);
        c->names = (char *)copy;
        c->names_len = size;
    }
    return MIA_OK;
}

static mia_status read_dir(cifar_ctx *c, const char *dir, uint64_t cap)
{
    char p[4400];
    for (int i = 0; i < c->n_parts; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, c->parts[i]);
        MIA_TRY(mia__read_file(p, (size_t)cap, &c->data[i], &c->len[i]));
    }
    snprintf(p, sizeof p, "%s/%s", dir, c->names_file);
    struct stat sb;
    if (stat(p, &sb) == 0) MIA_TRY(mia__read_file(p, 1 << 20, (uint8_t **)&c->names, &c->names_len));
    return MIA_OK;
}

static void cifar_setup(cifar_ctx *c, int classes, mia_data_split split, bool coarse,
                        const char *path)
{
    memset(c, 0, sizeof *c);
    c->classes = classes;
    c->coarse = classes == 100 && coarse;
    c->path = path;
    if (classes == 10) {
        static const char *tr[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                   "data_batch_4.bin", "data_batch_5.bin"};
        if (split == MIA_DATA_TRAIN) {
            for (int i = 0; i < 5; i++) c->parts[i] = tr[i];
            c->n_parts = 5;
        } else {
            c->parts[0] = "test_batch.bin";
            c->n_parts = 1;
        }
        c->names_file = "batches.meta.txt";
    } else {
        c->parts[0] = split == MIA_DATA_TRAIN ? "train.bin" : "test.bin";
        c->n_parts = 1;
        c->names_file = c->coarse ? "coarse_label_names.txt" : "fine_label_names.txt";
    }
}

static void cifar_caps(mia_archive_caps *caps)
{
    mia__archive_caps_default(caps);
    caps->max_entry_bytes = 256u << 20;
    caps->max_total_bytes = (uint64_t)1 << 30;
    caps->max_entries = 1000;
}

static mia_status cifar_check_parts(cifar_ctx *c)
{
    for (int i = 0; i < c->n_parts; i++)
        if (!c->data[i])
            return MIA_ERROR(MIA_ERR_FORMAT, "%s: archive has no entry '%s'", c->path, c->parts[i]);
    return MIA_OK;
}

/* Decode the gathered parts (c->data) into a dataset; frees nothing. */
static mia_status cifar_build(mia_dataset **out, cifar_ctx *c, const char *split_name,
                              const mia_dataset_load_opts *o)
{
    const char *path = c->path;
    const int classes = c->classes;
    mia_dataset *d = NULL;
    mia_status st = MIA_OK;
    size_t rs = rec_size(c);
    int64_t n = 0;
    for (int i = 0; i < c->n_parts; i++) {
        if (c->len[i] == 0 || c->len[i] % rs != 0) {
            return MIA_ERROR(MIA_ERR_FORMAT, "%s: '%s' has %zu bytes, not a positive multiple of "
                             "the %zu-byte record (truncated at record %zu, offset %zu)", path,
                             c->parts[i], c->len[i], rs, c->len[i] / rs, c->len[i] / rs * rs);
        }
        n += (int64_t)(c->len[i] / rs);
    }
    if (o->max_images > 0 && o->max_images < n) n = o->max_images;
    char src[4200];
    snprintf(src, sizeof src, "cifar%d:%s:%s", classes, path, split_name);
    int ncls = classes == 10 ? 10 : (c->coarse ? 20 : 100);
    if ((uint64_t)n * CIFAR_PIX > o->max_bytes)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: %lld records exceed the cap of %llu bytes", path,
                         (long long)n, (unsigned long long)o->max_bytes);
    MIA_TRY(mia__dataset_new(&d, n, 3, 32, 32, ncls, src));
    int64_t k = 0;
    for (int i = 0; i < c->n_parts && k < n; i++) {
        size_t nr = c->len[i] / rs;
        for (size_t r = 0; r < nr && k < n; r++, k++) {
            const uint8_t *rec = c->data[i] + r * rs;
            int lab = classes == 10 ? rec[0] : (c->coarse ? rec[0] : rec[1]);
            if (lab >= ncls) {
                st = MIA_ERROR(MIA_ERR_FORMAT, "%s: '%s' record %zu (offset %zu): label %d is "
                               "outside 0..%d", path, c->parts[i], r,
                               r * rs + (classes == 100 && !c->coarse ? 1 : 0), lab, ncls - 1);
                goto done;
            }
            d->labels[k] = lab;
            memcpy(d->pixels + (size_t)k * CIFAR_PIX, rec + (rs - CIFAR_PIX), CIFAR_PIX);
        }
    }
    if (c->names && (st = mia__dataset_names_from_text(d, c->names, c->names_len)) != MIA_OK)
        goto done;
    mia__dataset_finish(d);
done:
    if (st != MIA_OK) {
        mia_dataset_free(d);
        return st;
    }
    *out = d;
    return MIA_OK;
}

static void cifar_free(cifar_ctx *c)
{
    for (int i = 0; i < MAX_PARTS; i++) mia__free(c->data[i]);
    mia__free(c->names);
}

mia_status mia_dataset_load_cifar(mia_dataset **out, int classes, const char *path,
                                  mia_data_split split, const mia_dataset_load_opts *opts_in)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(path != NULL, "path is NULL");
    MIA_CHECK_ARG(classes == 10 || classes == 100, "classes must be 10 or 100 (got %d)", classes);
    MIA_CHECK_ARG(split == MIA_DATA_TRAIN || split == MIA_DATA_TEST, "invalid split %d",
                  (int)split);
    mia_dataset_load_opts o;
    MIA_TRY(mia__load_opts_get(&o, opts_in));
    cifar_ctx c;
    cifar_setup(&c, classes, split, o.cifar100_coarse, path);
    mia_status st = MIA_OK;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        st = MIA_ERROR(MIA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path,
                 classes == 10 ? "cifar-10-batches-bin" : "cifar-100-binary");
        struct stat s2;
        const char *dir = (stat(sub, &s2) == 0 && S_ISDIR(s2.st_mode)) ? sub : path;
        st = read_dir(&c, dir, o.max_bytes + o.max_bytes / 512);
    } else {
        mia_archive_caps caps;
        cifar_caps(&caps);
        st = mia__archive_foreach(path, &caps, want_entry, take_entry, &c);
        if (st == MIA_OK) st = cifar_check_parts(&c);
    }
    if (st == MIA_OK)
        st = cifar_build(out, &c, split == MIA_DATA_TRAIN ? "train" : "test", &o);
    cifar_free(&c);
    return st;
}

mia_status mia__cifar_load_mem(mia_dataset **out, int classes, mia_data_split split,
                               const void *archive, size_t len, const char *name,
                               const mia_dataset_load_opts *opts_in)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(classes == 10 || classes == 100, "classes must be 10 or 100 (got %d)", classes);
    MIA_CHECK_ARG(split == MIA_DATA_TRAIN || split == MIA_DATA_TEST, "invalid split %d",
                  (int)split);
    mia_dataset_load_opts o;
    MIA_TRY(mia__load_opts_get(&o, opts_in));
    cifar_ctx c;
    cifar_setup(&c, classes, split, o.cifar100_coarse, name ? name : "<memory>");
    mia_archive_caps caps;
    cifar_caps(&caps);
    mia_status st = mia__archive_foreach_mem(archive, len, c.path, &caps, want_entry, take_entry,
                                             &c);
    if (st == MIA_OK) st = cifar_check_parts(&c);
    if (st == MIA_OK)
        st = cifar_build(out, &c, split == MIA_DATA_TRAIN ? "train" : "test", &o);
    cifar_free(&c);
    return st;
}

mia_status mia__cifar_records_mem(mia_dataset **out, int classes, const void *records, size_t len,
                                  const char *name, const mia_dataset_load_opts *opts_in)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(classes == 10 || classes == 100, "classes must be 10 or 100 (got %d)", classes);
    MIA_CHECK_ARG(records != NULL || len == 0, "records is NULL");
    mia_dataset_load_opts o;
    MIA_TRY(mia__load_opts_get(&o, opts_in));
    cifar_ctx c;
    cifar_setup(&c, classes, MIA_DATA_TEST, o.cifar100_coarse, name ? name : "<memory>");
    c.parts[0] = c.path;
    /* borrowed: cifar_build only reads */
    c.data[0] = (uint8_t *)(uintptr_t)records;
    c.len[0] = len;
    mia_status st = cifar_build(out, &c, "records", &o);
    return st;
}
