/* mia_dataset_load(): spec strings, load options, and the named offline sets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data-internal.h"
#include "dataset-impl.h"

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

mia_status mia_dataset_load(mia_dataset **out, const char *spec, const mia_dataset_load_opts *in)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(spec != NULL, "spec is NULL");
    mia_dataset_load_opts o;
    MIA_TRY(mia__load_opts_get(&o, in));
    int handled = 0;
    mia_status st = mia__load_named(out, spec, &o, &handled);
    if (handled) return st;
    const char *colon = strchr(spec, ':');
    MIA_CHECK_ARG(colon != NULL, "spec '%s': expected KIND:ARGS (idx, cifar10, cifar100, stl10, "
                  "svhn) or a named set (fashion-mnist, mnist-opencv, sklearn-digits, "
                  "skimage-patches)", spec);
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
    return MIA_ERROR(MIA_ERR_INVALID, "spec '%s': unknown dataset kind '%.*s'", spec, (int)kl,
                     spec);
}
