/*
 * Stanford Dogs images: images.tar (Images/<wnid>-<Breed>/<file>.jpg) with lists.tar
 * (train_list.mat / test_list.mat), labelled as the paper does (spec §1.3, data.md §3.4):
 * torchvision ImageFolder over Images/, i.e. label = index of the breed folder among the sorted
 * breed folders of images.tar, images in ImageFolder order (label, directory, file name). The
 * split lists only select which files are kept (all_data=False); "all" keeps every image, which
 * is what the paper's StanfordDogs(all_data=True) default does.
 *
 * Every JPEG is decoded from the archive in memory (libjpeg-turbo, PIL's convert("RGB")), then
 * resized with the PIL-exact bilinear filter:
 *   - shorter > 0: Resize(shorter) then CenterCrop((h, w)) — the paper's eval transform
 *     (Resize(224), CenterCrop(224)); a later ToTensor + Normalize on the stored pixels is then
 *     bit-identical to torchvision's pipeline on the original JPEG;
 *   - shorter == 0: Resize((h, w)) — the CIFAR pipeline's squash (Resize((32, 32))).
 * images.tar is read twice (names, then the wanted entries); nothing is extracted to disk.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/archive.h"
#include "data/data-internal.h"
#include "data/dataset-impl.h"
#include "data/image.h"

typedef struct dogs_src {
    const char *path;   /* file path, or the name used in messages for memory */
    const void *mem;    /* non-NULL: archive bytes */
    size_t len;
} dogs_src;

static mia_status src_foreach(const dogs_src *s, const mia_archive_caps *caps,
                              mia_archive_want_fn want, mia_archive_entry_fn fn, void *user)
{
    if (s->mem) return mia__archive_foreach_mem(s->mem, s->len, s->path, caps, want, fn, user);
    return mia__archive_foreach(s->path, caps, want, fn, user);
}

typedef struct slot_name {
    const char *rel;    /* "<breed>/<file>" (owned by the context) */
    int64_t slot;       /* position in the dataset, -1 = not wanted */
} slot_name;

typedef struct dogs_ctx {
    const dogs_src *src;
    mia__image_list l;   /* entries: dir = breed, name = file */
    mia_status err;
    slot_name *index;    /* sorted by rel */
    char **rel;          /* rel names parallel to l.e (after sorting) */
    mia_dataset *d;
    mia__folder_opts fo;
    int64_t shorter, crop_h, crop_w;
    int64_t filled;
} dogs_ctx;

/* "Images/<breed>/<file>" -> pointer to "<breed>/<file>" or NULL when not an image entry. */
static const char *images_rel(const char *name)
{
    while (name[0] == '.' && name[1] == '/') name += 2;
    if (strncmp(name, "Images/", 7) != 0) return NULL;
    const char *rel = name + 7;
    const char *sl = strchr(rel, '/');
    if (!sl || sl == rel || !sl[1] || strchr(sl + 1, '/')) return NULL;
    return mia__image_ext_ok(sl + 1) ? rel : NULL;
}

static int collect(const char *name, int64_t size, void *user)
{
    (void)size;
    dogs_ctx *c = user;
    const char *rel = images_rel(name);
    if (!rel) return 0;
    const char *sl = strchr(rel, '/');
    size_t bl = (size_t)(sl - rel);
    char breed[512];
    if (bl >= sizeof breed) {
        c->err = MIA_ERROR(MIA_ERR_FORMAT, "%s: entry '%.200s': breed folder name too long",
                           c->src->path, name);
        return -1;
    }
    memcpy(breed, rel, bl);
    breed[bl] = '\0';
    if (mia__image_list_add(&c->l, breed, sl + 1, -1) != MIA_OK) {
        c->err = MIA_ERR_NOMEM;
        return -1;
    }
    return 0;
}

static mia_status ignore(const char *name, const uint8_t *data, size_t size, void *user)
{
    (void)name;
    (void)data;
    (void)size;
    (void)user;
    return MIA_OK;
}

static int cmp_slot(const void *a, const void *b)
{
    return strcmp(((const slot_name *)a)->rel, ((const slot_name *)b)->rel);
}

static const slot_name *find(const dogs_ctx *c, const char *rel)
{
    slot_name key = {rel, 0};
    return bsearch(&key, c->index, (size_t)c->l.n, sizeof key, cmp_slot);
}

static int want_image(const char *name, int64_t size, void *user)
{
    (void)size;
    const dogs_ctx *c = user;
    const char *rel = images_rel(name);
    if (!rel) return 0;
    const slot_name *s = find(c, rel);
    return s && s->slot >= 0;
}

/* torchvision CenterCrop offset int(round((size - crop) / 2)), half to even. */
static int64_t center_offset(int64_t size, int64_t crop)
{
    return (int64_t)nearbyint((double)(size - crop) / 2.0);
}

mia_status mia__dogs_resize_into(uint8_t *dst, const uint8_t *chw, int64_t c, int64_t h, int64_t w,
                                 int64_t shorter, int64_t out_h, int64_t out_w, const char *name)
{
    if (shorter <= 0) return mia__resize_chw(chw, c, h, w, dst, out_h, out_w);
    int64_t nw = 0, nh = 0;
    mia__resize_shorter_dims(w, h, shorter, &nw, &nh);
    if (nh < out_h || nw < out_w)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: %lldx%lld image resized to %lldx%lld is smaller "
                         "than the %lldx%lld crop", name, (long long)w, (long long)h,
                         (long long)nw, (long long)nh, (long long)out_w, (long long)out_h);
    uint8_t *tmp = mia__malloc((size_t)(c * nh * nw));
    if (!tmp) return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory", name);
    mia_status st = mia__resize_chw(chw, c, h, w, tmp, nh, nw);
    if (st == MIA_OK) {
        int64_t top = center_offset(nh, out_h), left = center_offset(nw, out_w);
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t y = 0; y < out_h; y++)
                memcpy(dst + (ch * out_h + y) * out_w, tmp + (ch * nh + top + y) * nw + left,
                       (size_t)out_w);
    }
    mia__free(tmp);
    return st;
}

static mia_status take_image(const char *name, const uint8_t *data, size_t size, void *user)
{
    dogs_ctx *c = user;
    const slot_name *s = find(c, images_rel(name));
    if (!s || s->slot < 0) return MIA_OK;
    char label[1024];
    snprintf(label, sizeof label, "%.600s!/%.400s", c->src->path, name);
    uint8_t *px = NULL, *chw = NULL;
    int64_t w = 0, h = 0;
    mia_dataset *d = c->d;
    MIA_TRY(mia__image_decode(data, size, label, (int)d->c, &c->fo.limits, &px, &w, &h));
    mia_status st = MIA_OK;
    chw = mia__malloc((size_t)(d->c * h * w));
    if (!chw) {
        st = MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory", label);
    } else {
        mia__hwc_to_chw(px, h, w, d->c, chw);
        st = mia__dogs_resize_into(d->pixels + (size_t)(s->slot * d->c * d->h * d->w), chw, d->c,
                                   h, w, c->shorter, d->h, d->w, label);
    }
    mia__free(chw);
    mia__free(px);
    if (st == MIA_OK) c->filled++;
    return st;
}

/* The split list (train_list.mat / test_list.mat) from lists.tar (path or memory). */
typedef struct list_tar {
    const char *want;
    uint8_t *data;
    size_t len;
} list_tar;

static int want_list(const char *name, int64_t size, void *user)
{
    (void)size;
    const list_tar *t = user;
    const char *b = strrchr(name, '/');
    return strcmp(b ? b + 1 : name, t->want) == 0;
}

static mia_status take_list(const char *name, const uint8_t *data, size_t size, void *user)
{
    (void)name;
    list_tar *t = user;
    mia__free(t->data);
    t->data = mia__malloc(size ? size : 1);
    if (!t->data) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    memcpy(t->data, data, size);
    t->len = size;
    return MIA_OK;
}

static mia_status load_list(const dogs_src *lists, const char *list_name, char ***files,
                            int32_t **labels, int64_t *n)
{
    if (!lists->mem) return mia_dogs_list_load(files, labels, n, lists->path, list_name);
    list_tar t = {list_name, NULL, 0};
    mia_archive_caps caps;
    mia__archive_caps_default(&caps);
    caps.max_entry_bytes = 64u << 20;
    caps.max_total_bytes = 256u << 20;
    caps.max_entries = 100;
    MIA_TRY(src_foreach(lists, &caps, want_list, take_list, &t));
    if (!t.data)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: archive has no entry '%s'", lists->path, list_name);
    char label[1024];
    snprintf(label, sizeof label, "%.600s:%s", lists->path, list_name);
    mia_status st = mia__dogs_list_load_mem(files, labels, n, t.data, t.len, label);
    mia__free(t.data);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static mia_status dogs_load(mia_dataset **out, const dogs_src *images, const dogs_src *lists,
                            const char *split, int64_t shorter, int64_t h, int64_t w,
                            const mia_dataset_load_opts *o)
{
    dogs_ctx c;
    memset(&c, 0, sizeof c);
    c.src = images;
    mia__folder_opts_init(&c.fo);
    c.fo.channels = 3;
    c.shorter = shorter;
    char **lf = NULL;
    int32_t *ll = NULL;
    int64_t ln = 0;
    char **sorted_list = NULL;
    mia_archive_caps caps;
    mia__archive_caps_default(&caps);
    caps.max_entry_bytes = 64u << 20; /* one JPEG */
    mia_status st = src_foreach(images, &caps, collect, ignore, &c);
    if (st == MIA_OK && c.err != MIA_OK) st = c.err;
    if (st != MIA_OK) goto done;
    if (c.l.n == 0) {
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: no images under Images/<breed>/ in the archive",
                       images->path);
        goto done;
    }
    /* classes: sorted distinct breed folders (ImageFolder) */
    c.l.classes = mia__calloc((size_t)c.l.n, sizeof(char *));
    c.index = mia__malloc((size_t)c.l.n * sizeof *c.index);
    c.rel = mia__calloc((size_t)c.l.n, sizeof(char *));
    if (!c.l.classes || !c.index || !c.rel) {
        st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
        goto done;
    }
    {
        char **dirs = mia__malloc((size_t)c.l.n * sizeof(char *));
        if (!dirs) {
            st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int64_t i = 0; i < c.l.n; i++) dirs[i] = c.l.e[i].dir;
        qsort(dirs, (size_t)c.l.n, sizeof *dirs, cmp_str);
        for (int64_t i = 0; i < c.l.n && st == MIA_OK; i++) {
            if (c.l.n_classes > 0 && strcmp(c.l.classes[c.l.n_classes - 1], dirs[i]) == 0)
                continue;
            char *s = mia__strdup(dirs[i]);
            if (!s) st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
            else c.l.classes[c.l.n_classes++] = s;
        }
        mia__free(dirs);
        if (st != MIA_OK) goto done;
    }
    for (int64_t i = 0; i < c.l.n; i++) {
        const char *key = c.l.e[i].dir;
        char **f = bsearch(&key, c.l.classes, (size_t)c.l.n_classes, sizeof(char *), cmp_str);
        c.l.e[i].label = (int32_t)(f - c.l.classes);
    }
    mia__image_list_sort(&c.l);
    for (int64_t i = 0; i < c.l.n; i++) {
        size_t k = strlen(c.l.e[i].dir) + strlen(c.l.e[i].name) + 2;
        c.rel[i] = mia__malloc(k);
        if (!c.rel[i]) {
            st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
            goto done;
        }
        snprintf(c.rel[i], k, "%s/%s", c.l.e[i].dir, c.l.e[i].name);
    }
    /* which entries are kept: all, or those of the split list */
    bool *keep = mia__calloc((size_t)c.l.n, sizeof *keep);
    if (!keep) {
        st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (strcmp(split, "all") == 0) {
        for (int64_t i = 0; i < c.l.n; i++) keep[i] = true;
    } else {
        const char *list_name = strcmp(split, "train") == 0 ? "train_list.mat" : "test_list.mat";
        st = load_list(lists, list_name, &lf, &ll, &ln);
        if (st == MIA_OK) {
            sorted_list = mia__malloc((size_t)ln * sizeof(char *));
            if (!sorted_list) st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
        }
        if (st == MIA_OK) {
            memcpy(sorted_list, lf, (size_t)ln * sizeof(char *));
            qsort(sorted_list, (size_t)ln, sizeof(char *), cmp_str);
            for (int64_t i = 0; i < c.l.n; i++)
                keep[i] = bsearch(&c.rel[i], sorted_list, (size_t)ln, sizeof(char *),
                                  cmp_str) != NULL;
            /* every listed file must exist in images.tar */
            int64_t found = 0;
            for (int64_t i = 0; i < c.l.n; i++) found += keep[i];
            if (found != ln) {
                char **rs = mia__malloc((size_t)c.l.n * sizeof(char *));
                if (!rs) st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
                if (rs) {
                    memcpy(rs, c.rel, (size_t)c.l.n * sizeof(char *));
                    qsort(rs, (size_t)c.l.n, sizeof(char *), cmp_str);
                }
                for (int64_t j = 0; j < ln && st == MIA_OK; j++)
                    if (!bsearch(&lf[j], rs, (size_t)c.l.n, sizeof(char *), cmp_str))
                        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: '%s' lists 'Images/%.300s', which is "
                                       "not in %s", lists->path, list_name, lf[j], images->path);
                mia__free(rs);
            }
            if (st == MIA_OK && found != ln)
                st = MIA_ERROR(MIA_ERR_FORMAT, "%s: '%s' lists a file twice", lists->path,
                               list_name);
        }
    }
    int64_t n = 0;
    for (int64_t i = 0; i < c.l.n && st == MIA_OK; i++) {
        bool k = keep[i] && (o->max_images == 0 || n < o->max_images);
        c.index[i].rel = c.rel[i];
        c.index[i].slot = k ? n++ : -1;
    }
    mia__free(keep);
    if (st != MIA_OK) goto done;
    qsort(c.index, (size_t)c.l.n, sizeof *c.index, cmp_slot);
    for (int64_t i = 1; i < c.l.n; i++)
        if (strcmp(c.index[i].rel, c.index[i - 1].rel) == 0) {
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: duplicate entry 'Images/%.300s'", images->path,
                           c.index[i].rel);
            goto done;
        }
    if ((uint64_t)n * 3u * (uint64_t)h * (uint64_t)w > o->max_bytes) {
        st = MIA_ERROR(MIA_ERR_INVALID, "%s: %lld images of 3x%lldx%lld exceed the cap of %llu "
                       "bytes", images->path, (long long)n, (long long)h, (long long)w,
                       (unsigned long long)o->max_bytes);
        goto done;
    }
    char source[4400];
    snprintf(source, sizeof source, "stanford-dogs:%.4000s:%s", images->path, split);
    st = mia__dataset_new(&c.d, n, 3, h, w, c.l.n_classes, source);
    for (int64_t k = 0; k < c.l.n_classes && st == MIA_OK; k++)
        st = mia__dataset_set_class_name(c.d, k, c.l.classes[k]);
    if (st != MIA_OK) goto done;
    for (int64_t i = 0; i < c.l.n; i++) {
        const slot_name *s = find(&c, c.rel[i]);
        if (s->slot >= 0) c.d->labels[s->slot] = c.l.e[i].label;
    }
    st = src_foreach(images, &caps, want_image, take_image, &c);
    if (st == MIA_OK && c.filled != n)
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: %lld of %lld listed images could not be read again",
                       images->path, (long long)(n - c.filled), (long long)n);
done:
    if (st == MIA_OK) {
        mia__dataset_finish(c.d);
        *out = c.d;
    } else {
        mia_dataset_free(c.d);
    }
    if (c.rel)
        for (int64_t i = 0; i < c.l.n; i++) mia__free(c.rel[i]);
    mia__free(c.rel);
    mia__free(c.index);
    mia__free(sorted_list);
    mia_dogs_list_free(lf, ll, ln);
    mia__image_list_free(&c.l);
    return st;
}

static mia_status check_args(mia_dataset **out, const char *split, int64_t shorter, int64_t h,
                             int64_t w)
{
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(split && (strcmp(split, "train") == 0 || strcmp(split, "test") == 0 ||
                            strcmp(split, "all") == 0),
                  "Stanford Dogs split must be train, test or all (got '%s')",
                  split ? split : "(null)");
    MIA_CHECK_ARG(h >= 1 && w >= 1 && h <= 4096 && w <= 4096 && shorter >= 0 && shorter <= 4096,
                  "Stanford Dogs size %lldx%lld (resize %lld) is out of range", (long long)h,
                  (long long)w, (long long)shorter);
    MIA_CHECK_ARG(shorter == 0 || (h <= shorter || w <= shorter),
                  "crop %lldx%lld cannot fit an image whose shorter side is %lld", (long long)h,
                  (long long)w, (long long)shorter);
    return MIA_OK;
}

mia_status mia__dogs_load(mia_dataset **out, const char *dir, const char *split, int64_t shorter,
                          int64_t h, int64_t w, const mia_dataset_load_opts *opts_in)
{
    mia__error_begin();
    MIA_TRY(check_args(out, split, shorter, h, w));
    MIA_CHECK_ARG(dir != NULL, "dir is NULL");
    mia_dataset_load_opts o;
    MIA_TRY(mia__load_opts_get(&o, opts_in));
    size_t n = strlen(dir) + 16;
    char *pi = mia__malloc(n), *pl = mia__malloc(n);
    mia_status st = MIA_OK;
    if (!pi || !pl) {
        st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    } else {
        snprintf(pi, n, "%s/images.tar", dir);
        snprintf(pl, n, "%s/lists.tar", dir);
        struct stat sb;
        if (stat(pi, &sb) != 0)
            st = MIA_ERROR(MIA_ERR_IO, "%s: cannot open: %s (Stanford Dogs needs images.tar and "
                           "lists.tar in %s)", pi, strerror(errno), dir);
        else if (strcmp(split, "all") != 0 && stat(pl, &sb) != 0)
            st = MIA_ERROR(MIA_ERR_IO, "%s: cannot open: %s", pl, strerror(errno));
    }
    if (st == MIA_OK) {
        dogs_src si = {pi, NULL, 0}, sl = {pl, NULL, 0};
        st = dogs_load(out, &si, &sl, split, shorter, h, w, &o);
    }
    mia__free(pi);
    mia__free(pl);
    return st;
}

mia_status mia__dogs_load_mem(mia_dataset **out, const void *images_tar, size_t images_len,
                              const void *lists_tar, size_t lists_len, const char *split,
                              int64_t shorter, int64_t h, int64_t w,
                              const mia_dataset_load_opts *opts_in)
{
    mia__error_begin();
    MIA_TRY(check_args(out, split, shorter, h, w));
    MIA_CHECK_ARG(images_tar != NULL, "images_tar is NULL");
    MIA_CHECK_ARG(lists_tar != NULL || strcmp(split, "all") == 0, "lists_tar is NULL");
    mia_dataset_load_opts o;
    MIA_TRY(mia__load_opts_get(&o, opts_in));
    static const uint8_t empty[1] = {0};
    dogs_src si = {"images.tar", images_tar, images_len};
    dogs_src sl = {"lists.tar", lists_tar ? lists_tar : empty, lists_tar ? lists_len : 0};
    return dogs_load(out, &si, &sl, split, shorter, h, w, &o);
}
