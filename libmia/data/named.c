/* mia_dataset_load(): spec strings, load options, and the named offline sets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data-internal.h"
#include "dataset-impl.h"
#include "data/image.h"

void mia_dataset_load_opts_init_sized(mia_dataset_load_opts *o, size_t size)
{
    mia_dataset_load_opts def;
    memset(&def, 0, sizeof def);
    def.struct_size = (uint32_t)sizeof def;
    def.max_bytes = (uint64_t)1 << 34;
    if (!o) return;
    memset(o, 0, size);
    memcpy(o, &def, size < sizeof def ? size : sizeof def);
    o->struct_size = (uint32_t)(size < sizeof def ? size : sizeof def);
}

mia_status mia__load_opts_get(mia_dataset_load_opts *o, const mia_dataset_load_opts *in)
{
    mia_dataset_load_opts_init(o);
    if (!in) return MIA_OK;
    MIA_CHECK_ARG(in->struct_size >= sizeof(uint32_t) && in->struct_size <= sizeof *o,
                  "opts.struct_size %u is invalid (use mia_dataset_load_opts_init)",
                  (unsigned)in->struct_size);
    memcpy(o, in, in->struct_size);
    MIA_CHECK_ARG(o->max_images >= 0, "opts.max_images must be >= 0 (got %lld)",
                  (long long)o->max_images);
    if (o->max_bytes == 0) o->max_bytes = (uint64_t)1 << 34;
    return MIA_OK;
}

mia_status mia__dataset_names_from_text(mia_dataset *d, const char *text, size_t len)
{
    int64_t k = 0;
    size_t i = 0;
    while (i < len && k < d->n_classes) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        size_t e = j;
        while (e > i && (text[e - 1] == '\r' || text[e - 1] == ' ' || text[e - 1] == '\t')) e--;
        if (e > i) {
            char buf[256];
            size_t n = e - i < sizeof buf - 1 ? e - i : sizeof buf - 1;
            memcpy(buf, text + i, n);
            buf[n] = '\0';
            MIA_TRY(mia__dataset_set_class_name(d, k++, buf));
        }
        i = j + 1;
    }
    return MIA_OK;
}

mia_status mia__data_dir(char **out, const char *override_dir)
{
    *out = NULL;
    const char *e;
    char buf[4096];
    if (override_dir && *override_dir) snprintf(buf, sizeof buf, "%s", override_dir);
    else if ((e = getenv("MIA_DATA_DIR")) && *e) snprintf(buf, sizeof buf, "%s", e);
    else if ((e = getenv("XDG_CACHE_HOME")) && *e) snprintf(buf, sizeof buf, "%s/libmia", e);
    else if ((e = getenv("HOME")) && *e) snprintf(buf, sizeof buf, "%s/.cache/libmia", e);
    else
        return MIA_ERROR(MIA_ERR_INVALID, "no data directory: set MIA_DATA_DIR (or HOME)");
    *out = mia__strdup(buf);
    if (!*out) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    return MIA_OK;
}

static const char *const g_fashion[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

static mia_status set_names(mia_dataset *d, const char *const *names, int n)
{
    for (int k = 0; k < n && k < d->n_classes; k++)
        MIA_TRY(mia__dataset_set_class_name(d, k, names[k]));
    return MIA_OK;
}

static mia_status load_idx_pair(mia_dataset **out, const char *dir, const char *img,
                                const char *lab, const mia_dataset_load_opts *o,
                                const char *hint)
{
    char pi[4096], pl[4096];
    snprintf(pi, sizeof pi, "%s/%s", dir, img);
    snprintf(pl, sizeof pl, "%s/%s", dir, lab);
    struct stat sb;
    if (stat(pi, &sb) != 0)
        return MIA_ERROR(MIA_ERR_IO, "%s: not found (%s)", pi, hint);
    return mia_dataset_load_idx(out, pi, pl, o);
}

mia_status mia__load_named(mia_dataset **out, const char *spec, const mia_dataset_load_opts *o,
                           int *handled)
{
    *handled = 1;
    if (strncmp(spec, "fashion-mnist", 13) == 0 && (spec[13] == '\0' || spec[13] == ':')) {
        const char *sp = spec[13] ? spec + 14 : "train";
        int test = strcmp(sp, "test") == 0;
        MIA_CHECK_ARG(test || strcmp(sp, "train") == 0,
                      "spec '%s': split must be train or test", spec);
        const char *dir = getenv("MIA_FASHION_MNIST_DIR");
        if (!dir || !*dir) dir = "/usr/share/datasets/fashion-mnist";
        MIA_TRY(load_idx_pair(out, dir,
                              test ? "t10k-images-idx3-ubyte.gz" : "train-images-idx3-ubyte.gz",
                              test ? "t10k-labels-idx1-ubyte.gz" : "train-labels-idx1-ubyte.gz",
                              o, "install Debian's dataset-fashion-mnist"));
        mia_status st = set_names(*out, g_fashion, 10);
        if (st != MIA_OK) {
            mia_dataset_free(*out);
            *out = NULL;
        }
        return st;
    }
    const char *base = NULL;
    if (strcmp(spec, "mnist-opencv") == 0) base = "mnist-opencv";
    else if (strcmp(spec, "sklearn-digits") == 0) base = "sklearn-digits";
    else if (strcmp(spec, "skimage-patches") == 0) base = "skimage-patches";
    if (!base) {
        *handled = 0;
        return MIA_OK;
    }
    char *dir = NULL;
    MIA_TRY(mia__data_dir(&dir, o->data_dir));
    char img[256], lab[256];
    snprintf(img, sizeof img, "%s-images.idx.gz", base);
    snprintf(lab, sizeof lab, "%s-labels.idx.gz", base);
    mia_status st = load_idx_pair(out, dir, img, lab, o,
                                  "run scripts/fetch-offline-data.sh to prepare it");
    mia__free(dir);
    if (st == MIA_OK && strcmp(base, "skimage-patches") != 0) {
        static const char *const digits[10] = {"0", "1", "2", "3", "4",
                                               "5", "6", "7", "8", "9"};
        st = set_names(*out, digits, 10);
    }
    if (st != MIA_OK) {
        mia_dataset_free(*out);
        *out = NULL;
    }
    return st;
}

/* Split "PATH[:train|test]" into path (copied into buf) and split. */
static mia_status path_split(const char *rest, char *buf, size_t cap, mia_data_split *split,
                             const char *spec)
{
    *split = MIA_DATA_TRAIN;
    size_t n = strlen(rest);
    const char *c = strrchr(rest, ':');
    if (c && (strcmp(c + 1, "train") == 0 || strcmp(c + 1, "test") == 0)) {
        *split = strcmp(c + 1, "test") == 0 ? MIA_DATA_TEST : MIA_DATA_TRAIN;
        n = (size_t)(c - rest);
    }
    MIA_CHECK_ARG(n > 0 && n < cap, "spec '%s': missing or too long path", spec);
    memcpy(buf, rest, n);
    buf[n] = '\0';
    return MIA_OK;
}

/* Trailing image options of a spec: ":HxW" (or ":S" when allow_single) and ":gray|:rgb",
 * stripped from the end of buf in any order. */
typedef struct img_spec_opts {
    int64_t h, w;      /* 0 = not given */
    bool single;       /* ":S" form */
    int channels;      /* 0 = not given */
} img_spec_opts;

static bool parse_dim(const char *t, int64_t *v)
{
    if (!*t) return false;
    int64_t x = 0;
    for (; *t; t++) {
        if (*t < '0' || *t > '9' || x > 100000) return false;
        x = x * 10 + (*t - '0');
    }
    *v = x;
    return true;
}

static mia_status strip_img_opts(char *buf, img_spec_opts *io, bool allow_single, const char *spec)
{
    memset(io, 0, sizeof *io);
    for (;;) {
        char *c = strrchr(buf, ':');
        if (!c) break;
        const char *t = c + 1;
        if (io->channels == 0 && (strcmp(t, "gray") == 0 || strcmp(t, "rgb") == 0)) {
            io->channels = t[0] == 'g' ? 1 : 3;
            *c = '\0';
            continue;
        }
        const char *x = strchr(t, 'x');
        int64_t h = 0, w = 0;
        if (io->h == 0 && x) {
            char hb[16];
            size_t hl = (size_t)(x - t);
            if (hl > 0 && hl < sizeof hb) {
                memcpy(hb, t, hl);
                hb[hl] = '\0';
                if (parse_dim(hb, &h) && parse_dim(x + 1, &w)) {
                    MIA_CHECK_ARG(h >= 1 && w >= 1 && h <= 4096 && w <= 4096,
                                  "spec '%s': size %s must be within 1x1..4096x4096", spec, t);
                    io->h = h;
                    io->w = w;
                    *c = '\0';
                    continue;
                }
            }
        }
        if (io->h == 0 && allow_single && parse_dim(t, &h)) {
            MIA_CHECK_ARG(h >= 1 && h <= 4096, "spec '%s': size %s must be within 1..4096", spec,
                          t);
            io->h = io->w = h;
            io->single = true;
            *c = '\0';
            continue;
        }
        break;
    }
    MIA_CHECK_ARG(buf[0] != '\0', "spec '%s': missing path", spec);
    return MIA_OK;
}

/* Keep only the images of class `cls` (by name). */
static mia_status keep_class(mia_dataset **d, const char *cls, const char *spec)
{
    int64_t k = -1;
    for (int64_t i = 0; i < mia_dataset_n_classes(*d); i++) {
        const char *nm = mia_dataset_class_name(*d, i);
        if (nm && strcmp(nm, cls) == 0) k = i;
    }
    if (k < 0) {
        char names[512] = "";
        for (int64_t i = 0; i < mia_dataset_n_classes(*d) && strlen(names) < 400; i++) {
            const char *nm = mia_dataset_class_name(*d, i);
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     nm ? nm : "?");
        }
        return MIA_ERROR(MIA_ERR_INVALID, "spec '%s': no class '%s' (classes: %s)", spec, cls,
                         names);
    }
    int64_t n = mia_dataset_n(*d), m = 0;
    int64_t *idx = mia__malloc(sizeof(int64_t) * (size_t)n);
    if (!idx) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        if (mia_dataset_label(*d, i) == k) idx[m++] = i;
    mia_status st = MIA_OK;
    if (m == 0) st = MIA_ERROR(MIA_ERR_FORMAT, "spec '%s': class '%s' has no images", spec, cls);
    mia_dataset *s = NULL;
    if (st == MIA_OK) st = mia_dataset_subset(&s, *d, idx, m);
    mia__free(idx);
    if (st != MIA_OK) return st;
    mia_dataset_free(*d);
    *d = s;
    return MIA_OK;
}

static mia_status load_image_spec(mia_dataset **out, const char *kind, const char *rest,
                                  const char *spec, const mia_dataset_load_opts *o)
{
    size_t n = strlen(rest);
    MIA_CHECK_ARG(n > 0 && n < 4096, "spec '%s': missing or too long path", spec);
    char buf[4096];
    memcpy(buf, rest, n + 1);
    img_spec_opts io;
    bool dogs = strcmp(kind, "stanford-dogs") == 0;
    MIA_TRY(strip_img_opts(buf, &io, dogs, spec));
    mia__folder_opts fo;
    mia__folder_opts_init(&fo);
    fo.height = io.h;
    fo.width = io.w;
    if (io.channels) fo.channels = io.channels;
    if (strcmp(kind, "folder") == 0) {
        mia_status st = mia__folder_load(out, buf, &fo);
        if (st == MIA_OK && o->max_images > 0 && o->max_images < mia_dataset_n(*out)) {
            /* the folder loader has no cap of its own: keep the first max_images */
            int64_t *idx = mia__malloc(sizeof(int64_t) * (size_t)o->max_images);
            mia_dataset *s = NULL;
            if (!idx) st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
            for (int64_t i = 0; st == MIA_OK && i < o->max_images; i++) idx[i] = i;
            if (st == MIA_OK) st = mia_dataset_subset(&s, *out, idx, o->max_images);
            mia__free(idx);
            mia_dataset_free(*out);
            *out = s;
        }
        return st;
    }
    if (dogs) {
        MIA_CHECK_ARG(io.channels == 0 || io.channels == 3,
                      "spec '%s': Stanford Dogs is loaded as RGB only", spec);
        const char *split = "all";
        char *c = strrchr(buf, ':');
        if (c && (strcmp(c + 1, "train") == 0 || strcmp(c + 1, "test") == 0 ||
                  strcmp(c + 1, "all") == 0)) {
            split = c + 1;
            *c = '\0';
        }
        MIA_CHECK_ARG(buf[0] != '\0', "spec '%s': missing directory", spec);
        int64_t shorter = io.h == 0 ? 224 : (io.single ? io.h : 0);
        int64_t h = io.h ? io.h : 224, w = io.w ? io.w : 224;
        return mia__dogs_load(out, buf, split, shorter, h, w, o);
    }
    /* afhq: PATH[:train|val[:CLASS]] */
    const char *split = "train", *cls = NULL;
    char *c = strrchr(buf, ':');
    if (c && (strcmp(c + 1, "train") == 0 || strcmp(c + 1, "val") == 0)) {
        split = c + 1;
        *c = '\0';
    } else if (c) {
        *c = '\0';
        char *c2 = strrchr(buf, ':');
        if (c2 && (strcmp(c2 + 1, "train") == 0 || strcmp(c2 + 1, "val") == 0)) {
            split = c2 + 1;
            cls = c + 1;
            *c2 = '\0';
        } else {
            *c = ':'; /* part of the path */
        }
    }
    MIA_CHECK_ARG(buf[0] != '\0', "spec '%s': missing path", spec);
    MIA_TRY(mia__afhq_load(out, buf, split, &fo));
    if (cls) {
        mia_status st = keep_class(out, cls, spec);
        if (st != MIA_OK) {
            mia_dataset_free(*out);
            *out = NULL;
            return st;
        }
    }
    return MIA_OK;
}

mia_status mia_dataset_load(mia_dataset **out, const char *spec, const mia_dataset_load_opts *in)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(spec != NULL, "spec is NULL");
    mia_dataset_load_opts o;
    MIA_TRY(mia__load_opts_get(&o, in));
    const char *plus = strrchr(spec, '+');
    mia_derived_kind dk = MIA_DERIVED_NONE;
    if (plus && mia_derived_from_name(plus + 1, &dk) == MIA_OK)
        return MIA_ERROR(MIA_ERR_INVALID, "spec '%s': '+%s' is a derived set built at batch time; "
                         "split it off with mia_dataset_spec_derived() and use "
                         "mia_batch_opts_set_derived()", spec, plus + 1);
    mia__error_begin();
    int handled = 0;
    mia_status st = mia__load_named(out, spec, &o, &handled);
    if (handled) return st;
    const char *colon = strchr(spec, ':');
    MIA_CHECK_ARG(colon != NULL, "spec '%s': expected KIND:ARGS (idx, cifar10, cifar100, stl10, "
                  "svhn, folder, afhq, stanford-dogs) or a named set (fashion-mnist, "
                  "mnist-opencv, sklearn-digits, skimage-patches)", spec);
    size_t kl = (size_t)(colon - spec);
    const char *rest = colon + 1;
    char path[4096];
    mia_data_split split;
    if (kl == 3 && strncmp(spec, "idx", 3) == 0) {
        const char *comma = strchr(rest, ',');
        size_t n = comma ? (size_t)(comma - rest) : strlen(rest);
        MIA_CHECK_ARG(n > 0 && n < sizeof path, "spec '%s': missing images path", spec);
        memcpy(path, rest, n);
        path[n] = '\0';
        return mia_dataset_load_idx(out, path, comma && comma[1] ? comma + 1 : NULL, &o);
    }
    if ((kl == 7 && strncmp(spec, "cifar10", 7) == 0) ||
        (kl == 8 && strncmp(spec, "cifar100", 8) == 0)) {
        MIA_TRY(path_split(rest, path, sizeof path, &split, spec));
        return mia_dataset_load_cifar(out, kl == 7 ? 10 : 100, path, split, &o);
    }
    if (kl == 5 && strncmp(spec, "stl10", 5) == 0) {
        MIA_TRY(path_split(rest, path, sizeof path, &split, spec));
        return mia_dataset_load_stl10(out, path, split, &o);
    }
    if (kl == 4 && strncmp(spec, "svhn", 4) == 0) return mia_dataset_load_svhn(out, rest, &o);
    if ((kl == 6 && strncmp(spec, "folder", 6) == 0) || (kl == 4 && strncmp(spec, "afhq", 4) == 0) ||
        (kl == 13 && strncmp(spec, "stanford-dogs", 13) == 0)) {
        char kind[16];
        memcpy(kind, spec, kl);
        kind[kl] = '\0';
        return load_image_spec(out, kind, rest, spec, &o);
    }
    return MIA_ERROR(MIA_ERR_INVALID, "spec '%s': unknown dataset kind '%.*s'", spec, (int)kl,
                     spec);
}
