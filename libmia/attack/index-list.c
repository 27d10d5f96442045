/*
 * Index lists (include/mia/scores.h): the reader of what mia_indices_save_csv() writes (and of
 * hand-written lists), and the overlap count behind the target/shadow disjointness refusal.
 * Read token by token, so a list of any line length is read whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mia/scores.h>

#include "mia-internal.h"

static bool is_sep(int ch) { return ch == ',' || ch == ' ' || ch == '\t' || ch == '\r'; }

/* Tokens longer than this are not indices (INT64_MAX has 19 digits). */
#define MAX_TOKEN 40

static mia_status push(int64_t **v, int64_t *n, int64_t *cap, int64_t x, const char *path)
{
    if (*n == *cap) {
        int64_t ncap = *cap ? *cap * 2 : 1024;
        size_t bytes;
        if (mia__mul_size((size_t)ncap, sizeof **v, &bytes))
            return MIA_ERROR(MIA_ERR_NOMEM, "%s: too many indices", path);
        int64_t *nv = mia__realloc(*v, bytes);
        if (!nv) return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory for %lld indices", path,
                                  (long long)ncap);
        *v = nv;
        *cap = ncap;
    }
    (*v)[(*n)++] = x;
    return MIA_OK;
}

static mia_status read_list(FILE *f, const char *path, int64_t **v, int64_t *n)
{
    int64_t cap = 0;
    long long lineno = 1;
    bool line_start = true, line_has_token = false, header_ok = true;
    for (;;) {
        int ch = getc(f);
        if (ch == EOF) break;
        if (ch == '\n') {
            lineno++;
            line_start = true;
            if (line_has_token) header_ok = false;
            line_has_token = false;
            continue;
        }
        if (line_start && ch == '#') { /* comment: skip the line */
            while ((ch = getc(f)) != EOF && ch != '\n') {}
            if (ch == EOF) break;
            lineno++;
            continue;
        }
        line_start = false;
        if (is_sep(ch)) continue;
        char tok[MAX_TOKEN + 1];
        size_t k = 0;
        bool longer = false;
        while (ch != EOF && ch != '\n' && !is_sep(ch)) {
            if (k < MAX_TOKEN) tok[k++] = (char)ch;
            else longer = true;
            ch = getc(f);
        }
        if (ch != EOF) ungetc(ch, f);
        tok[k] = '\0';
        line_has_token = true;
        char *end;
        errno = 0;
        long long x = strtoll(tok, &end, 10);
        if (longer || end == tok || *end || errno || x < 0 || memchr(tok, '\0', k)) {
            if (header_ok && *n == 0) { /* a header such as "index": skip its line */
                while ((ch = getc(f)) != EOF && ch != '\n') {}
                if (ch == EOF) break;
                ungetc(ch, f);
                continue;
            }
            return MIA_ERROR(MIA_ERR_FORMAT, "%s:%lld: not a non-negative index", path, lineno);
        }
        MIA_TRY(push(v, n, &cap, (int64_t)x, path));
    }
    if (ferror(f)) return MIA_ERROR(MIA_ERR_IO, "%s: %s", path, strerror(errno ? errno : EIO));
    return MIA_OK;
}

mia_status mia_indices_load_csv(int64_t **out, int64_t *n_out, const char *path)
{
    mia__error_begin();
    if (out) *out = NULL;
    if (n_out) *n_out = 0;
    MIA_CHECK_ARG(out != NULL && n_out != NULL, "out or n_out is NULL");
    MIA_CHECK_ARG(path != NULL, "path is NULL");
    errno = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return MIA_ERROR(MIA_ERR_IO, "%s: %s", path, strerror(errno));
    int64_t *v = NULL, n = 0;
    mia_status s = read_list(f, path, &v, &n);
    fclose(f);
    if (s != MIA_OK || n == 0) {
        mia__free(v);
        return s;
    }
    *out = v;
    *n_out = n;
    return MIA_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

mia_status mia_indices_overlap(int64_t *count_out, const int64_t *a, int64_t na,
                               const int64_t *b, int64_t nb)
{
    mia__error_begin();
    if (count_out) *count_out = 0;
    MIA_CHECK_ARG(count_out != NULL, "count_out is NULL");
    MIA_CHECK_ARG(na >= 0 && nb >= 0, "na %lld and nb %lld must be >= 0", (long long)na,
                  (long long)nb);
    MIA_CHECK_ARG(a != NULL || na == 0, "a is NULL with na = %lld", (long long)na);
    MIA_CHECK_ARG(b != NULL || nb == 0, "b is NULL with nb = %lld", (long long)nb);
    if (na == 0 || nb == 0) return MIA_OK;
    size_t ba, bb;
    if (mia__mul_size((size_t)na, sizeof *a, &ba) || mia__mul_size((size_t)nb, sizeof *b, &bb))
        return MIA_ERROR(MIA_ERR_NOMEM, "index lists of %lld and %lld entries", (long long)na,
                         (long long)nb);
    int64_t *sa = mia__malloc(ba), *sb = mia__malloc(bb);
    if (!sa || !sb) {
        mia__free(sa);
        mia__free(sb);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory copying index lists of %lld and %lld "
                         "entries", (long long)na, (long long)nb);
    }
    memcpy(sa, a, ba);
    memcpy(sb, b, bb);
    qsort(sa, (size_t)na, sizeof *sa, cmp_i64);
    qsort(sb, (size_t)nb, sizeof *sb, cmp_i64);
    int64_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        if (sa[i] < sb[j]) i++;
        else if (sa[i] > sb[j]) j++;
        else {
            k++;
            i++;
            j++;
        }
    }
    mia__free(sa);
    mia__free(sb);
    *count_out = k;
    return MIA_OK;
}
