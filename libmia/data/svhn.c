/* SVHN "format 2" (train_32x32.mat): X uint8 [32,32,3,N] column-major, y [N,1] 1..10. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/data-internal.h"
#include "data/mat-util.h"
#include "dataset-impl.h"

#if MIA_HAVE_MATIO
#include <pthread.h>

static void quiet_log(int level, char *message)
{
    (void)level;
    (void)message;
}
static pthread_once_t g_quiet_once = PTHREAD_ONCE_INIT;
static void quiet_init(void) { Mat_LogInitFunc("libmia", quiet_log); }
void mia__matio_quiet(void) { pthread_once(&g_quiet_once, quiet_init); }

size_t mia__mat_numel(const matvar_t *v)
{
    size_t n = 1;
    for (int i = 0; i < v->rank; i++) {
        if (v->dims[i] != 0 && n > SIZE_MAX / v->dims[i]) return 0;
        n *= v->dims[i];
    }
    return n;
}

int mia__mat_get_number(const matvar_t *v, size_t i, double *out)
{
    if (v->isComplex || !v->data) return -1;
    const void *p = v->data;
    switch (v->class_type) {
    case MAT_C_DOUBLE: *out = ((const double *)p)[i]; return 0;
    case MAT_C_SINGLE: *out = ((const float *)p)[i]; return 0;
    case MAT_C_INT8: *out = ((const int8_t *)p)[i]; return 0;
    case MAT_C_UINT8: *out = ((const uint8_t *)p)[i]; return 0;
    case MAT_C_INT16: *out = ((const int16_t *)p)[i]; return 0;
    case MAT_C_UINT16: *out = ((const uint16_t *)p)[i]; return 0;
    case MAT_C_INT32: *out = ((const int32_t *)p)[i]; return 0;
    case MAT_C_UINT32: *out = ((const uint32_t *)p)[i]; return 0;
    case MAT_C_INT64: *out = (double)((const int64_t *)p)[i]; return 0;
    case MAT_C_UINT64: *out = (double)((const uint64_t *)p)[i]; return 0;
    default: return -1;
    }
}

/* Read the .mat at matpath (a real file or /proc/self/fd/N); messages name `path`. */
static mia_status svhn_read(mia_dataset **out, const char *matpath, const char *path,
                            uint64_t file_size, const mia_dataset_load_opts *opts)
{
    const mia_dataset_load_opts o = *opts;
    mia__matio_quiet();
    MIA_TRY(mia__mat_precheck(matpath, path)); /* before matio allocates from the dims */
    mat_t *mat = Mat_Open(matpath, MAT_ACC_RDONLY);
    if (!mat) return MIA_ERROR(MIA_ERR_FORMAT, "%s: not a MATLAB .mat file matio can read", path);
    mia_status st = MIA_OK;
    matvar_t *xi = NULL, *x = NULL, *y = NULL;
    mia_dataset *d = NULL;
    xi = Mat_VarReadInfo(mat, "X");
    if (!xi) {
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: no variable 'X'", path);
        goto done;
    }
    if (xi->rank < 3 || xi->rank > 4 || xi->dims[0] != 32 || xi->dims[1] != 32 ||
        xi->dims[2] != 3 || xi->class_type != MAT_C_UINT8 || xi->isComplex) {
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: variable 'X' must be real uint8 [32,32,3,N] "
                       "(rank %d, class %d)", path, xi->rank, (int)xi->class_type);
        goto done;
    }
    size_t n = xi->rank == 4 ? xi->dims[3] : 1;
    uint64_t bytes = (uint64_t)n * 3072u;
    if (n == 0 || bytes > o.max_bytes || bytes > file_size * 1040u + (1u << 20)) {
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: 'X' claims %zu images (%llu bytes): empty, above the "
                       "cap, or more than the %lld-byte file can hold", path, n,
                       (unsigned long long)bytes, (long long)file_size);
        goto done;
    }
    x = Mat_VarRead(mat, "X");
    y = Mat_VarRead(mat, "y");
    if (!x || !x->data || mia__mat_numel(x) != n * 3072u) {
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: cannot read the data of 'X' (corrupt or truncated)",
                       path);
        goto done;
    }
    if (!y || mia__mat_numel(y) != n) {
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: variable 'y' is missing or does not hold %zu labels",
                       path, n);
        goto done;
    }
    int64_t take = (int64_t)n;
    if (o.max_images > 0 && o.max_images < take) take = o.max_images;
    char src[4200];
    snprintf(src, sizeof src, "svhn:%s", path);
    if ((st = mia__dataset_new(&d, take, 3, 32, 32, 10, src)) != MIA_OK) goto done;
    const uint8_t *xs = x->data;
    for (int64_t i = 0; i < take; i++) {
        double lv;
        if (mia__mat_get_number(y, (size_t)i, &lv) != 0 || !(lv >= 0 && lv <= 10) ||
            lv != (double)(int)lv) {
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: label y(%lld) is not an integer in 0..10", path,
                           (long long)i + 1);
            goto done;
        }
        int lab = (int)lv;
        d->labels[i] = lab == 10 ? 0 : lab;
        uint8_t *t = d->pixels + (size_t)i * 3072;
        for (int c = 0; c < 3; c++)
            for (int r = 0; r < 32; r++)
                for (int col = 0; col < 32; col++)
                    t[(c * 32 + r) * 32 + col] =
                        xs[(size_t)r + 32 * ((size_t)col + 32 * ((size_t)c + 3 * (size_t)i))];
    }
    for (int k = 0; k < 10; k++) {
        char nm[2] = {(char)('0' + k), 0};
        if ((st = mia__dataset_set_class_name(d, k, nm)) != MIA_OK) goto done;
    }
    mia__dataset_finish(d);
done:
    if (xi) Mat_VarFree(xi);
    if (x) Mat_VarFree(x);
    if (y) Mat_VarFree(y);
    Mat_Close(mat);
    if (st != MIA_OK) {
        mia_dataset_free(d);
        return st;
    }
    *out = d;
    return MIA_OK;
}

mia_status mia_dataset_load_svhn(mia_dataset **out, const char *path,
                                 const mia_dataset_load_opts *opts_in)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(path != NULL, "path is NULL");
    mia_dataset_load_opts o;
    MIA_TRY(mia__load_opts_get(&o, opts_in));
    struct stat sb;
    if (stat(path, &sb) != 0)
        return MIA_ERROR(MIA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return svhn_read(out, path, path, (uint64_t)sb.st_size, &o);
}

mia_status mia__svhn_load_mem(mia_dataset **out, const void *data, size_t len, const char *name,
                              const mia_dataset_load_opts *opts_in)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(data != NULL || len == 0, "data is NULL");
    mia_dataset_load_opts o;
    MIA_TRY(mia__load_opts_get(&o, opts_in));
    if (!name) name = "<memory>";
    int fd = -1;
    char p[64];
    MIA_TRY(mia__mem_file(data, len, name, &fd, p));
    mia_status st = svhn_read(out, p, name, len, &o);
    close(fd);
    return st;
}
#else
mia_status mia_dataset_load_svhn(mia_dataset **out, const char *path,
                                 const mia_dataset_load_opts *opts_in)
{
    mia__error_begin();
    if (out) *out = NULL;
    (void)opts_in;
    return MIA_ERROR(MIA_ERR_UNSUPPORTED, "%s: libmia was built without matio (.mat support)",
                     path ? path : "svhn");
}

mia_status mia__svhn_load_mem(mia_dataset **out, const void *data, size_t len, const char *name,
                              const mia_dataset_load_opts *opts_in)
{
    mia__error_begin();
    if (out) *out = NULL;
    (void)data;
    (void)len;
    (void)opts_in;
    return MIA_ERROR(MIA_ERR_UNSUPPORTED, "%s: libmia was built without matio (.mat support)",
                     name ? name : "svhn");
}
#endif
