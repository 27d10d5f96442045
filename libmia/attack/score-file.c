/*
 * Per-sample score files (include/mia/scores.h): the CSV `mia-train predict` writes, read in one
 * streamed pass that also hashes the bytes, so the provenance hash is that of what was parsed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mia/scores.h>

#include "io/io.h"

/* Longest line accepted, its line end included. */
#define MAX_LINE ((size_t)1 << 16)
/* Read buffer: after compaction less than MAX_LINE bytes are pending, so a read always has at
 * least MAX_LINE bytes of room. One extra byte holds the NUL of a last line without '\n'. */
#define BUF_CAP (2 * MAX_LINE)

struct mia_score_file {
    mia_score_set set;   /* views scores / labels */
    float *scores;       /* [n, n_classes] row-major */
    int32_t *labels;     /* [n] */
    mia_score_input input;
    bool labels_valid;
    char sha256[65];
};

/* Streamed line reader over a FILE, hashing every byte read. */
typedef struct reader {
    FILE *f;
    const char *path;
    mia_sha256 sha;
    char *buf;     /* BUF_CAP + 1 bytes */
    size_t len;    /* bytes in buf */
    size_t pos;    /* start of the next line */
    bool eof;
    long long lineno;
} reader;

/* Next line into *line (NUL-terminated in place, without its '\n' and one '\r' before it) and
 * its length into *n; *line is NULL at the end of the file. */
static mia_status next_line(reader *r, char **line, size_t *n)
{
    *line = NULL;
    *n = 0;
    for (;;) {
        char *s = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        char *nl = memchr(s, '\n', avail);
        if (nl || r->eof) {
            if (!nl && avail == 0) return MIA_OK;
            size_t k = nl ? (size_t)(nl - s) : avail;
            r->lineno++;
            if (k + (nl ? 1 : 0) > MAX_LINE)
                return MIA_ERROR(MIA_ERR_FORMAT, "%s:%lld: line too long (more than %zu bytes)",
                                 r->path, r->lineno, MAX_LINE);
            r->pos += nl ? k + 1 : k;
            if (k > 0 && s[k - 1] == '\r') k--;
            s[k] = '\0';
            *line = s;
            *n = k;
            return MIA_OK;
        }
        if (avail >= MAX_LINE)
            return MIA_ERROR(MIA_ERR_FORMAT, "%s:%lld: line too long (more than %zu bytes)",
                             r->path, r->lineno + 1, MAX_LINE);
        memmove(r->buf, s, avail);
        r->len = avail;
        r->pos = 0;
        size_t got = fread(r->buf + r->len, 1, BUF_CAP - r->len, r->f);
        if (got == 0) {
            if (ferror(r->f))
                return MIA_ERROR(MIA_ERR_IO, "%s: %s", r->path,
                                 strerror(errno ? errno : EIO));
            r->eof = true;
        }
        mia__sha256_update(&r->sha, r->buf + r->len, got);
        r->len += got;
    }
}

/* Number of score columns of a header line "index,label,P0,P1,..." where Pc is prefix + c, or
 * 0 when the line is not such a header. */
static int64_t header_columns(const char *line, const char *prefix)
{
    static const char lead[] = "index,label,";
    if (strncmp(line, lead, sizeof lead - 1) != 0) return 0;
    const char *p = line + sizeof lead - 1;
    for (int64_t c = 0;; c++) {
        char want[32];
        int w = snprintf(want, sizeof want, "%s%lld", prefix, (long long)c);
        if (strncmp(p, want, (size_t)w) != 0) return 0;
        p += w;
        if (*p == '\0') return c + 1;
        if (*p != ',') return 0;
        p++;
    }
}

/* Grow the row arrays of f to hold at least rows + 1 rows. */
static mia_status grow(mia_score_file *f, int64_t *cap, int64_t C, const char *path)
{
    int64_t ncap = *cap ? *cap * 2 : 256;
    size_t nv, nl;
    if (mia__mul_size((size_t)ncap, (size_t)C, &nv) || mia__mul_size(nv, sizeof(float), &nv) ||
        mia__mul_size((size_t)ncap, sizeof(int32_t), &nl))
        return MIA_ERROR(MIA_ERR_NOMEM, "%s: too many rows (%lld)", path, (long long)*cap);
    float *v = mia__realloc(f->scores, nv);
    if (!v) return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory for %lld rows", path,
                             (long long)ncap);
    f->scores = v;
    int32_t *l = mia__realloc(f->labels, nl);
    if (!l) return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory for %lld rows", path,
                             (long long)ncap);
    f->labels = l;
    *cap = ncap;
    return MIA_OK;
}

/* Parse one data row into row n of f; false when it is malformed. */
static bool parse_row(mia_score_file *f, int64_t n, int64_t C, char *line, size_t len)
{
    if (memchr(line, '\0', len)) return false;
    char *p = line, *end;
    (void)strtoll(p, &end, 10); /* the index: checked, not kept */
    if (end == p || *end != ',') return false;
    p = end + 1;
    errno = 0;
    long long lab = strtoll(p, &end, 10);
    if (end == p || *end != ',') return false;
    if (errno == ERANGE || lab < INT32_MIN || lab > INT32_MAX) lab = -1;
    f->labels[n] = (int32_t)lab;
    if (lab < 0 || lab >= C) f->labels_valid = false;
    float *row = f->scores + n * C;
    for (int64_t c = 0; c < C; c++) {
        p = end + 1;
        row[c] = strtof(p, &end);
        if (end == p || *end != (c + 1 < C ? ',' : '\0')) return false;
    }
    return true;
}

static mia_status load(mia_score_file *f, reader *r)
{
    int64_t C = 0, n = 0, cap = 0;
    for (;;) {
        char *line;
        size_t len;
        MIA_TRY(next_line(r, &line, &len));
        if (!line) break;
        if (len == 0 || line[0] == '#') continue;
        if (C == 0) {
            if (!memchr(line, '\0', len)) {
                C = header_columns(line, "score_");
                f->input = MIA_INPUT_PROBS;
                if (C == 0) {
                    C = header_columns(line, "logit_");
                    f->input = MIA_INPUT_LOGITS;
                }
            }
            if (C == 0)
                return MIA_ERROR(MIA_ERR_FORMAT, "%s:%lld: expected the header index,label,"
                                 "score_0,... or index,label,logit_0,...", r->path, r->lineno);
            continue;
        }
        if (n == cap) MIA_TRY(grow(f, &cap, C, r->path));
        if (!parse_row(f, n, C, line, len))
            return MIA_ERROR(MIA_ERR_FORMAT, "%s:%lld: malformed row (expected index,label and "
                             "%lld scores)", r->path, r->lineno, (long long)C);
        n++;
    }
    if (n == 0)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s:%lld: no score rows", r->path,
                         r->lineno > 0 ? r->lineno : 1);
    uint8_t d[32];
    mia__sha256_final(&r->sha, d);
    mia__sha256_hex(d, f->sha256);
    f->set = (mia_score_set){f->scores, f->labels, n, C};
    return MIA_OK;
}

mia_status mia_score_file_load(mia_score_file **out, const char *path)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(path != NULL, "path is NULL");
    mia_score_file *f = mia__calloc(1, sizeof *f);
    reader r = {.path = path};
    r.buf = mia__malloc(BUF_CAP + 1);
    if (!f || !r.buf) {
        mia__free(f);
        mia__free(r.buf);
        return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory", path);
    }
    f->labels_valid = true;
    mia__sha256_init(&r.sha);
    errno = 0;
    r.f = fopen(path, "rb");
    mia_status s = r.f ? load(f, &r) : MIA_ERROR(MIA_ERR_IO, "%s: %s", path, strerror(errno));
    if (r.f) fclose(r.f);
    mia__free(r.buf);
    if (s != MIA_OK) {
        mia_score_file_free(f);
        return s;
    }
    *out = f;
    return MIA_OK;
}

void mia_score_file_free(mia_score_file *f)
{
    if (!f) return;
    mia__free(f->scores);
    mia__free(f->labels);
    mia__free(f);
}

const mia_score_set *mia_score_file_scores(const mia_score_file *f) { return f ? &f->set : NULL; }

mia_score_input mia_score_file_input(const mia_score_file *f)
{
    return f ? f->input : MIA_INPUT_PROBS;
}

bool mia_score_file_labels_valid(const mia_score_file *f) { return f && f->labels_valid; }

const char *mia_score_file_sha256(const mia_score_file *f) { return f ? f->sha256 : ""; }

mia_status mia_score_file_write(const char *path, const mia_score_set *s, mia_score_input input)
{
    mia__error_begin();
    MIA_CHECK_ARG(path != NULL && path[0], "path: NULL or empty");
    MIA_CHECK_ARG(s != NULL && s->probs != NULL, "scores: NULL");
    MIA_CHECK_ARG(s->n >= 1 && s->n_classes >= 1, "scores: n = %lld, n_classes = %lld (both "
                  "must be >= 1)", (long long)s->n, (long long)s->n_classes);
    MIA_CHECK_ARG(input == MIA_INPUT_PROBS || input == MIA_INPUT_LOGITS,
                  "input: unknown score input %d", (int)input);
    const char *col = input == MIA_INPUT_LOGITS ? "logit" : "score";
    mia_afile *f = NULL;
    MIA_TRY(mia__afile_open(&f, path));
    mia_status st = mia__afile_printf(f, "index,label");
    for (int64_t c = 0; st == MIA_OK && c < s->n_classes; c++)
        st = mia__afile_printf(f, ",%s_%lld", col, (long long)c);
    if (st == MIA_OK) st = mia__afile_printf(f, "\n");
    for (int64_t i = 0; st == MIA_OK && i < s->n; i++) {
        st = mia__afile_printf(f, "%lld,%d", (long long)i, s->labels ? (int)s->labels[i] : -1);
        const float *row = s->probs + i * s->n_classes;
        for (int64_t c = 0; st == MIA_OK && c < s->n_classes; c++)
            st = mia__afile_printf(f, ",%.9g", (double)row[c]);
        if (st == MIA_OK) st = mia__afile_printf(f, "\n");
    }
    if (st != MIA_OK) {
        mia__afile_abort(f);
        return st;
    }
    return mia__afile_commit(f);
}
