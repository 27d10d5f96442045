/*
 * torchvision ImageFolder: root/<class>/.../<file>, classes and files in Python's sorted order,
 * every image decoded (PNG/JPEG), converted like PIL's convert("RGB"/"L") and resized with the
 * PIL-exact bilinear filter to one common size.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mia/dataset.h>

#include "data/dataset-impl.h"
#include "data/image.h"

#define MAX_DEPTH 32

void mia__folder_opts_init(mia__folder_opts *o)
{
    memset(o, 0, sizeof *o);
    o->channels = 3;
    mia__image_limits_init(&o->limits);
}

bool mia__image_ext_ok(const char *name)
{
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".ppm", ".bmp",
                                      ".pgm", ".tif", ".tiff", ".webp"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t k = strlen(ext[i]);
        if (n < k) continue;
        bool eq = true;
        for (size_t j = 0; j < k && eq; j++) {
            char c = name[n - k + j];
            if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
            eq = c == ext[i][j];
        }
        if (eq) return true;
    }
    return false;
}

/* ---- entry lists ---------------------------------------------------------------------------- */

void mia__image_list_free(mia__image_list *l)
{
    for (int64_t i = 0; i < l->n; i++) {
        mia__free(l->e[i].dir);
        mia__free(l->e[i].name);
    }
    mia__free(l->e);
    for (int64_t i = 0; i < l->n_classes; i++) mia__free(l->classes[i]);
    mia__free(l->classes);
    memset(l, 0, sizeof *l);
}

mia_status mia__image_list_add(mia__image_list *l, const char *dir, const char *name, int32_t label)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? l->cap * 2 : 256;
        mia__image_entry *e = mia__realloc(l->e, (size_t)cap * sizeof *e);
        if (!e) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory listing images");
        l->e = e;
        l->cap = cap;
    }
    mia__image_entry *e = &l->e[l->n];
    e->dir = mia__strdup(dir);
    e->name = mia__strdup(name);
    e->label = label;
    if (!e->dir || !e->name) {
        mia__free(e->dir);
        mia__free(e->name);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory listing images");
    }
    l->n++;
    return MIA_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    const mia__image_entry *x = a, *y = b;
    if (x->label != y->label) return x->label < y->label ? -1 : 1;
    int c = strcmp(x->dir, y->dir);
    return c ? c : strcmp(x->name, y->name);
}

void mia__image_list_sort(mia__image_list *l)
{
    if (l->n > 1) qsort(l->e, (size_t)l->n, sizeof *l->e, cmp_entry);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void mia__sort_strings(char **s, int64_t n)
{
    if (n > 1) qsort(s, (size_t)n, sizeof *s, cmp_str);
}

/* ---- decoding into a dataset ---------------------------------------------------------------- */

mia_status mia__image_list_dataset(mia_dataset **out, const mia__image_list *l,
                                   const mia__folder_opts *o, const char *source,
                                   int64_t first_w, int64_t first_h)
{
    *out = NULL;
    for (int32_t k = 0; k < l->n_classes; k++) {
        bool any = false;
        for (int64_t i = 0; i < l->n && !any; i++) any = l->e[i].label == k;
        if (!any)
            return MIA_ERROR(MIA_ERR_FORMAT, "%s: class '%s' has no image files", source,
                             l->classes[k]);
    }
    int64_t h = o->height ? o->height : first_h, w = o->width ? o->width : first_w;
    mia_dataset *d = NULL;
    MIA_TRY(mia__dataset_new(&d, l->n, o->channels, h, w, l->n_classes, source));
    for (int64_t k = 0; k < l->n_classes; k++) {
        mia_status s = mia__dataset_set_class_name(d, k, l->classes[k]);
        if (s != MIA_OK) {
            mia_dataset_free(d);
            return s;
        }
    }
    for (int64_t i = 0; i < l->n; i++) d->labels[i] = l->e[i].label;
    *out = d;
    return MIA_OK;
}

mia_status mia__image_into_slot(mia_dataset *d, int64_t i, const uint8_t *data, size_t n,
                                const char *name, const mia__folder_opts *o)
{
    uint8_t *px = NULL, *chw = NULL;
    int64_t w = 0, h = 0;
    const int64_t c = d->c;
    MIA_TRY(mia__image_decode(data, n, name, (int)c, &o->limits, &px, &w, &h));
    uint8_t *slot = d->pixels + i * c * d->h * d->w;
    mia_status s = MIA_OK;
    if (w == d->w && h == d->h) {
        mia__hwc_to_chw(px, h, w, c, slot);
    } else if (o->height == 0) {
        s = MIA_ERROR(MIA_ERR_FORMAT,
                      "%s: image is %lldx%lld but the first image was %lldx%lld (set a size to "
                      "resize)",
                      name, (long long)w, (long long)h, (long long)d->w, (long long)d->h);
    } else {
        chw = mia__malloc((size_t)(c * h * w));
        if (!chw) {
            s = MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory", name);
        } else {
            mia__hwc_to_chw(px, h, w, c, chw);
            s = mia__resize_chw(chw, c, h, w, slot, d->h, d->w);
            if (s != MIA_OK) mia__error_prefix("%s", name);
        }
    }
    mia__free(chw);
    mia__free(px);
    return s;
}

/* ---- directory walking ---------------------------------------------------------------------- */

static char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *p = mia__malloc(n);
    if (!p) return NULL;
    snprintf(p, n, "%s%s%s%s%s", a, *b ? "/" : "", b, *c ? "/" : "", c);
    return p;
}

/* Recursively list root/rel: files with an image extension go to l (dir = rel). */
static mia_status walk(const char *root, const char *rel, int32_t label, int depth,
                       mia__image_list *l)
{
    if (depth > MAX_DEPTH)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s/%s: directories nested deeper than %d (symlink loop?)",
                         root, rel, MAX_DEPTH);
    char *full = join3(root, rel, "");
    if (!full) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    DIR *dir = opendir(full);
    if (!dir) {
        mia_status s = MIA_ERROR(MIA_ERR_IO, "%s: cannot open directory: %s", full, strerror(errno));
        mia__free(full);
        return s;
    }
    mia_status s = MIA_OK;
    struct dirent *de;
    while (s == MIA_OK && (de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char *p = join3(full, de->d_name, "");
        if (!p) {
            s = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
            break;
        }
        struct stat st;
        if (stat(p, &st) == 0) { /* follows symlinks, like os.walk(followlinks=True) */
            if (S_ISDIR(st.st_mode)) {
                char *sub = join3(rel, de->d_name, "");
                if (!sub) s = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
                else s = walk(root, sub, label, depth + 1, l);
                mia__free(sub);
            } else if (mia__image_ext_ok(de->d_name)) {
                s = mia__image_list_add(l, rel, de->d_name, label);
            }
        }
        mia__free(p);
    }
    closedir(dir);
    mia__free(full);
    return s;
}

static mia_status list_folder(const char *root, mia__image_list *l)
{
    DIR *dir = opendir(root);
    if (!dir) return MIA_ERROR(MIA_ERR_IO, "%s: cannot open directory: %s", root, strerror(errno));
    mia_status s = MIA_OK;
    int64_t cap = 0;
    struct dirent *de;
    while (s == MIA_OK && (de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char *p = join3(root, de->d_name, "");
        struct stat st;
        if (!p) s = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
        else if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (l->n_classes == cap) {
                cap = cap ? cap * 2 : 16;
                char **c = mia__realloc(l->classes, (size_t)cap * sizeof *c);
                if (!c) s = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
                else l->classes = c;
            }
            if (s == MIA_OK) {
                l->classes[l->n_classes] = mia__strdup(de->d_name);
                if (!l->classes[l->n_classes]) s = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
                else l->n_classes++;
            }
        }
        mia__free(p);
    }
    closedir(dir);
    if (s != MIA_OK) return s;
    if (l->n_classes == 0)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: no class folders found", root);
    if (l->n_classes > INT32_MAX) return MIA_ERROR(MIA_ERR_FORMAT, "%s: too many classes", root);
    mia__sort_strings(l->classes, l->n_classes);
    for (int32_t k = 0; k < (int32_t)l->n_classes && s == MIA_OK; k++)
        s = walk(root, l->classes[k], k, 1, l);
    if (s != MIA_OK) return s;
    mia__image_list_sort(l);
    return MIA_OK;
}

mia_status mia__folder_load(mia_dataset **out, const char *root, const mia__folder_opts *opts)
{
    if (out) *out = NULL;
    MIA_CHECK_ARG(out && root, "out and root must not be NULL");
    mia__folder_opts o;
    if (opts) o = *opts;
    else mia__folder_opts_init(&o);
    MIA_CHECK_ARG(o.channels == 1 || o.channels == 3, "opts.channels must be 1 or 3 (got %d)",
                  o.channels);
    MIA_CHECK_ARG(o.height >= 0 && o.width >= 0 && (o.height == 0) == (o.width == 0),
                  "opts.height and opts.width must both be 0 or both >= 1");
    mia__image_list l = {0};
    mia_dataset *d = NULL;
    char *src = NULL, *path = NULL;
    uint8_t *buf = NULL;
    mia_status s = list_folder(root, &l);
    if (s != MIA_OK) goto done;
    src = mia__malloc(strlen(root) + 8);
    if (!src) {
        s = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
        goto done;
    }
    sprintf(src, "folder:%s", root);
    int64_t fw = 0, fh = 0;
    for (int64_t i = 0; i < l.n && s == MIA_OK; i++) {
        path = join3(root, l.e[i].dir, l.e[i].name);
        if (!path) {
            s = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
            break;
        }
        if (i == 0 && o.height == 0) {
            /* geometry of the first image sizes the dataset */
            uint8_t *px = NULL;
            s = mia__image_load(path, o.channels, &o.limits, &px, &fw, &fh);
            mia__free(px);
        }
        if (s == MIA_OK && i == 0) s = mia__image_list_dataset(&d, &l, &o, src, fw, fh);
        if (s == MIA_OK) {
            FILE *f = fopen(path, "rb");
            if (!f) {
                s = MIA_ERROR(MIA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
            } else {
                struct stat st;
                int64_t cap = o.limits.max_bytes > ((int64_t)1 << 28) ? o.limits.max_bytes
                                                                      : ((int64_t)1 << 28);
                if (fstat(fileno(f), &st) != 0 || (int64_t)st.st_size > cap) {
                    s = MIA_ERROR(MIA_ERR_FORMAT, "%s: file too large or unreadable", path);
                } else {
                    size_t n = (size_t)st.st_size;
                    buf = mia__malloc(n ? n : 1);
                    if (!buf) s = MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory", path);
                    else if (fread(buf, 1, n, f) != n)
                        s = MIA_ERROR(MIA_ERR_IO, "%s: read error", path);
                    else
                        s = mia__image_into_slot(d, i, buf, n, path, &o);
                    mia__free(buf);
                    buf = NULL;
                }
                fclose(f);
            }
        }
        mia__free(path);
        path = NULL;
    }
    if (s == MIA_OK && l.n == 0) s = MIA_ERROR(MIA_ERR_FORMAT, "%s: no image files found", root);
done:
    if (s == MIA_OK) {
        mia__dataset_finish(d);
        *out = d;
    } else {
        mia_dataset_free(d);
    }
    mia__free(path);
    mia__free(src);
    mia__image_list_free(&l);
    return s;
}
