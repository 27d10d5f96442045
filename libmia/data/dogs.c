/* Stanford Dogs split lists (file_list / train_list / test_list .mat), from a folder or from
 * lists.tar (the .mat bytes go through an anonymous memory file: nothing touches the disk). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/archive.h"
#include "data/data-internal.h"
#include "data/mat-util.h"

mia_status mia__mem_file(const void *data, size_t len, const char *name, int *fd_out,
                         char path[64])
{
    *fd_out = -1;
    path[0] = '\0';
    int fd = memfd_create("mia-mem", MFD_CLOEXEC);
    if (fd < 0) return MIA_ERROR(MIA_ERR_IO, "%s: memfd_create failed: %s", name, strerror(errno));
    const uint8_t *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t k = write(fd, p + done, len - done);
        if (k <= 0) {
            int e = errno;
            close(fd);
            return MIA_ERROR(MIA_ERR_IO, "%s: cannot fill a memory file: %s", name, strerror(e));
        }
        done += (size_t)k;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    *fd_out = fd;
    return MIA_OK;
}

void mia_dogs_list_free(char **files, int32_t *labels, int64_t n)
{
    if (files)
        for (int64_t i = 0; i < n; i++) mia__free(files[i]);
    mia__free(files);
    mia__free(labels);
}

#if MIA_HAVE_MATIO
typedef struct tar_ctx {
    const char *want;
    uint8_t *data;
    size_t len;
} tar_ctx;

static int want_list(const char *name, int64_t size, void *user)
{
    tar_ctx *c = user;
    (void)size;
    const char *b = strrchr(name, '/');
    return strcmp(b ? b + 1 : name, c->want) == 0;
}

static mia_status take_list(const char *name, const uint8_t *data, size_t size, void *user)
{
    tar_ctx *c = user;
    (void)name;
    mia__free(c->data);
    c->data = mia__malloc(size ? size : 1);
    if (!c->data) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    memcpy(c->data, data, size);
    c->len = size;
    return MIA_OK;
}

static char *cell_string(matvar_t *v)
{
    if (!v || v->class_type != MAT_C_CHAR || !v->data) return NULL;
    size_t n = mia__mat_numel(v);
    char *s = mia__malloc(n * 4 + 1);
    if (!s) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t ch;
        if (v->data_type == MAT_T_UINT16 || v->data_type == MAT_T_UTF16)
            ch = ((const uint16_t *)v->data)[i];
        else
            ch = ((const uint8_t *)v->data)[i];
        if (ch == 0) break;
        if (ch < 0x80) s[k++] = (char)ch;
        else if (ch < 0x800) {
            s[k++] = (char)(0xC0 | (ch >> 6));
            s[k++] = (char)(0x80 | (ch & 0x3F));
        } else {
            s[k++] = (char)(0xE0 | (ch >> 12));
            s[k++] = (char)(0x80 | ((ch >> 6) & 0x3F));
            s[k++] = (char)(0x80 | (ch & 0x3F));
        }
    }
    s[k] = '\0';
    return s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static mia_status parse_mat(char ***files_out, int32_t **labels_out, int64_t *n_out,
                            const char *matpath, const char *label)
{
    mia__matio_quiet();
    MIA_TRY(mia__mat_precheck(matpath, label)); /* before matio allocates from the dims */
    mat_t *mat = Mat_Open(matpath, MAT_ACC_RDONLY);
    if (!mat) return MIA_ERROR(MIA_ERR_FORMAT, "%s: not a MATLAB .mat file matio can read", label);
    mia_status st = MIA_OK;
    char **files = NULL, **folders = NULL;
    int32_t *labels = NULL;
    size_t n = 0;
    matvar_t *fl = Mat_VarRead(mat, "file_list");
    if (!fl || fl->class_type != MAT_C_CELL || (n = mia__mat_numel(fl)) == 0 || n > 1000000) {
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: variable 'file_list' is missing, not a cell array, "
                       "or has a bad size", label);
        goto done;
    }
    files = mia__calloc(n, sizeof *files);
    folders = mia__calloc(n, sizeof *folders);
    labels = mia__calloc(n, sizeof *labels);
    if (!files || !folders || !labels) {
        st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        matvar_t *cv = Mat_VarGetCell(fl, (int)i);
        files[i] = cell_string(cv);
        if (!files[i]) {
            if (cv && cv->class_type == MAT_C_CHAR && cv->data) /* cell_string's malloc */
                st = MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory reading file_list{%zu}", label,
                               i + 1);
            else
                st = MIA_ERROR(MIA_ERR_FORMAT, "%s: file_list{%zu} is not a string", label,
                               i + 1);
            goto done;
        }
        const char *sl = strchr(files[i], '/');
        if (!sl || sl == files[i] || strstr(files[i], "..") || files[i][0] == '/') {
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: file_list{%zu} = '%.200s' is not "
                           "'<breed folder>/<file>'", label, i + 1, files[i]);
            goto done;
        }
        folders[i] = files[i];
    }
    /* labels = index of the breed folder among the sorted distinct folders (spec §1.3) */
    qsort(folders, n, sizeof *folders, cmp_str);
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        size_t li = (size_t)(strchr(folders[i], '/') - folders[i]);
        if (nd > 0) {
            size_t lp = (size_t)(strchr(folders[nd - 1], '/') - folders[nd - 1]);
            if (lp == li && strncmp(folders[nd - 1], folders[i], li) == 0) continue;
        }
        folders[nd++] = folders[i];
    }
    for (size_t i = 0; i < n; i++) {
        size_t li = (size_t)(strchr(files[i], '/') - files[i]);
        size_t lo = 0, hi = nd;
        while (lo < hi) { /* first folder >= this one, comparing folder names only */
            size_t mid = (lo + hi) / 2;
            size_t lm = (size_t)(strchr(folders[mid], '/') - folders[mid]);
            size_t l = lm < li ? lm : li;
            int c = strncmp(folders[mid], files[i], l);
            if (c == 0) c = (lm > li) - (lm < li);
            if (c < 0) lo = mid + 1;
            else hi = mid;
        }
        labels[i] = (int32_t)lo;
    }
    *files_out = files;
    *labels_out = labels;
    *n_out = (int64_t)n;
    files = NULL;
    labels = NULL;
done:
    if (fl) Mat_VarFree(fl);
    Mat_Close(mat);
    mia__free(folders);
    mia_dogs_list_free(files, labels, (int64_t)n);
    return st;
}

mia_status mia_dogs_list_load(char ***files_out, int32_t **labels_out, int64_t *n_out,
                              const char *lists_path, const char *list_name)
{
    mia__error_begin();
    MIA_CHECK_ARG(files_out && labels_out && n_out, "an output pointer is NULL");
    *files_out = NULL;
    *labels_out = NULL;
    *n_out = 0;
    MIA_CHECK_ARG(lists_path != NULL && list_name != NULL, "lists_path or list_name is NULL");
    MIA_CHECK_ARG(strcmp(list_name, "train_list.mat") == 0 ||
                  strcmp(list_name, "test_list.mat") == 0 ||
                  strcmp(list_name, "file_list.mat") == 0,
                  "list_name '%s' must be train_list.mat, test_list.mat or file_list.mat",
                  list_name);
    struct stat sb;
    if (stat(lists_path, &sb) != 0)
        return MIA_ERROR(MIA_ERR_IO, "%s: cannot open: %s", lists_path, strerror(errno));
    char label[4200];
    snprintf(label, sizeof label, "%s:%s", lists_path, list_name);
    if (S_ISDIR(sb.st_mode)) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", lists_path, list_name);
        if (stat(p, &sb) != 0) return MIA_ERROR(MIA_ERR_IO, "%s: not found", p);
        return parse_mat(files_out, labels_out, n_out, p, p);
    }
    tar_ctx c = {list_name, NULL, 0};
    mia_archive_caps caps;
    mia__archive_caps_default(&caps);
    caps.max_entry_bytes = 64u << 20;
    caps.max_total_bytes = 256u << 20;
    caps.max_entries = 100;
    mia_status fs = mia__archive_foreach(lists_path, &caps, want_list, take_list, &c);
    if (fs != MIA_OK) { /* an entry read before the error is ours to free */
        mia__free(c.data);
        return fs;
    }
    if (!c.data) return MIA_ERROR(MIA_ERR_FORMAT, "%s: archive has no entry '%s'", lists_path,
                                  list_name);
    int fd = -1;
    char p[64];
    mia_status st = mia__mem_file(c.data, c.len, label, &fd, p);
    if (st == MIA_OK) st = parse_mat(files_out, labels_out, n_out, p, label);
    if (fd >= 0) close(fd);
    mia__free(c.data);
    return st;
}

mia_status mia__dogs_list_load_mem(char ***files_out, int32_t **labels_out, int64_t *n_out,
                                   const void *mat, size_t len, const char *name)
{
    mia__error_begin();
    MIA_CHECK_ARG(files_out && labels_out && n_out, "an output pointer is NULL");
    *files_out = NULL;
    *labels_out = NULL;
    *n_out = 0;
    MIA_CHECK_ARG(mat != NULL || len == 0, "mat is NULL");
    if (!name) name = "<memory>";
    int fd = -1;
    char p[64];
    MIA_TRY(mia__mem_file(mat, len, name, &fd, p));
    mia_status st = parse_mat(files_out, labels_out, n_out, p, name);
    close(fd);
    return st;
}
#else
mia_status mia__dogs_list_load_mem(char ***files_out, int32_t **labels_out, int64_t *n_out,
                                   const void *mat, size_t len, const char *name)
{
    mia__error_begin();
    if (files_out) *files_out = NULL;
    if (labels_out) *labels_out = NULL;
    if (n_out) *n_out = 0;
    (void)mat;
    (void)len;
    return MIA_ERROR(MIA_ERR_UNSUPPORTED, "%s: libmia was built without matio (.mat support)",
                     name ? name : "lists");
}

mia_status mia_dogs_list_load(char ***files_out, int32_t **labels_out, int64_t *n_out,
                              const char *lists_path, const char *list_name)
{
    mia__error_begin();
    if (files_out) *files_out = NULL;
    if (labels_out) *labels_out = NULL;
    if (n_out) *n_out = 0;
    (void)list_name;
    return MIA_ERROR(MIA_ERR_UNSUPPORTED, "%s: libmia was built without matio (.mat support)",
                     lists_path ? lists_path : "lists");
}
#endif
