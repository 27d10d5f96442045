/* tools/pt2safetensors.py: a PyTorch state_dict converted to safetensors reads back in libmia
 * with identical names, dtypes, shapes and bytes (SHA-256 recorded by torch before saving).
 * Exits 77 (skip) when /usr/bin/python3 has no torch. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test-util.h"

#include "io/io.h"
#include "mia-internal.h"
#include <mia/safetensors.h>
#include <mia/status.h>

static char g_dir[256];
static const char *g_src;

static int setup(void **state)
{
    (void)state;
    return mia_test_tmpdir_create(g_dir, sizeof g_dir, "pt");
}

static int teardown(void **state)
{
    (void)state;
    mia_test_tmpdir_remove(g_dir);
    return 0;
}

static int sh(const char *fmt, ...) MIA_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void check_against_manifest(const char *st_path)
{
    mia_safetensors *st = NULL;
    mia_status s = mia_safetensors_open(&st, st_path, NULL);
    if (s != MIA_OK) print_message("%s\n", mia_last_error());
    assert_int_equal(s, MIA_OK);
    char mpath[400];
    snprintf(mpath, sizeof mpath, "%s/manifest.txt", g_dir);
    FILE *m = fopen(mpath, "r");
    assert_non_null(m);
    char line[1024];
    size_t lines = 0;
    while (fgets(line, sizeof line, m)) {
        char *save = NULL;
        char *name = strtok_r(line, " \n", &save);
        char *dt = strtok_r(NULL, " \n", &save);
        int nd = atoi(strtok_r(NULL, " \n", &save));
        int64_t i = mia_safetensors_find(st, name);
        if (i < 0) print_message("missing tensor '%s'\n", name);
        assert_true(i >= 0);
        mia_safetensors_dtype d;
        int ndim;
        int64_t shape[MIA_MAX_DIMS];
        assert_int_equal(mia_safetensors_info(st, (size_t)i, &d, &ndim, shape), MIA_OK);
        assert_string_equal(mia_safetensors_dtype_name(d), dt);
        assert_int_equal(ndim, nd);
        for (int k = 0; k < nd; k++) assert_int_equal(shape[k], atoll(strtok_r(NULL, " \n", &save)));
        char *want = strtok_r(NULL, " \n", &save);
        uint8_t dg[32];
        char hex[65];
        mia__sha256(mia_safetensors_data(st, (size_t)i), mia_safetensors_nbytes(st, (size_t)i), dg);
        mia__sha256_hex(dg, hex);
        assert_string_equal(hex, want);
        lines++;
    }
    fclose(m);
    assert_int_equal(lines, 21);
    assert_int_equal(mia_safetensors_count(st), lines);
    /* hand-set values */
    float rm[2];
    int64_t i = mia_safetensors_find(st, "layer1.0.bn1.running_mean");
    assert_true(i >= 0);
    memcpy(rm, mia_safetensors_data(st, (size_t)i), sizeof rm);
    assert_true(rm[0] == 0.25f && rm[1] == -1.5f);
    int64_t nbt;
    i = mia_safetensors_find(st, "bn1.num_batches_tracked");
    mia_safetensors_dtype d;
    int nd;
    assert_int_equal(mia_safetensors_info(st, (size_t)i, &d, &nd, NULL), MIA_OK);
    assert_int_equal(d, MIA_SAFETENSORS_I64);
    assert_int_equal(nd, 0);
    memcpy(&nbt, mia_safetensors_data(st, (size_t)i), 8);
    assert_int_equal(nbt, 1); /* one training-mode forward pass */
    i = mia_safetensors_find(st, "extra.noncontig"); /* transposed view: written row-major */
    float nc[6];
    memcpy(nc, mia_safetensors_data(st, (size_t)i), sizeof nc);
    const float want_nc[6] = {0, 3, 1, 4, 2, 5};
    assert_memory_equal(nc, want_nc, sizeof nc);
    assert_string_equal(mia_safetensors_metadata_get(st, "arch"), "tiny=net");
    assert_string_equal(mia_safetensors_metadata_get(st, "classes"), "10");
    mia_safetensors_free(st);
}

static void test_pt2safetensors__state_dict_round_trip(void **state)
{
    (void)state;
    assert_int_equal(sh("/usr/bin/python3 '%s/tests/pt2safetensors-fixture.py' '%s'", g_src, g_dir),
                     0);
    char out[400], out2[400];
    snprintf(out, sizeof out, "%s/model.safetensors", g_dir);
    snprintf(out2, sizeof out2, "%s/model-restricted.safetensors", g_dir);
    assert_int_equal(sh("/usr/bin/python3 '%s/tools/pt2safetensors.py' '%s/model.pt' '%s' "
                        "--metadata arch=tiny=net --metadata classes=10 >/dev/null",
                        g_src, g_dir, out), 0);
    check_against_manifest(out);
    /* the restricted-unpickler path (for torch without weights_only) gives the same bytes */
    assert_int_equal(sh("PT2SAFETENSORS_RESTRICTED=1 /usr/bin/python3 '%s/tools/pt2safetensors.py' "
                        "'%s/model.pt' '%s' --metadata classes=10 --metadata arch=tiny=net "
                        ">/dev/null", g_src, g_dir, out2), 0);
    uint8_t a[32], b[32];
    assert_int_equal(mia__sha256_file(out, a), MIA_OK);
    assert_int_equal(mia__sha256_file(out2, b), MIA_OK);
    assert_memory_equal(a, b, 32);
}

static void test_pt2safetensors__refuses_code_in_pickle(void **state)
{
    (void)state;
    char evil_out[400], pwned[400];
    snprintf(evil_out, sizeof evil_out, "%s/evil.safetensors", g_dir);
    snprintf(pwned, sizeof pwned, "%s/pwned", g_dir);
    for (int restricted = 0; restricted < 2; restricted++) {
        int rc = sh("%s/usr/bin/python3 '%s/tools/pt2safetensors.py' '%s/evil.pt' '%s' "
                    "2>/dev/null >/dev/null", restricted ? "PT2SAFETENSORS_RESTRICTED=1 " : "",
                    g_src, g_dir, evil_out);
        assert_int_not_equal(rc, 0);
        assert_int_not_equal(access(pwned, F_OK), 0);
        assert_int_not_equal(access(evil_out, F_OK), 0);
    }
}

int main(void)
{
    g_src = getenv("MIA_SOURCE_DIR");
    if (!g_src || system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
        fprintf(stderr, "skip: /usr/bin/python3 without torch (or MIA_SOURCE_DIR unset)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pt2safetensors__state_dict_round_trip),
        cmocka_unit_test(test_pt2safetensors__refuses_code_in_pickle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
