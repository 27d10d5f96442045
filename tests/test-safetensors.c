/* safetensors: writer -> reader -> writer round trips (byte-identical), one fixture per
 * malformed case with its mapped status and message, NaN/Inf policy, and a cross-check with a
 * file written by plain Python struct + json (tests/safetensors-pywrite.py). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test-util.h"

#include "core/rng.h"
#include "io/io.h"
#include "mia-internal.h"
#include <mia/safetensors.h>
#include <mia/status.h>

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    return mia_test_tmpdir_create(g_dir, sizeof g_dir, "st");
}

static int teardown(void **state)
{
    (void)state;
    mia_test_tmpdir_remove(g_dir);
    return 0;
}

/* ---- fixture building ------------------------------------------------------------------- */
typedef struct buf {
    uint8_t *p;
    size_t n;
} buf;

/* u64 N (hlen_claim, or the header's length if UINT64_MAX) + header + ndata bytes 0,1,2,... */
static buf make_raw(const char *header, size_t hbytes, uint64_t hlen_claim, size_t ndata)
{
    buf b;
    b.n = 8 + hbytes + ndata;
    b.p = malloc(b.n + 1);
    uint64_t N = hlen_claim == UINT64_MAX ? hbytes : hlen_claim;
    for (int i = 0; i < 8; i++) b.p[i] = (uint8_t)(N >> (8 * i));
    memcpy(b.p + 8, header, hbytes);
    for (size_t i = 0; i < ndata; i++) b.p[8 + hbytes + i] = (uint8_t)(i * 3 + 1);
    return b;
}

static buf make(const char *header, size_t ndata)
{
    return make_raw(header, strlen(header), UINT64_MAX, ndata);
}

static void write_fixture(const char *name, const buf *b, char *path, size_t n)
{
    snprintf(path, n, "%s/%s.safetensors", g_dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b->p, 1, b->n, f), b->n);
    fclose(f);
}

/* Open the fixture from a file and from memory: expect status and message substrings. */
static void expect_status(const char *name, buf b, mia_status want, const char *sub1,
                          const char *sub2)
{
    char path[400];
    write_fixture(name, &b, path, sizeof path);
    mia_safetensors *st = (mia_safetensors *)(uintptr_t)1;
    int64_t live = mia__alloc_live();
    mia_status s = mia_safetensors_open(&st, path, NULL);
    if (s != want) print_message("fixture %s: got %s: %s\n", name, mia_status_name(s),
                                 mia_last_error());
    assert_int_equal(s, want);
    if (want != MIA_OK) {
        assert_null(st);
        const char *msg = mia_last_error();
        assert_non_null(strstr(msg, path));
        if ((sub1 && !strstr(msg, sub1)) || (sub2 && !strstr(msg, sub2))) print_message("fixture %s: message '%s'\n", name, msg);
        if (sub1) assert_non_null(strstr(msg, sub1));
        if (sub2) assert_non_null(strstr(msg, sub2));
        assert_int_equal(mia__alloc_live(), live);
    } else {
        assert_non_null(st);
        mia_safetensors_free(st);
    }
    st = (mia_safetensors *)(uintptr_t)1;
    assert_int_equal(mia_safetensors_open_memory(&st, b.p, b.n, NULL), want);
    if (want != MIA_OK) {
        assert_null(st);
        assert_non_null(strstr(mia_last_error(), "<memory>"));
        if (sub1) assert_non_null(strstr(mia_last_error(), sub1));
    } else {
        mia_safetensors_free(st);
    }
    free(b.p);
}

#define T1_BODY "\"x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}"
#define T1 "{" T1_BODY

/* ---- malformed fixtures: reference rules in order ---------------------------------------- */

static void test_safetensors__header_too_small(void **state)
{
    (void)state;
    for (size_t n = 0; n < 8; n++) {
        buf b = make(T1, 16);
        b.n = n;
        expect_status("small", b, MIA_ERR_FORMAT, "header too small", NULL);
    }
}

static void test_safetensors__header_too_large(void **state)
{
    (void)state;
    expect_status("large1", make_raw(T1, strlen(T1), 100000001ull, 16), MIA_ERR_FORMAT,
                  "100000001", "limit");
    expect_status("large2", make_raw(T1, strlen(T1), UINT64_MAX - 1, 16), MIA_ERR_FORMAT,
                  "limit", NULL);
    /* exactly the limit is allowed by rule 2 but runs past the end (rule 3) */
    expect_status("large3", make_raw(T1, strlen(T1), 100000000ull, 16), MIA_ERR_FORMAT,
                  "past the end", NULL);
}

static void test_safetensors__header_past_eof(void **state)
{
    (void)state;
    expect_status("pasteof", make_raw(T1, strlen(T1), strlen(T1) + 17, 16), MIA_ERR_FORMAT,
                  "runs past the end", NULL);
}

static void test_safetensors__not_utf8(void **state)
{
    (void)state;
    const char h[] = "{\"x\xff\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    expect_status("utf8", make(h, 16), MIA_ERR_FORMAT, "not valid UTF-8", "offset 11");
    const char h2[] = "{\"\xed\xa0\x80\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}";
    expect_status("surrogate", make(h2, 1), MIA_ERR_FORMAT, "not valid UTF-8", NULL);
}

static void test_safetensors__json_shape(void **state)
{
    (void)state;
    expect_status("notjson", make("{\"x\":", 0), MIA_ERR_FORMAT, "not valid JSON", NULL);
    expect_status("empty", make_raw("", 0, 0, 0), MIA_ERR_FORMAT, "not valid JSON", NULL);
    expect_status("array", make("[1,2]", 0), MIA_ERR_FORMAT, "not a JSON object", NULL);
    expect_status("entry", make("{\"x\":3}", 0), MIA_ERR_FORMAT, "'x'", "not an object");
    expect_status("nodtype", make("{\"x\":{\"shape\":[],\"data_offsets\":[0,1]}}", 1),
                  MIA_ERR_FORMAT, "'x'", "dtype is missing");
    expect_status("noshape", make("{\"x\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1),
                  MIA_ERR_FORMAT, "'x'", "shape is missing");
    expect_status("nooffs", make("{\"x\":{\"dtype\":\"U8\",\"shape\":[]}}", 1), MIA_ERR_FORMAT,
                  "'x'", "data_offsets is missing");
    expect_status("offs3", make("{\"x\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1,2]}}",
                                1), MIA_ERR_FORMAT, "'x'", "data_offsets");
    expect_status("negdim", make("{\"x\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}",
                                 1), MIA_ERR_FORMAT, "'x'", "shape[0]");
    expect_status("realdim", make("{\"x\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}",
                                  1), MIA_ERR_FORMAT, "'x'", "shape[0]");
    expect_status("negoff", make("{\"x\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[-1,0]}}",
                                 1), MIA_ERR_FORMAT, "'x'", "data_offsets");
    /* unknown extra fields in an entry are ignored, as by the reference */
    expect_status("extra", make("{\"x\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1],"
                                "\"foo\":[1]}}", 1), MIA_OK, NULL, NULL);
}

static void test_safetensors__bad_dtype(void **state)
{
    (void)state;
    expect_status("dtype-unknown",
                  make("{\"x\":{\"dtype\":\"X42\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
                  MIA_ERR_FORMAT, "unknown dtype 'X42'", "'x'");
    expect_status("dtype-f8",
                  make("{\"x\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
                  MIA_ERR_UNSUPPORTED, "dtype F8_E4M3 of tensor 'x' is not supported", NULL);
    expect_status("dtype-bool",
                  make("{\"y\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
                  MIA_ERR_UNSUPPORTED, "dtype BOOL of tensor 'y' is not supported", NULL);
    expect_status("dtype-u64",
                  make("{\"y\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8),
                  MIA_ERR_UNSUPPORTED, "dtype U64", NULL);
    expect_status("dtype-num", make("{\"x\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
                  MIA_ERR_FORMAT, "dtype is not a string", NULL);
}

static void test_safetensors__rank_above_max(void **state)
{
    (void)state;
    expect_status("rank9", make("{\"x\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                                "\"data_offsets\":[0,1]}}", 1), MIA_ERR_UNSUPPORTED, "rank 9",
                  "'x'");
}

static void test_safetensors__overlap_and_gap(void **state)
{
    (void)state;
    expect_status("overlap",
                  make("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12),
                  MIA_ERR_FORMAT, "tensor 'b'", "overlap tensor 'a'");
    expect_status("gap",
                  make("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20),
                  MIA_ERR_FORMAT, "tensor 'b'", "gap of 4 bytes");
    expect_status("gapfirst", make("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
                                   2), MIA_ERR_FORMAT, "tensor 'a'", "gap of 1 bytes");
    expect_status("shared",
                  make("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16),
                  MIA_ERR_FORMAT, "overlap", NULL);
    expect_status("reversed", make("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}",
                                   4), MIA_ERR_FORMAT, "tensor 'a'", NULL);
}

static void test_safetensors__shape_size_mismatch(void **state)
{
    (void)state;
    expect_status("mismatch",
                  make("{\"x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12),
                  MIA_ERR_FORMAT, "tensor 'x'", "span 12 bytes");
    /* B3: a tiny file that claims 2^40 elements fails on the size check, not on memory */
    expect_status("huge",
                  make("{\"x\":{\"dtype\":\"F32\",\"shape\":[1099511627776],\"data_offsets\":[0,4]}}",
                       4), MIA_ERR_FORMAT, "tensor 'x'", "span 4 bytes");
    expect_status("overflow",
                  make("{\"x\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904,4],"
                       "\"data_offsets\":[0,0]}}", 0), MIA_ERR_FORMAT, "tensor 'x'", "overflows");
    expect_status("overflow2",
                  make("{\"x\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],"
                       "\"data_offsets\":[0,0]}}", 0), MIA_ERR_FORMAT, "tensor 'x'", "overflows");
}

static void test_safetensors__duplicate_key(void **state)
{
    (void)state;
    expect_status("dup",
                  make("{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                       "\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2),
                  MIA_ERR_FORMAT, "duplicate key", "\"x\"");
    expect_status("dupinner",
                  make("{\"x\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],"
                       "\"data_offsets\":[0,1]}}", 1), MIA_ERR_FORMAT, "duplicate key", NULL);
}

static char *nested(int depth)
{
    /* {"a":{"a":...{}...}} with depth levels of objects */
    size_t n = (size_t)depth * 6 + 8;
    char *s = malloc(n);
    if (!s) abort(); /* test harness only */
    size_t k = 0;
    for (int i = 0; i < depth - 1; i++, k += 5) memcpy(s + k, "{\"a\":", 5);
    memcpy(s + k, "{}", 2);
    k += 2;
    for (int i = 0; i < depth - 1; i++) s[k++] = '}';
    s[k] = 0;
    return s;
}

static void test_safetensors__nesting_depth(void **state)
{
    (void)state;
    char *h65 = nested(65);
    expect_status("depth65", make(h65, 0), MIA_ERR_FORMAT, "nesting depth exceeds 64", NULL);
    free(h65);
    char *h64 = nested(64); /* within the limit: fails later, on the entry's fields */
    expect_status("depth64", make(h64, 0), MIA_ERR_FORMAT, "'a'", "dtype is missing");
    free(h64);
    /* brackets inside strings do not count */
    char h[400];
    snprintf(h, sizeof h, "{\"__metadata__\":{\"k\":\"%s\"}," T1_BODY,
             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"{{{{");
    expect_status("depthstr", make(h, 16), MIA_OK, NULL, NULL);
}

static void test_safetensors__metadata_not_string(void **state)
{
    (void)state;
    expect_status("meta-int", make("{\"__metadata__\":{\"k\":1}," T1_BODY, 16), MIA_ERR_FORMAT,
                  "__metadata__ value of key 'k' is not a string", NULL);
    expect_status("meta-obj", make("{\"__metadata__\":{\"k\":{\"a\":\"b\"}}," T1_BODY, 16),
                  MIA_ERR_FORMAT, "key 'k'", NULL);
    expect_status("meta-arr", make("{\"__metadata__\":[\"a\"]," T1_BODY, 16), MIA_ERR_FORMAT,
                  "__metadata__ is not an object", NULL);
}

static void test_safetensors__truncation_and_append(void **state)
{
    (void)state;
    /* a valid two-tensor file */
    const char *h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                    "\"b\":{\"dtype\":\"U8\",\"shape\":[5],\"data_offsets\":[12,17]}}";
    buf ok = make(h, 17);
    size_t hend = 8 + strlen(h);
    expect_status("valid", (buf){memcpy(malloc(ok.n), ok.p, ok.n), ok.n}, MIA_OK, NULL, NULL);
    size_t cuts[] = {0, 1, 7, 8, 9, hend - 1, hend, hend + 1, hend + 12, ok.n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        buf b = {memcpy(malloc(ok.n), ok.p, ok.n), cuts[i]};
        const char *want = cuts[i] < 8 ? "header too small"
                           : cuts[i] < hend ? "runs past the end"
                                            : "truncated";
        expect_status("trunc", b, MIA_ERR_FORMAT, want, NULL);
    }
    buf app = {malloc(ok.n + 1), ok.n + 1};
    memcpy(app.p, ok.p, ok.n);
    app.p[ok.n] = 0x42;
    expect_status("append", app, MIA_ERR_FORMAT, "trailing bytes", "is 135 bytes but the header describes 134");
    free(ok.p);
}

static void test_safetensors__leading_whitespace_accepted(void **state)
{
    (void)state;
    expect_status("lead", make("  \n\t " T1, 16), MIA_OK, NULL, NULL);
    expect_status("trail", make(T1 "        ", 16), MIA_OK, NULL, NULL);
    expect_status("emptyobj", make("{}", 0), MIA_OK, NULL, NULL);
}

/* ---- NaN / Inf policy ------------------------------------------------------------------- */

static void test_safetensors__nonfinite_policy(void **state)
{
    (void)state;
    float v[4] = {1.0f, NAN, 2.0f, -INFINITY};
    const char *h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                    "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[16,20]},"
                    "\"g\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[20,24]},"
                    "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[24,32]}}";
    buf b = make(h, 32);
    uint8_t *data = b.p + 8 + strlen(h);
    memcpy(data, v, 16);
    uint16_t f16[2] = {0x3C00, 0x7C00}, bf16[2] = {0x7FC0, 0x3F80};
    memcpy(data + 16, f16, 4);
    memcpy(data + 20, bf16, 4);
    double dv = INFINITY;
    memcpy(data + 24, &dv, 8);
    mia_safetensors *st = NULL;
    assert_int_equal(mia_safetensors_open_memory(&st, b.p, b.n, NULL), MIA_ERR_NUMERIC);
    assert_null(st);
    assert_non_null(strstr(mia_last_error(), "tensor 'w' has 2 NaN/Inf"));
    assert_non_null(strstr(mia_last_error(), "element 1"));
    mia_safetensors_opts o;
    mia_safetensors_opts_init(&o);
    assert_int_equal(o.nonfinite, MIA_SAFETENSORS_NONFINITE_REJECT);
    o.nonfinite = MIA_SAFETENSORS_NONFINITE_COUNT;
    assert_int_equal(mia_safetensors_open_memory(&st, b.p, b.n, &o), MIA_OK);
    assert_int_equal(mia_safetensors_nonfinite_count(st, (size_t)mia_safetensors_find(st, "w")), 2);
    assert_int_equal(mia_safetensors_nonfinite_count(st, (size_t)mia_safetensors_find(st, "h")), 1);
    assert_int_equal(mia_safetensors_nonfinite_count(st, (size_t)mia_safetensors_find(st, "g")), 1);
    assert_int_equal(mia_safetensors_nonfinite_count(st, (size_t)mia_safetensors_find(st, "d")), 1);
    mia_safetensors_free(st);
    o.nonfinite = MIA_SAFETENSORS_NONFINITE_IGNORE;
    assert_int_equal(mia_safetensors_open_memory(&st, b.p, b.n, &o), MIA_OK);
    assert_int_equal(mia_safetensors_nonfinite_count(st, 0), 0);
    mia_safetensors_free(st);
    o.nonfinite = (mia_safetensors_nonfinite)7;
    st = (mia_safetensors *)(uintptr_t)1;
    assert_int_equal(mia_safetensors_open_memory(&st, b.p, b.n, &o), MIA_ERR_INVALID);
    assert_null(st);
    assert_non_null(strstr(mia_last_error(), "opts->nonfinite"));
    free(b.p);
}

static void test_safetensors__io_errors(void **state)
{
    (void)state;
    char p[400];
    snprintf(p, sizeof p, "%s/missing.safetensors", g_dir);
    mia_safetensors *st = (mia_safetensors *)(uintptr_t)1;
    assert_int_equal(mia_safetensors_open(&st, p, NULL), MIA_ERR_IO);
    assert_null(st);
    assert_non_null(strstr(mia_last_error(), "missing.safetensors"));
    buf b = make(T1, 16);
    write_fixture("capped", &b, p, sizeof p);
    mia_safetensors_opts o;
    mia_safetensors_opts_init(&o);
    o.max_file_bytes = b.n - 1;
    st = (mia_safetensors *)(uintptr_t)1;
    assert_int_equal(mia_safetensors_open(&st, p, &o), MIA_ERR_FORMAT);
    assert_null(st);
    assert_non_null(strstr(mia_last_error(), "capped.safetensors"));
    o.max_file_bytes = b.n;
    assert_int_equal(mia_safetensors_open(&st, p, &o), MIA_OK);
    mia_safetensors_free(st);
    assert_int_equal(mia_safetensors_open(NULL, p, NULL), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "out"));
    free(b.p);
}

/* ---- writer argument checks ------------------------------------------------------------- */

static void test_safetensors__writer_rejects_bad_input(void **state)
{
    (void)state;
    mia_safetensors_writer *w = NULL;
    assert_int_equal(mia_safetensors_writer_create(&w), MIA_OK);
    int64_t sh[2] = {2, 3};
    float d[6] = {0};
    assert_int_equal(mia_safetensors_writer_add(w, "", MIA_SAFETENSORS_F32, 2, sh, d),
                     MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "name"));
    assert_int_equal(mia_safetensors_writer_add(w, "__metadata__", MIA_SAFETENSORS_F32, 2, sh, d),
                     MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "__metadata__"));
    assert_int_equal(mia_safetensors_writer_add(w, "a\xff", MIA_SAFETENSORS_F32, 2, sh, d),
                     MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "UTF-8"));
    assert_int_equal(mia_safetensors_writer_add(w, "a", (mia_safetensors_dtype)99, 2, sh, d),
                     MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "dtype"));
    assert_int_equal(mia_safetensors_writer_add(w, "a", MIA_SAFETENSORS_F32, 9, sh, d),
                     MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "ndim"));
    int64_t neg[2] = {2, -1};
    assert_int_equal(mia_safetensors_writer_add(w, "a", MIA_SAFETENSORS_F32, 2, neg, d),
                     MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "shape[1]"));
    assert_int_equal(mia_safetensors_writer_add(w, "a", MIA_SAFETENSORS_F32, 2, sh, NULL),
                     MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "data"));
    assert_int_equal(mia_safetensors_writer_add(w, "a", MIA_SAFETENSORS_F32, 2, sh, d), MIA_OK);
    assert_int_equal(mia_safetensors_writer_add(w, "a", MIA_SAFETENSORS_U8, 0, NULL, d),
                     MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "'a' is already"));
    assert_int_equal(mia_safetensors_writer_set_metadata(w, "k", NULL), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "'k'"));
    char p[400];
    snprintf(p, sizeof p, "%s/no-dir/x.safetensors", g_dir);
    assert_int_equal(mia_safetensors_writer_write(w, p), MIA_ERR_IO);
    assert_non_null(strstr(mia_last_error(), "no-dir/x.safetensors"));
    void *out = (void *)(uintptr_t)1;
    size_t len = 5;
    assert_int_equal(mia_safetensors_writer_write_memory(NULL, &out, &len), MIA_ERR_INVALID);
    assert_null(out);
    mia_safetensors_writer_free(w);
    mia_safetensors_writer_free(NULL);
}

/* ---- round trip ------------------------------------------------------------------------- */

static const char *const k_pieces[] = {"a", "b", "z", "0", "9", ".", "_", "-", " ", "\"",
                                       "\\", "/", "\n", "\xc3\xa9", "\xe2\x86\x92",
                                       "\xf0\x9f\x99\x82", "weight", "bn1", "running_mean"};

static void rand_str(mia_rng *r, char *out, size_t maxpieces)
{
    size_t n = 1 + (size_t)mia__rng_below(r, maxpieces), k = 0;
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = k_pieces[mia__rng_below(r, sizeof k_pieces / sizeof k_pieces[0])];
        strcpy(out + k, p);
        k += strlen(p);
    }
}

typedef struct spec {
    char name[128];
    mia_safetensors_dtype dt;
    int ndim;
    int64_t shape[4];
    size_t nbytes;
    uint8_t *data;
} spec;

static void check_alignment(const uint8_t *p, size_t n, const mia_safetensors *st)
{
    uint64_t N = 0;
    for (int i = 7; i >= 0; i--) N = N << 8 | p[i];
    assert_int_equal(N % 8, 0);
    for (size_t i = 0; i < mia_safetensors_count(st); i++) {
        mia_safetensors_dtype dt;
        assert_int_equal(mia_safetensors_info(st, i, &dt, NULL, NULL), MIA_OK);
        size_t off = (size_t)((const uint8_t *)mia_safetensors_data(st, i) -
                              (const uint8_t *)mia_safetensors_data(st, 0));
        assert_int_equal((8 + N + off) % mia_safetensors_dtype_size(dt), 0);
        assert_true(8 + N + off <= n);
    }
}

static void test_safetensors__round_trip_random(void **state)
{
    (void)state;
    mia_rng r;
    mia__rng_init(&r, 20220722, 0);
    mia_safetensors_opts o;
    mia_safetensors_opts_init(&o);
    o.nonfinite = MIA_SAFETENSORS_NONFINITE_IGNORE; /* random bytes include NaN patterns */
    size_t total_tensors = 0;
    for (int c = 0; c < 1000; c++) {
        mia_safetensors_writer *w = NULL;
        assert_int_equal(mia_safetensors_writer_create(&w), MIA_OK);
        size_t nt = (size_t)mia__rng_below(&r, 7);
        spec *sp = calloc(nt ? nt : 1, sizeof *sp);
        for (size_t i = 0; i < nt; i++) {
            for (;;) { /* unique names */
                rand_str(&r, sp[i].name, 4);
                int dup = 0;
                for (size_t j = 0; j < i; j++) dup |= !strcmp(sp[i].name, sp[j].name);
                if (!dup) break;
            }
            sp[i].dt = (mia_safetensors_dtype)mia__rng_below(&r, MIA_SAFETENSORS_DTYPE_COUNT);
            sp[i].ndim = (int)mia__rng_below(&r, 5);
            size_t el = 1;
            for (int k = 0; k < sp[i].ndim; k++) {
                sp[i].shape[k] = mia__rng_below(&r, 8) == 0 ? 0 : (int64_t)mia__rng_below(&r, 5) + 1;
                el *= (size_t)sp[i].shape[k];
            }
            sp[i].nbytes = el * mia_safetensors_dtype_size(sp[i].dt);
            sp[i].data = malloc(sp[i].nbytes + 1);
            for (size_t k = 0; k < sp[i].nbytes; k++) sp[i].data[k] = (uint8_t)mia__rng_u32(&r);
            assert_int_equal(mia_safetensors_writer_add(w, sp[i].name, sp[i].dt, sp[i].ndim,
                                                        sp[i].shape, sp[i].data), MIA_OK);
        }
        size_t nm = (size_t)mia__rng_below(&r, 4);
        char mk[4][128], mv[4][128];
        for (size_t i = 0; i < nm; i++) {
            rand_str(&r, mk[i], 3);
            rand_str(&r, mv[i], 5);
            assert_int_equal(mia_safetensors_writer_set_metadata(w, mk[i], mv[i]), MIA_OK);
        }
        void *a = NULL;
        size_t alen = 0;
        assert_int_equal(mia_safetensors_writer_write_memory(w, &a, &alen), MIA_OK);
        mia_safetensors *st = NULL;
        mia_status s = mia_safetensors_open_memory(&st, a, alen, &o);
        if (s != MIA_OK) print_message("case %d: %s\n", c, mia_last_error());
        assert_int_equal(s, MIA_OK);
        check_alignment(a, alen, st);
        /* the reader returns exactly what was added */
        assert_int_equal(mia_safetensors_count(st), nt);
        for (size_t i = 0; i < nt; i++) {
            int64_t idx = mia_safetensors_find(st, sp[i].name);
            assert_true(idx >= 0);
            assert_string_equal(mia_safetensors_name(st, (size_t)idx), sp[i].name);
            mia_safetensors_dtype dt;
            int nd;
            int64_t shape[MIA_MAX_DIMS];
            assert_int_equal(mia_safetensors_info(st, (size_t)idx, &dt, &nd, shape), MIA_OK);
            assert_int_equal(dt, sp[i].dt);
            assert_int_equal(nd, sp[i].ndim);
            for (int k = 0; k < nd; k++) assert_int_equal(shape[k], sp[i].shape[k]);
            assert_int_equal(mia_safetensors_nbytes(st, (size_t)idx), sp[i].nbytes);
            if (sp[i].nbytes)
                assert_memory_equal(mia_safetensors_data(st, (size_t)idx), sp[i].data,
                                    sp[i].nbytes);
        }
        /* metadata: last value per key wins */
        for (size_t i = 0; i < nm; i++) {
            size_t last = i;
            for (size_t j = i + 1; j < nm; j++)
                if (!strcmp(mk[j], mk[i])) last = j;
            const char *v = mia_safetensors_metadata_get(st, mk[i]);
            assert_non_null(v);
            assert_string_equal(v, mv[last]);
        }
        /* reader -> writer again: byte-identical */
        mia_safetensors_writer *w2 = NULL;
        assert_int_equal(mia_safetensors_writer_create(&w2), MIA_OK);
        for (size_t i = 0; i < mia_safetensors_count(st); i++) {
            mia_safetensors_dtype dt;
            int nd;
            int64_t shape[MIA_MAX_DIMS];
            mia_safetensors_info(st, i, &dt, &nd, shape);
            assert_int_equal(mia_safetensors_writer_add(w2, mia_safetensors_name(st, i), dt, nd,
                                                        shape, mia_safetensors_data(st, i)),
                             MIA_OK);
        }
        for (size_t i = 0; i < mia_safetensors_metadata_count(st); i++) {
            const char *k, *v;
            assert_true(mia_safetensors_metadata_at(st, i, &k, &v));
            assert_int_equal(mia_safetensors_writer_set_metadata(w2, k, v), MIA_OK);
        }
        void *b = NULL;
        size_t blen = 0;
        if (c % 50 == 0) { /* through the file path as well */
            char p[400];
            snprintf(p, sizeof p, "%s/rt.safetensors", g_dir);
            assert_int_equal(mia_safetensors_writer_write(w2, p), MIA_OK);
            assert_int_equal(mia__read_file(p, SIZE_MAX, (uint8_t **)&b, &blen), MIA_OK);
        } else {
            assert_int_equal(mia_safetensors_writer_write_memory(w2, &b, &blen), MIA_OK);
        }
        assert_int_equal(blen, alen);
        assert_memory_equal(a, b, alen);
        total_tensors += nt;
        mia_safetensors_buffer_free(a);
        mia_safetensors_buffer_free(b);
        mia_safetensors_free(st);
        mia_safetensors_writer_free(w);
        mia_safetensors_writer_free(w2);
        for (size_t i = 0; i < nt; i++) free(sp[i].data);
        free(sp);
    }
    print_message("round trip: 1000 cases, %zu tensors, byte-identical\n", total_tensors);
}

static void test_safetensors__writer_layout_order(void **state)
{
    (void)state;
    /* descending dtype order (I64 > F64 > F32 > I32 > BF16 > F16 > U8), then name */
    mia_safetensors_writer *w = NULL;
    assert_int_equal(mia_safetensors_writer_create(&w), MIA_OK);
    uint8_t z[16] = {0};
    int64_t one = 1;
    const struct { const char *n; mia_safetensors_dtype d; } in[] = {
        {"u", MIA_SAFETENSORS_U8}, {"h", MIA_SAFETENSORS_F16}, {"b2", MIA_SAFETENSORS_BF16},
        {"b1", MIA_SAFETENSORS_BF16}, {"i", MIA_SAFETENSORS_I32}, {"f", MIA_SAFETENSORS_F32},
        {"d", MIA_SAFETENSORS_F64}, {"l", MIA_SAFETENSORS_I64}};
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(mia_safetensors_writer_add(w, in[i].n, in[i].d, 1, &one, z), MIA_OK);
    void *a = NULL;
    size_t n = 0;
    assert_int_equal(mia_safetensors_writer_write_memory(w, &a, &n), MIA_OK);
    mia_safetensors *st = NULL;
    assert_int_equal(mia_safetensors_open_memory(&st, a, n, NULL), MIA_OK);
    const char *want[] = {"l", "d", "f", "i", "b1", "b2", "h", "u"};
    for (size_t i = 0; i < 8; i++) assert_string_equal(mia_safetensors_name(st, i), want[i]);
    mia_safetensors_free(st);
    mia_safetensors_buffer_free(a);
    mia_safetensors_writer_free(w);
}

/* ---- cross-check with a plain-Python writer ----------------------------------------------- */

static int run_pywrite(const char *out, const char *mode)
{
    const char *src = getenv("MIA_SOURCE_DIR");
    if (!src || access("/usr/bin/python3", X_OK) != 0) return 0;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/safetensors-pywrite.py' '%s' %s", src,
             out, mode);
    return system(cmd) == 0;
}

static void get_elem(const mia_safetensors *st, const char *name, mia_safetensors_dtype dt,
                     int ndim, const int64_t *shape, void *dst, size_t nbytes)
{
    int64_t i = mia_safetensors_find(st, name);
    assert_true(i >= 0);
    mia_safetensors_dtype d;
    int nd;
    int64_t sh[MIA_MAX_DIMS];
    assert_int_equal(mia_safetensors_info(st, (size_t)i, &d, &nd, sh), MIA_OK);
    assert_int_equal(d, dt);
    assert_int_equal(nd, ndim);
    for (int k = 0; k < ndim; k++) assert_int_equal(sh[k], shape[k]);
    assert_int_equal(mia_safetensors_nbytes(st, (size_t)i), nbytes);
    if (nbytes) memcpy(dst, mia_safetensors_data(st, (size_t)i), nbytes); /* may be unaligned */
}

static void check_python_values(const mia_safetensors *st)
{
    assert_int_equal(mia_safetensors_count(st), 9);
    float a[6];
    get_elem(st, "a.weight", MIA_SAFETENSORS_F32, 2, (int64_t[]){2, 3}, a, sizeof a);
    for (int i = 0; i < 6; i++) assert_true(a[i] == 0.5f * (float)i - 1.0f);
    int64_t b[4];
    get_elem(st, "b", MIA_SAFETENSORS_I64, 1, (int64_t[]){4}, b, sizeof b);
    assert_true(b[0] == -1 && b[1] == (int64_t)1 << 40 && b[2] == 0 && b[3] == 7);
    uint8_t c;
    get_elem(st, "c", MIA_SAFETENSORS_U8, 0, NULL, &c, 1);
    assert_int_equal(c, 200);
    get_elem(st, "d", MIA_SAFETENSORS_F64, 2, (int64_t[]){2, 0}, NULL, 0);
    int32_t e[3];
    get_elem(st, "e", MIA_SAFETENSORS_I32, 1, (int64_t[]){3}, e, sizeof e);
    assert_true(e[0] == -5 && e[1] == 0 && e[2] == 5);
    uint16_t f[2], h[2];
    get_elem(st, "f", MIA_SAFETENSORS_BF16, 1, (int64_t[]){2}, f, sizeof f);
    assert_true(f[0] == 0x3F80 && f[1] == 0xC000);
    get_elem(st, "h", MIA_SAFETENSORS_F16, 1, (int64_t[]){2}, h, sizeof h);
    assert_true(h[0] == 0x3C00 && h[1] == 0x4000);
    int64_t nbt;
    get_elem(st, "layer1.0.bn1.num_batches_tracked", MIA_SAFETENSORS_I64, 0, NULL, &nbt, 8);
    assert_int_equal(nbt, 123);
    double z;
    get_elem(st, "z\xc3\xa9\"/\\", MIA_SAFETENSORS_F64, 1, (int64_t[]){1}, &z, 8);
    assert_true(z == 3.25);
    assert_int_equal(mia_safetensors_metadata_count(st), 2);
    assert_string_equal(mia_safetensors_metadata_get(st, "format"), "pt");
    assert_string_equal(mia_safetensors_metadata_get(st, "note"), "h\xc3\xa9llo \"quoted\"");
    assert_null(mia_safetensors_metadata_get(st, "missing"));
    assert_int_equal(mia_safetensors_find(st, "nope"), -1);
}

static void test_safetensors__python_written_file(void **state)
{
    (void)state;
    char p[400];
    snprintf(p, sizeof p, "%s/py-aligned.safetensors", g_dir);
    if (!run_pywrite(p, "aligned")) {
        print_message("python3 or MIA_SOURCE_DIR unavailable: skipped\n");
        skip();
    }
    mia_safetensors *st = NULL;
    assert_int_equal(mia_safetensors_open(&st, p, NULL), MIA_OK);
    check_python_values(st);
    /* libmia's writer reproduces the reference layout byte for byte */
    mia_safetensors_writer *w = NULL;
    assert_int_equal(mia_safetensors_writer_create(&w), MIA_OK);
    for (size_t i = mia_safetensors_count(st); i-- > 0;) { /* reverse insertion order */
        mia_safetensors_dtype dt;
        int nd;
        int64_t sh[MIA_MAX_DIMS];
        mia_safetensors_info(st, i, &dt, &nd, sh);
        assert_int_equal(mia_safetensors_writer_add(w, mia_safetensors_name(st, i), dt, nd, sh,
                                                    mia_safetensors_data(st, i)), MIA_OK);
    }
    assert_int_equal(mia_safetensors_writer_set_metadata(w, "note", "h\xc3\xa9llo \"quoted\""),
                     MIA_OK);
    assert_int_equal(mia_safetensors_writer_set_metadata(w, "format", "pt"), MIA_OK);
    void *mine = NULL;
    size_t n = 0;
    assert_int_equal(mia_safetensors_writer_write_memory(w, &mine, &n), MIA_OK);
    uint8_t *py = NULL;
    size_t pn = 0;
    assert_int_equal(mia__read_file(p, SIZE_MAX, &py, &pn), MIA_OK);
    assert_int_equal(n, pn);
    assert_memory_equal(mine, py, n);
    mia__free(py);
    mia_safetensors_buffer_free(mine);
    mia_safetensors_writer_free(w);
    mia_safetensors_free(st);
    /* unpadded header and out-of-order listing: accepted, values identical */
    snprintf(p, sizeof p, "%s/py-unaligned.safetensors", g_dir);
    assert_true(run_pywrite(p, "unaligned"));
    assert_int_equal(mia_safetensors_open(&st, p, NULL), MIA_OK);
    check_python_values(st);
    mia_safetensors_free(st);
}

static void test_safetensors__out_of_memory(void **state)
{
    (void)state;
    const char *h = "{\"__metadata__\":{\"k\":\"v\"},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                    "\"b\":{\"dtype\":\"U8\",\"shape\":[5],\"data_offsets\":[12,17]}}";
    buf b = make(h, 17);
    memset(b.p + 8 + strlen(h), 0, 12); /* finite floats */
    int hits = 0;
    for (long k = 1; k < 200; k++) {
        int64_t live = mia__alloc_live();
        mia__alloc_fail_after(k, 0);
        mia_safetensors *st = (mia_safetensors *)(uintptr_t)1;
        mia_status s = mia_safetensors_open_memory(&st, b.p, b.n, NULL);
        long inj = mia__alloc_injected();
        mia__alloc_fail_after(0, 0);
        if (!inj) {
            assert_int_equal(s, MIA_OK);
            mia_safetensors_free(st);
            break;
        }
        assert_int_equal(s, MIA_ERR_NOMEM);
        assert_null(st);
        assert_int_equal(mia__alloc_live(), live);
        hits++;
    }
    print_message("reader: %d allocation failure points\n", hits);
    assert_true(hits >= 5);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetensors__header_too_small),
        cmocka_unit_test(test_safetensors__header_too_large),
        cmocka_unit_test(test_safetensors__header_past_eof),
        cmocka_unit_test(test_safetensors__not_utf8),
        cmocka_unit_test(test_safetensors__json_shape),
        cmocka_unit_test(test_safetensors__bad_dtype),
        cmocka_unit_test(test_safetensors__rank_above_max),
        cmocka_unit_test(test_safetensors__overlap_and_gap),
        cmocka_unit_test(test_safetensors__shape_size_mismatch),
        cmocka_unit_test(test_safetensors__duplicate_key),
        cmocka_unit_test(test_safetensors__nesting_depth),
        cmocka_unit_test(test_safetensors__metadata_not_string),
        cmocka_unit_test(test_safetensors__truncation_and_append),
        cmocka_unit_test(test_safetensors__leading_whitespace_accepted),
        cmocka_unit_test(test_safetensors__nonfinite_policy),
        cmocka_unit_test(test_safetensors__io_errors),
        cmocka_unit_test(test_safetensors__writer_rejects_bad_input),
        cmocka_unit_test(test_safetensors__round_trip_random),
        cmocka_unit_test(test_safetensors__writer_layout_order),
        cmocka_unit_test(test_safetensors__python_written_file),
        cmocka_unit_test(test_safetensors__out_of_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
