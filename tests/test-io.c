/* io: SHA-256 against FIPS 180-4 vectors and Python's hashlib, atomic durable writes with I/O
 * fault injection, bounded whole-file reads. */
#include <dirent.h>
#include <errno.h>
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
    return mia_test_tmpdir_create(g_dir, sizeof g_dir, "io");
}

static int teardown(void **state)
{
    (void)state;
    mia_test_tmpdir_remove(g_dir);
    return 0;
}

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_dir, name);
}

/* Number of directory entries whose name contains ".tmp". */
static int count_tmp(void)
{
    int c = 0;
    DIR *d = opendir(g_dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp")) c++;
    closedir(d);
    return c;
}

static void hex_of(const void *data, size_t n, char hex[65])
{
    uint8_t dg[32];
    mia__sha256(data, n, dg);
    mia__sha256_hex(dg, hex);
}

/* ---- SHA-256 ---------------------------------------------------------------------------- */

static void test_io__sha256_fips_vectors(void **state)
{
    (void)state;
    char hex[65];
    /* FIPS 180-4 / NIST CSRC example values. */
    hex_of("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_of(m448, strlen(m448), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    hex_of("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* One million 'a', fed in uneven pieces through the streaming API. */
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    mia_sha256 s;
    mia__sha256_init(&s);
    size_t off = 0, step = 1;
    while (off < 1000000) {
        size_t take = step < 1000000 - off ? step : 1000000 - off;
        mia__sha256_update(&s, a + off, take);
        off += take;
        step = step * 7 % 4099 + 1;
    }
    uint8_t dg[32];
    mia__sha256_final(&s, dg);
    mia__sha256_hex(dg, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

static int python_sha256(const char *path, char hex[65])
{
    if (access("/usr/bin/python3", X_OK) != 0) return 0;
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import hashlib,sys; "
             "print(hashlib.sha256(open(sys.argv[1],\"rb\").read()).hexdigest())' '%s'",
             path);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    char line[256] = {0};
    int ok = fgets(line, sizeof line, p) != NULL && strlen(line) >= 64; /* reads the newline */
    while (fgets(line + 128, 128, p)) { /* drain */
    }
    if (ok) {
        memcpy(hex, line, 64);
        hex[64] = 0;
    }
    return pclose(p) == 0 && ok;
}

static void test_io__sha256_matches_hashlib(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 1000, 65536, 200003};
    mia_rng r;
    mia__rng_init(&r, 1234, 0);
    int checked = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        uint8_t *buf = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)mia__rng_u32(&r);
        char p[300];
        path_in(p, sizeof p, "rand.bin");
        FILE *f = fopen(p, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, n, f), n);
        fclose(f);
        char mine[65], file_hex[65], py[65];
        hex_of(buf, n, mine);
        uint8_t dg[32];
        assert_int_equal(mia__sha256_file(p, dg), MIA_OK);
        mia__sha256_hex(dg, file_hex);
        assert_string_equal(mine, file_hex);
        if (python_sha256(p, py)) {
            assert_string_equal(mine, py);
            checked++;
        }
        free(buf);
    }
    if (!checked) print_message("python3 unavailable: hashlib cross-check skipped\n");
}

static void test_io__sha256_file_missing(void **state)
{
    (void)state;
    char p[300];
    path_in(p, sizeof p, "does-not-exist");
    uint8_t dg[32];
    mia__error_begin();
    assert_int_equal(mia__sha256_file(p, dg), MIA_ERR_IO);
    assert_non_null(strstr(mia_last_error(), "does-not-exist"));
    assert_non_null(strstr(mia_last_error(), strerror(ENOENT)));
}

/* ---- atomic writes ---------------------------------------------------------------------- */

static void expect_content(const char *path, const void *data, size_t n)
{
    uint8_t *got = NULL;
    size_t len = 0;
    mia__error_begin();
    assert_int_equal(mia__read_file(path, SIZE_MAX, &got, &len), MIA_OK);
    assert_int_equal(len, n);
    assert_memory_equal(got, data, n);
    assert_int_equal(got[len], 0);
    mia__free(got);
}

static void test_io__atomic_write_and_replace(void **state)
{
    (void)state;
    char p[300];
    path_in(p, sizeof p, "a.txt");
    mia__error_begin();
    assert_int_equal(mia__write_file_atomic(p, "hello", 5), MIA_OK);
    expect_content(p, "hello", 5);
    mia_afile *f = NULL;
    assert_int_equal(mia__afile_open(&f, p), MIA_OK);
    assert_non_null(f);
    assert_int_equal(count_tmp(), 1);
    assert_int_equal(mia__afile_printf(f, "x=%d %s\n", 42, "y"), MIA_OK);
    char big[2000];
    memset(big, 'z', sizeof big);
    assert_int_equal(mia__afile_printf(f, "%.*s", (int)sizeof big, big), MIA_OK);
    expect_content(p, "hello", 5); /* not replaced before commit */
    assert_int_equal(mia__afile_commit(f), MIA_OK);
    assert_int_equal(count_tmp(), 0);
    char want[2100];
    int n = snprintf(want, sizeof want, "x=42 y\n%.*s", (int)sizeof big, big);
    expect_content(p, want, (size_t)n);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644 & ~0u & st.st_mode & 0777); /* umask applies */
}

static void test_io__atomic_abort_leaves_old_file(void **state)
{
    (void)state;
    char p[300];
    path_in(p, sizeof p, "b.txt");
    assert_int_equal(mia__write_file_atomic(p, "old", 3), MIA_OK);
    mia_afile *f = NULL;
    assert_int_equal(mia__afile_open(&f, p), MIA_OK);
    assert_int_equal(mia__afile_write(f, "new content", 11), MIA_OK);
    mia__afile_abort(f);
    mia__afile_abort(NULL);
    assert_int_equal(count_tmp(), 0);
    expect_content(p, "old", 3);
}

static void test_io__atomic_open_bad_dir(void **state)
{
    (void)state;
    char p[300];
    path_in(p, sizeof p, "no-such-dir/c.txt");
    mia_afile *f = (mia_afile *)(uintptr_t)1;
    mia__error_begin();
    assert_int_equal(mia__afile_open(&f, p), MIA_ERR_IO);
    assert_null(f);
    assert_non_null(strstr(mia_last_error(), "no-such-dir/c.txt"));
    assert_non_null(strstr(mia_last_error(), strerror(ENOENT)));
    mia__error_begin();
    assert_int_equal(mia__afile_open(&f, ""), MIA_ERR_INVALID);
    assert_null(f);
    assert_non_null(strstr(mia_last_error(), "path"));
}

/* Fail every hooked call in turn, with EIO and ENOSPC: the old file must survive intact (or,
 * for the final directory fsync, the new one be complete), no temp file may remain, and the
 * message must carry the path and strerror text. */
static void test_io__atomic_fault_injection(void **state)
{
    (void)state;
    char p[300];
    path_in(p, sizeof p, "d.bin");
    size_t n = 200000; /* several buffered writes */
    uint8_t *oldd = malloc(n), *newd = malloc(n);
    for (size_t i = 0; i < n; i++) {
        oldd[i] = (uint8_t)(i * 7);
        newd[i] = (uint8_t)(i * 13 + 1);
    }
    assert_int_equal(mia__write_file_atomic(p, oldd, 1000), MIA_OK);
    /* Count the hooked calls of a full save. */
    mia__io_fail_after(0, 0);
    assert_int_equal(mia__write_file_atomic(p, oldd, n), MIA_OK);
    long ops = mia__io_ops();
    assert_true(ops >= 6); /* >= 4 writes + fsync + rename + dir fsync */
    static const int errs[] = {EIO, ENOSPC};
    int cases = 0;
    for (int e = 0; e < 2; e++) {
        for (long k = 1; k <= ops; k++) {
            assert_int_equal(mia__write_file_atomic(p, oldd, n), MIA_OK);
            mia__io_fail_after((int)k, errs[e]);
            mia__error_begin();
            mia_status s = mia__write_file_atomic(p, newd, n);
            mia__io_fail_after(0, 0);
            assert_int_equal(s, MIA_ERR_IO);
            assert_non_null(strstr(mia_last_error(), p));
            assert_non_null(strstr(mia_last_error(), strerror(errs[e])));
            assert_int_equal(count_tmp(), 0);
            if (k < ops) expect_content(p, oldd, n);
            else expect_content(p, newd, n); /* renamed; only the dir fsync failed */
            cases++;
        }
    }
    print_message("atomic write: %d injected failures over %ld hooked calls\n", cases, ops);
    free(oldd);
    free(newd);
}

static void test_io__atomic_error_is_sticky(void **state)
{
    (void)state;
    char p[300];
    path_in(p, sizeof p, "e.bin");
    assert_int_equal(mia__write_file_atomic(p, "keep", 4), MIA_OK);
    uint8_t *buf = calloc(1, 1 << 17);
    mia_afile *f = NULL;
    assert_int_equal(mia__afile_open(&f, p), MIA_OK);
    mia__io_fail_after(1, ENOSPC);
    mia__error_begin();
    assert_int_equal(mia__afile_write(f, buf, 1 << 17), MIA_ERR_IO); /* first flush fails */
    mia__io_fail_after(0, 0);
    assert_int_equal(mia__afile_write(f, "more", 4), MIA_ERR_IO);  /* sticky */
    assert_int_equal(mia__afile_printf(f, "%d", 1), MIA_ERR_IO);
    mia__error_begin();
    assert_int_equal(mia__afile_commit(f), MIA_ERR_IO);
    assert_non_null(strstr(mia_last_error(), strerror(ENOSPC)));
    assert_non_null(strstr(mia_last_error(), "e.bin"));
    assert_int_equal(count_tmp(), 0);
    expect_content(p, "keep", 4);
    free(buf);
}

static void test_io__atomic_out_of_memory(void **state)
{
    (void)state;
    char p[300];
    path_in(p, sizeof p, "f.bin");
    assert_int_equal(mia__write_file_atomic(p, "keep", 4), MIA_OK);
    int hit = 0;
    for (long k = 1; k < 50; k++) {
        int64_t live = mia__alloc_live();
        mia__alloc_fail_after(k, 0);
        mia__error_begin();
        mia_status s = mia__write_file_atomic(p, "new!", 4);
        long inj = mia__alloc_injected();
        mia__alloc_fail_after(0, 0);
        assert_int_equal(mia__alloc_live(), live);
        assert_int_equal(count_tmp(), 0);
        if (!inj) {
            assert_int_equal(s, MIA_OK);
            break;
        }
        assert_int_equal(s, MIA_ERR_NOMEM);
        expect_content(p, "keep", 4);
        hit++;
    }
    assert_true(hit >= 2);
    expect_content(p, "new!", 4);
}

/* ---- bounded reads ---------------------------------------------------------------------- */

static void test_io__read_file_limits(void **state)
{
    (void)state;
    char p[300];
    path_in(p, sizeof p, "g.bin");
    assert_int_equal(mia__write_file_atomic(p, "0123456789", 10), MIA_OK);
    uint8_t *d = (uint8_t *)(uintptr_t)1;
    size_t len = 99;
    mia__error_begin();
    assert_int_equal(mia__read_file(p, 9, &d, &len), MIA_ERR_FORMAT);
    assert_null(d);
    assert_int_equal(len, 0);
    assert_non_null(strstr(mia_last_error(), "g.bin"));
    assert_non_null(strstr(mia_last_error(), "10 bytes"));
    /* The cap is checked before allocating: with allocation failing, still FORMAT. */
    mia__alloc_fail_after(1, 1);
    mia__error_begin();
    assert_int_equal(mia__read_file(p, 9, &d, &len), MIA_ERR_FORMAT);
    assert_int_equal(mia__alloc_injected(), 0);
    mia__alloc_fail_after(0, 0);
    assert_int_equal(mia__read_file(p, 10, &d, &len), MIA_OK);
    assert_int_equal(len, 10);
    assert_memory_equal(d, "0123456789", 10);
    mia__free(d);
    /* empty file */
    path_in(p, sizeof p, "empty.bin");
    assert_int_equal(mia__write_file_atomic(p, NULL, 0), MIA_OK);
    assert_int_equal(mia__read_file(p, 0, &d, &len), MIA_OK);
    assert_int_equal(len, 0);
    assert_int_equal(d[0], 0);
    mia__free(d);
    /* missing file and directory */
    path_in(p, sizeof p, "missing.bin");
    mia__error_begin();
    assert_int_equal(mia__read_file(p, 100, &d, &len), MIA_ERR_IO);
    assert_null(d);
    assert_non_null(strstr(mia_last_error(), "missing.bin"));
    mia__error_begin();
    assert_int_equal(mia__read_file(g_dir, 100, &d, &len), MIA_ERR_IO);
    assert_null(d);
    assert_non_null(strstr(mia_last_error(), g_dir));
}

static void test_io__read_file_out_of_memory(void **state)
{
    (void)state;
    char p[300];
    path_in(p, sizeof p, "h.bin");
    assert_int_equal(mia__write_file_atomic(p, "abc", 3), MIA_OK);
    uint8_t *d = NULL;
    size_t len = 0;
    mia__alloc_fail_after(1, 0);
    mia__error_begin();
    assert_int_equal(mia__read_file(p, 100, &d, &len), MIA_ERR_NOMEM);
    mia__alloc_fail_after(0, 0);
    assert_null(d);
    assert_non_null(strstr(mia_last_error(), "h.bin"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_io__sha256_fips_vectors),
        cmocka_unit_test(test_io__sha256_matches_hashlib),
        cmocka_unit_test(test_io__sha256_file_missing),
        cmocka_unit_test(test_io__atomic_write_and_replace),
        cmocka_unit_test(test_io__atomic_abort_leaves_old_file),
        cmocka_unit_test(test_io__atomic_open_bad_dir),
        cmocka_unit_test(test_io__atomic_fault_injection),
        cmocka_unit_test(test_io__atomic_error_is_sticky),
        cmocka_unit_test(test_io__atomic_out_of_memory),
        cmocka_unit_test(test_io__read_file_limits),
        cmocka_unit_test(test_io__read_file_out_of_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
