/*
 * Helpers shared by the cmocka unit tests: the error-assertion macro and a private temporary
 * directory per test program. Header-only (static functions); include after <cmocka.h>.
 */
#ifndef MIA_TEST_UTIL_H
#define MIA_TEST_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mia/status.h>

/* The call returns `status` and the thread's last error message contains `substr`. */
#define ASSERT_ERR(call, status, substr)                                                       \
    do {                                                                                       \
        assert_int_equal((call), (status));                                                    \
        if (!strstr(mia_last_error(), (substr)))                                               \
            fail_msg("message \"%s\" lacks \"%s\"", mia_last_error(), (substr));               \
    } while (0)

/* Create a private directory $TMPDIR/mia-test-<tag>-<6 random chars> (or under /tmp) into dir,
 * with mkdtemp (whose template must end in six X); 0 on success, -1 on failure. */
static inline int mia_test_tmpdir_create(char *dir, size_t cap, const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, cap, "%s/mia-test-%s-XXXXXX", t && *t ? t : "/tmp", tag);
    return mkdtemp(dir) ? 0 : -1;
}

/* Remove the files directly inside dir (not dot-files' subtrees), then dir itself. */
static inline void mia_test_tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

#endif
