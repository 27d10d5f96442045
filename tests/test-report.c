/* Report outputs: paper-layout CSV bytes vs a hand-computed expected file, extra columns,
 * JSON provenance parsed back with jansson (NaN -> null + flag), ROC/score CSVs, SVG
 * well-formedness (xmllint / rsvg-convert when installed), error paths. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "attack/attack-impl.h"
#include <mia/attack.h>
#include <mia/report.h>

typedef struct fx {
    char dir[64];
    mia_attack *atk;
    mia_attack_result *r1, *r2;
    mia_report *rep;
} fx;

/* Hand-computed case (see the expected CSV): members {.9 .8 .6 .4}, tau = 0.8 by Youden. */
static float mem[4] = {0.9f, 0.8f, 0.6f, 0.4f};
static float non1[4] = {0.7f, 0.5f, 0.3f, 0.2f};
static float non2[4] = {0.95f, 0.85f, 0.1f, 0.1f};
static const char *set2 = "SVHN, \"x\"";

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mia-test-report-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    mia_score_set m = {mem, NULL, 4, 1}, n1 = {non1, NULL, 4, 1}, n2 = {non2, NULL, 4, 1};
    if (mia_attack_fit(&f->atk, MIA_ATTACK_THRESHOLD, &m, &n1, NULL) != MIA_OK) return -1;
    if (mia_attack_evaluate(&f->r1, f->atk, &m, &n1) != MIA_OK) return -1;
    if (mia_attack_evaluate(&f->r2, f->atk, &m, &n2) != MIA_OK) return -1;
    mia_report_hash ds[2] = {{"cifar10-train", "aa11"}, {"svhn-test", "bb22"}};
    mia_report_hash md[2] = {{"target", "cc33"}, {"shadow", "dd44"}};
    mia_report_provenance p;
    mia_report_provenance_init(&p);
    p.seed = 1234;
    p.config_hash = "ee55";
    p.keep_mask_hash = "ff66";
    p.datasets = ds;
    p.n_datasets = 2;
    p.models = md;
    p.n_models = 2;
    if (mia_report_create(&f->rep, &p) != MIA_OK) return -1;
    if (mia_report_add(f->rep, "Original", f->r1) != MIA_OK) return -1;
    if (mia_report_add(f->rep, set2, f->r2) != MIA_OK) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    mia_report_free(f->rep);
    mia_attack_result_free(f->r1);
    mia_attack_result_free(f->r2);
    mia_attack_free(f->atk);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) return -1;
    free(f);
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, fp);
    fclose(fp);
    b[got] = 0;
    if (len) *len = got;
    return b;
}

static void test_report__paper_csv_bytes(void **state)
{
    fx *f = *state;
    char path[256], exp_path[1024];
    snprintf(path, sizeof path, "%s/attack_results.csv", f->dir);
    assert_int_equal(mia_report_write_csv(f->rep, path, false), MIA_OK);
    const char *dir = getenv("MIA_TEST_DATA");
    snprintf(exp_path, sizeof exp_path, "%s/metrics/report-expected.csv", dir ? dir : "tests/data");
    size_t n1, n2;
    char *got = slurp(path, &n1), *want = slurp(exp_path, &n2);
    assert_non_null(got);
    assert_non_null(want);
    if (n1 != n2 || memcmp(got, want, n1) != 0) fail_msg("CSV differs:\n%s\nexpected:\n%s", got, want);
    free(got);
    free(want);
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++) n += *s == c;
    return n;
}

static void test_report__extra_columns(void **state)
{
    fx *f = *state;
    char path[256];
    snprintf(path, sizeof path, "%s/extra.csv", f->dir);
    assert_int_equal(mia_report_write_csv(f->rep, path, true), MIA_OK);
    char *got = slurp(path, NULL);
    assert_non_null(got);
    /* header: 31 paper cells + 8 + 9 extra Threshold cells = 48 cells, 47 commas */
    char *eol = strstr(got, "\r\n");
    assert_non_null(eol);
    *eol = 0;
    assert_int_equal(count_char(got, ','), 47);
    assert_non_null(strstr(got, "Threshold Attack TPR@0.1%FPR CI High"));
    char *row = eol + 2;
    assert_true(strncmp(row, "Original,1.0000,0.2500,0.8125", 29) == 0);
    /* N = 4 non-members: 10% FPR is below 1/4 -> not resolvable, never a number */
    assert_non_null(strstr(row, ",1,0,3,4,4,4,not resolvable,not resolvable,not resolvable,"));
    free(got);
}

static void test_report__json_provenance_roundtrip(void **state)
{
    fx *f = *state;
    char path[256];
    snprintf(path, sizeof path, "%s/results.json", f->dir);
    double saved = f->r2->m.aupr;
    f->r2->m.aupr = NAN; /* NaN must become null plus a flag */
    assert_int_equal(mia_report_write_json(f->rep, path), MIA_OK);
    f->r2->m.aupr = saved;
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) fail_msg("JSON does not parse: %s line %d", err.text, err.line);
    assert_string_equal(json_string_value(json_object_get(root, "libmia_version")),
                        mia_version_string());
    json_t *p = json_object_get(root, "provenance");
    assert_int_equal(json_integer_value(json_object_get(p, "seed")), 1234);
    assert_string_equal(json_string_value(json_object_get(p, "config_hash")), "ee55");
    assert_string_equal(json_string_value(json_object_get(p, "keep_mask_hash")), "ff66");
    json_t *ds = json_object_get(p, "datasets"), *md = json_object_get(p, "models");
    assert_int_equal(json_array_size(ds), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ds, 1), "name")),
                        "svhn-test");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ds, 1), "sha256")),
                        "bb22");
    assert_int_equal(json_array_size(md), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(md, 0), "sha256")),
                        "cc33");
    assert_true(json_is_false(json_object_get(p, "cross_source")));
    json_t *res = json_object_get(root, "results");
    assert_int_equal(json_array_size(res), 2);
    json_t *e0 = json_array_get(res, 0), *e1 = json_array_get(res, 1);
    assert_string_equal(json_string_value(json_object_get(e0, "non_member_set")), "Original");
    assert_string_equal(json_string_value(json_object_get(e1, "non_member_set")), set2);
    assert_string_equal(json_string_value(json_object_get(e0, "attack")), "Threshold Attack");
    json_t *c = json_object_get(e0, "counts");
    assert_int_equal(json_integer_value(json_object_get(c, "n_members")), 4);
    assert_int_equal(json_integer_value(json_object_get(c, "n_non_members")), 4);
    assert_int_equal(json_integer_value(json_object_get(c, "tp")), 1);
    assert_int_equal(json_integer_value(json_object_get(c, "tn")), 4);
    /* doubles round-trip exactly (17 significant digits) */
    json_t *m0 = json_object_get(e0, "metrics");
    assert_true(json_real_value(json_object_get(m0, "auroc")) == f->r1->m.auroc);
    assert_true(json_real_value(json_object_get(m0, "aupr")) == f->r1->m.aupr);
    assert_true(json_real_value(json_object_get(m0, "tn_mmps")) == f->r1->m.tn_mmps);
    assert_int_equal(json_array_size(json_object_get(e0, "null_fields")), 0);
    json_t *m1 = json_object_get(e1, "metrics");
    assert_true(json_is_null(json_object_get(m1, "aupr")));
    json_t *nf = json_object_get(e1, "null_fields");
    assert_int_equal(json_array_size(nf), 1);
    assert_string_equal(json_string_value(json_array_get(nf, 0)), "aupr");
    assert_true(json_is_true(json_object_get(root, "has_null")));
    json_t *t0 = json_array_get(json_object_get(e0, "tpr_at_fpr"), 0);
    assert_true(json_is_false(json_object_get(t0, "resolvable")));
    assert_true(json_is_null(json_object_get(t0, "tpr")));
    assert_int_equal(json_integer_value(json_object_get(t0, "n_non_members")), 4);
    json_decref(root);
}

static int count_lines(const char *s, const char *prefix, size_t plen)
{
    int n = 0;
    for (const char *l = s; *l; ) {
        if (strncmp(l, prefix, plen) == 0) n++;
        const char *e = strchr(l, '\n');
        if (!e) break;
        l = e + 1;
    }
    return n;
}

static void test_report__roc_and_scores_csv(void **state)
{
    fx *f = *state;
    char path[256];
    snprintf(path, sizeof path, "%s/roc.csv", f->dir);
    assert_int_equal(mia_report_write_roc_csv(f->rep, path), MIA_OK);
    char *got = slurp(path, NULL);
    assert_non_null(strstr(got, "# seed=1234\n"));
    assert_non_null(strstr(got, "# model shadow sha256=dd44\n"));
    assert_non_null(strstr(got, "\nnon_member_set,attack,threshold,fpr,tpr,tp,fp\n"));
    assert_non_null(strstr(got, "\nOriginal,Threshold Attack,inf,0,0,0,0\n"));
    assert_non_null(strstr(got, "\nOriginal,Threshold Attack,0.800000012,0,0.5,2,0\n"));
    assert_int_equal(count_lines(got, "Original,", 9), (int)f->r1->roc_n);
    assert_int_equal(count_lines(got, "\"SVHN, \"\"x\"\"\",", 14), (int)f->r2->roc_n);
    free(got);
    snprintf(path, sizeof path, "%s/scores.csv", f->dir);
    assert_int_equal(mia_report_write_scores_csv(f->rep, path), MIA_OK);
    got = slurp(path, NULL);
    assert_non_null(strstr(got, "\nOriginal,Threshold Attack,member,0,0.899999976,1,0.899999976\n"));
    assert_non_null(strstr(got, "\nOriginal,Threshold Attack,non_member,3,0.200000003,0,"));
    assert_int_equal(count_lines(got, "Original,", 9), 8);
    free(got);
}

static void check_svg(const char *path)
{
    size_t n;
    char *s = slurp(path, &n);
    assert_non_null(s);
    assert_true(strncmp(s, "<?xml", 5) == 0);
    assert_true(n > 7 && strcmp(s + n - 7, "</svg>\n") == 0);
    /* tiny well-formedness check: every '<' closes with '>' before the next '<' */
    int depth = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '<') depth++;
        if (*p == '>') depth--;
        assert_true(depth == 0 || depth == 1);
    }
    assert_int_equal(depth, 0);
    assert_non_null(strstr(s, "SVHN, &quot;x&quot;"));
    free(s);
    char cmd[512];
    if (access("/usr/bin/xmllint", X_OK) == 0) {
        snprintf(cmd, sizeof cmd, "/usr/bin/xmllint --noout '%s'", path);
        assert_int_equal(system(cmd), 0);
    }
    if (access("/usr/bin/rsvg-convert", X_OK) == 0) {
        snprintf(cmd, sizeof cmd, "/usr/bin/rsvg-convert -o '%s.png' '%s'", path, path);
        assert_int_equal(system(cmd), 0);
    }
}

/* The k-th curve (polyline) and the k-th legend swatch (a stroke-width="2" line) have the same
 * colour, for every k, and there are as many swatches as curves. */
static void check_legend_colors(const char *path)
{
    size_t n;
    char *s = slurp(path, &n);
    assert_non_null(s);
    char curve[16][16], swatch[16][16];
    int nc = 0, ns = 0;
    for (const char *p = s; (p = strstr(p, "<polyline")) != NULL; p++) {
        assert_true(nc < 16);
        assert_int_equal(sscanf(strstr(p, "stroke=\""), "stroke=\"%15[^\"]", curve[nc]), 1);
        nc++;
    }
    for (const char *p = s; (p = strstr(p, "<line")) != NULL; p++) {
        const char *end = strchr(p, '>');
        const char *w = strstr(p, "stroke-width=\"2\"");
        if (!w || w > end) continue;
        assert_true(ns < 16);
        assert_int_equal(sscanf(strstr(p, "stroke=\""), "stroke=\"%15[^\"]", swatch[ns]), 1);
        ns++;
    }
    assert_true(nc >= 2);
    assert_int_equal(nc, ns);
    for (int k = 0; k < nc; k++) assert_string_equal(curve[k], swatch[k]);
    free(s);
}

static void test_report__svg_well_formed(void **state)
{
    fx *f = *state;
    char path[256];
    snprintf(path, sizeof path, "%s/roc.svg", f->dir);
    assert_int_equal(mia_report_write_roc_svg(f->rep, MIA_ATTACK_THRESHOLD, path), MIA_OK);
    check_svg(path);
    check_legend_colors(path);
    snprintf(path, sizeof path, "%s/hist.svg", f->dir);
    assert_int_equal(mia_report_write_hist_svg(f->rep, MIA_ATTACK_THRESHOLD, path), MIA_OK);
    check_svg(path);
    check_legend_colors(path);
}

static void test_report__errors(void **state)
{
    fx *f = *state;
    assert_int_equal(mia_report_add(f->rep, "Original", f->r2), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "already has a Threshold Attack result"));
    assert_int_equal(mia_report_write_roc_svg(f->rep, MIA_ATTACK_ENTROPY, "/tmp/x.svg"),
                     MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "kind"));
    assert_int_equal(mia_report_write_csv(f->rep, "/nonexistent-dir/a.csv", false), MIA_ERR_IO);
    assert_non_null(strstr(mia_last_error(), "/nonexistent-dir/a.csv"));
    assert_int_equal(mia_report_write_json(f->rep, NULL), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "path"));
    mia_report *r = (mia_report *)0x1;
    mia_report_provenance p;
    mia_report_provenance_init(&p);
    p.n_models = 2;
    assert_int_equal(mia_report_create(&r, &p), MIA_ERR_INVALID);
    assert_null(r);
    assert_non_null(strstr(mia_last_error(), "prov.models"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report__paper_csv_bytes),
        cmocka_unit_test(test_report__extra_columns),
        cmocka_unit_test(test_report__json_provenance_roundtrip),
        cmocka_unit_test(test_report__roc_and_scores_csv),
        cmocka_unit_test(test_report__svg_well_formed),
        cmocka_unit_test(test_report__errors),
    };
    return cmocka_run_group_tests_name("report", tests, setup, teardown);
}
