/* mia-attack on per-sample score files (fast; the model path is covered by test-attack-e2e in
 * the slow suite): every output is written, the JSON parses, the SVGs are XML, the summary
 * table's numbers equal the library's on the same scores, and the refusals and usage errors
 * exit 2 with a message. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <mia/mia.h>

#include "core/rng.h"

#define N 300
#define C 10

static char dir[64];
static char tool[512];

static int run(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Softmax rows of seeded logits; members get a boost on their label. Written as the score CSV
 * and kept (as read back by %.9g) for the oracle. */
static void make(const char *name, uint64_t seed, double boost, float *p, int32_t *y)
{
    mia_rng g;
    mia__rng_init(&g, seed, MIA_STREAM_ATTACK);
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# scores\nindex,label");
    for (int c = 0; c < C; c++) fprintf(f, ",score_%d", c);
    fprintf(f, "\n");
    for (int i = 0; i < N; i++) {
        double z[C], mx = -INFINITY, s = 0;
        y[i] = (int32_t)mia__rng_below(&g, C);
        for (int c = 0; c < C; c++) {
            z[c] = 2.0 * mia__rng_normal(&g) + (c == y[i] ? boost : 0.0);
            mx = fmax(mx, z[c]);
        }
        for (int c = 0; c < C; c++) s += exp(z[c] - mx);
        fprintf(f, "%d,%d", i, (int)y[i]);
        for (int c = 0; c < C; c++) {
            p[i * C + c] = (float)(exp(z[c] - mx) / s);
            fprintf(f, ",%.9g", (double)p[i * C + c]);
        }
        fprintf(f, "\n");
    }
    assert_int_equal(fclose(f), 0);
}

static void test_attack_tool__score_files(void **state)
{
    (void)state;
    static float p[4][N * C];
    static int32_t y[4][N];
    make("tm.csv", 1, 3.0, p[0], y[0]);
    make("sm.csv", 2, 3.0, p[1], y[1]);
    make("sn.csv", 3, 0.0, p[2], y[2]);
    make("tn.csv", 4, 0.0, p[3], y[3]);
    assert_int_equal(run("%s --target-member-scores %s/tm.csv --shadow-member-scores %s/sm.csv "
                         "--shadow-non-member-scores %s/sn.csv --non-member-scores test=%s/tn.csv "
                         "--attacks threshold,loss,entropy -o %s/out > %s/table.txt", tool, dir,
                         dir, dir, dir, dir, dir), 0);
    assert_int_equal(run("/usr/bin/python3 -m json.tool %s/out/attack_results.json >/dev/null",
                         dir), 0);
    const char *svgs[] = {"roc-threshold", "hist-threshold", "roc-loss", "hist-loss",
                          "roc-entropy", "hist-entropy"};
    for (int i = 0; i < 6; i++)
        assert_int_equal(run("/usr/bin/python3 -c 'import sys, xml.dom.minidom; "
                             "xml.dom.minidom.parse(sys.argv[1])' %s/out/%s.svg", dir, svgs[i]),
                         0);
    for (int i = 0; i < 3; i++) {
        const char *f[] = {"attack_results.csv", "scores.csv", "roc.csv"};
        assert_int_equal(run("test -s %s/out/%s", dir, f[i]), 0);
    }
    /* the table's LOSS row equals the library on the same scores */
    mia_score_set sm = {p[1], y[1], N, C}, sn = {p[2], y[2], N, C};
    mia_score_set tm = {p[0], y[0], N, C}, tn = {p[3], y[3], N, C};
    mia_attack *a = NULL;
    mia_attack_result *r = NULL;
    assert_int_equal(mia_attack_fit(&a, MIA_ATTACK_LOSS, &sm, &sn, NULL), MIA_OK);
    assert_int_equal(mia_attack_evaluate(&r, a, &tm, &tn), MIA_OK);
    const mia_attack_metrics *m = mia_attack_result_metrics(r);
    char want[256], path[256], line[512];
    snprintf(want, sizeof want, "%7.4f %9.4f %7.4f %7.4f  %.4f [%.4f, %.4f]", m->fpr,
             m->precision, m->recall, m->auroc, m->tpr_at_fpr[1].tpr, m->tpr_at_fpr[1].ci_low,
             m->tpr_at_fpr[1].ci_high);
    snprintf(path, sizeof path, "%s/table.txt", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    bool found = false;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "LOSS Attack", 11) == 0) {
            found = true;
            if (!strstr(line, want)) fail_msg("table row '%s' lacks '%s'", line, want);
        }
    fclose(f);
    assert_true(found);
    mia_attack_result_free(r);
    mia_attack_free(a);
}

static void test_attack_tool__refusals_and_usage(void **state)
{
    (void)state;
    /* the target's scores as the shadow's: refused */
    assert_int_equal(run("%s --target-member-scores %s/tm.csv --shadow-member-scores %s/tm.csv "
                         "--shadow-non-member-scores %s/sn.csv --non-member-scores test=%s/tn.csv "
                         "-o %s/x 2> %s/err.txt", tool, dir, dir, dir, dir, dir, dir), 2);
    assert_int_equal(run("grep -q 'refusing to fit attack statistics on the target model' "
                         "%s/err.txt", dir), 0);
    assert_int_equal(run("%s --target-member-scores %s/tm.csv -o %s/x 2> %s/err.txt", tool, dir,
                         dir, dir), 2);
    assert_int_equal(run("grep -q 'score mode needs' %s/err.txt", dir), 0);
    assert_int_equal(run("%s --target-member-scores %s/tm.csv --shadow-member-scores %s/sm.csv "
                         "--shadow-non-member-scores %s/sn.csv --non-member-scores test=%s/tn.csv "
                         "--attacks threshold,bogus -o %s/x 2> %s/err.txt", tool, dir, dir, dir,
                         dir, dir, dir), 2);
    assert_int_equal(run("grep -q \"unknown attack 'bogus'\" %s/err.txt", dir), 0);
    /* a malformed score file names the file and line */
    assert_int_equal(run("printf 'index,label,score_0,score_1\\n0,1,0.5\\n' > %s/bad.csv", dir),
                     0);
    assert_int_equal(run("%s --target-member-scores %s/bad.csv --shadow-member-scores %s/sm.csv "
                         "--shadow-non-member-scores %s/sn.csv --non-member-scores test=%s/tn.csv "
                         "-o %s/x 2> %s/err.txt", tool, dir, dir, dir, dir, dir, dir), 1);
    assert_int_equal(run("grep -q 'bad.csv:2: malformed row' %s/err.txt", dir), 0);
}

static int setup(void **state)
{
    (void)state;
    const char *bd = getenv("MIA_BUILD_DIR");
    snprintf(tool, sizeof tool, "%s/tools/mia-attack", bd ? bd : ".");
    snprintf(dir, sizeof dir, "/tmp/mia-attack-tool-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return run("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attack_tool__score_files),
        cmocka_unit_test(test_attack_tool__refusals_and_usage),
    };
    return cmocka_run_group_tests_name("attack-tool", tests, setup, teardown);
}
