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

#include "data/archive.h"
#include "data/image.h"
#include "mia-internal.h"
#include "mia/attack.h"
#include "mia/backend.h"
#include "mia/dataset.h"
#include "mia/experiment.h"
#include "mia/graph.h"
#include "mia/model.h"
#include "mia/report.h"
#include "mia/safetensors.h"
#include "mia/tensor.h"
#include "mia/train.h"
#include "tensor/tensor-impl.h"
#include "train/train-internal.h"

static char g_dir[256];     /* inputs */
static char g_outdir[300];  /* outputs: must stay empty after every failed call */
static char g_src[512];     /* $MIA_SOURCE_DIR: committed fuzz seeds and configs */
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
    printf("oom: %-38s %6ld injection points\n", name, points);
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

typedef struct {
    const uint8_t *data;
    size_t len;
    size_t count; /* tensors of a clean run */
} st_mem_ctx;

static mia_status e_st_open_memory(void *ctx)
{
    const st_mem_ctx *c = ctx;
    mia_safetensors *st = (mia_safetensors *)0x1;
    mia_status s = mia_safetensors_open_memory(&st, c->data, c->len, NULL);
    if (s == MIA_OK) {
        if (mia_safetensors_count(st) != c->count)
            fail_msg("safetensors_open_memory: %zu tensors, clean run %zu",
                     mia_safetensors_count(st), c->count);
        mia_safetensors_free(st);
    } else if (st) {
        fail_msg("safetensors_open_memory: *out not NULL on failure");
    }
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
    const char *src = getenv("MIA_SOURCE_DIR");
    snprintf(g_src, sizeof g_src, "%s", src ? src : ".");
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

/* ---- parsers with a fuzz target (tests/fuzz/fuzz-<target>.c): same entry points, inputs from
 * the committed valid seeds tests/fuzz/corpus/<target>/ok-* laid out as the fuzz target does ---- */

/* snprintf into a path buffer; a truncated path is a harness failure. */
__attribute__((format(printf, 3, 4))) static void pathf(char *buf, size_t cap, const char *fmt,
                                                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) fail_msg("path too long: %s", buf);
}

/* Read a whole file (plain malloc: not counted by the libmia allocator). */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b[n] = 0;
    *len = (size_t)n;
    return b;
}

/* A committed fuzz seed: tests/fuzz/corpus/<target>/<name>. */
static uint8_t *seed(const char *target, const char *name, size_t *len)
{
    char p[1024];
    pathf(p, sizeof p, "%s/tests/fuzz/corpus/%s/%s", g_src, target, name);
    return slurp(p, len);
}

/* A fresh input directory g_dir/<name>; returns its path in buf. */
static const char *in_dir(char *buf, size_t cap, const char *name)
{
    pathf(buf, cap, "%s/%s", g_dir, name);
    assert_int_equal(mkdir(buf, 0700), 0);
    return buf;
}

static void write_in(const char *dir, const char *name, const void *b, size_t n)
{
    char p[1024];
    pathf(p, sizeof p, "%s/%s", dir, name);
    write_bytes(p, b, n);
}

static uint16_t le16(const uint8_t *b) { return (uint16_t)(b[0] | b[1] << 8); }

/* Loads a dataset through one of the typed loaders; checks the result is non-empty. */
typedef struct {
    int kind; /* 0 idx, 1 cifar, 2 stl10, 3 svhn, 4 spec */
    char a[1024], b[1024];
    int classes;
    mia_dataset_load_opts o;
} ds_ctx;

static mia_status e_ds(void *ctx)
{
    ds_ctx *c = ctx;
    mia_dataset *d = (mia_dataset *)0x1;
    mia_status s;
    switch (c->kind) {
    case 0: s = mia_dataset_load_idx(&d, c->a, c->b[0] ? c->b : NULL, &c->o); break;
    case 1: s = mia_dataset_load_cifar(&d, c->classes, c->a, MIA_DATA_TEST, &c->o); break;
    case 2: s = mia_dataset_load_stl10(&d, c->a, MIA_DATA_TEST, &c->o); break;
    case 3: s = mia_dataset_load_svhn(&d, c->a, &c->o); break;
    default: s = mia_dataset_load(&d, c->a, &c->o); break;
    }
    if (s == MIA_OK) {
        if (!d || mia_dataset_n(d) <= 0) fail_msg("dataset loader: empty result for %s", c->a);
        mia_dataset_free(d);
    } else if (d) {
        fail_msg("dataset loader (%s): *out not NULL on failure", c->a);
    }
    return s;
}

typedef struct {
    char lists[1024];
    int64_t want_n;
} dogs_ctx;

static mia_status e_dogs(void *ctx)
{
    dogs_ctx *c = ctx;
    char **files = (char **)0x1;
    int32_t *labels = (int32_t *)0x1;
    int64_t n = -7;
    mia_status s = mia_dogs_list_load(&files, &labels, &n, c->lists, "train_list.mat");
    if (s == MIA_OK) {
        if (n != c->want_n || n <= 0) fail_msg("dogs list: %lld entries", (long long)n);
        mia_dogs_list_free(files, labels, n);
    } else if (files || labels) {
        fail_msg("mia_dogs_list_load: out-params not NULL on failure");
    }
    return s;
}

typedef struct {
    const uint8_t *data;
    size_t len;
    const char *name;
    long entries, bytes; /* of a clean run */
} arc_ctx;

static mia_status arc_take(const char *name, const uint8_t *data, size_t size, void *user)
{
    long *cnt = user;
    (void)name;
    (void)data;
    cnt[0]++;
    cnt[1] += (long)size;
    return MIA_OK;
}

static mia_status e_archive(void *ctx)
{
    arc_ctx *c = ctx;
    long cnt[2] = {0, 0};
    mia__error_begin();
    mia_status s = mia__archive_foreach_mem(c->data, c->len, c->name, NULL, NULL, arc_take, cnt);
    if (s == MIA_OK && (cnt[0] != c->entries || cnt[1] != c->bytes))
        fail_msg("archive %s: %ld entries / %ld bytes, clean run %ld / %ld", c->name, cnt[0],
                 cnt[1], c->entries, c->bytes);
    return s;
}

typedef struct {
    const uint8_t *data;
    size_t len;
    const char *name;
    int64_t w, h;
} img_ctx;

static mia_status e_image(void *ctx)
{
    img_ctx *c = ctx;
    mia__image_limits lim;
    mia__image_limits_init(&lim);
    for (int ch = 1; ch <= 3; ch += 2) {
        uint8_t *px = (uint8_t *)0x1;
        int64_t w = -1, h = -1;
        mia__error_begin();
        mia_status s = mia__image_decode(c->data, c->len, c->name, ch, &lim, &px, &w, &h);
        if (s != MIA_OK) {
            if (px) fail_msg("mia__image_decode(%s): pixels not NULL on failure", c->name);
            return s;
        }
        if (!px || w != c->w || h != c->h)
            fail_msg("mia__image_decode(%s): %lldx%lld", c->name, (long long)w, (long long)h);
        mia__free(px);
    }
    return MIA_OK;
}

typedef struct {
    const char *text;
    const char *base;
} cfg_ctx;

static mia_status e_config(void *ctx)
{
    cfg_ctx *c = ctx;
    mia_experiment_config *cf = (mia_experiment_config *)0x1;
    mia_status s = mia_experiment_config_parse(&cf, c->text, c->base);
    if (s == MIA_OK) mia_experiment_config_free(cf);
    else if (cf) fail_msg("mia_experiment_config_parse: *out not NULL on failure");
    return s;
}

typedef struct {
    char manifest[1024], data[1024];
    int64_t count; /* of a clean run */
    bool ok;
} man_ctx;

static mia_status e_manifest(void *ctx)
{
    man_ctx *c = ctx;
    mia_manifest_report *r = (mia_manifest_report *)0x1;
    mia_status s = mia_manifest_verify(&r, c->manifest, c->data);
    if (s == MIA_OK) {
        if (mia_manifest_report_count(r) != c->count || mia_manifest_report_ok(r) != c->ok)
            fail_msg("mia_manifest_verify: %lld entries (ok %d), clean run %lld (ok %d)",
                     (long long)mia_manifest_report_count(r), (int)mia_manifest_report_ok(r),
                     (long long)c->count, (int)c->ok);
        mia_manifest_report_free(r);
    } else if (r) {
        fail_msg("mia_manifest_verify: *out not NULL on failure");
    }
    return s;
}

/* Checkpoint resume into a model whose weights differ from the checkpoint's: a failed resume
 * must leave them untouched (no partial load); a successful one must load them all. */
typedef struct {
    char dir[1024];
    mia_model *m;
    mia_optim_state *os;
    float *before, *saved; /* the model's weights before resuming; the checkpoint's */
    size_t nf;
} ckpt_ctx;

static size_t model_floats(mia_model *m, float *dst)
{
    mia_graph *g = mia_model_graph(m);
    size_t k = 0;
    for (size_t i = 0; i < mia_graph_param_count(g); i++) {
        mia_param_info pi;
        assert_int_equal(mia_graph_param(g, i, &pi), MIA_OK);
        assert_int_equal(mia_tensor_dtype(pi.value), MIA_DTYPE_F32);
        int64_t n = mia_tensor_numel(pi.value);
        if (dst) memcpy(dst + k, mia__tensor_f32(pi.value), (size_t)n * sizeof(float));
        k += (size_t)n;
    }
    return k;
}

static void model_set_floats(mia_model *m, const float *src)
{
    mia_graph *g = mia_model_graph(m);
    size_t k = 0;
    for (size_t i = 0; i < mia_graph_param_count(g); i++) {
        mia_param_info pi;
        assert_int_equal(mia_graph_param(g, i, &pi), MIA_OK);
        int64_t n = mia_tensor_numel(pi.value);
        memcpy(mia__tensor_f32(pi.value), src + k, (size_t)n * sizeof(float));
        k += (size_t)n;
    }
}

static mia_status e_ckpt(void *ctx)
{
    ckpt_ctx *c = ctx;
    mia_ckpt_pos pos;
    memset(&pos, 0xab, sizeof pos);
    mia_ckpt_pos untouched = pos;
    bool found = true;
    char path[1024] = "";
    mia__error_begin();
    mia_status s = mia__ckpt_resume(c->dir, c->m, c->os, &pos, "cfg", "data", &found, path,
                                    sizeof path);
    float *now = malloc(c->nf * sizeof(float));
    assert_non_null(now);
    model_floats(c->m, now);
    if (s == MIA_OK) {
        if (!found || pos.global_step != 7 || pos.epoch != 1)
            fail_msg("mia__ckpt_resume: found %d, step %lld", (int)found,
                     (long long)pos.global_step);
        if (memcmp(now, c->saved, c->nf * sizeof(float)) != 0)
            fail_msg("mia__ckpt_resume: weights not those of the checkpoint");
        model_set_floats(c->m, c->before); /* next run starts from the same state */
    } else {
        if (found || memcmp(&pos, &untouched, sizeof pos) != 0)
            fail_msg("mia__ckpt_resume: found/pos written on failure");
        if (memcmp(now, c->before, c->nf * sizeof(float)) != 0)
            fail_msg("mia__ckpt_resume: failure left a partially loaded model");
    }
    free(now);
    return s;
}

/* ---- per-parser summary ------------------------------------------------------------------ */

static struct {
    const char *parser, *entry;
    long points;
} g_rows[64];
static int g_nrows;

static long parser_oom(const char *parser, const char *entry, oom_fn fn, void *ctx)
{
    long p = run_oom(entry, fn, ctx);
    assert_true(g_nrows < 64);
    g_rows[g_nrows].parser = parser;
    g_rows[g_nrows].entry = entry;
    g_rows[g_nrows].points = p;
    g_nrows++;
    return p;
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
    g_total += parser_oom("safetensors", "mia_safetensors_open", e_st_open, p);
    /* the committed fuzz seed with several tensors and metadata */
    size_t n;
    uint8_t *b = seed("safetensors", "ok-multi", &n);
    mia_safetensors *st = NULL;
    assert_int_equal(mia_safetensors_open_memory(&st, b, n, NULL), MIA_OK);
    st_mem_ctx c = {b, n, mia_safetensors_count(st)};
    mia_safetensors_free(st);
    assert_true(c.count > 1);
    g_total += parser_oom("safetensors", "mia_safetensors_open_memory(multi)", e_st_open_memory,
                          &c);
    free(b);
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
    g_total += parser_oom("IDX", "mia_dataset_load(idx:)", e_idx, spec);
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
}

static void test_oom__idx_gz(void **state)
{
    (void)state;
    size_t n;
    uint8_t *b = seed("idx", "ok-gz", &n);
    assert_true(n > 3);
    size_t ni = le16(b + 1);
    assert_true(ni <= n - 3 && b[3] == 0x1f && b[4] == 0x8b);
    static ds_ctx c;
    memset(&c, 0, sizeof c);
    char dir[1024];
    in_dir(dir, sizeof dir, "idx-gz");
    write_in(dir, "images-idx3-ubyte.gz", b + 3, ni);
    pathf(c.a, sizeof c.a, "%s/images-idx3-ubyte.gz", dir);
    if (b[0] & 1) {
        write_in(dir, "labels-idx1-ubyte", b + 3 + ni, n - 3 - ni);
        pathf(c.b, sizeof c.b, "%s/labels-idx1-ubyte", dir);
    }
    mia_dataset_load_opts_init(&c.o);
    if (b[0] & 2) c.o.max_images = 2;
    free(b);
    g_total += parser_oom("IDX (.gz)", "mia_dataset_load_idx(gz)", e_ds, &c);
}

/* CIFAR seed -> files; returns the loader path (folder or the .tar.gz). */
static void cifar_fixture(ds_ctx *c, const char *seed_name, const char *dirname)
{
    size_t n;
    uint8_t *b = seed("cifar", seed_name, &n);
    assert_true(n > 3);
    unsigned flags = b[0];
    char dir[1024];
    in_dir(dir, sizeof dir, dirname);
    memset(c, 0, sizeof *c);
    c->kind = 1;
    c->classes = (flags & 1) ? 100 : 10;
    mia_dataset_load_opts_init(&c->o);
    c->o.cifar100_coarse = (flags & 4) != 0;
    if (flags & 8) c->o.max_images = 3;
    if (flags & 2) {
        write_in(dir, "cifar-binary.tar.gz", b + 1, n - 1);
        pathf(c->a, sizeof c->a, "%s/cifar-binary.tar.gz", dir);
    } else {
        size_t nr = le16(b + 1);
        assert_true(nr <= n - 3);
        write_in(dir, c->classes == 10 ? "test_batch.bin" : "test.bin", b + 3, nr);
        write_in(dir, c->classes == 10 ? "batches.meta.txt"
                                        : (c->o.cifar100_coarse ? "coarse_label_names.txt"
                                                                : "fine_label_names.txt"),
                 b + 3 + nr, n - 3 - nr);
        pathf(c->a, sizeof c->a, "%s", dir);
    }
    free(b);
}

static void test_oom__cifar(void **state)
{
    (void)state;
    static ds_ctx c;
    cifar_fixture(&c, "ok-10", "cifar10");
    g_total += parser_oom("CIFAR-10 binary", "mia_dataset_load_cifar(folder)", e_ds, &c);
    cifar_fixture(&c, "ok-10-tgz", "cifar10-tgz");
    g_total += parser_oom("CIFAR-10 binary", "mia_dataset_load_cifar(.tar.gz)", e_ds, &c);
    cifar_fixture(&c, "ok-100-tgz", "cifar100-tgz");
    g_total += parser_oom("CIFAR-100 binary", "mia_dataset_load_cifar(100,.tar.gz)", e_ds, &c);
    /* the spec string path */
    cifar_fixture(&c, "ok-100-fine", "cifar100");
    char spec[1100];
    pathf(spec, sizeof spec, "cifar100:%s:test", c.a);
    pathf(c.a, sizeof c.a, "%s", spec);
    c.kind = 4;
    g_total += parser_oom("CIFAR-100 binary", "mia_dataset_load(cifar100:)", e_ds, &c);
}

#define STL_IMG (3 * 96 * 96)

static void test_oom__stl10(void **state)
{
    (void)state;
    size_t n;
    uint8_t *b = seed("stl10", "ok-1", &n);
    assert_true(n > 4);
    unsigned flags = b[0];
    long xs = (long)(flags % 4) * STL_IMG + (int8_t)b[1];
    assert_true(xs > 0);
    size_t ny = le16(b + 2);
    assert_true(ny <= n - 4);
    char root[1024], dir[1100];
    in_dir(root, sizeof root, "stl10");
    pathf(dir, sizeof dir, "%s", root);
    if (flags & 8) in_dir(dir, sizeof dir, "stl10/stl10_binary");
    uint8_t *x = malloc((size_t)xs);
    assert_non_null(x);
    for (long i = 0; i < xs; i++) x[i] = b[(size_t)i % n];
    write_in(dir, "test_X.bin", x, (size_t)xs);
    free(x);
    write_in(dir, "test_y.bin", b + 4, ny);
    bool has_names = n - 4 > ny;
    if (has_names) write_in(dir, "class_names.txt", b + 4 + ny, n - 4 - ny);
    static ds_ctx c;
    memset(&c, 0, sizeof c);
    c.kind = 2;
    pathf(c.a, sizeof c.a, "%s", root);
    mia_dataset_load_opts_init(&c.o);
    if (flags & 4) c.o.max_images = 1;
    free(b);
    g_total += parser_oom("STL-10 binary", "mia_dataset_load_stl10", e_ds, &c);
    /* the same files as the official stl10_binary.tar.gz lays them out (GNU tar) */
    char cmd[4096];
    pathf(cmd, sizeof cmd,
          "tar -C '%s' -czf '%s/stl10_binary.tar.gz' --transform 's,^,stl10_binary/,' "
          "test_X.bin test_y.bin%s",
          dir, g_dir, has_names ? " class_names.txt" : "");
    assert_int_equal(system(cmd), 0);
    c.kind = 4;
    pathf(c.a, sizeof c.a, "stl10:%s/stl10_binary.tar.gz:test", g_dir);
    g_total += parser_oom("STL-10 binary", "mia_dataset_load(stl10:.tar.gz)", e_ds, &c);
}

static void test_oom__mat(void **state)
{
    (void)state;
    size_t n;
    char dir[1024];
    /* SVHN */
    uint8_t *b = seed("mat", "ok-svhn", &n);
    assert_true(n > 1 && b[0] % 3 == 0);
    in_dir(dir, sizeof dir, "svhn");
    write_in(dir, "test_32x32.mat", b + 1, n - 1);
    static ds_ctx c;
    memset(&c, 0, sizeof c);
    c.kind = 3;
    pathf(c.a, sizeof c.a, "%s/test_32x32.mat", dir);
    mia_dataset_load_opts_init(&c.o);
    if (b[0] & 4) c.o.max_images = 2;
    free(b);
    g_total += parser_oom(".mat (SVHN)", "mia_dataset_load_svhn", e_ds, &c);
    /* Stanford Dogs lists: folder, then lists.tar */
    static dogs_ctx dc;
    const char *seeds[2] = {"ok-dogs", "ok-dogs-tar"};
    const char *names[2] = {"mia_dogs_list_load(folder)", "mia_dogs_list_load(lists.tar)"};
    for (int k = 0; k < 2; k++) {
        b = seed("mat", seeds[k], &n);
        assert_true(n > 1 && b[0] % 3 == (unsigned)(k + 1));
        in_dir(dir, sizeof dir, k ? "dogs-tar" : "dogs");
        write_in(dir, k ? "lists.tar" : "train_list.mat", b + 1, n - 1);
        if (k) pathf(dc.lists, sizeof dc.lists, "%s/lists.tar", dir);
        else pathf(dc.lists, sizeof dc.lists, "%s", dir);
        free(b);
        char **files = NULL;
        int32_t *labels = NULL;
        assert_int_equal(mia_dogs_list_load(&files, &labels, &dc.want_n, dc.lists,
                                            "train_list.mat"), MIA_OK);
        mia_dogs_list_free(files, labels, dc.want_n);
        g_total += parser_oom(".mat (Dogs lists)", names[k], e_dogs, &dc);
    }
}

static void test_oom__archive(void **state)
{
    (void)state;
    const char *seeds[3] = {"ok-tar", "ok-tgz", "ok-zip"};
    const char *names[3] = {"mia__archive_foreach_mem(tar)", "mia__archive_foreach_mem(tgz)",
                            "mia__archive_foreach_mem(zip)"};
    for (int k = 0; k < 3; k++) {
        size_t n;
        uint8_t *b = seed("archive", seeds[k], &n);
        assert_true(n > 1);
        arc_ctx c = {b + 1, n - 1, seeds[k], 0, 0};
        long cnt[2] = {0, 0};
        mia__error_begin();
        assert_int_equal(mia__archive_foreach_mem(c.data, c.len, c.name, NULL, NULL, arc_take,
                                                  cnt), MIA_OK);
        assert_true(cnt[0] > 0);
        c.entries = cnt[0];
        c.bytes = cnt[1];
        g_total += parser_oom("archive wrapper", names[k], e_archive, &c);
        free(b);
    }
}

static void test_oom__image(void **state)
{
    (void)state;
    static const struct {
        const char *seed, *entry;
    } in[] = {
        {"ok-png-rgb", "mia__image_decode(png rgb)"},
        {"ok-png-pal", "mia__image_decode(png palette)"},
        {"ok-png-interlaced", "mia__image_decode(png interlaced)"},
        {"ok-png-16", "mia__image_decode(png 16-bit)"},
        {"ok-jpeg-rgb", "mia__image_decode(jpeg rgb)"},
        {"ok-jpeg-gray", "mia__image_decode(jpeg gray)"},
        {"ok-jpeg-progressive", "mia__image_decode(jpeg progressive)"},
        {"ok-jpeg-cmyk", "mia__image_decode(jpeg cmyk)"},
    };
    for (size_t k = 0; k < sizeof in / sizeof in[0]; k++) {
        size_t n;
        uint8_t *b = seed("image", in[k].seed, &n);
        img_ctx c = {b + 1, n - 1, in[k].seed, 0, 0};
        int ch = 0;
        mia__error_begin();
        assert_int_equal(mia__image_info(c.data, c.len, c.name, &c.w, &c.h, &ch), MIA_OK);
        g_total += parser_oom(k < 4 ? "PNG decode" : "JPEG decode", in[k].entry, e_image, &c);
        free(b);
    }
    /* folder dataset: two classes, PNG and JPEG files of 7x5 */
    char root[1024], dir[1100];
    in_dir(root, sizeof root, "folder");
    static const char *files[4][3] = {{"a", "x.png", "ok-png-rgb"},
                                      {"a", "y.jpg", "ok-jpeg-rgb"},
                                      {"b", "z.png", "ok-png-pal"},
                                      {"b", "w.jpeg", "ok-jpeg-gray"}};
    for (int k = 0; k < 4; k++) {
        char sub[64];
        pathf(sub, sizeof sub, "folder/%s", files[k][0]);
        pathf(dir, sizeof dir, "%s/%s", g_dir, sub);
        struct stat sb;
        if (stat(dir, &sb) != 0) in_dir(dir, sizeof dir, sub);
        size_t n;
        uint8_t *b = seed("image", files[k][2], &n);
        write_in(dir, files[k][1], b + 1, n - 1);
        free(b);
    }
    static ds_ctx c;
    memset(&c, 0, sizeof c);
    c.kind = 4;
    pathf(c.a, sizeof c.a, "folder:%s", root);
    mia_dataset_load_opts_init(&c.o);
    g_total += parser_oom("PNG+JPEG folder", "mia_dataset_load(folder:)", e_ds, &c);
    pathf(c.a, sizeof c.a, "folder:%s:4x3:gray", root);
    g_total += parser_oom("PNG+JPEG folder", "mia_dataset_load(folder:4x3:gray)", e_ds, &c);
}

static void test_oom__config(void **state)
{
    (void)state;
    const char *files[2] = {"fashion-mnist.json", "cifar10-resnet18.json"};
    const char *names[2] = {"config_parse(fashion-mnist)", "config_parse(cifar10-resnet18)"};
    for (int k = 0; k < 2; k++) {
        char p[1024];
        pathf(p, sizeof p, "%s/configs/%s", g_src, files[k]);
        size_t n;
        uint8_t *text = slurp(p, &n);
        cfg_ctx c = {(const char *)text, g_dir};
        g_total += parser_oom("experiment config", names[k], e_config, &c);
        free(text);
    }
}

static const uint8_t gz_abc[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff,
                                 0x4b, 0x4c, 0x4a, 0x06, 0x00, 0xc2, 0x41, 0x24, 0x35, 0x03,
                                 0x00, 0x00, 0x00};

static void test_oom__manifest(void **state)
{
    (void)state;
    static man_ctx c;
    char dir[1024];
    in_dir(c.data, sizeof c.data, "mdata");
    write_in(c.data, "a.bin", "abc", 3);
    write_in(c.data, "b.gz", gz_abc, sizeof gz_abc);
    size_t n;
    uint8_t *b = seed("manifest", "ok-all", &n);
    in_dir(dir, sizeof dir, "mfile");
    write_in(dir, "manifest.json", b, n);
    pathf(c.manifest, sizeof c.manifest, "%s/manifest.json", dir);
    free(b);
    mia_manifest_report *r = NULL;
    assert_int_equal(mia_manifest_verify(&r, c.manifest, c.data), MIA_OK);
    c.count = mia_manifest_report_count(r);
    c.ok = mia_manifest_report_ok(r);
    assert_int_equal(c.count, 3); /* a.bin ok, b.gz ok, missing.bin missing */
    mia_manifest_report_free(r);
    g_total += parser_oom("manifest", "mia_manifest_verify", e_manifest, &c);
}

static void test_oom__checkpoint(void **state)
{
    (void)state;
    mia_model_opts mo;
    mia_model_opts_init(&mo);
    mo.in_channels = 6;
    mo.n_classes = 3;
    mo.mlp_n_hidden = 1;
    mo.mlp_hidden[0] = 4;
    mia_train_opts to;
    mia_train_opts_init(&to);
    mia_model *src = NULL;
    mia_optim_state *src_os = NULL;
    static ckpt_ctx c;
    memset(&c, 0, sizeof c);
    mo.seed = 1;
    mia_status st = mia_model_create(&src, g_be, "mlp", &mo);
    if (st != MIA_OK) fail_msg("model: %s", mia_last_error());
    st = mia__optim_create(&src_os, src, &to);
    if (st != MIA_OK) fail_msg("optim: %s", mia_last_error());
    in_dir(c.dir, sizeof c.dir, "ckpt");
    mia_ckpt_pos pos = {1, 2, 7, 7, 1.5, 3, 4};
    assert_int_equal(mia__ckpt_save(c.dir, src, src_os, &pos, "cfg", "data", 42), MIA_OK);
    c.nf = model_floats(src, NULL);
    c.saved = malloc(c.nf * sizeof(float));
    c.before = malloc(c.nf * sizeof(float));
    assert_non_null(c.saved);
    assert_non_null(c.before);
    model_floats(src, c.saved);
    mia__optim_free(src_os);
    mia_model_free(src);
    mo.seed = 2;
    assert_int_equal(mia_model_create(&c.m, g_be, "mlp", &mo), MIA_OK);
    assert_int_equal(mia__optim_create(&c.os, c.m, &to), MIA_OK);
    model_floats(c.m, c.before);
    assert_true(memcmp(c.before, c.saved, c.nf * sizeof(float)) != 0);
    g_total += parser_oom("checkpoint", "mia__ckpt_resume(mlp+adam)", e_ckpt, &c);
    mia__optim_free(c.os);
    mia_model_free(c.m);
    free(c.saved);
    free(c.before);
}

static void test_oom__summary(void **state)
{
    (void)state;
    long parsers = 0;
    printf("oom: %-20s %-38s %8s\n", "parser", "entry point", "points");
    for (int i = 0; i < g_nrows; i++) {
        printf("oom: %-20s %-38s %8ld\n", g_rows[i].parser, g_rows[i].entry, g_rows[i].points);
        parsers += g_rows[i].points;
    }
    printf("oom: parsers total %ld injection points (%d entry points)\n", parsers, g_nrows);
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
        cmocka_unit_test(test_oom__idx_gz),
        cmocka_unit_test(test_oom__cifar),
        cmocka_unit_test(test_oom__stl10),
        cmocka_unit_test(test_oom__mat),
        cmocka_unit_test(test_oom__archive),
        cmocka_unit_test(test_oom__image),
        cmocka_unit_test(test_oom__config),
        cmocka_unit_test(test_oom__manifest),
        cmocka_unit_test(test_oom__checkpoint),
        cmocka_unit_test(test_oom__summary),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
