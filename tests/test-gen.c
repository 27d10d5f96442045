/* Tests of libmia/gen: StyleGAN2 equivalence with tests/stylegan2_reference.py (PyTorch, run at
 * test time with /usr/bin/python3), the pickle converter round trip, bad weight files,
 * deterministic PNG folders + manifest verification, and a conditional GAN that must learn
 * Fashion-MNIST (judged by a SalemCNN trained here on real Fashion-MNIST).
 * test-gen-slow.c includes this file with MIA_GEN_SLOW=1 (full-size configurations, longer GAN).
 * Exits 77 (skip) when python3-torch is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mia/backend.h>
#include <mia/dataset.h>
#include <mia/gen.h>
#include <mia/graph.h>
#include <mia/model.h>
#include <mia/safetensors.h>
#include <mia/status.h>
#include <mia/tensor.h>

#include "backend/ops.h"
#include "core/rng.h"
#include "data/dataset-impl.h"
#include "gen/gen-internal.h"

#ifndef MIA_GEN_SLOW
#define MIA_GEN_SLOW 0
#endif

static const char *g_src;
static char g_dir[256];
static mia_backend *g_be;
static mia_backend *g_clf_be; /* onednn when built (the ref conv is slow), else g_be */

static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static mia_safetensors *open_st(const char *path)
{
    mia_safetensors *st = NULL;
    mia_safetensors_opts o;
    mia_safetensors_opts_init(&o);
    assert_int_equal(mia_safetensors_open(&st, path, &o), MIA_OK);
    return st;
}

static const void *st_get(const mia_safetensors *st, const char *name, size_t *nbytes)
{
    int64_t i = mia_safetensors_find(st, name);
    assert_true(i >= 0);
    if (nbytes) *nbytes = mia_safetensors_nbytes(st, (size_t)i);
    return mia_safetensors_data(st, (size_t)i);
}

/* Generate with the reference and with libmia; compare f32 within 1e-4 and the u8 images
 * exactly (except where the reference value sits within 1e-3 of a rounding step). */
static void equivalence(const char *config, int n, const char *psi, const char *noise)
{
    char w[512], r[512];
    snprintf(w, sizeof w, "%s/%s.safetensors", g_dir, config);
    snprintf(r, sizeof r, "%s/%s-ref-%s-%s.safetensors", g_dir, config, psi, noise);
    struct stat sb;
    if (stat(w, &sb) != 0)
        assert_int_equal(sh("/usr/bin/python3 '%s/tests/stylegan2_reference.py' weights %s 7 '%s'",
                            g_src, config, w), 0);
    assert_int_equal(sh("/usr/bin/python3 '%s/tests/stylegan2_reference.py' generate '%s' '%s' %d "
                        "11 %s %s", g_src, w, r, n, psi, noise), 0);
    mia_stylegan2 *g = NULL;
    assert_int_equal(mia_stylegan2_load(&g, g_be, w), MIA_OK);
    int64_t zd, cd, c, res;
    mia_stylegan2_shape(g, &zd, &cd, &c, &res);
    mia_safetensors *st = open_st(r);
    size_t nb;
    const void *zraw = st_get(st, "z", &nb);
    assert_int_equal(nb, (size_t)(n * zd) * sizeof(float));
    float *z = malloc(nb);
    memcpy(z, zraw, nb);
    int32_t *cls = malloc((size_t)n * sizeof(int32_t));
    memcpy(cls, st_get(st, "cls", NULL), (size_t)n * sizeof(int32_t));
    int64_t numel = n * c * res * res;
    float *ref = malloc((size_t)numel * sizeof(float)), *out = malloc((size_t)numel * sizeof(float));
    const void *refraw = st_get(st, "img", &nb);
    assert_int_equal(nb, (size_t)numel * sizeof(float));
    memcpy(ref, refraw, nb);
    uint8_t *ref8 = malloc((size_t)numel), *out8 = malloc((size_t)numel);
    memcpy(ref8, st_get(st, "img_u8", NULL), (size_t)numel);
    mia_stylegan2_noise nm = strcmp(noise, "const") == 0 ? MIA_STYLEGAN2_NOISE_CONST
                                                          : MIA_STYLEGAN2_NOISE_NONE;
    assert_int_equal(mia_stylegan2_generate(g, z, n, cd > 0 ? cls : NULL, (float)atof(psi), nm,
                                            0, 0, out), MIA_OK);
    double maxd = 0.0, maxv = 0.0;
    for (int64_t k = 0; k < numel; k++) {
        double d = fabs((double)out[k] - ref[k]);
        if (d > maxd) maxd = d;
        if (fabs(ref[k]) > maxv) maxv = fabs(ref[k]);
    }
    int64_t px = c * res * res, bad8 = 0;
    for (int i = 0; i < n; i++) mia_gen_to_u8(out + i * px, c, res, res, out8 + i * px);
    for (int i = 0; i < n; i++)
        for (int64_t y = 0; y < res * res; y++)
            for (int64_t ch = 0; ch < c; ch++) {
                int64_t hwc = i * px + y * c + ch;
                if (out8[hwc] == ref8[hwc]) continue;
                /* u8 = trunc(x * 127.5 + 128): a mismatch is explained only when this pixel's
                 * own float difference crosses an integer boundary of the ref value */
                int64_t chw = i * px + ch * res * res + y;
                double v = ref[chw] * 127.5 + 128.0;
                double tol = fabs((double)out[chw] - ref[chw]) * 127.5 + 1e-6;
                if (fabs(v - floor(v + 0.5)) > tol && v > tol && v < 255.0 - tol) bad8++;
            }
    fprintf(stderr, "stylegan2 %s n=%d psi=%s noise=%s: max |libmia - torch| = %.3g (max |x| %.3g), "
            "u8 mismatches off a rounding step: %lld\n", config, n, psi, noise, maxd, maxv,
            (long long)bad8);
    assert_true(maxd <= 1e-4);
    assert_int_equal(bad8, 0);
    free(z); free(cls); free(ref); free(out); free(ref8); free(out8);
    mia_safetensors_free(st);
    mia_stylegan2_free(g);
}

static void test_gen__stylegan2_cifar10_matches_torch(void **state)
{
    (void)state;
    equivalence(MIA_GEN_SLOW ? "cifar10" : "cifar10-small", 4, "1.0", "const");
    equivalence(MIA_GEN_SLOW ? "cifar10" : "cifar10-small", 3, "0.7", "none");
}

static void test_gen__stylegan2_afhqdog_matches_torch(void **state)
{
    (void)state;
    equivalence(MIA_GEN_SLOW ? "afhqdog" : "afhqdog-small", MIA_GEN_SLOW ? 1 : 2, "0.7", "const");
}

/* The converter turns a persistence-style pickle (built by the reference script; its embedded
 * module source would exit if executed) into exactly the expected tensors. */
static void test_gen__converter_round_trip(void **state)
{
    (void)state;
    char pkl[512], exp[512], got[512];
    snprintf(pkl, sizeof pkl, "%s/net.pkl", g_dir);
    snprintf(exp, sizeof exp, "%s/net-expected.safetensors", g_dir);
    snprintf(got, sizeof got, "%s/net-converted.safetensors", g_dir);
    assert_int_equal(sh("/usr/bin/python3 '%s/tests/stylegan2_reference.py' pickle cifar10-small 5 "
                        "'%s' '%s'", g_src, pkl, exp), 0);
    assert_int_equal(sh("/usr/bin/python3 '%s/tools/stylegan2-pkl-to-safetensors.py' '%s' '%s' "
                        ">/dev/null", g_src, pkl, got), 0);
    mia_safetensors *a = open_st(exp), *b = open_st(got);
    assert_int_equal(mia_safetensors_count(a), mia_safetensors_count(b));
    for (size_t i = 0; i < mia_safetensors_count(a); i++) {
        const char *name = mia_safetensors_name(a, i);
        int64_t j = mia_safetensors_find(b, name);
        assert_true(j >= 0);
        assert_int_equal(mia_safetensors_nbytes(a, i), mia_safetensors_nbytes(b, (size_t)j));
        assert_memory_equal(mia_safetensors_data(a, i), mia_safetensors_data(b, (size_t)j),
                            mia_safetensors_nbytes(a, i));
    }
    assert_non_null(mia_safetensors_metadata_get(b, "init_kwargs"));
    mia_safetensors_free(a);
    mia_safetensors_free(b);
    mia_stylegan2 *g = NULL;
    assert_int_equal(mia_stylegan2_load(&g, g_be, got), MIA_OK);
    mia_stylegan2_free(g);
    /* a pickle with a non-persistent G_ema is refused, nothing executed */
    assert_int_not_equal(sh("/usr/bin/python3 -c \"import pickle; pickle.dump({'G_ema': 3}, "
                            "open('%s/bad.pkl', 'wb'))\" && /usr/bin/python3 "
                            "'%s/tools/stylegan2-pkl-to-safetensors.py' '%s/bad.pkl' '%s/bad.st' "
                            "2>/dev/null", g_dir, g_src, g_dir, g_dir), 0);
}

/* Copy @p src to @p dst dropping tensor @p drop, or giving tensor @p reshape a wrong shape. */
static void rewrite(const char *src, const char *dst, const char *drop, const char *reshape)
{
    mia_safetensors *st = open_st(src);
    mia_safetensors_writer *w = NULL;
    assert_int_equal(mia_safetensors_writer_create(&w), MIA_OK);
    for (size_t i = 0; i < mia_safetensors_count(st); i++) {
        const char *name = mia_safetensors_name(st, i);
        if (drop && strcmp(name, drop) == 0) continue;
        mia_safetensors_dtype dt;
        int nd;
        int64_t shape[8];
        assert_int_equal(mia_safetensors_info(st, i, &dt, &nd, shape), MIA_OK);
        if (reshape && strcmp(name, reshape) == 0) { /* [a, b, ...] -> [a*b, 1, ...] */
            shape[0] *= shape[1];
            shape[1] = 1;
        }
        assert_int_equal(mia_safetensors_writer_add(w, name, dt, nd, shape,
                                                    mia_safetensors_data(st, i)), MIA_OK);
    }
    for (size_t i = 0; i < mia_safetensors_metadata_count(st); i++) {
        const char *k, *v;
        assert_true(mia_safetensors_metadata_at(st, i, &k, &v));
        assert_int_equal(mia_safetensors_writer_set_metadata(w, k, v), MIA_OK);
    }
    assert_int_equal(mia_safetensors_writer_write(w, dst), MIA_OK);
    mia_safetensors_writer_free(w);
    mia_safetensors_free(st);
}

static void test_gen__bad_weights_name_the_tensor(void **state)
{
    (void)state;
    char w[512], bad[512];
    snprintf(w, sizeof w, "%s/bad-src.safetensors", g_dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", g_dir);
    assert_int_equal(sh("/usr/bin/python3 '%s/tests/stylegan2_reference.py' weights cifar10-small 3 "
                        "'%s'", g_src, w), 0);
    mia_stylegan2 *g = (mia_stylegan2 *)1;
    rewrite(w, bad, "synthesis.b16.conv1.affine.weight", NULL);
    assert_int_equal(mia_stylegan2_load(&g, g_be, bad), MIA_ERR_FORMAT);
    assert_null(g);
    assert_non_null(strstr(mia_last_error(), "synthesis.b16.conv1.affine.weight"));
    assert_non_null(strstr(mia_last_error(), "missing"));
    g = (mia_stylegan2 *)1;
    rewrite(w, bad, NULL, "synthesis.b8.conv0.weight");
    assert_int_equal(mia_stylegan2_load(&g, g_be, bad), MIA_ERR_FORMAT);
    assert_null(g);
    assert_non_null(strstr(mia_last_error(), "synthesis.b8.conv0.weight"));
    assert_non_null(strstr(mia_last_error(), "expected F32 [32, 32, 3, 3]"));
    g = (mia_stylegan2 *)1;
    rewrite(w, bad, "mapping.w_avg", NULL);
    assert_int_equal(mia_stylegan2_load(&g, g_be, bad), MIA_ERR_FORMAT);
    assert_null(g);
    assert_non_null(strstr(mia_last_error(), "mapping.w_avg"));
    g = (mia_stylegan2 *)1;
    assert_int_equal(mia_stylegan2_load(&g, g_be, "/nonexistent/x.safetensors"), MIA_ERR_IO);
    assert_null(g);
    assert_non_null(strstr(mia_last_error(), "/nonexistent/x.safetensors"));
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void test_gen__folder_deterministic_and_verified(void **state)
{
    (void)state;
    char w[512], d1[512], d2[512], p1[600], p2[600];
    snprintf(w, sizeof w, "%s/det.safetensors", g_dir);
    snprintf(d1, sizeof d1, "%s/fake1", g_dir);
    snprintf(d2, sizeof d2, "%s/fake2", g_dir);
    assert_int_equal(sh("/usr/bin/python3 '%s/tests/stylegan2_reference.py' weights cifar10-small 9 "
                        "'%s'", g_src, w), 0);
    mia_stylegan2 *g = NULL;
    assert_int_equal(mia_stylegan2_load(&g, g_be, w), MIA_OK);
    mia_gen_folder_opts o;
    mia_gen_folder_opts_init(&o);
    o.per_class = 3;
    o.batch = 2;
    o.seed = 42;
    assert_int_equal(mia_gen_write_folder(d1, NULL, g, &o), MIA_OK);
    o.batch = 3; /* batching must not matter */
    assert_int_equal(mia_gen_write_folder(d2, NULL, g, &o), MIA_OK);
    const char *files[] = {"Images/plane/00000.png", "Images/truck/00002.png", "Images/cat/00001.png"};
    for (int i = 0; i < 3; i++) {
        snprintf(p1, sizeof p1, "%s/%s", d1, files[i]);
        snprintf(p2, sizeof p2, "%s/%s", d2, files[i]);
        size_t n1, n2;
        unsigned char *a = slurp(p1, &n1), *b = slurp(p2, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, n1);
        free(a);
        free(b);
    }
    /* different seed -> different images */
    o.seed = 43;
    snprintf(d2, sizeof d2, "%s/fake3", g_dir);
    assert_int_equal(mia_gen_write_folder(d2, NULL, g, &o), MIA_OK);
    snprintf(p1, sizeof p1, "%s/%s", d1, files[0]);
    snprintf(p2, sizeof p2, "%s/%s", d2, files[0]);
    size_t n1, n2;
    unsigned char *a = slurp(p1, &n1), *b = slurp(p2, &n2);
    assert_true(n1 != n2 || memcmp(a, b, n1) != 0);
    free(a);
    free(b);
    /* the folder loads as a dataset */
    mia_dataset *ds = NULL;
    assert_int_equal(mia_gen_load_folder(&ds, d1), MIA_OK);
    assert_int_equal(mia_dataset_n(ds), 30);
    assert_int_equal(mia_dataset_n_classes(ds), 10);
    assert_string_equal(mia_dataset_class_name(ds, 0), "bird"); /* ImageFolder sorts names */
    mia_dataset_free(ds);
    /* verification: clean, then a modified file is caught and named */
    int64_t nbad = -1;
    char first[512];
    assert_int_equal(mia_gen_verify_folder(d1, &nbad, first, sizeof first), MIA_OK);
    assert_int_equal(nbad, 0);
    snprintf(p1, sizeof p1, "%s/Images/dog/00001.png", d1);
    FILE *f = fopen(p1, "r+b");
    assert_non_null(f);
    fseek(f, 40, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 40, SEEK_SET);
    fputc(ch ^ 0x55, f);
    fclose(f);
    assert_int_equal(mia_gen_verify_folder(d1, &nbad, first, sizeof first), MIA_OK);
    assert_int_equal(nbad, 1);
    assert_non_null(strstr(first, "Images/dog/00001.png"));
    mia_stylegan2_free(g);
}

/* ---- conditional GAN ---------------------------------------------------------------------- */

/* SalemCNN on real data, trained with the graph + mia__adam_step (lr 1e-3). */
static mia_model *train_salem(const mia_dataset *d, int64_t steps)
{
    mia_model_opts mo;
    mia_model_opts_init(&mo);
    mo.n_classes = 10;
    mo.in_channels = 1;
    mo.in_h = mo.in_w = 28;
    mo.seed = 3;
    mia_model *m = NULL;
    assert_int_equal(mia_model_create(&m, g_clf_be, "salem_cnn", &mo), MIA_OK);
    mia_graph *gr = mia_model_graph(m);
    size_t np = mia_graph_param_count(gr);
    float **mm = calloc(np, sizeof *mm), **vv = calloc(np, sizeof *vv);
    for (size_t i = 0; i < np; i++) {
        mia_param_info pi;
        assert_int_equal(mia_graph_param(gr, i, &pi), MIA_OK);
        mm[i] = calloc((size_t)mia_tensor_numel(pi.value), sizeof(float));
        vv[i] = calloc((size_t)mia_tensor_numel(pi.value), sizeof(float));
    }
    const int64_t B = 64;
    int64_t sx[4] = {B, 1, 28, 28}, sl[2] = {B, 10};
    mia_tensor *x = NULL, *dl = NULL;
    assert_int_equal(mia_tensor_create(&x, g_clf_be, MIA_DTYPE_F32, 4, sx), MIA_OK);
    assert_int_equal(mia_tensor_create(&dl, g_clf_be, MIA_DTYPE_F32, 2, sl), MIA_OK);
    int64_t idx[64];
    int32_t lab[64];
    float loss[64];
    uint64_t st = 12345;
    for (int64_t s = 0; s < steps; s++) {
        for (int i = 0; i < B; i++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            idx[i] = (int64_t)((st >> 33) % (uint64_t)mia_dataset_n(d));
        }
        assert_int_equal(mia_dataset_batch_f32(d, idx, B, mia_tensor_host_data(x), lab, NULL), MIA_OK);
        const mia_tensor *lg;
        assert_int_equal(mia_graph_forward(gr, x, true, 0, &lg), MIA_OK);
        mia_xent_args xa = {.rows = B, .cols = 10, .grad_scale = 1.0f / (float)B,
                            .logits = mia_tensor_host_data((mia_tensor *)lg), .labels = lab,
                            .loss = loss, .dlogits = mia_tensor_host_data(dl)};
        assert_int_equal(mia__xent(g_clf_be, &xa), MIA_OK);
        assert_int_equal(mia_graph_backward(gr, dl), MIA_OK);
        for (size_t i = 0; i < np; i++) {
            mia_param_info pi;
            assert_int_equal(mia_graph_param(gr, i, &pi), MIA_OK);
            if (pi.kind != MIA_PARAM_KIND_PARAM) continue;
            mia_adam_args aa = {.count = mia_tensor_numel(pi.value), .step = s + 1, .lr = 1e-3f,
                                .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                .param = mia_tensor_host_data(pi.value), .m = mm[i], .v = vv[i],
                                .grad = mia_tensor_host_data(pi.grad)};
            assert_int_equal(mia__adam_step(g_clf_be, &aa), MIA_OK);
        }
    }
    for (size_t i = 0; i < np; i++) {
        free(mm[i]);
        free(vv[i]);
    }
    free(mm);
    free(vv);
    mia_tensor_free(x);
    mia_tensor_free(dl);
    return m;
}

/* Fraction of @p n u8 images [n, 28, 28] classified as @p labels by @p m. */
static double classify(mia_model *m, const uint8_t *px, const int32_t *labels, int64_t n)
{
    mia_graph *gr = mia_model_graph(m);
    int64_t sx[4] = {n, 1, 28, 28};
    mia_tensor *x = NULL;
    assert_int_equal(mia_tensor_create(&x, g_clf_be, MIA_DTYPE_F32, 4, sx), MIA_OK);
    float *h = mia_tensor_host_data(x);
    for (int64_t k = 0; k < n * 784; k++) h[k] = (float)px[k] / 255.0f;
    const mia_tensor *lg;
    assert_int_equal(mia_graph_forward(gr, x, false, 0, &lg), MIA_OK);
    const float *l = mia_tensor_host_data((mia_tensor *)lg);
    int64_t ok = 0;
    for (int64_t i = 0; i < n; i++) {
        int best = 0;
        for (int c = 1; c < 10; c++)
            if (l[i * 10 + c] > l[i * 10 + best]) best = c;
        ok += best == labels[i];
    }
    mia_tensor_free(x);
    return (double)ok / (double)n;
}

static bool quiet_progress(const mia_progress *p, void *u)
{
    (void)u;
    if (p->step % 200 == 0)
        fprintf(stderr, "gan step %lld/%lld loss %.3f %.0f img/s\n", (long long)p->step,
                (long long)p->steps, p->loss, p->items_per_sec);
    return true;
}

/* Write a contact sheet PNG (10 rows = classes, @p per columns; class c's images start at
 * image c * @p stride of @p px) with PIL; doc/fakes-contact-sheet.png when MIA_GEN_SHEET is set. */
static void contact_sheet(const uint8_t *px, int per, int stride, const char *path)
{
    int W = 28 * per, H = 28 * 10;
    char cmd[1024];
    char raw[512];
    snprintf(raw, sizeof raw, "%s/sheet.raw", g_dir);
    FILE *f = fopen(raw, "wb");
    assert_non_null(f);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int c = y / 28, i = x / 28;
            fputc(px[((int64_t)(c * stride + i) * 28 + y % 28) * 28 + x % 28], f);
        }
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"from PIL import Image; Image.frombytes('L', "
             "(%d, %d), open('%s','rb').read()).save('%s')\"", W, H, raw, path);
    assert_int_equal(system(cmd), 0);
}

static void test_gen__cgan_learns_fashion_mnist(void **state)
{
    (void)state;
    /* The GAN (and the SalemCNN judge) train on the onednn backend when built, else on ref
     * (much slower). Default suite: a short run with a lower bar; slow suite: the issue's. */
    mia_dataset *d = NULL;
    mia_status s = mia_dataset_load(&d, "fashion-mnist:train", NULL);
    if (s != MIA_OK) {
        fprintf(stderr, "skip: fashion-mnist not installed (%s)\n", mia_last_error());
        skip();
    }
    /* default suite: a short run with a lower bar; slow suite: the 70% bar */
    int64_t steps = MIA_GEN_SLOW ? 3000 : 300;
    const double bar = MIA_GEN_SLOW ? 0.70 : 0.30;
    mia_cgan_opts o;
    mia_cgan_opts_init(&o);
    o.batch_size = 32;
    o.width = 16;
    o.z_dim = 32;
    o.seed = 1;
    /* experiments: MIA_GEN_STEPS / _WIDTH / _BATCH / _ZDIM override the settings */
    if (getenv("MIA_GEN_STEPS")) steps = atoll(getenv("MIA_GEN_STEPS"));
    if (getenv("MIA_GEN_WIDTH")) o.width = atoi(getenv("MIA_GEN_WIDTH"));
    if (getenv("MIA_GEN_BATCH")) o.batch_size = atoi(getenv("MIA_GEN_BATCH"));
    if (getenv("MIA_GEN_ZDIM")) o.z_dim = atoi(getenv("MIA_GEN_ZDIM"));
    if (getenv("MIA_GEN_LR")) o.lr = (float)atof(getenv("MIA_GEN_LR"));
    o.steps = steps;
    o.progress = quiet_progress;
    mia_cgan *g = NULL;
    assert_int_equal(mia_cgan_create(&g, g_clf_be, 10, 1, 28, 28, &o), MIA_OK);
    double t0 = (double)time(NULL);
    assert_int_equal(mia_cgan_train(g, d), MIA_OK);
    double tgan = (double)time(NULL) - t0;
    mia_model *clf = train_salem(d, MIA_GEN_SLOW ? 1000 : 250);
    const int per = 50;
    uint8_t *px = malloc((size_t)(10 * per * 784));
    int32_t lab[500];
    for (int c = 0; c < 10; c++) {
        assert_int_equal(mia_cgan_generate(g, c, 0, per, 7, 0.0f, px + (size_t)c * per * 784), MIA_OK);
        for (int i = 0; i < per; i++) lab[c * per + i] = c;
    }
    /* the classifier itself on real test data, for reference */
    mia_dataset *dt = NULL;
    double real_acc = -1;
    if (mia_dataset_load(&dt, "fashion-mnist:test", NULL) == MIA_OK) {
        uint8_t *rp = malloc(500 * 784);
        int32_t rl[500];
        for (int i = 0; i < 500; i++) {
            memcpy(rp + i * 784, mia_dataset_pixels(dt, i * 7), 784);
            rl[i] = mia_dataset_label(dt, i * 7);
        }
        real_acc = classify(clf, rp, rl, 500);
        free(rp);
        mia_dataset_free(dt);
    }
    double acc = classify(clf, px, lab, 10 * per);
    fprintf(stderr, "cgan: %lld steps in %.0f s; SalemCNN accuracy on real test %.3f, on fakes "
            "(conditioning class) %.3f (bar %.2f)\n", (long long)steps, tgan, real_acc, acc, bar);
    const char *sheet = getenv("MIA_GEN_SHEET");
    if (sheet && *sheet) contact_sheet(px, 10 < per ? 10 : per, per, sheet);
    assert_true(acc >= bar);
    free(px);
    mia_model_free(clf);
    mia_cgan_free(g);
    mia_dataset_free(d);
}

/* The oracle of G's training gradient: central finite differences of G's non-saturating loss
 * (G -> image -> D with class planes -> logits -> loss, BN in training mode) against the
 * gradients the training step computes (D backward, mia_graph_input_grad, G backward), on a
 * tiny cGAN with weights re-drawn at N(0, 0.3) so that every path carries a real gradient. */
static void test_gen__cgan_generator_gradient_matches_finite_differences(void **state)
{
    (void)state;
    mia_dataset *d = NULL;
    assert_int_equal(mia__dataset_new(&d, 16, 1, 8, 8, 3, "synthetic"), MIA_OK);
    mia_rng r;
    mia__rng_init(&r, 99, 0);
    for (int64_t i = 0; i < 16 * 64; i++) d->pixels[i] = (uint8_t)mia__rng_below(&r, 256);
    for (int64_t i = 0; i < 16; i++) d->labels[i] = (int32_t)(i % 3);
    mia__dataset_finish(d);
    mia_cgan_opts o;
    mia_cgan_opts_init(&o);
    o.batch_size = 4;
    o.width = 3;
    o.z_dim = 4;
    o.seed = 11;
    mia_cgan *g = NULL;
    assert_int_equal(mia_cgan_create(&g, g_be, 3, 1, 8, 8, &o), MIA_OK);
    for (int which = 0; which < 2; which++) {
        mia_graph *gr = mia__cgan_graph(g, which == 1);
        for (size_t i = 0; i < mia_graph_param_count(gr); i++) {
            mia_param_info pi;
            assert_int_equal(mia_graph_param(gr, i, &pi), MIA_OK);
            if (pi.kind != MIA_PARAM_KIND_PARAM) continue;
            float *v = mia_tensor_host_data(pi.value);
            bool bn_w = mia_tensor_ndim(pi.value) == 1 && strstr(pi.name, ".weight");
            for (int64_t k = 0; k < mia_tensor_numel(pi.value); k++)
                v[k] = (float)((bn_w ? 1.0 : 0.0) + 0.3 * mia__rng_normal(&r));
        }
    }
    double l0 = 0.0;
    assert_int_equal(mia__cgan_g_loss(g, d, 2, true, &l0), MIA_OK);
    mia_graph *G = mia__cgan_graph(g, false);
    /* copy the analytic gradients before the probing forwards */
    size_t np = mia_graph_param_count(G);
    int checked = 0, cond_checked = 0, bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < np; i++) {
        mia_param_info pi;
        assert_int_equal(mia_graph_param(G, i, &pi), MIA_OK);
        if (pi.kind != MIA_PARAM_KIND_PARAM) continue;
        int64_t cnt = mia_tensor_numel(pi.value);
        float *v = mia_tensor_host_data(pi.value);
        float *an = malloc((size_t)cnt * sizeof(float));
        memcpy(an, mia_tensor_host_data(pi.grad), (size_t)cnt * sizeof(float));
        /* a few elements per tensor; for g.0.weight [in = z_dim + K, ...] also rows of the
         * one-hot inputs (the class conditioning of G) */
        int64_t probe[6] = {0, cnt / 3, cnt / 2, cnt - 1, -1, -1};
        if (strcmp(pi.name, "g.0.weight") == 0) {
            int64_t row = cnt / (o.z_dim + 3);
            probe[4] = (int64_t)o.z_dim * row;           /* class 0 row */
            probe[5] = (int64_t)(o.z_dim + 2) * row + 1; /* class 2 row */
        }
        for (int j = 0; j < 6; j++) {
            int64_t k = probe[j];
            if (k < 0) continue;
            /* 1e-3: small enough that no ReLU kink is crossed in this draw (1e-2 crosses some
             * and gives errors of 30% on BN parameters), large enough for f32 */
            const float e = 1e-3f;
            float keep = v[k];
            double lp, lm;
            v[k] = keep + e;
            assert_int_equal(mia__cgan_g_loss(g, d, 2, false, &lp), MIA_OK);
            v[k] = keep - e;
            assert_int_equal(mia__cgan_g_loss(g, d, 2, false, &lm), MIA_OK);
            v[k] = keep;
            double fd = (lp - lm) / (2.0 * (double)e), err = fabs(fd - (double)an[k]);
            double tol = 1e-4 + 1e-2 * fabs(fd);
            if (err > tol || getenv("MIA_GEN_FD_VERBOSE"))
                fprintf(stderr, "%s[%lld]: analytic %.6g, finite difference %.6g\n", pi.name,
                        (long long)k, (double)an[k], fd);
            bad += err > tol;
            if (err > worst) worst = err;
            checked++;
            if (j >= 4) cond_checked += fabs(fd) > 1e-4;
        }
        free(an);
    }
    fprintf(stderr, "cgan gradient: %d entries, worst |analytic - fd| %.2e (loss %.4f)\n",
            checked, worst, l0);
    assert_int_equal(bad, 0);
    assert_true(checked >= 20);
    assert_int_equal(cond_checked, 2); /* the class inputs reach G's loss */
    mia_cgan_free(g);
    mia_dataset_free(d);
}

/* Interrupted + resumed training equals an uninterrupted run, and the checkpoint loads. */
static void test_gen__cgan_resume_equals_straight_run(void **state)
{
    (void)state;
    mia_dataset *d = NULL;
    mia_dataset_load_opts lo;
    mia_dataset_load_opts_init(&lo);
    lo.max_images = 500;
    if (mia_dataset_load(&d, "fashion-mnist:train", &lo) != MIA_OK) skip();
    char ck[512], ck2[512];
    snprintf(ck, sizeof ck, "%s/gan.safetensors", g_dir);
    snprintf(ck2, sizeof ck2, "%s/gan-straight.safetensors", g_dir);
    mia_cgan_opts o;
    mia_cgan_opts_init(&o);
    o.batch_size = 8;
    o.width = 8;
    o.z_dim = 8;
    o.seed = 5;
    o.steps = 6;
    mia_cgan *a = NULL;
    assert_int_equal(mia_cgan_create(&a, g_be, 10, 1, 28, 28, &o), MIA_OK);
    assert_int_equal(mia_cgan_train(a, d), MIA_OK);
    assert_int_equal(mia_cgan_save(a, ck2), MIA_OK);
    o.checkpoint = ck;
    o.steps = 3;
    mia_cgan *b = NULL;
    assert_int_equal(mia_cgan_create(&b, g_be, 10, 1, 28, 28, &o), MIA_OK);
    assert_int_equal(mia_cgan_train(b, d), MIA_OK); /* writes the checkpoint at step 3 */
    mia_cgan_free(b);
    o.steps = 6;
    assert_int_equal(mia_cgan_create(&b, g_be, 10, 1, 28, 28, &o), MIA_OK);
    assert_int_equal(mia_cgan_train(b, d), MIA_OK); /* resumes at 3 */
    assert_int_equal(mia_cgan_step(b), 6);
    uint8_t x1[5 * 784], x2[5 * 784];
    assert_int_equal(mia_cgan_generate(a, 4, 0, 5, 9, 0.0f, x1), MIA_OK);
    assert_int_equal(mia_cgan_generate(b, 4, 0, 5, 9, 0.0f, x2), MIA_OK);
    assert_memory_equal(x1, x2, sizeof x1);
    /* generation does not depend on batching: image 3 alone equals image 3 of the batch */
    uint8_t one[784];
    assert_int_equal(mia_cgan_generate(a, 4, 3, 1, 9, 0.0f, one), MIA_OK);
    assert_memory_equal(one, x1 + 3 * 784, 784);
    mia_cgan *c = NULL;
    assert_int_equal(mia_cgan_load(&c, g_be, ck2, NULL), MIA_OK);
    assert_int_equal(mia_cgan_generate(c, 4, 0, 5, 9, 0.0f, x2), MIA_OK);
    assert_memory_equal(x1, x2, sizeof x1);
    /* bad inputs */
    mia_cgan *bad = (mia_cgan *)1;
    assert_int_equal(mia_cgan_load(&bad, g_be, ck2 /* fine */, NULL), MIA_OK);
    mia_cgan_free(bad);
    char w[512];
    snprintf(w, sizeof w, "%s/not-gan.safetensors", g_dir);
    rewrite(ck2, w, "G.g.3.weight", NULL);
    bad = (mia_cgan *)1;
    assert_int_equal(mia_cgan_load(&bad, g_be, w, NULL), MIA_ERR_FORMAT);
    assert_null(bad);
    assert_non_null(strstr(mia_last_error(), "G.g.3.weight"));
    bad = (mia_cgan *)1;
    assert_int_equal(mia_cgan_create(&bad, g_be, 10, 1, 30, 30, &o), MIA_ERR_INVALID);
    assert_null(bad);
    assert_non_null(strstr(mia_last_error(), "30x30"));
    assert_int_equal(mia_cgan_generate(a, 10, 0, 1, 0, 0.0f, one), MIA_ERR_INVALID);
    assert_non_null(strstr(mia_last_error(), "class 10"));
    mia_cgan_free(a);
    mia_cgan_free(b);
    mia_cgan_free(c);
    mia_dataset_free(d);
}

int main(void)
{
    g_src = getenv("MIA_SOURCE_DIR");
    if (!g_src || (!getenv("MIA_GEN_LEARN") &&
                   system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0)) {
        fprintf(stderr, "skip: /usr/bin/python3 without torch (or MIA_SOURCE_DIR unset)\n");
        return 77;
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/mia-test-gen-XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    if (mia_backend_create(&g_be, "ref", NULL) != MIA_OK) return 1;
    g_clf_be = g_be;
    if (mia_backend_available("onednn") && mia_backend_create(&g_clf_be, "onednn", NULL) != MIA_OK)
        g_clf_be = g_be;
    if (getenv("MIA_TEST_FILTER")) cmocka_set_test_filter(getenv("MIA_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gen__stylegan2_cifar10_matches_torch),
        cmocka_unit_test(test_gen__stylegan2_afhqdog_matches_torch),
        cmocka_unit_test(test_gen__converter_round_trip),
        cmocka_unit_test(test_gen__bad_weights_name_the_tensor),
        cmocka_unit_test(test_gen__folder_deterministic_and_verified),
        cmocka_unit_test(test_gen__cgan_generator_gradient_matches_finite_differences),
        cmocka_unit_test(test_gen__cgan_resume_equals_straight_run),
        cmocka_unit_test(test_gen__cgan_learns_fashion_mnist),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (g_clf_be != g_be) mia_backend_free(g_clf_be);
    mia_backend_free(g_be);
    sh("rm -rf '%s'", g_dir);
    return rc;
}
