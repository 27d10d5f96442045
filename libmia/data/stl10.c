/* STL-10 binary: 3x96x96 images, each plane column-major; labels 1..10. From the stl10_binary
 * folder, straight from the official stl10_binary.tar.gz (streamed, nothing extracted), or from
 * memory (mia__stl10_load_mem / mia__stl10_archive_mem). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "data/archive.h"
#include "data/data-internal.h"
#include "dataset-impl.h"
#include "io/io.h"

#define STL_SIDE 96
#define STL_IMG (3 * STL_SIDE * STL_SIDE)

/* Validate and decode X (n images), y (n labels) and the optional class names. Names in messages:
 * xname, yname. */
static mia_status stl10_build(mia_dataset **out, const uint8_t *x, size_t nx, const char *xname,
                              const uint8_t *y, size_t ny, const char *yname, const char *names,
                              size_t nn, const char *source, const mia_dataset_load_opts *o)
{
    if (nx == 0 || nx % STL_IMG != 0)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: %zu bytes is not a positive multiple of the %d-byte "
                         "image (truncated at image %zu, offset %zu)", xname, nx, STL_IMG,
                         nx / STL_IMG, nx / STL_IMG * STL_IMG);
    int64_t n = (int64_t)(nx / STL_IMG);
    if (ny != (size_t)n)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: %zu labels but %s holds %lld images", yname, ny,
                         xname, (long long)n);
    int64_t take = n;
    if (o->max_images > 0 && o->max_images < n) take = o->max_images;
    if ((uint64_t)take * STL_IMG > o->max_bytes)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: %lld images exceed the cap of %llu bytes", xname,
                         (long long)take, (unsigned long long)o->max_bytes);
    for (int64_t i = 0; i < take; i++)
        if (y[i] < 1 || y[i] > 10)
            return MIA_ERROR(MIA_ERR_FORMAT, "%s: label %d at offset %lld is outside 1..10", yname,
                             y[i], (long long)i);
    mia_dataset *d = NULL;
    MIA_TRY(mia__dataset_new(&d, take, 3, STL_SIDE, STL_SIDE, 10, source));
    for (int64_t i = 0; i < take; i++) {
        d->labels[i] = y[i] - 1;
        const uint8_t *s = x + (size_t)i * STL_IMG;
        uint8_t *t = d->pixels + (size_t)i * STL_IMG;
        for (int c = 0; c < 3; c++) {
            const uint8_t *sp = s + c * STL_SIDE * STL_SIDE;
            uint8_t *tp = t + c * STL_SIDE * STL_SIDE;
            /* transpose in 8x8 tiles (cache friendly) */
            for (int r0 = 0; r0 < STL_SIDE; r0 += 8)
                for (int c0 = 0; c0 < STL_SIDE; c0 += 8)
                    for (int r = r0; r < r0 + 8; r++)
                        for (int col = c0; col < c0 + 8; col++)
                            tp[r * STL_SIDE + col] = sp[col * STL_SIDE + r];
        }
    }
    mia_status st = MIA_OK;
    if (names) st = mia__dataset_names_from_text(d, names, nn);
    if (st != MIA_OK) {
        mia_dataset_free(d);
        return st;
    }
    mia__dataset_finish(d);
    *out = d;
    return MIA_OK;
}

/* ---- archive (stl10_binary.tar.gz) ---- */

typedef struct stl_tar {
    const char *path;
    const char *want_x, *want_y;
    uint8_t *x, *y, *names;
    size_t nx, ny, nn;
} stl_tar;

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int stl_want(const char *name, int64_t size, void *user)
{
    stl_tar *t = user;
    (void)size;
    if (t->x && t->y && t->names) return -1; /* everything found: stop reading the stream */
    const char *b = base_name(name);
    return strcmp(b, t->want_x) == 0 || strcmp(b, t->want_y) == 0 ||
           strcmp(b, "class_names.txt") == 0;
}

static mia_status stl_take(const char *name, const uint8_t *data, size_t size, void *user)
{
    stl_tar *t = user;
    const char *b = base_name(name);
    uint8_t **dst = strcmp(b, t->want_x) == 0 ? &t->x : strcmp(b, t->want_y) == 0 ? &t->y
                                                                                   : &t->names;
    size_t *len = dst == &t->x ? &t->nx : dst == &t->y ? &t->ny : &t->nn;
    if (*dst) return MIA_ERROR(MIA_ERR_FORMAT, "%s: entry '%s' appears twice", t->path, name);
    *dst = mia__malloc(size ? size : 1);
    if (!*dst) return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory for '%s' (%zu bytes)", t->path,
                                     name, size);
    memcpy(*dst, data, size);
    *len = size;
    return MIA_OK;
}

static mia_status stl_from_archive(mia_dataset **out, const char *path, const void *mem,
                                   size_t mem_len, mia_data_split split,
                                   const mia_dataset_load_opts *o)
{
    const char *sp = split == MIA_DATA_TRAIN ? "train" : "test";
    stl_tar t;
    memset(&t, 0, sizeof t);
    t.path = path;
    t.want_x = split == MIA_DATA_TRAIN ? "train_X.bin" : "test_X.bin";
    t.want_y = split == MIA_DATA_TRAIN ? "train_y.bin" : "test_y.bin";
    mia_archive_caps caps;
    mia__archive_caps_default(&caps);
    caps.max_entries = 1000;
    caps.max_entry_bytes = (uint64_t)4 << 30; /* unlabeled_X.bin is 2.7 GB (skipped) */
    caps.max_total_bytes = o->max_bytes + (1u << 20);
    mia_status st = mem ? mia__archive_foreach_mem(mem, mem_len, path, &caps, stl_want, stl_take, &t)
                        : mia__archive_foreach(path, &caps, stl_want, stl_take, &t);
    if (st == MIA_OK && (!t.x || !t.y))
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: archive has no entry '%s'", path,
                       !t.x ? t.want_x : t.want_y);
    if (st == MIA_OK) {
        char xname[4200], yname[4200], src[4300];
        snprintf(xname, sizeof xname, "%s!/%s", path, t.want_x);
        snprintf(yname, sizeof yname, "%s!/%s", path, t.want_y);
        snprintf(src, sizeof src, "stl10:%s:%s", path, sp);
        st = stl10_build(out, t.x, t.nx, xname, t.y, t.ny, yname, (const char *)t.names, t.nn,
                         src, o);
    }
    mia__free(t.x);
    mia__free(t.y);
    mia__free(t.names);
    return st;
}

mia_status mia_dataset_load_stl10(mia_dataset **out, const char *dir, mia_data_split split,
                                  const mia_dataset_load_opts *opts_in)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(dir != NULL, "dir is NULL");
    MIA_CHECK_ARG(split == MIA_DATA_TRAIN || split == MIA_DATA_TEST, "invalid split %d",
                  (int)split);
    mia_dataset_load_opts o;
    MIA_TRY(mia__load_opts_get(&o, opts_in));
    struct stat sb;
    if (stat(dir, &sb) == 0 && S_ISREG(sb.st_mode))
        return stl_from_archive(out, dir, NULL, 0, split, &o);
    char base[4096], px[4200], py[4200], pn[4200];
    snprintf(base, sizeof base, "%s/stl10_binary", dir);
    if (stat(base, &sb) != 0 || !S_ISDIR(sb.st_mode)) snprintf(base, sizeof base, "%s", dir);
    const char *sp = split == MIA_DATA_TRAIN ? "train" : "test";
    snprintf(px, sizeof px, "%s/%s_X.bin", base, sp);
    snprintf(py, sizeof py, "%s/%s_y.bin", base, sp);
    snprintf(pn, sizeof pn, "%s/class_names.txt", base);
    uint8_t *x = NULL, *y = NULL, *names = NULL;
    size_t nx = 0, ny = 0, nn = 0;
    mia_status st = MIA_OK;
    /* validate sizes before reading the (large) image file */
    if (stat(px, &sb) != 0) {
        st = MIA_ERROR(MIA_ERR_IO, "%s: cannot open: %s", px, strerror(errno));
        goto done;
    }
    uint64_t xs = (uint64_t)sb.st_size;
    if (xs == 0 || xs % STL_IMG != 0) {
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: %llu bytes is not a positive multiple of the %d-byte "
                       "image (truncated at image %llu, offset %llu)", px, (unsigned long long)xs,
                       STL_IMG, (unsigned long long)(xs / STL_IMG),
                       (unsigned long long)(xs / STL_IMG * STL_IMG));
        goto done;
    }
    int64_t n = (int64_t)(xs / STL_IMG);
    if ((st = mia__read_file(py, (size_t)n + 1, &y, &ny)) != MIA_OK) goto done;
    if (ny != (size_t)n) {
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: %zu labels but %s holds %lld images", py, ny, px,
                       (long long)n);
        goto done;
    }
    if (xs > o.max_bytes) {
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: %llu bytes exceed the cap of %llu", px,
                       (unsigned long long)xs, (unsigned long long)o.max_bytes);
        goto done;
    }
    if ((st = mia__read_file(px, (size_t)xs, &x, &nx)) != MIA_OK) goto done;
    if (nx != xs) {
        st = MIA_ERROR(MIA_ERR_IO, "%s: file changed while reading", px);
        goto done;
    }
    if (stat(pn, &sb) == 0 && (st = mia__read_file(pn, 1 << 20, &names, &nn)) != MIA_OK) goto done;
    char src[4300];
    snprintf(src, sizeof src, "stl10:%s:%s", dir, sp);
    st = stl10_build(out, x, nx, px, y, ny, py, (const char *)names, nn, src, &o);
done:
    mia__free(x);
    mia__free(y);
    mia__free(names);
    return st;
}

mia_status mia__stl10_load_mem(mia_dataset **out, const void *x, size_t nx, const void *y,
                               size_t ny, const char *names, size_t nn, const char *name,
                               const mia_dataset_load_opts *opts_in)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG((x != NULL || nx == 0) && (y != NULL || ny == 0), "x or y is NULL");
    mia_dataset_load_opts o;
    MIA_TRY(mia__load_opts_get(&o, opts_in));
    if (!name) name = "<memory>";
    char xname[512], yname[512], src[600];
    snprintf(xname, sizeof xname, "%s:X", name);
    snprintf(yname, sizeof yname, "%s:y", name);
    snprintf(src, sizeof src, "stl10:%s", name);
    static const uint8_t empty[1] = {0};
    return stl10_build(out, x ? x : empty, nx, xname, y ? y : empty, ny, yname, names,
                       names ? nn : 0, src, &o);
}

mia_status mia__stl10_archive_mem(mia_dataset **out, mia_data_split split, const void *archive,
                                  size_t len, const char *name,
                                  const mia_dataset_load_opts *opts_in)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(split == MIA_DATA_TRAIN || split == MIA_DATA_TEST, "invalid split %d",
                  (int)split);
    mia_dataset_load_opts o;
    MIA_TRY(mia__load_opts_get(&o, opts_in));
    static const uint8_t empty[1] = {0};
    return stl_from_archive(out, name ? name : "<memory>", archive ? archive : empty, len, split,
                            &o);
}
