/* Score files and index lists (scores.h): what `mia-train predict` writes is read back exactly
 * (%.9g round-trips float32), both headers, comments, CRLF, labels, the hash of the bytes read;
 * every error names path:line and leaves *out NULL; allocation failures leak nothing. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mia/mia.h>

#include "mia-internal.h"
#include "test-util.h"

#define PATH_CAP 512

static char dir[128];

/* Write @p len bytes (len < 0: strlen) to dir/name; the path goes to path[PATH_CAP]. */
static void write_file(char *path, const char *name, const char *data, long len)
{
    snprintf(path, PATH_CAP, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    size_t n = len < 0 ? strlen(data) : (size_t)len;
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Scores as mia-train predict writes them: "%lld,%d" then ",%.9g" per class. */
static void write_scores(char *path, const char *name, const char *prefix, const char *eol,
                         const float *v, const int32_t *y, int n, int k)
{
    snprintf(path, PATH_CAP, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fprintf(f, "# model m.safetensors%s#%s", eol, eol);
    fprintf(f, "index,label");
    for (int c = 0; c < k; c++) fprintf(f, ",%s%d", prefix, c);
    fprintf(f, "%s", eol);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%lld,%d", (long long)i, (int)y[i]);
        for (int c = 0; c < k; c++) fprintf(f, ",%.9g", (double)v[i * k + c]);
        fprintf(f, "%s", eol);
        if (i == n / 2) fprintf(f, "# a comment between rows%s%s", eol, eol);
    }
    assert_int_equal(fclose(f), 0);
}

static void fill(float *v, int32_t *y, int n, int k, bool logits)
{
    uint32_t s = 12345;
    for (int i = 0; i < n * k; i++) {
        s = s * 1664525u + 1013904223u;
        float u = (float)(s >> 8) / 16777216.0f;
        v[i] = logits ? (u - 0.5f) * 40.0f : u * 1e-3f + (i % 7 == 0 ? 1e-30f : 0.0f);
    }
    for (int i = 0; i < n; i++) y[i] = (int32_t)(i % k);
}

static void check_loaded(const mia_score_file *f, const float *v, const int32_t *y, int n, int k)
{
    const mia_score_set *s = mia_score_file_scores(f);
    assert_non_null(s);
    assert_int_equal(s->n, n);
    assert_int_equal(s->n_classes, k);
    for (int i = 0; i < n; i++) assert_int_equal(s->labels[i], y[i]);
    for (int i = 0; i < n * k; i++)
        if (memcmp(&s->probs[i], &v[i], sizeof *v) != 0)
            fail_msg("value %d: read %.9g, wrote %.9g", i, (double)s->probs[i], (double)v[i]);
    assert_true(mia_score_file_labels_valid(f));
}

/* Write n x k scores as mia-train predict does, load them, compare every value and label, the
 * kind and the hash. */
static void round_trip(const char *name, const char *prefix, const char *eol, int n, int k,
                       mia_score_input input)
{
    float *v = malloc(sizeof *v * (size_t)(n * k));
    int32_t *y = malloc(sizeof *y * (size_t)n);
    assert_true(v && y);
    fill(v, y, n, k, input == MIA_INPUT_LOGITS);
    char path[PATH_CAP];
    write_scores(path, name, prefix, eol, v, y, n, k);
    mia_score_file *f = NULL;
    assert_int_equal(mia_score_file_load(&f, path), MIA_OK);
    check_loaded(f, v, y, n, k);
    assert_int_equal(mia_score_file_input(f), input);
    char want[65];
    assert_int_equal(mia_report_file_sha256(path, want), MIA_OK);
    assert_string_equal(mia_score_file_sha256(f), want);
    mia_score_file_free(f);
    free(v);
    free(y);
}

static void test_score_file__probabilities_read_exactly(void **state)
{
    (void)state;
    round_trip("probs.csv", "score_", "\n", 257, 10, MIA_INPUT_PROBS);
}

static void test_score_file__logits_with_crlf(void **state)
{
    (void)state;
    round_trip("logits.csv", "logit_", "\r\n", 100, 3, MIA_INPUT_LOGITS);
}

static void test_score_file__labels_and_last_line(void **state)
{
    (void)state;
    char path[PATH_CAP];
    /* no final newline; labels -1, k and one beyond int32 are kept (the last as -1) */
    write_file(path, "labels.csv",
               "index,label,score_0,score_1\n0,-1,0.25,0.75\n1,2,nan,inf\n2,1099511627776,1,"
               "0\n3,1,-0,1e-45", -1);
    mia_score_file *f = NULL;
    assert_int_equal(mia_score_file_load(&f, path), MIA_OK);
    const mia_score_set *s = mia_score_file_scores(f);
    assert_int_equal(s->n, 4);
    assert_int_equal(s->labels[0], -1);
    assert_int_equal(s->labels[1], 2);
    assert_int_equal(s->labels[2], -1);
    assert_int_equal(s->labels[3], 1);
    assert_false(mia_score_file_labels_valid(f));
    assert_true(isnan(s->probs[2])); /* kept as read: the attacks validate */
    assert_true(isinf(s->probs[3]));
    assert_true(s->probs[7] > 0.0f);
    mia_score_file_free(f);
    /* accessors accept NULL */
    assert_null(mia_score_file_scores(NULL));
    assert_false(mia_score_file_labels_valid(NULL));
    assert_string_equal(mia_score_file_sha256(NULL), "");
    assert_int_equal(mia_score_file_input(NULL), MIA_INPUT_PROBS);
    mia_score_file_free(NULL);
}

/* Loading dir/name fails with status st and a message containing "<path><where>". */
static void expect_fail(const char *name, const char *data, long len, mia_status st,
                        const char *where)
{
    char path[PATH_CAP], want[PATH_CAP + 128];
    write_file(path, name, data, len);
    snprintf(want, sizeof want, "%s%s", path, where);
    mia_score_file *f = (mia_score_file *)0x1;
    ASSERT_ERR(mia_score_file_load(&f, path), st, want);
    assert_null(f);
}

static void test_score_file__errors_name_path_and_line(void **state)
{
    (void)state;
    const mia_status F = MIA_ERR_FORMAT;
    expect_fail("h1.csv", "# c\nindex,label,prob_0\n0,0,1\n", -1, F, ":2: expected the header");
    expect_fail("h2.csv", "index,label,score_1\n", -1, F, ":1: expected the header");
    expect_fail("h3.csv", "index,label,score_0,score_2\n", -1, F, ":1: expected the header");
    expect_fail("h4.csv", "index,label,score_0,logit_1\n", -1, F, ":1: expected the header");
    expect_fail("h5.csv", "index,label,score_0,\n", -1, F, ":1: expected the header");
    expect_fail("h6.csv", "index,label\n", -1, F, ":1: expected the header");
    static const char h7[] = "index,label,score_0\0,score_1\n";
    expect_fail("h7.csv", h7, (long)sizeof h7 - 1, F, ":1: expected the header");
    const char *head = "index,label,score_0,score_1\n";
    char buf[256];
    const char *rows[] = {"0,1,0.5\n", "0,1,0.5,0.5,0.5\n", "0,1,0.5,x\n", "0,1,0.5,0.5,\n",
                          "0,1.5,0.5,0.5\n", ",1,0.5,0.5\n", "0,,0.5,0.5\n", "0,1,0.5,0.5x\n",
                          "0,1,0.5,0.5\rx\n", " \n"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        snprintf(buf, sizeof buf, "%s0,0,1,0\n%s", head, rows[i]);
        expect_fail("row.csv", buf, -1, F, ":3: malformed row (expected index,label and 2 scores)");
    }
    /* a NUL byte inside a row */
    char nul[] = "index,label,score_0,score_1\n0,1,0.5,0.5\0junk\n";
    expect_fail("nul.csv", nul, (long)sizeof nul - 1, F, ":2: malformed row");
    expect_fail("empty.csv", "", 0, F, ":1: no score rows");
    expect_fail("header-only.csv", "# c\r\nindex,label,logit_0\r\n\r\n", -1, F,
                ":3: no score rows");
    /* a line over 64 KiB, in the middle of the file */
    size_t big = (1u << 16) + 10;
    char *long_file = malloc(big + 200);
    assert_non_null(long_file);
    int off = snprintf(long_file, 200, "%s0,0,1,0\n0,0,", head);
    memset(long_file + off, '1', big);
    memcpy(long_file + off + big, "\n0,0,1,0\n", 10);
    expect_fail("long.csv", long_file, -1, F, ":3: line too long");
    free(long_file);
    /* missing file, directory */
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/missing.csv", dir);
    mia_score_file *f = (mia_score_file *)0x1;
    ASSERT_ERR(mia_score_file_load(&f, path), MIA_ERR_IO, path);
    assert_null(f);
    assert_non_null(strstr(mia_last_error(), "No such file"));
    f = (mia_score_file *)0x1;
    ASSERT_ERR(mia_score_file_load(&f, dir), MIA_ERR_IO, dir);
    assert_null(f);
    ASSERT_ERR(mia_score_file_load(&f, NULL), MIA_ERR_INVALID, "path");
    assert_null(f);
    ASSERT_ERR(mia_score_file_load(NULL, path), MIA_ERR_INVALID, "out");
}

static void test_score_file__nomem_leaks_nothing(void **state)
{
    (void)state;
    enum { N = 600, K = 4 };
    static float v[N * K];
    static int32_t y[N];
    fill(v, y, N, K, false);
    char path[PATH_CAP];
    write_scores(path, "oom.csv", "score_", "\n", v, y, N, K);
    int64_t base = mia__alloc_live();
    long injections = 0;
    for (long i = 1;; i++) {
        mia_score_file *f = (mia_score_file *)0x1;
        mia__alloc_fail_after(i, 0);
        mia_status s = mia_score_file_load(&f, path);
        long injected = mia__alloc_injected();
        mia__alloc_fail_after(0, 0);
        injections += injected;
        if (!injected) {
            assert_int_equal(s, MIA_OK);
            check_loaded(f, v, y, N, K);
            mia_score_file_free(f);
            break;
        }
        ASSERT_ERR(s, MIA_ERR_NOMEM, path);
        assert_null(f);
        assert_int_equal(mia__alloc_live(), base);
        assert_true(i < 100);
    }
    assert_true(injections > 3); /* buffers, the object and row growth were all exercised */
    assert_int_equal(mia__alloc_live(), base);
}

/* mia_score_file_write: what it writes loads back bit for bit, with the header of its kind; a
 * failed write (a directory that does not exist) leaves nothing, and an existing file is kept
 * when the arguments are refused. */
static void test_score_file__write_round_trip(void **state)
{
    (void)state;
    enum { N = 37, K = 5 };
    float v[N * K];
    int32_t y[N];
    for (int lg = 0; lg < 2; lg++) {
        fill(v, y, N, K, lg);
        v[3] = -0.0f;
        v[4] = 1e-45f; /* subnormal */
        mia_score_set ss = {v, y, N, K};
        char path[PATH_CAP];
        snprintf(path, sizeof path, "%s/written-%d.csv", dir, lg);
        assert_int_equal(mia_score_file_write(path, &ss, lg ? MIA_INPUT_LOGITS : MIA_INPUT_PROBS),
                         MIA_OK);
        mia_score_file *f = NULL;
        assert_int_equal(mia_score_file_load(&f, path), MIA_OK);
        check_loaded(f, v, y, N, K);
        assert_int_equal(mia_score_file_input(f), lg ? MIA_INPUT_LOGITS : MIA_INPUT_PROBS);
        mia_score_file_free(f);
        /* refused arguments leave the file as it was */
        mia_score_set bad = {v, y, 0, K};
        assert_int_equal(mia_score_file_write(path, &bad, MIA_INPUT_PROBS), MIA_ERR_INVALID);
        assert_non_null(strstr(mia_last_error(), "n = 0"));
        assert_int_equal(mia_score_file_load(&f, path), MIA_OK);
        check_loaded(f, v, y, N, K);
        mia_score_file_free(f);
    }
    mia_score_set ss = {v, y, N, K};
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/no-such-dir/x.csv", dir);
    assert_int_equal(mia_score_file_write(path, &ss, MIA_INPUT_PROBS), MIA_ERR_IO);
    assert_non_null(strstr(mia_last_error(), "no-such-dir"));
    assert_int_equal(mia_score_file_write(NULL, &ss, MIA_INPUT_PROBS), MIA_ERR_INVALID);
}

static void test_score_file__index_lists(void **state)
{
    (void)state;
    char path[PATH_CAP];
    int64_t *v = (int64_t *)0x1, n = -1;
    /* what mia_indices_save_csv writes */
    const int64_t saved[] = {5, 0, 123456789012, 7};
    snprintf(path, sizeof path, "%s/saved.csv", dir);
    assert_int_equal(mia_indices_save_csv(path, saved, 4), MIA_OK);
    assert_int_equal(mia_indices_load_csv(&v, &n, path), MIA_OK);
    assert_int_equal(n, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(v[i], saved[i]);
    mia_indices_free(v);
    /* comments, a header after them, commas / blanks / CRLF, one very long line */
    size_t cap = 200000;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = (size_t)snprintf(text, cap, "# split\r\nidx\r\n1, 2\t3\r\n\r\n");
    for (int i = 0; i < 20000; i++) len += (size_t)snprintf(text + len, cap - len, "%d,", 10 + i);
    len += (size_t)snprintf(text + len, cap - len, "\n# end\n");
    write_file(path, "list.csv", text, (long)len);
    free(text);
    assert_int_equal(mia_indices_load_csv(&v, &n, path), MIA_OK);
    assert_int_equal(n, 20003);
    assert_int_equal(v[0], 1);
    assert_int_equal(v[2], 3);
    for (int i = 0; i < 20000; i++) assert_int_equal(v[3 + i], 10 + i);
    mia_indices_free(v);
    /* empty and comment-only lists: n = 0, out NULL */
    write_file(path, "none.csv", "index\n# nothing\n", -1);
    v = (int64_t *)0x1;
    assert_int_equal(mia_indices_load_csv(&v, &n, path), MIA_OK);
    assert_int_equal(n, 0);
    assert_null(v);
    /* errors name path:line */
    const struct { const char *text; long len; const char *where; } bad[] = {
        {"index\n1\n-2\n", -1, ":3: not a non-negative index"},
        {"1\nindex\n", -1, ":2: not a non-negative index"},
        {"index\n1,2x\n", -1, ":2: not a non-negative index"},
        {"1\n99999999999999999999\n", -1, ":2: not a non-negative index"},
        {"1\n2\0\n", 5, ":2: not a non-negative index"},
        {"1 1.5\n", -1, ":1: not a non-negative index"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[PATH_CAP + 128];
        write_file(path, "bad.csv", bad[i].text, bad[i].len);
        snprintf(want, sizeof want, "%s%s", path, bad[i].where);
        v = (int64_t *)0x1;
        n = -1;
        ASSERT_ERR(mia_indices_load_csv(&v, &n, path), MIA_ERR_FORMAT, want);
        assert_null(v);
        assert_int_equal(n, 0);
    }
    snprintf(path, sizeof path, "%s/missing.csv", dir);
    ASSERT_ERR(mia_indices_load_csv(&v, &n, path), MIA_ERR_IO, path);
    assert_null(v);
    ASSERT_ERR(mia_indices_load_csv(NULL, &n, path), MIA_ERR_INVALID, "out");
}

static void test_score_file__overlap(void **state)
{
    (void)state;
    const int64_t a[] = {9, 1, 5, 5, 3}, b[] = {5, 2, 9, 4, 5, 5};
    int64_t k = -1;
    assert_int_equal(mia_indices_overlap(&k, a, 5, b, 6), MIA_OK);
    assert_int_equal(k, 3); /* 9, and 5 twice (a holds two 5s) */
    assert_int_equal(mia_indices_overlap(&k, a, 5, b + 1, 1), MIA_OK);
    assert_int_equal(k, 0);
    assert_int_equal(mia_indices_overlap(&k, NULL, 0, b, 6), MIA_OK);
    assert_int_equal(k, 0);
    k = -1;
    ASSERT_ERR(mia_indices_overlap(&k, NULL, 2, b, 6), MIA_ERR_INVALID, "a is NULL");
    assert_int_equal(k, 0);
    ASSERT_ERR(mia_indices_overlap(&k, a, -1, b, 6), MIA_ERR_INVALID, "na");
    ASSERT_ERR(mia_indices_overlap(NULL, a, 5, b, 6), MIA_ERR_INVALID, "count_out");
}

static int setup(void **state)
{
    (void)state;
    return mia_test_tmpdir_create(dir, sizeof dir, "score-file");
}

static int teardown(void **state)
{
    (void)state;
    mia_test_tmpdir_remove(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score_file__probabilities_read_exactly),
        cmocka_unit_test(test_score_file__logits_with_crlf),
        cmocka_unit_test(test_score_file__labels_and_last_line),
        cmocka_unit_test(test_score_file__errors_name_path_and_line),
        cmocka_unit_test(test_score_file__nomem_leaks_nothing),
        cmocka_unit_test(test_score_file__write_round_trip),
        cmocka_unit_test(test_score_file__index_lists),
        cmocka_unit_test(test_score_file__overlap),
    };
    return cmocka_run_group_tests_name("score-file", tests, setup, teardown);
}
