/* Class-conditional DCGAN built from the graph API: G on [z ++ onehot(c), 1, 1], D on the image
 * with n_classes one-hot planes appended. Adam (beta1 0.5) through mia__adam_step, Philox
 * batches keyed by (seed, step) so that a resumed run equals an uninterrupted one, atomic
 * safetensors checkpoints. G's gradient: D's backward, then mia_graph_input_grad() (dL/d image),
 * whose fake rows are G's output gradient. mia__cgan_g_loss() exposes that path to the
 * finite-difference test (tests/test-gen.c). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <mia/backend.h>
#include <mia/dataset.h>
#include <mia/gen.h>
#include <mia/graph.h>
#include <mia/safetensors.h>
#include <mia/tensor.h>

#include "backend/ops.h"
#include "core/rng.h"
#include "gen/gen-internal.h"
#include "model/graph-impl.h" /* mia__graph_sync_buffers */
#include "tensor/tensor-impl.h"

#define CGAN_FORMAT "mia-cgan-2" /* 2: D without BN, auxiliary classifier head */

typedef struct adam_state {
    mia_tensor **m, **v; /* per state_dict entry; NULL for buffers */
} adam_state;

struct mia_cgan {
    mia_backend *be;
    mia_cgan_opts o;
    char *checkpoint;
    int64_t k, c, h, w;
    mia_graph *G, *D;
    adam_state aG, aD;
    int64_t step;
    /* batch tensors */
    int64_t batch_alloc;
    mia_tensor *zin, *dreal, *dlog, *dfake, *dxd;
    float *hz, *hd, *hl, *hf, *hx; /* host staging of the batch */
    int32_t *fy;                    /* labels of the fakes */
    int32_t *ry;                    /* labels of the reals */
    int64_t nout;                   /* D outputs: 1 (real/fake) + K (auxiliary classifier) */
};

void mia_cgan_opts_init_sized(mia_cgan_opts *o, size_t size)
{
    if (!o) return;
    memset(o, 0, size);
    mia_cgan_opts tmp = {0};
    tmp.struct_size = (uint32_t)sizeof tmp;
    tmp.z_dim = 64;
    tmp.width = 32;
    tmp.batch_size = 64;
    tmp.steps = 2000;
    tmp.lr = 2e-4f;
    tmp.beta1 = 0.5f;
    tmp.beta2 = 0.999f;
    tmp.checkpoint_every = 500;
    memcpy(o, &tmp, size < sizeof tmp ? size : sizeof tmp);
    o->struct_size = (uint32_t)size;
}

static float *F32(const mia_tensor *t) { return mia__tensor_f32(t); }

static void adam_free(adam_state *a, size_t n)
{
    if (a->m)
        for (size_t i = 0; i < n; i++) mia_tensor_free(a->m[i]);
    if (a->v)
        for (size_t i = 0; i < n; i++) mia_tensor_free(a->v[i]);
    mia__free(a->m);
    mia__free(a->v);
    a->m = a->v = NULL;
}

static void free_batch(mia_cgan *g)
{
    mia_tensor_free(g->zin);
    mia_tensor_free(g->dreal);
    mia_tensor_free(g->dlog);
    mia_tensor_free(g->dfake);
    mia_tensor_free(g->dxd);
    g->zin = g->dreal = g->dlog = g->dfake = g->dxd = NULL;
    mia__free(g->hz);
    mia__free(g->hd);
    mia__free(g->hl);
    mia__free(g->hf);
    mia__free(g->hx);
    mia__free(g->fy);
    mia__free(g->ry);
    g->hz = g->hd = g->hl = g->hf = g->hx = NULL;
    g->fy = g->ry = NULL;
    g->batch_alloc = 0;
}

void mia_cgan_free(mia_cgan *g)
{
    if (!g) return;
    free_batch(g);
    adam_free(&g->aG, g->G ? mia_graph_param_count(g->G) : 0);
    adam_free(&g->aD, g->D ? mia_graph_param_count(g->D) : 0);
    mia_graph_free(g->G);
    mia_graph_free(g->D);
    mia__free(g->checkpoint);
    mia__free(g);
}

static mia_status adam_create(adam_state *a, mia_graph *gr)
{
    size_t n = mia_graph_param_count(gr);
    a->m = mia__calloc(n ? n : 1, sizeof *a->m);
    a->v = mia__calloc(n ? n : 1, sizeof *a->v);
    if (!a->m || !a->v) return MIA_ERROR(MIA_ERR_NOMEM, "cgan: out of memory");
    for (size_t i = 0; i < n; i++) {
        mia_param_info pi;
        MIA_TRY(mia_graph_param(gr, i, &pi));
        if (pi.kind != MIA_PARAM_KIND_PARAM) continue;
        int nd = mia_tensor_ndim(pi.value);
        MIA_TRY(mia_tensor_create(&a->m[i], mia_graph_backend(gr), MIA_DTYPE_F32, nd,
                                  mia_tensor_shape(pi.value)));
        MIA_TRY(mia_tensor_create(&a->v[i], mia_graph_backend(gr), MIA_DTYPE_F32, nd,
                                  mia_tensor_shape(pi.value)));
        MIA_TRY(mia_tensor_zero(a->m[i]));
        MIA_TRY(mia_tensor_zero(a->v[i]));
    }
    return MIA_OK;
}

/* DCGAN initialisation: conv/linear weights N(0, 0.02), BN weights N(1, 0.02), biases 0. */
static mia_status init_params(mia_graph *gr, uint64_t seed, uint64_t which)
{
    mia_rng r;
    mia__rng_init(&r, seed, ((uint64_t)MIA_STREAM_INIT << 56) | which);
    size_t n = mia_graph_param_count(gr);
    for (size_t i = 0; i < n; i++) {
        mia_param_info pi;
        MIA_TRY(mia_graph_param(gr, i, &pi));
        if (pi.kind != MIA_PARAM_KIND_PARAM) continue;
        size_t len = strlen(pi.name);
        bool is_w = len > 7 && strcmp(pi.name + len - 7, ".weight") == 0;
        bool bn = mia_tensor_ndim(pi.value) == 1;
        int64_t cnt = mia_tensor_numel(pi.value);
        float *buf = mia__malloc((size_t)cnt * sizeof(float));
        if (!buf) return MIA_ERROR(MIA_ERR_NOMEM, "cgan: out of memory");
        for (int64_t k = 0; k < cnt; k++)
            buf[k] = is_w ? (float)((bn ? 1.0 : 0.0) + 0.02 * mia__rng_normal(&r)) : 0.0f;
        mia_status s = mia_tensor_upload(pi.value, buf, (size_t)cnt * sizeof(float));
        mia__free(buf);
        MIA_TRY(s);
    }
    return MIA_OK;
}

static mia_status build(mia_cgan *g)
{
    int64_t zc = g->o.z_dim + g->k, wd = g->o.width;
    const int64_t gin[3] = {zc, 1, 1}, din[3] = {g->c + g->k, g->h, g->w};
    int x;
    MIA_TRY(mia_graph_create(&g->G, g->be));
    MIA_TRY(mia_graph_input(&x, g->G, 3, gin));
    MIA_TRY(mia_graph_conv_transpose2d(&x, g->G, "g.0", x, 2 * wd, g->h / 4, 1, 0, 0, 1, false));
    MIA_TRY(mia_graph_batchnorm(&x, g->G, "g.1", x));
    MIA_TRY(mia_graph_activation(&x, g->G, x, MIA_GRAPH_ACT_RELU, 0.0f));
    MIA_TRY(mia_graph_conv_transpose2d(&x, g->G, "g.3", x, wd, 4, 2, 1, 0, 1, false));
    MIA_TRY(mia_graph_batchnorm(&x, g->G, "g.4", x));
    MIA_TRY(mia_graph_activation(&x, g->G, x, MIA_GRAPH_ACT_RELU, 0.0f));
    MIA_TRY(mia_graph_conv_transpose2d(&x, g->G, "g.6", x, g->c, 4, 2, 1, 0, 1, true));
    MIA_TRY(mia_graph_activation(&x, g->G, x, MIA_GRAPH_ACT_TANH, 0.0f));
    MIA_TRY(mia_graph_set_output(g->G, x));

    MIA_TRY(mia_graph_create(&g->D, g->be));
    MIA_TRY(mia_graph_input(&x, g->D, 3, din));
    MIA_TRY(mia_graph_conv2d(&x, g->D, "d.0", x, wd, 4, 2, 1, 1, true));
    MIA_TRY(mia_graph_activation(&x, g->D, x, MIA_GRAPH_ACT_LEAKY_RELU, 0.2f));
    MIA_TRY(mia_graph_conv2d(&x, g->D, "d.2", x, 2 * wd, 4, 2, 1, 1, true));
    MIA_TRY(mia_graph_activation(&x, g->D, x, MIA_GRAPH_ACT_LEAKY_RELU, 0.2f));
    MIA_TRY(mia_graph_flatten(&x, g->D, x));
    g->nout = 1 + g->k; /* real/fake logit + auxiliary class logits */
    MIA_TRY(mia_graph_linear(&x, g->D, "d.6", x, g->nout, true));
    MIA_TRY(mia_graph_set_output(g->D, x));
    MIA_TRY(adam_create(&g->aG, g->G));
    MIA_TRY(adam_create(&g->aD, g->D));
    return MIA_OK;
}

static mia_status check_opts(const mia_cgan_opts *o)
{
    MIA_CHECK_ARG(o->z_dim >= 1 && o->z_dim <= 4096, "opts->z_dim %d outside [1, 4096]", o->z_dim);
    MIA_CHECK_ARG(o->width >= 1 && o->width <= 1024, "opts->width %d outside [1, 1024]", o->width);
    MIA_CHECK_ARG(o->batch_size >= 2 && o->batch_size <= 4096,
                  "opts->batch_size %d outside [2, 4096]", o->batch_size);
    MIA_CHECK_ARG(o->steps >= 0, "opts->steps is negative");
    MIA_CHECK_ARG(o->lr > 0.0f && isfinite(o->lr), "opts->lr must be positive");
    MIA_CHECK_ARG(o->beta1 >= 0.0f && o->beta1 < 1.0f && o->beta2 >= 0.0f && o->beta2 < 1.0f,
                  "opts->beta1/beta2 must lie in [0, 1)");
    MIA_CHECK_ARG(o->checkpoint_every >= 1, "opts->checkpoint_every must be >= 1");
    return MIA_OK;
}

static mia_status create_impl(mia_cgan **out, mia_backend *be, int64_t k, int64_t c, int64_t h,
                              int64_t w, const mia_cgan_opts *opts, bool init)
{
    MIA_CHECK_ARG(out, "out is NULL");
    MIA_CHECK_ARG(be, "be is NULL");
    MIA_CHECK_ARG(k >= 1 && k <= 1000, "n_classes %lld outside [1, 1000]", (long long)k);
    MIA_CHECK_ARG(c == 1 || c == 3, "channels %lld: expected 1 or 3", (long long)c);
    MIA_CHECK_ARG(h == w && h % 4 == 0 && h >= 8 && h <= 64,
                  "image size %lldx%lld: expected square, a multiple of 4 in [8, 64]",
                  (long long)h, (long long)w);
    mia_cgan_opts o;
    mia_cgan_opts_init(&o);
    if (opts) memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    o.struct_size = sizeof o;
    MIA_TRY(check_opts(&o));
    mia_cgan *g = mia__calloc(1, sizeof *g);
    if (!g) return MIA_ERROR(MIA_ERR_NOMEM, "cgan: out of memory");
    g->be = be;
    g->o = o;
    g->k = k;
    g->c = c;
    g->h = h;
    g->w = w;
    mia_status s = MIA_OK;
    if (o.checkpoint && !(g->checkpoint = mia__strdup(o.checkpoint)))
        s = MIA_ERROR(MIA_ERR_NOMEM, "cgan: out of memory");
    g->o.checkpoint = g->checkpoint;
    if (s == MIA_OK) s = build(g);
    if (s == MIA_OK && init) s = init_params(g->G, o.seed, 1);
    if (s == MIA_OK && init) s = init_params(g->D, o.seed, 2);
    if (s != MIA_OK) {
        mia_cgan_free(g);
        return s;
    }
    *out = g;
    return MIA_OK;
}

mia_status mia_cgan_create(mia_cgan **out, mia_backend *be, int64_t n_classes, int64_t channels,
                           int64_t h, int64_t w, const mia_cgan_opts *opts)
{
    mia__error_begin();
    if (out) *out = NULL;
    return create_impl(out, be, n_classes, channels, h, w, opts, true);
}

int64_t mia_cgan_step(const mia_cgan *g) { return g ? g->step : 0; }

void mia_cgan_shape(const mia_cgan *g, int64_t *n_classes, int64_t *channels, int64_t *h,
                    int64_t *w)
{
    if (n_classes) *n_classes = g ? g->k : 0;
    if (channels) *channels = g ? g->c : 0;
    if (h) *h = g ? g->h : 0;
    if (w) *w = g ? g->w : 0;
}

/* ---- checkpoints -------------------------------------------------------------------------- */

static mia_status add_tensor(mia_safetensors_writer *wr, const char *name, const mia_tensor *t)
{
    size_t nb = mia_tensor_nbytes(t);
    void *buf = mia__malloc(nb ? nb : 1);
    if (!buf) return MIA_ERROR(MIA_ERR_NOMEM, "cgan: out of memory");
    mia_status s = mia_tensor_download(t, buf, nb);
    mia_safetensors_dtype dt = mia_tensor_dtype(t) == MIA_DTYPE_I64 ? MIA_SAFETENSORS_I64
                                                                     : MIA_SAFETENSORS_F32;
    if (s == MIA_OK)
        s = mia_safetensors_writer_add(wr, name, dt, mia_tensor_ndim(t), mia_tensor_shape(t), buf);
    mia__free(buf);
    return s;
}

static mia_status add_graph(mia_safetensors_writer *wr, mia_graph *gr, const adam_state *a,
                            const char *prefix)
{
    char name[256];
    MIA_TRY(mia__graph_sync_buffers(gr));
    for (size_t i = 0; i < mia_graph_param_count(gr); i++) {
        mia_param_info pi;
        MIA_TRY(mia_graph_param(gr, i, &pi));
        snprintf(name, sizeof name, "%s.%s", prefix, pi.name);
        MIA_TRY(add_tensor(wr, name, pi.value));
        if (!a->m[i]) continue;
        snprintf(name, sizeof name, "%s.%s.adam_m", prefix, pi.name);
        MIA_TRY(add_tensor(wr, name, a->m[i]));
        snprintf(name, sizeof name, "%s.%s.adam_v", prefix, pi.name);
        MIA_TRY(add_tensor(wr, name, a->v[i]));
    }
    return MIA_OK;
}

mia_status mia_cgan_save(mia_cgan *g, const char *path)
{
    mia__error_begin();
    MIA_CHECK_ARG(g, "g is NULL");
    MIA_CHECK_ARG(path, "path is NULL");
    mia_safetensors_writer *wr = NULL;
    MIA_TRY(mia_safetensors_writer_create(&wr));
    char arch[256], step[32];
    snprintf(arch, sizeof arch,
             "{\"n_classes\":%lld,\"channels\":%lld,\"height\":%lld,\"width\":%lld,"
             "\"z_dim\":%d,\"base_width\":%d}",
             (long long)g->k, (long long)g->c, (long long)g->h, (long long)g->w, g->o.z_dim,
             g->o.width);
    snprintf(step, sizeof step, "%lld", (long long)g->step);
    mia_status s = mia_safetensors_writer_set_metadata(wr, "format", CGAN_FORMAT);
    if (s == MIA_OK) s = mia_safetensors_writer_set_metadata(wr, "arch", arch);
    if (s == MIA_OK) s = mia_safetensors_writer_set_metadata(wr, "step", step);
    if (s == MIA_OK) s = add_graph(wr, g->G, &g->aG, "G");
    if (s == MIA_OK) s = add_graph(wr, g->D, &g->aD, "D");
    if (s == MIA_OK) s = mia_safetensors_writer_write(wr, path);
    mia_safetensors_writer_free(wr);
    return s;
}

static mia_status read_into(const mia_safetensors *st, const char *path, const char *name,
                            mia_tensor *t)
{
    int64_t i = mia_safetensors_find(st, name);
    if (i < 0) return MIA_ERROR(MIA_ERR_FORMAT, "%s: tensor '%s' is missing", path, name);
    mia_safetensors_dtype dt;
    int nd;
    int64_t shape[16];
    MIA_TRY(mia_safetensors_info(st, (size_t)i, &dt, &nd, shape));
    bool ok = nd == mia_tensor_ndim(t) &&
              dt == (mia_tensor_dtype(t) == MIA_DTYPE_I64 ? MIA_SAFETENSORS_I64 : MIA_SAFETENSORS_F32);
    for (int k = 0; ok && k < nd; k++) ok = shape[k] == mia_tensor_dim(t, k);
    if (!ok) return MIA_ERROR(MIA_ERR_FORMAT, "%s: tensor '%s' has the wrong dtype or shape", path, name);
    return mia_tensor_upload(t, mia_safetensors_data(st, (size_t)i), mia_tensor_nbytes(t));
}

static mia_status read_graph(const mia_safetensors *st, const char *path, mia_graph *gr,
                             const adam_state *a, const char *prefix)
{
    char name[256];
    for (size_t i = 0; i < mia_graph_param_count(gr); i++) {
        mia_param_info pi;
        MIA_TRY(mia_graph_param(gr, i, &pi));
        snprintf(name, sizeof name, "%s.%s", prefix, pi.name);
        MIA_TRY(read_into(st, path, name, pi.value));
        if (!a->m[i]) continue;
        snprintf(name, sizeof name, "%s.%s.adam_m", prefix, pi.name);
        MIA_TRY(read_into(st, path, name, a->m[i]));
        snprintf(name, sizeof name, "%s.%s.adam_v", prefix, pi.name);
        MIA_TRY(read_into(st, path, name, a->v[i]));
    }
    return MIA_OK;
}

static mia_status read_state(mia_cgan *g, const mia_safetensors *st, const char *path)
{
    const char *step = mia_safetensors_metadata_get(st, "step");
    char *end = NULL;
    long long sv = step ? strtoll(step, &end, 10) : -1;
    if (!step || *end || sv < 0)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: metadata 'step' is missing or invalid", path);
    MIA_TRY(read_graph(st, path, g->G, &g->aG, "G"));
    MIA_TRY(read_graph(st, path, g->D, &g->aD, "D"));
    g->step = sv;
    return MIA_OK;
}

static mia_status open_ckpt(mia_safetensors **st, const char *path)
{
    mia_safetensors_opts so;
    mia_safetensors_opts_init(&so);
    MIA_TRY(mia_safetensors_open(st, path, &so));
    const char *fmt = mia_safetensors_metadata_get(*st, "format");
    if (!fmt || strcmp(fmt, CGAN_FORMAT) != 0) {
        mia_safetensors_free(*st);
        *st = NULL;
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: not a libmia GAN file (metadata format '%s')",
                         path, fmt ? fmt : "(none)");
    }
    return MIA_OK;
}

mia_status mia_cgan_load(mia_cgan **out, mia_backend *be, const char *path,
                         const mia_cgan_opts *opts)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(out, "out is NULL");
    MIA_CHECK_ARG(path, "path is NULL");
    mia_safetensors *st = NULL;
    MIA_TRY(open_ckpt(&st, path));
    json_error_t je;
    const char *arch = mia_safetensors_metadata_get(st, "arch");
    json_t *j = arch ? json_loads(arch, 0, &je) : NULL;
    json_int_t v[6] = {0};
    const char *keys[6] = {"n_classes", "channels", "height", "width", "z_dim", "base_width"};
    bool ok = j != NULL;
    for (int i = 0; ok && i < 6; i++) {
        json_t *x = json_object_get(j, keys[i]);
        ok = json_is_integer(x);
        if (ok) v[i] = json_integer_value(x);
    }
    json_decref(j);
    if (!ok) {
        mia_safetensors_free(st);
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: metadata 'arch' is missing or invalid", path);
    }
    mia_cgan_opts o;
    mia_cgan_opts_init(&o);
    if (opts) memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    o.struct_size = sizeof o;
    o.z_dim = v[4] > 0 && v[4] <= 4096 ? (int32_t)v[4] : 0;
    o.width = v[5] > 0 && v[5] <= 1024 ? (int32_t)v[5] : 0;
    mia_cgan *g = NULL;
    mia_status s = create_impl(&g, be, v[0], v[1], v[2], v[3], &o, false);
    if (s == MIA_OK) s = read_state(g, st, path);
    mia_safetensors_free(st);
    if (s != MIA_OK) {
        mia_cgan_free(g);
        return s;
    }
    *out = g;
    return MIA_OK;
}

/* ---- training ----------------------------------------------------------------------------- */

static mia_status ensure_batch(mia_cgan *g, int64_t b)
{
    if (g->batch_alloc == b) return MIA_OK;
    free_batch(g);
    int64_t sz[4] = {b, g->o.z_dim + g->k, 1, 1};
    MIA_TRY(mia_tensor_create(&g->zin, g->be, MIA_DTYPE_F32, 4, sz));
    int64_t sd[4] = {2 * b, g->c + g->k, g->h, g->w};
    MIA_TRY(mia_tensor_create(&g->dreal, g->be, MIA_DTYPE_F32, 4, sd));
    int64_t sl[2] = {2 * b, g->nout};
    MIA_TRY(mia_tensor_create(&g->dlog, g->be, MIA_DTYPE_F32, 2, sl));
    int64_t sf[4] = {b, g->c, g->h, g->w};
    MIA_TRY(mia_tensor_create(&g->dfake, g->be, MIA_DTYPE_F32, 4, sf));
    int64_t sx[4] = {2 * b, g->c + g->k, g->h, g->w};
    MIA_TRY(mia_tensor_create(&g->dxd, g->be, MIA_DTYPE_F32, 4, sx));
    size_t fl = sizeof(float), per = (size_t)((g->c + g->k) * g->h * g->w);
    g->hz = mia__malloc((size_t)(b * (g->o.z_dim + g->k)) * fl);
    g->hd = mia__malloc((size_t)(2 * b) * per * fl);
    g->hl = mia__malloc((size_t)(2 * b * g->nout) * fl);
    g->hf = mia__malloc((size_t)(b * g->c * g->h * g->w) * fl);
    g->hx = mia__malloc((size_t)(2 * b) * per * fl);
    g->fy = mia__malloc((size_t)b * sizeof(int32_t));
    g->ry = mia__malloc((size_t)b * sizeof(int32_t));
    if (!g->hz || !g->hd || !g->hl || !g->hf || !g->hx || !g->fy || !g->ry)
        return MIA_ERROR(MIA_ERR_NOMEM, "cgan: out of memory");
    g->batch_alloc = b;
    return MIA_OK;
}

/* Latent of (seed, class, index) with optional truncation: only depends on those. */
static void latent(float *z, int64_t z_dim, uint64_t seed, uint64_t stream_tag, int64_t idx,
                   float trunc)
{
    mia_rng r;
    mia__rng_init(&r, seed, ((uint64_t)MIA_STREAM_GAN << 56) | (stream_tag << 40) | (uint64_t)idx);
    for (int64_t k = 0; k < z_dim; k++) {
        double v = mia__rng_normal(&r);
        for (int tries = 0; trunc > 0.0f && fabs(v) > trunc && tries < 1000; tries++)
            v = mia__rng_normal(&r);
        if (trunc > 0.0f && fabs(v) > trunc) v = 0.0;
        z[k] = (float)v;
    }
}

static void fill_g_input(mia_cgan *g, float *zin, int64_t i, const int32_t cls)
{
    int64_t zc = g->o.z_dim + g->k;
    float *row = zin + i * zc;
    for (int64_t k = 0; k < g->k; k++) row[g->o.z_dim + k] = k == cls ? 1.0f : 0.0f;
}

static mia_status adam_all(mia_cgan *g, mia_graph *gr, adam_state *a, int64_t step)
{
    for (size_t i = 0; i < mia_graph_param_count(gr); i++) {
        mia_param_info pi;
        MIA_TRY(mia_graph_param(gr, i, &pi));
        if (!a->m[i] || pi.detached) continue;
        mia_adam_args aa = {.count = mia_tensor_numel(pi.value), .step = step, .lr = g->o.lr,
                            .beta1 = g->o.beta1, .beta2 = g->o.beta2, .eps = 1e-8f,
                            .weight_decay = 0.0f, .param = F32(pi.value), .m = F32(a->m[i]),
                            .v = F32(a->v[i]), .grad = F32(pi.grad)};
        MIA_TRY(mia__adam_step(g->be, &aa));
    }
    return MIA_OK;
}

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* Batch of step @p step (a function of (seed, step) only): G's training forward on B latents
 * with random classes, then in g->dreal B real images followed by the B fakes, each with its
 * one-hot class planes. */
static mia_status make_batch(mia_cgan *g, const mia_dataset *d, int64_t step)
{
    int64_t B = g->o.batch_size, C = g->c, K = g->k, HW = g->h * g->w;
    int64_t n = mia_dataset_n(d), zc = g->o.z_dim + K, per = (C + K) * HW;
    float *hz = g->hz, *hd = g->hd, *hf = g->hf;
    int32_t *fy = g->fy;
    mia_rng r;
    mia__rng_init(&r, g->o.seed, ((uint64_t)MIA_STREAM_GAN << 56) | (3ull << 40) | (uint64_t)step);
    for (int64_t i = 0; i < B; i++) {
        fy[i] = (int32_t)mia__rng_below(&r, (uint64_t)K);
        for (int64_t k = 0; k < g->o.z_dim; k++) hz[i * zc + k] = (float)mia__rng_normal(&r);
        fill_g_input(g, hz, i, fy[i]);
    }
    MIA_TRY(mia_tensor_upload(g->zin, hz, (size_t)(B * zc) * sizeof(float)));
    const mia_tensor *fake;
    MIA_TRY(mia_graph_forward(g->G, g->zin, true, 0, &fake));
    MIA_TRY(mia_tensor_download(fake, hf, (size_t)(B * C * HW) * sizeof(float)));
    for (int64_t i = 0; i < 2 * B; i++) {
        float *dst = hd + i * per;
        int32_t y;
        if (i < B) {
            int64_t idx = (int64_t)mia__rng_below(&r, (uint64_t)n);
            const uint8_t *px = mia_dataset_pixels(d, idx);
            y = mia_dataset_label(d, idx);
            if (y < 0 || y >= K)
                return MIA_ERROR(MIA_ERR_INVALID, "dataset image %lld has label %d outside [0, %lld)",
                                 (long long)idx, y, (long long)K);
            g->ry[i] = y;
            for (int64_t k = 0; k < C * HW; k++) dst[k] = (float)px[k] / 127.5f - 1.0f;
        } else {
            y = fy[i - B];
            memcpy(dst, hf + (i - B) * C * HW, (size_t)(C * HW) * sizeof(float));
        }
        for (int64_t k = 0; k < K; k++) {
            float v = k == y ? 1.0f : 0.0f;
            for (int64_t p = 0; p < HW; p++) dst[(C + k) * HW + p] = v;
        }
    }
    return mia_tensor_upload(g->dreal, hd, (size_t)(2 * B * per) * sizeof(float));
}

/* D forward (training) on g->dreal; outputs into lg[2B x nout]. */
static mia_status d_logits(mia_cgan *g, float *lg)
{
    const mia_tensor *logit;
    MIA_TRY(mia_graph_forward(g->D, g->dreal, true, 0, &logit));
    return mia_tensor_download(logit, lg, (size_t)(2 * g->o.batch_size * g->nout) * sizeof(float));
}

/* Softmax cross-entropy of the auxiliary class logits row[1..K] with label y; its gradient
 * (times scale) written over row[1..K]. */
static double aux_xent(float *row, int64_t K, int32_t y, double scale)
{
    double mx = row[1];
    for (int64_t k = 1; k < K; k++) mx = row[1 + k] > mx ? row[1 + k] : mx;
    double z = 0.0;
    for (int64_t k = 0; k < K; k++) z += exp((double)row[1 + k] - mx);
    double loss = log(z) + mx - (double)row[1 + y];
    for (int64_t k = 0; k < K; k++) {
        double p = exp((double)row[1 + k] - mx) / z;
        row[1 + k] = (float)(scale * (p - (k == y ? 1.0 : 0.0)));
    }
    return loss * scale;
}

/* D's loss: BCE with logits on output 0 (mean over the B reals + mean over the B fakes) plus,
 * with the auxiliary classifier, the class cross-entropy of the reals (mean); its parameter
 * gradients. */
static mia_status d_backward(mia_cgan *g, double *loss)
{
    int64_t B = g->o.batch_size, M = g->nout;
    float *hl = g->hl;
    MIA_TRY(d_logits(g, hl));
    double l = 0.0;
    for (int64_t i = 0; i < 2 * B; i++) {
        float *row = hl + i * M;
        double t = i < B ? 1.0 : 0.0, lg = row[0], sg = 1.0 / (1.0 + exp(-lg));
        l += (i < B ? softplus(-lg) : softplus(lg)) / (double)B;
        row[0] = (float)((sg - t) / (double)B);
        if (M == 1) continue;
        if (i < B) l += aux_xent(row, g->k, g->ry[i], 1.0 / (double)B);
        else
            for (int64_t k = 1; k < M; k++) row[k] = 0.0f;
    }
    *loss = l;
    MIA_TRY(mia_tensor_upload(g->dlog, hl, (size_t)(2 * B * M) * sizeof(float)));
    return mia_graph_backward(g->D, g->dlog);
}

/* G's loss on the current batch (G's training forward of make_batch): the non-saturating
 * mean_fakes softplus(-D_0(G(z), c)), plus with the auxiliary classifier mean_fakes
 * CE(D_1..K(G(z), c), c). With @p grads, G's parameter gradients: D backward with only the
 * fakes' output gradients, dL/d image by mia_graph_input_grad, its fake rows (image planes)
 * into G's backward. D's parameter gradients are overwritten and unused. */
static mia_status g_backward(mia_cgan *g, bool grads, double *loss)
{
    int64_t B = g->o.batch_size, CHW = g->c * g->h * g->w, per = (g->c + g->k) * g->h * g->w;
    int64_t M = g->nout;
    float *hl = g->hl;
    MIA_TRY(d_logits(g, hl));
    double l = 0.0;
    for (int64_t i = 0; i < 2 * B; i++) {
        float *row = hl + i * M;
        if (i < B) {
            for (int64_t k = 0; k < M; k++) row[k] = 0.0f;
            continue;
        }
        double lg = row[0];
        l += softplus(-lg) / (double)B;
        row[0] = (float)((1.0 / (1.0 + exp(-lg)) - 1.0) / (double)B);
        if (M > 1) l += aux_xent(row, g->k, g->fy[i - B], 1.0 / (double)B);
    }
    *loss = l;
    if (!grads) return MIA_OK;
    MIA_TRY(mia_tensor_upload(g->dlog, hl, (size_t)(2 * B * M) * sizeof(float)));
    MIA_TRY(mia_graph_backward(g->D, g->dlog));
    MIA_TRY(mia_graph_input_grad(g->D, g->dxd));
    MIA_TRY(mia_tensor_download(g->dxd, g->hx, (size_t)(2 * B * per) * sizeof(float)));
    for (int64_t i = 0; i < B; i++)
        memcpy(g->hf + i * CHW, g->hx + (B + i) * per, (size_t)CHW * sizeof(float));
    MIA_TRY(mia_tensor_upload(g->dfake, g->hf, (size_t)(B * CHW) * sizeof(float)));
    return mia_graph_backward(g->G, g->dfake);
}

mia_status mia__cgan_g_loss(mia_cgan *g, const mia_dataset *d, int64_t step, bool grads,
                            double *loss)
{
    mia__error_begin();
    MIA_CHECK_ARG(g && d && loss, "g, d or loss is NULL");
    MIA_TRY(ensure_batch(g, g->o.batch_size));
    MIA_TRY(make_batch(g, d, step));
    return g_backward(g, grads, loss);
}

mia_graph *mia__cgan_graph(mia_cgan *g, bool discriminator)
{
    return g ? (discriminator ? g->D : g->G) : NULL;
}

static mia_status train_step(mia_cgan *g, const mia_dataset *d, double *dloss, double *gloss)
{
    MIA_TRY(make_batch(g, d, g->step));
    MIA_TRY(d_backward(g, dloss));
    MIA_TRY(adam_all(g, g->D, &g->aD, g->step + 1));
    /* G step: D (updated) again on the same batch, gradient only from the fakes */
    MIA_TRY(g_backward(g, true, gloss));
    MIA_TRY(adam_all(g, g->G, &g->aG, g->step + 1));
    g->step++;
    return MIA_OK;
}

mia_status mia_cgan_train(mia_cgan *g, const mia_dataset *d)
{
    mia__error_begin();
    MIA_CHECK_ARG(g, "g is NULL");
    MIA_CHECK_ARG(d, "d is NULL");
    MIA_CHECK_ARG(mia_dataset_channels(d) == g->c && mia_dataset_height(d) == g->h &&
                      mia_dataset_width(d) == g->w,
                  "dataset images are %lldx%lldx%lld, the GAN's %lldx%lldx%lld",
                  (long long)mia_dataset_channels(d), (long long)mia_dataset_height(d),
                  (long long)mia_dataset_width(d), (long long)g->c, (long long)g->h,
                  (long long)g->w);
    MIA_CHECK_ARG(mia_dataset_n_classes(d) <= g->k && mia_dataset_n(d) > 0,
                  "dataset has %lld classes (GAN: %lld) and %lld images",
                  (long long)mia_dataset_n_classes(d), (long long)g->k,
                  (long long)mia_dataset_n(d));
    struct stat sb;
    if (g->checkpoint && stat(g->checkpoint, &sb) == 0) {
        mia_safetensors *st = NULL;
        MIA_TRY(open_ckpt(&st, g->checkpoint));
        mia_status s = read_state(g, st, g->checkpoint);
        mia_safetensors_free(st);
        MIA_TRY(s);
        mia__log(MIA_LOG_INFO, "cgan: resumed from %s at step %lld", g->checkpoint,
                 (long long)g->step);
    }
    MIA_TRY(ensure_batch(g, g->o.batch_size));
    mia_status s = MIA_OK;
    double t0 = mia__now(), run = NAN, grun = NAN;
    int64_t start = g->step, B = g->o.batch_size;
    while (s == MIA_OK && g->step < g->o.steps) {
        double dl = 0.0, gl = 0.0;
        s = train_step(g, d, &dl, &gl);
        if (s != MIA_OK) break;
        run = isnan(run) ? dl : 0.98 * run + 0.02 * dl;
        grun = isnan(grun) ? gl : 0.98 * grun + 0.02 * gl;
        bool ck = g->checkpoint && (g->step % g->o.checkpoint_every == 0 || g->step == g->o.steps);
        if (ck) s = mia_cgan_save(g, g->checkpoint);
        if (s == MIA_OK && g->step % 100 == 0)
            mia__log(MIA_LOG_DEBUG, "cgan: step %lld D loss %.3f G loss %.3f", (long long)g->step,
                     run, grun);
        if (s == MIA_OK && g->o.progress) {
            double el = mia__now() - t0, done = (double)(g->step - start);
            mia_progress p = {.struct_size = sizeof p, .stage = "gan", .epoch = -1, .epochs = -1,
                              .step = g->step, .steps = g->o.steps, .loss = run,
                              .items_per_sec = el > 0 ? done * (double)B / el : 0.0,
                              .eta_seconds = done > 0 ? el / done * (double)(g->o.steps - g->step) : -1.0,
                              .fraction = (double)g->step / (double)g->o.steps};
            if (!g->o.progress(&p, g->o.progress_data)) {
                if (g->checkpoint && !ck) s = mia_cgan_save(g, g->checkpoint);
                if (s == MIA_OK) s = MIA_ERROR(MIA_ERR_CANCELLED, "GAN training cancelled at step %lld",
                                               (long long)g->step);
            }
        }
    }
    return s;
}

mia_status mia_cgan_generate(mia_cgan *g, int32_t cls, int64_t first, int64_t n, uint64_t seed,
                             float truncation, uint8_t *hwc)
{
    mia__error_begin();
    MIA_CHECK_ARG(g, "g is NULL");
    MIA_CHECK_ARG(hwc || n == 0, "hwc is NULL");
    MIA_CHECK_ARG(cls >= 0 && cls < g->k, "class %d outside [0, %lld)", cls, (long long)g->k);
    MIA_CHECK_ARG(n >= 0 && first >= 0, "n and first must be >= 0");
    MIA_CHECK_ARG(truncation >= 0.0f && isfinite(truncation), "truncation must be >= 0");
    int64_t zc = g->o.z_dim + g->k, chw = g->c * g->h * g->w;
    const int64_t chunk = 64;
    float *hz = mia__malloc((size_t)(chunk * zc) * sizeof(float));
    float *out = mia__malloc((size_t)(chunk * chw) * sizeof(float));
    mia_tensor *zt = NULL;
    mia_status s = (hz && out) ? MIA_OK : MIA_ERROR(MIA_ERR_NOMEM, "cgan: out of memory");
    for (int64_t at = 0; s == MIA_OK && at < n; at += chunk) {
        int64_t b = n - at < chunk ? n - at : chunk;
        for (int64_t i = 0; i < b; i++) {
            latent(hz + i * zc, g->o.z_dim, seed, 1ull + (uint64_t)cls, first + at + i, truncation);
            fill_g_input(g, hz, i, cls);
        }
        int64_t sz[4] = {b, zc, 1, 1};
        s = mia_tensor_create(&zt, g->be, MIA_DTYPE_F32, 4, sz);
        if (s == MIA_OK) s = mia_tensor_upload(zt, hz, (size_t)(b * zc) * sizeof(float));
        const mia_tensor *y = NULL;
        if (s == MIA_OK) s = mia_graph_forward(g->G, zt, false, 0, &y);
        if (s == MIA_OK) s = mia_tensor_download(y, out, (size_t)(b * chw) * sizeof(float));
        mia_tensor_free(zt);
        zt = NULL;
        for (int64_t i = 0; s == MIA_OK && i < b; i++)
            mia_gen_to_u8(out + i * chw, g->c, g->h, g->w, hwc + (at + i) * chw);
    }
    mia__free(hz);
    mia__free(out);
    return s;
}
