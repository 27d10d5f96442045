/* STL-10 binary: 3x96x96 images, each plane column-major; labels 1..10. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data-internal.h"
#include "dataset-impl.h"
#include "io/io.h"

#define STL_SIDE 96
#define STL_IMG (3 * STL_SIDE * STL_SIDE)

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
    char base[4096], px[4200], py[4200], pn[4200];
    snprintf(base, sizeof base, "%s/stl10_binary", dir);
    struct stat sb;
    if (stat(base, &sb) != 0 || !S_ISDIR(sb.st_mode)) snprintf(base, sizeof base, "%s", dir);
    const char *sp = split == MIA_DATA_TRAIN ? "train" : "test";
    snprintf(px, sizeof px, "%s/%s_X.bin", base, sp);
    snprintf(py, sizeof py, "%s/%s_y.bin", base, sp);
    snprintf(pn, sizeof pn, "%s/class_names.txt", base);
    uint8_t *x = NULL, *y = NULL, *names = NULL;
    size_t nx = 0, ny = 0, nn = 0;
    mia_dataset *d = NULL;
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
    int64_t take = n;
    if (o.max_images > 0 && o.max_images < n) take = o.max_images;
    char src[4300];
    snprintf(src, sizeof src, "stl10:%s:%s", dir, sp);
    if ((st = mia__dataset_new(&d, take, 3, STL_SIDE, STL_SIDE, 10, src)) != MIA_OK) goto done;
    for (int64_t i = 0; i < take; i++) {
        if (y[i] < 1 || y[i] > 10) {
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: label %d at offset %lld is outside 1..10", py,
                           y[i], (long long)i);
            goto done;
        }
        d->labels[i] = y[i] - 1;
        const uint8_t *s = x + (size_t)i * STL_IMG;
        uint8_t *t = d->pixels + (size_t)i * STL_IMG;
        for (int c = 0; c < 3; c++)
            for (int r = 0; r < STL_SIDE; r++)
                for (int col = 0; col < STL_SIDE; col++)
                    t[(c * STL_SIDE + r) * STL_SIDE + col] =
                        s[(c * STL_SIDE + col) * STL_SIDE + r];
    }
    if (names && (st = mia__dataset_names_from_text(d, (const char *)names, nn)) != MIA_OK)
        goto done;
    mia__dataset_finish(d);
done:
    mia__free(x);
    mia__free(y);
    mia__free(names);
    if (st != MIA_OK) {
        mia_dataset_free(d);
        return st;
    }
    *out = d;
    return MIA_OK;
}
