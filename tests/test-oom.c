/*
 * B8 out-of-memory injection: for each public entry point in the list below, fail the N-th
 * allocation made through libmia's allocator (mia__alloc_fail_after) for N = 1, 2, ... until
 * the call makes no injected failure, once with transient failures (only the N-th fails) and
 * once with persistent ones (the N-th and all later fail). Every failed call must return
 * MIA_ERR_NOMEM with a message, leak nothing (mia__alloc_live() back to its baseline), leave
 * *out NULL and leave no partial output file (the output directory stays empty). The test prints
 * the number of injection points hit per entry point.
 */
#include <dirent.h>
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

#include "mia-internal.h"
#include "mia/attack.h"
#include "mia/backend.h"
#include "mia/dataset.h"
#include "mia/model.h"
#include "mia/report.h"
#include "mia/safetensors.h"
#include "mia/tensor.h"

static char g_dir[256];     /* inputs */
static char g_outdir[300];  /* outputs: must stay empty after every failed call */
static mia_backend *g_be;

typedef mia_status (*oom_fn)(void *ctx);

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void clear_outdir(void)
{
    DIR *d = opendir(g_outdir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", g_outdir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

/* Drive fn through every injection point; returns the number of points hit. */
static long run_oom(const char *name, oom_fn fn, void *ctx)
{
    long points = 0;
    for (int persistent = 0; persistent < 2; persistent++) {
        for (long n = 1;; n++) {
            clear_outdir();
            int64_t base = mia__alloc_live();
            mia__alloc_fail_after(n, persistent);
            mia_status s = fn(ctx);
            long inj = mia__alloc_injected();
            mia__alloc_fail_after(0, 0);
            if (inj == 0) {
                if (s != MIA_OK)
                    fail_msg("%s: fails without injection: %s (%s)", name, mia_status_str(s),
                             mia_last_error());
                if (mia__alloc_live() != base) fail_msg("%s: leaks on success", name);
                if (!persistent) points += n - 1;
                break;
            }
            if (s == MIA_OK) { /* recovered from the failure (a fallback path): fine */
                if (mia__alloc_live() != base)
                    fail_msg("%s: leak after recovering from allocation %ld", name, n);
                continue;
            }
            if (s != MIA_ERR_NOMEM)
                fail_msg("%s: allocation %ld%s failed: status %s, not MIA_ERR_NOMEM (%s)", name,
                         n, persistent ? " (persistent)" : "", mia_status_str(s),
                         mia_last_error());
            if (!mia_last_error()[0]) fail_msg("%s: allocation %ld: no message", name, n);
            if (mia__alloc_live() != base)
                fail_msg("%s: allocation %ld%s failed: %lld blocks leaked", name, n,
                         persistent ? " (persistent)" : "",
                         (long long)(mia__alloc_live() - base));
            if (dir_entries(g_outdir) != 0)
                fail_msg("%s: allocation %ld failed but left a file in the output directory",
                         name, n);
            if (n > 200000) fail_msg("%s: no end to injection points", name);
        }
    }
    printf("oom: %-28s %6ld injection points\n", name, points);
    return points;
}

/* ---- entry points ---------------------------------------------------------------------------- */

static mia_status e_backend(void *ctx)
{
    (void)ctx;
    mia_backend *be = (mia_backend *)0x1;
    mia_status s = mia_backend_create(&be, "ref", NULL);
    if (s == MIA_OK) mia_backend_free(be);
    else if (be) fail_msg("backend: *out not NULL on failure");
    return s;
}

static mia_status e_tensor(void *ctx)
{
    (void)ctx;
    mia_tensor *t = (mia_tensor *)0x1;
    int64_t shape[3] = {4, 5, 6};
    mia_status s = mia_tensor_create(&t, g_be, MIA_DTYPE_F32, 3, shape);
    if (s == MIA_OK) mia_tensor_free(t);
    else if (t) fail_msg("tensor: *out not NULL on failure");
    return s;
}

static const float g_w[6] = {1, 2, 3, 4, 5, 6};

static mia_status build_writer(mia_safetensors_writer **w)
{
    int64_t shape[2] = {2, 3};
    MIA_TRY(mia_safetensors_writer_create(w));
    mia_status s = mia_safetensors_writer_add(*w, "layer.weight", MIA_SAFETENSORS_F32, 2, shape,
                                              g_w);
    if (s == MIA_OK) s = mia_safetensors_writer_add(*w, "layer.bias", MIA_SAFETENSORS_F32, 1,
                                                    shape, g_w);
    if (s == MIA_OK) s = mia_safetensors_writer_set_metadata(*w, "format", "pt");
    if (s != MIA_OK) {
        mia_safetensors_writer_free(*w);
        *w = NULL;
    }
    return s;
}

static mia_status e_st_write(void *ctx)
{
    (void)ctx;
    mia_safetensors_writer *w = NULL;
    MIA_TRY(build_writer(&w));
    char p[400];
    snprintf(p, sizeof p, "%s/w.safetensors", g_outdir);
    mia_status s = mia_safetensors_writer_write(w, p);
    mia_safetensors_writer_free(w);
    return s;
}

static mia_status e_st_open(void *ctx)
{
    const char *path = ctx;
    mia_safetensors *st = (mia_safetensors *)0x1;
    mia_status s = mia_safetensors_open(&st, path, NULL);
    if (s == MIA_OK) mia_safetensors_free(st);
    else if (st) fail_msg("safetensors_open: *out not NULL on failure");
    return s;
}

static mia_status e_idx(void *ctx)
{
    const char *spec = ctx;
    mia_dataset *d = (mia_dataset *)0x1;
    mia_status s = mia_dataset_load(&d, spec, NULL);
    if (s == MIA_OK) mia_dataset_free(d);
    else if (d) fail_msg("dataset_load: *out not NULL on failure");
    return s;
}

static mia_status e_subset(void *ctx)
{
    const mia_dataset *src = ctx;
    int64_t idx[3] = {2, 0, 2};
    mia_dataset *d = (mia_dataset *)0x1;
    mia_status s = mia_dataset_subset(&d, src, idx, 3);
    if (s == MIA_OK) mia_dataset_free(d);
    else if (d) fail_msg("dataset_subset: *out not NULL on failure");
    return s;
}

typedef struct {
    mia_score_set mem, non;
    mia_attack_kind kind;
    mia_attack *fitted;
    mia_attack_result *res;
} attack_ctx;

static mia_status e_fit(void *ctx)
{
    attack_ctx *c = ctx;
    mia_attack *a = (mia_attack *)0x1;
    mia_status s = mia_attack_fit(&a, c->kind, &c->mem, &c->non, NULL);
    if (s == MIA_OK) mia_attack_free(a);
    else if (a) fail_msg("attack_fit: *out not NULL on failure");
    return s;
}

static mia_status e_evaluate(void *ctx)
{
    attack_ctx *c = ctx;
    mia_attack_result *r = (mia_attack_result *)0x1;
    mia_status s = mia_attack_evaluate(&r, c->fitted, &c->mem, &c->non);
    if (s == MIA_OK) mia_attack_result_free(r);
    else if (r) fail_msg("attack_evaluate: *out not NULL on failure");
    return s;
}

static mia_status make_report(mia_report **rep, const attack_ctx *c)
{
    mia_report_provenance p;
    mia_report_provenance_init(&p);
    p.seed = 7;
    p.config_hash = "c0ffee";
    MIA_TRY(mia_report_create(rep, &p));
    mia_status s = mia_report_add(*rep, "Original", c->res);
    if (s != MIA_OK) {
        mia_report_free(*rep);
        *rep = NULL;
    }
    return s;
}

static mia_status e_report_csv(void *ctx)
{
    mia_report *rep = NULL;
    MIA_TRY(make_report(&rep, ctx));
    char p[400];
    snprintf(p, sizeof p, "%s/r.csv", g_outdir);
    mia_status s = mia_report_write_csv(rep, p, true);
    mia_report_free(rep);
    return s;
}

static mia_status e_report_json(void *ctx)
{
    mia_report *rep = NULL;
    MIA_TRY(make_report(&rep, ctx));
    char p[400];
    snprintf(p, sizeof p, "%s/r.json", g_outdir);
    mia_status s = mia_report_write_json(rep, p);
    mia_report_free(rep);
    return s;
}

static mia_status e_report_scores(void *ctx)
{
    mia_report *rep = NULL;
    MIA_TRY(make_report(&rep, ctx));
    char p[400];
    snprintf(p, sizeof p, "%s/scores.csv", g_outdir);
    mia_status s = mia_report_write_scores_csv(rep, p);
    mia_report_free(rep);
    return s;
}

static mia_status e_model(void *ctx)
{
    const char *arch = ctx;
    mia_model_opts o;
    mia_model_opts_init(&o);
    if (!strcmp(arch, "mlp")) {
        o.in_channels = 6;
        o.n_classes = 3;
    }
    mia_model *m = (mia_model *)0x1;
    mia_status s = mia_model_create(&m, g_be, arch, &o);
    if (s == MIA_OK) mia_model_free(m);
    else if (m) fail_msg("model_create(%s): *out not NULL on failure", arch);
    return s;
}

/* Model creation + one eval forward of the graph (the forward's buffers are cached in the
 * model, so the model is built inside the measured call). */
static mia_status e_forward(void *ctx)
{
    (void)ctx;
    mia_model_opts o;
    mia_model_opts_init(&o);
    o.in_channels = 6;
    o.n_classes = 3;
    mia_model *m = NULL;
    mia_tensor *x = NULL;
    float out[4 * 3];
    MIA_TRY(mia_model_create(&m, g_be, "mlp", &o));
    int64_t shape[2] = {4, 6};
    mia_status s = mia_tensor_create(&x, g_be, MIA_DTYPE_F32, 2, shape);
    if (s == MIA_OK) s = mia_tensor_fill_f32(x, 0.25f);
    if (s == MIA_OK) s = mia_model_predict(m, x, MIA_PREDICT_SOFTMAX, out);
    if (s == MIA_OK)
        for (int i = 0; i < 4; i++) {
            float sum = out[3 * i] + out[3 * i + 1] + out[3 * i + 2];
            if (!(sum > 0.999f && sum < 1.001f)) fail_msg("forward: softmax row %d sums to %g", i,
                                                          (double)sum);
        }
    mia_tensor_free(x);
    mia_model_free(m);
    return s;
}

/* ---- fixtures -------------------------------------------------------------------------------- */

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/mia-test-oom-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    snprintf(g_outdir, sizeof g_outdir, "%s/out", g_dir);
    if (mkdir(g_outdir, 0700) != 0) return -1;
    return mia_backend_create(&g_be, "ref", NULL) == MIA_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mia_backend_free(g_be);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static long g_total;

static void test_oom__core(void **state)
{
    (void)state;
    g_total += run_oom("mia_backend_create(ref)", e_backend, NULL);
    g_total += run_oom("mia_tensor_create", e_tensor, NULL);
}

static void test_oom__safetensors(void **state)
{
    (void)state;
    g_total += run_oom("safetensors writer (file)", e_st_write, NULL);
    /* a valid file outside the output directory */
    mia_safetensors_writer *w = NULL;
    assert_int_equal(build_writer(&w), MIA_OK);
    char p[400];
    snprintf(p, sizeof p, "%s/in.safetensors", g_dir);
    assert_int_equal(mia_safetensors_writer_write(w, p), MIA_OK);
    mia_safetensors_writer_free(w);
    g_total += run_oom("mia_safetensors_open", e_st_open, p);
}

static void test_oom__dataset(void **state)
{
    (void)state;
    /* IDX: 3 images of 4x5 + 3 labels */
    uint8_t img[16 + 60], lab[8 + 3];
    const uint8_t ih[16] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5};
    const uint8_t lh[8] = {0, 0, 8, 1, 0, 0, 0, 3};
    memcpy(img, ih, 16);
    for (int i = 0; i < 60; i++) img[16 + i] = (uint8_t)(i * 7);
    memcpy(lab, lh, 8);
    lab[8] = 1;
    lab[9] = 0;
    lab[10] = 2;
    char pi[400], pl[400], spec[900];
    snprintf(pi, sizeof pi, "%s/img-idx3-ubyte", g_dir);
    snprintf(pl, sizeof pl, "%s/lab-idx1-ubyte", g_dir);
    write_bytes(pi, img, sizeof img);
    write_bytes(pl, lab, sizeof lab);
    snprintf(spec, sizeof spec, "idx:%s,%s", pi, pl);
    g_total += run_oom("mia_dataset_load(idx)", e_idx, spec);
    mia_dataset *d = NULL;
    assert_int_equal(mia_dataset_load(&d, spec, NULL), MIA_OK);
    g_total += run_oom("mia_dataset_subset", e_subset, d);
    mia_dataset_free(d);
}

static void test_oom__attack_report(void **state)
{
    (void)state;
    enum { N = 12, K = 3 };
    static float pm[N * K], pn[N * K];
    static int32_t lm[N], ln[N];
    for (int i = 0; i < N; i++) {
        float a = 0.5f + 0.04f * (float)i, b = 0.2f + 0.03f * (float)i;
        pm[i * K] = a;
        pm[i * K + 1] = (1 - a) / 2;
        pm[i * K + 2] = (1 - a) / 2;
        pn[i * K] = b;
        pn[i * K + 1] = 1 - b - 0.1f;
        pn[i * K + 2] = 0.1f;
        lm[i] = 0;
        ln[i] = i % K;
    }
    attack_ctx c = {{pm, lm, N, K}, {pn, ln, N, K}, MIA_ATTACK_THRESHOLD, NULL, NULL};
    const mia_attack_kind kinds[] = {MIA_ATTACK_THRESHOLD, MIA_ATTACK_ENTROPY, MIA_ATTACK_LOSS};
    const char *names[] = {"mia_attack_fit(threshold)", "mia_attack_fit(entropy)",
                           "mia_attack_fit(loss)"};
    for (int k = 0; k < 3; k++) {
        c.kind = kinds[k];
        g_total += run_oom(names[k], e_fit, &c);
    }
    c.kind = MIA_ATTACK_THRESHOLD;
    assert_int_equal(mia_attack_fit(&c.fitted, c.kind, &c.mem, &c.non, NULL), MIA_OK);
    g_total += run_oom("mia_attack_evaluate", e_evaluate, &c);
    assert_int_equal(mia_attack_evaluate(&c.res, c.fitted, &c.mem, &c.non), MIA_OK);
    g_total += run_oom("mia_report_write_csv", e_report_csv, &c);
    g_total += run_oom("mia_report_write_json", e_report_json, &c);
    g_total += run_oom("mia_report_write_scores_csv", e_report_scores, &c);
    mia_attack_result_free(c.res);
    mia_attack_free(c.fitted);
}

static void test_oom__model(void **state)
{
    (void)state;
    g_total += run_oom("mia_model_create(mlp)", e_model, "mlp");
    g_total += run_oom("mia_model_create(salem_cnn)", e_model, "salem_cnn");
    g_total += run_oom("mlp create + predict (graph fwd)", e_forward, NULL);
    printf("oom: total %ld injection points\n", g_total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom__core),
        cmocka_unit_test(test_oom__safetensors),
        cmocka_unit_test(test_oom__dataset),
        cmocka_unit_test(test_oom__attack_report),
        cmocka_unit_test(test_oom__model),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
