/* mia_model: architecture registry, creation, metadata and batch prediction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mia/safetensors.h>
#include <mia/tensor.h>

#include "model-impl.h"
#include "backend/ops.h"
#include "tensor/tensor-impl.h"

struct mia_model {
    mia_graph *g;
    const char *arch; /* static registry text */
    int32_t n_classes;
    int64_t in_shape[3]; /* per-sample input: {C, H, W}; mlp: {features, 1, 1} */
    int n_channels;      /* channels with normalisation metadata */
    float mean[MIA_MODEL_MAX_CHANNELS], std[MIA_MODEL_MAX_CHANNELS];
    mia_tensor *staging;  /* input copied from another backend */
    mia_tensor *probs;    /* softmax output of predict */
    int32_t mlp_n_hidden; /* mlp: recorded for files */
    int32_t mlp_hidden[MIA_MODEL_MLP_MAX_HIDDEN];
    mia_mlp_act mlp_act;
};

typedef struct arch_entry {
    const char *name;
    const char *desc;
    mia_builder_fn build;
    int32_t n_classes, c, h, w;
    mia_init_scheme init;
} arch_entry;

static const arch_entry archs[] = {
    {"salem_cnn", "SalemCNN_Relu: 2x (conv5x5, ReLU, maxpool), linear 128, linear (CIFAR)",
     mia__build_salem_cnn, 10, 3, 32, 32, MIA_INIT_PYTORCH_DEFAULT},
    {"resnet18_cifar", "ResNet-18, CIFAR variant (3x3 stem, no max-pool)",
     mia__build_resnet18_cifar, 10, 3, 32, 32, MIA_INIT_PYTORCH_DEFAULT},
    {"efficientnet_b0_cifar", "EfficientNet-B0, CIFAR variant (kuangliu/pytorch-cifar)",
     mia__build_efficientnet_b0_cifar, 10, 3, 32, 32, MIA_INIT_PYTORCH_DEFAULT},
    {"resnet50", "ResNet-50, torchvision layout (bottleneck v1.5), adaptive average pool",
     mia__build_resnet50, 120, 3, 224, 224, MIA_INIT_CONV_KAIMING_FAN_OUT},
    {"mlp", "fully connected network (Salem attack model: 3 -> 64 -> 1, ReLU)", mia__build_mlp, 1,
     3, 1, 1, MIA_INIT_PYTORCH_DEFAULT},
};
#define N_ARCHS (sizeof archs / sizeof archs[0])

size_t mia_model_arch_count(void) { return N_ARCHS; }
const char *mia_model_arch_name(size_t i) { return i < N_ARCHS ? archs[i].name : NULL; }
const char *mia_model_arch_description(size_t i) { return i < N_ARCHS ? archs[i].desc : NULL; }

void mia_model_opts_init_sized(mia_model_opts *o, size_t size)
{
    if (!o) return;
    mia_model_opts d;
    memset(&d, 0, sizeof d);
    d.struct_size = (uint32_t)sizeof d;
    d.mlp_n_hidden = 1;
    d.mlp_hidden[0] = 64;
    d.mlp_act = MIA_MLP_ACT_RELU;
    for (int i = 0; i < MIA_MODEL_MAX_CHANNELS; i++) d.std[i] = 1.0f;
    size_t n = size < sizeof d ? size : sizeof d;
    memcpy(o, &d, n);
    o->struct_size = (uint32_t)n;
}

/* Defaults applied, options validated; *e set to the registry entry. */
static mia_status resolve(const char *arch, const mia_model_opts *opts, mia_model_opts *o,
                          const arch_entry **e, mia_build_cfg *cfg)
{
    MIA_CHECK_ARG(arch, "arch is NULL");
    *e = NULL;
    for (size_t i = 0; i < N_ARCHS; i++)
        if (strcmp(archs[i].name, arch) == 0) *e = &archs[i];
    if (!*e)
        return MIA_ERROR(MIA_ERR_INVALID,
                         "arch: unknown architecture '%s' (salem_cnn, resnet18_cifar, "
                         "efficientnet_b0_cifar, resnet50, mlp)", arch);
    mia_model_opts_init(o);
    if (opts) {
        MIA_CHECK_ARG(opts->struct_size >= sizeof(uint32_t) && opts->struct_size <= sizeof *o,
                      "opts->struct_size %u is invalid (use mia_model_opts_init)",
                      (unsigned)opts->struct_size);
        memcpy(o, opts, opts->struct_size);
    }
    MIA_CHECK_ARG(o->n_classes >= 0, "opts->n_classes %d must be >= 1", (int)o->n_classes);
    MIA_CHECK_ARG(o->in_channels >= 0 && o->in_h >= 0 && o->in_w >= 0,
                  "opts->in_channels/in_h/in_w must be >= 1 (0 = default)");
    MIA_CHECK_ARG(o->in_h <= 4096 && o->in_w <= 4096 && o->in_channels <= 4096 &&
                      o->n_classes <= 1000000,
                  "opts: in_channels, in_h, in_w must be <= 4096 and n_classes <= 1e6");
    MIA_CHECK_ARG(o->mlp_n_hidden >= 0 && o->mlp_n_hidden <= MIA_MODEL_MLP_MAX_HIDDEN,
                  "opts->mlp_n_hidden %d not in [0, %d]", (int)o->mlp_n_hidden,
                  MIA_MODEL_MLP_MAX_HIDDEN);
    for (int i = 0; i < o->mlp_n_hidden; i++)
        MIA_CHECK_ARG(o->mlp_hidden[i] >= 1 && o->mlp_hidden[i] <= 1 << 20,
                      "opts->mlp_hidden[%d] = %d not in [1, 2^20]", i, (int)o->mlp_hidden[i]);
    MIA_CHECK_ARG(o->mlp_act == MIA_MLP_ACT_RELU || o->mlp_act == MIA_MLP_ACT_TANH,
                  "opts->mlp_act %d is not a mia_mlp_act", (int)o->mlp_act);
    if (o->n_classes == 0) o->n_classes = (*e)->n_classes;
    if (o->in_channels == 0) o->in_channels = (*e)->c;
    if (o->in_h == 0) o->in_h = (*e)->h;
    if (o->in_w == 0) o->in_w = (*e)->w;
    int nc = o->in_channels < MIA_MODEL_MAX_CHANNELS ? o->in_channels : MIA_MODEL_MAX_CHANNELS;
    for (int i = 0; i < nc; i++)
        MIA_CHECK_ARG(o->std[i] > 0.0f, "opts->std[%d] = %g must be > 0", i, (double)o->std[i]);
    cfg->n_classes = o->n_classes;
    cfg->c = o->in_channels;
    cfg->h = o->in_h;
    cfg->w = o->in_w;
    cfg->o = o;
    return MIA_OK;
}

mia_status mia_model_arch_param_count(int64_t *out, const char *arch, const mia_model_opts *opts)
{
    mia__error_begin();
    if (out) *out = 0;
    MIA_CHECK_ARG(out, "out is NULL");
    mia_model_opts o;
    const arch_entry *e;
    mia_build_cfg cfg;
    MIA_TRY(resolve(arch, opts, &o, &e, &cfg));
    mia_graph *g;
    MIA_TRY(mia__graph_create_dry(&g));
    mia_status s = e->build(g, &cfg);
    if (s == MIA_OK) *out = mia_graph_n_params(g);
    mia_graph_free(g);
    return s;
}

mia_status mia_model_create(mia_model **out, mia_backend *be, const char *arch,
                            const mia_model_opts *opts)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(out, "out is NULL");
    MIA_CHECK_ARG(be, "be is NULL");
    mia_model_opts o;
    const arch_entry *e;
    mia_build_cfg cfg;
    MIA_TRY(resolve(arch, opts, &o, &e, &cfg));
    mia_model *m = mia__calloc(1, sizeof *m);
    if (!m) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory allocating a model");
    m->arch = e->name;
    m->n_classes = o.n_classes;
    if (e->build == mia__build_mlp) {
        m->in_shape[0] = (int64_t)o.in_channels * o.in_h * o.in_w;
        m->in_shape[1] = m->in_shape[2] = 1;
    } else {
        m->in_shape[0] = o.in_channels;
        m->in_shape[1] = o.in_h;
        m->in_shape[2] = o.in_w;
    }
    m->n_channels = o.in_channels < MIA_MODEL_MAX_CHANNELS ? o.in_channels : MIA_MODEL_MAX_CHANNELS;
    m->mlp_n_hidden = o.mlp_n_hidden;
    memcpy(m->mlp_hidden, o.mlp_hidden, sizeof m->mlp_hidden);
    m->mlp_act = o.mlp_act;
    memcpy(m->mean, o.mean, sizeof m->mean);
    memcpy(m->std, o.std, sizeof m->std);
    mia_status s = mia_graph_create(&m->g, be);
    if (s == MIA_OK) s = e->build(m->g, &cfg);
    if (s == MIA_OK) s = mia__init_params(m->g, o.seed, e->init);
    if (s != MIA_OK) {
        mia__error_prefix("%s", e->name);
        mia_model_free(m);
        return s;
    }
    *out = m;
    return MIA_OK;
}

void mia_model_free(mia_model *m)
{
    if (!m) return;
    mia_tensor_free(m->staging);
    mia_tensor_free(m->probs);
    mia_graph_free(m->g);
    mia__free(m);
}

mia_graph *mia_model_graph(const mia_model *m) { return m ? m->g : NULL; }
const char *mia_model_arch(const mia_model *m) { return m ? m->arch : NULL; }
int32_t mia_model_n_classes(const mia_model *m) { return m ? m->n_classes : 0; }
int64_t mia_model_n_params(const mia_model *m) { return m ? mia_graph_n_params(m->g) : 0; }

void mia_model_input_shape(const mia_model *m, int64_t out[3])
{
    if (!m || !out) return;
    memcpy(out, m->in_shape, sizeof m->in_shape);
}

void mia_model_normalization(const mia_model *m, float *mean, float *std)
{
    if (!m) return;
    if (mean) memcpy(mean, m->mean, (size_t)m->n_channels * sizeof *mean);
    if (std) memcpy(std, m->std, (size_t)m->n_channels * sizeof *std);
}

mia_status mia_model_set_normalization(mia_model *m, int n, const float *mean, const float *std)
{
    mia__error_begin();
    MIA_CHECK_ARG(m, "m is NULL");
    MIA_CHECK_ARG(mean && std, "mean and std must not be NULL");
    MIA_CHECK_ARG(n == m->n_channels, "n = %d, the model has %d normalised channels", n,
                  m->n_channels);
    for (int i = 0; i < n; i++)
        MIA_CHECK_ARG(std[i] > 0.0f, "std[%d] = %g must be > 0", i, (double)std[i]);
    memcpy(m->mean, mean, (size_t)n * sizeof *mean);
    memcpy(m->std, std, (size_t)n * sizeof *std);
    return MIA_OK;
}

mia_status mia_model_predict(mia_model *m, const mia_tensor *x, mia_predict_kind kind, float *out)
{
    mia__error_begin();
    MIA_CHECK_ARG(m, "m is NULL");
    MIA_CHECK_ARG(x, "x is NULL");
    MIA_CHECK_ARG(out, "out is NULL");
    MIA_CHECK_ARG(kind == MIA_PREDICT_LOGITS || kind == MIA_PREDICT_SOFTMAX,
                  "kind %d is not a mia_predict_kind", (int)kind);
    mia_backend *be = mia_graph_backend(m->g);
    const mia_tensor *in = x;
    if (x->be != be) {
        if (!m->staging || m->staging->ndim != x->ndim ||
            memcmp(m->staging->shape, x->shape, (size_t)x->ndim * sizeof *x->shape) != 0 ||
            m->staging->dtype != x->dtype) {
            mia_tensor_free(m->staging);
            m->staging = NULL;
            MIA_TRY(mia_tensor_create(&m->staging, be, x->dtype, x->ndim, x->shape));
        }
        MIA_TRY(mia_tensor_copy(m->staging, x));
        in = m->staging;
    }
    const mia_tensor *y;
    MIA_TRY(mia_graph_forward(m->g, in, false, 0, &y));
    if (kind == MIA_PREDICT_SOFTMAX) {
        if (!m->probs || m->probs->numel != y->numel) {
            mia_tensor_free(m->probs);
            m->probs = NULL;
            MIA_TRY(mia_tensor_create(&m->probs, be, MIA_DTYPE_F32, y->ndim, y->shape));
        }
        mia_softmax_args a = {.rows = y->shape[0], .cols = y->numel / y->shape[0],
                              .x = mia__tensor_f32(y), .out = mia__tensor_f32(m->probs)};
        MIA_TRY(mia__softmax_fwd(be, &a));
        y = m->probs;
    }
    return mia_tensor_download(y, out, mia_tensor_nbytes(y));
}

/* ---- files -------------------------------------------------------------------------------- */

static void join_floats(char *buf, size_t size, const float *v, int n)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, i ? ",%.9g" : "%.9g", (double)v[i]);
}

mia_status mia_model_save(mia_model *m, const char *path)
{
    mia__error_begin();
    MIA_CHECK_ARG(m, "m is NULL");
    MIA_CHECK_ARG(path, "path is NULL");
    mia_safetensors_writer *w;
    MIA_TRY(mia_safetensors_writer_create(&w));
    mia_status s = MIA_OK;
    void *buf = NULL;
    size_t cap = 0;
    for (size_t i = 0; s == MIA_OK && i < mia_graph_param_count(m->g); i++) {
        mia_param_info p;
        s = mia_graph_param(m->g, i, &p);
        if (s != MIA_OK) break;
        size_t nb = mia_tensor_nbytes(p.value);
        if (nb > cap) {
            void *nbuf = mia__realloc(buf, nb);
            if (!nbuf) {
                s = MIA_ERROR(MIA_ERR_NOMEM, "out of memory saving %s", p.name);
                break;
            }
            buf = nbuf;
            cap = nb;
        }
        s = mia_tensor_download(p.value, buf, nb);
        if (s != MIA_OK) break;
        bool i64 = mia_tensor_dtype(p.value) == MIA_DTYPE_I64;
        /* PyTorch keeps num_batches_tracked as a 0-dim tensor */
        s = mia_safetensors_writer_add(w, p.name, i64 ? MIA_SAFETENSORS_I64 : MIA_SAFETENSORS_F32,
                                       i64 ? 0 : mia_tensor_ndim(p.value),
                                       mia_tensor_shape(p.value), buf);
    }
    mia__free(buf);
    char v[256];
    if (s == MIA_OK) s = mia_safetensors_writer_set_metadata(w, "format", "pt");
    if (s == MIA_OK) s = mia_safetensors_writer_set_metadata(w, "mia_arch", m->arch);
    if (s == MIA_OK) {
        snprintf(v, sizeof v, "%d", (int)m->n_classes);
        s = mia_safetensors_writer_set_metadata(w, "mia_n_classes", v);
    }
    if (s == MIA_OK) {
        snprintf(v, sizeof v, "%lld,%lld,%lld", (long long)m->in_shape[0],
                 (long long)m->in_shape[1], (long long)m->in_shape[2]);
        s = mia_safetensors_writer_set_metadata(w, "mia_input_shape", v);
    }
    if (s == MIA_OK) {
        join_floats(v, sizeof v, m->mean, m->n_channels);
        s = mia_safetensors_writer_set_metadata(w, "mia_mean", v);
    }
    if (s == MIA_OK) {
        join_floats(v, sizeof v, m->std, m->n_channels);
        s = mia_safetensors_writer_set_metadata(w, "mia_std", v);
    }
    if (s == MIA_OK && strcmp(m->arch, "mlp") == 0) {
        size_t at = 0;
        v[0] = '\0';
        for (int i = 0; i < m->mlp_n_hidden; i++)
            at += (size_t)snprintf(v + at, sizeof v - at, i ? ",%d" : "%d", (int)m->mlp_hidden[i]);
        s = mia_safetensors_writer_set_metadata(w, "mia_mlp_hidden", v);
        if (s == MIA_OK)
            s = mia_safetensors_writer_set_metadata(w, "mia_mlp_act",
                                                    m->mlp_act == MIA_MLP_ACT_TANH ? "tanh"
                                                                                   : "relu");
    }
    if (s == MIA_OK) s = mia_safetensors_writer_write(w, path);
    mia_safetensors_writer_free(w);
    return s;
}

/* Copy every tensor of st into m's graph (strict key and shape match). */
static mia_status load_weights(mia_model *m, const mia_safetensors *st, const char *path)
{
    size_t n = mia_graph_param_count(m->g);
    for (size_t i = 0; i < n; i++) {
        mia_param_info p;
        MIA_TRY(mia_graph_param(m->g, i, &p));
        int64_t j = mia_safetensors_find(st, p.name);
        if (j < 0)
            return MIA_ERROR(MIA_ERR_MISMATCH, "%s: tensor %s is missing", path, p.name);
        mia_safetensors_dtype dt;
        int nd;
        int64_t shape[MIA_MAX_DIMS];
        MIA_TRY(mia_safetensors_info(st, (size_t)j, &dt, &nd, shape));
        bool i64 = mia_tensor_dtype(p.value) == MIA_DTYPE_I64;
        bool ok = dt == (i64 ? MIA_SAFETENSORS_I64 : MIA_SAFETENSORS_F32);
        if (ok && i64 && nd == 0) {
            /* scalar [] stored as our [1] */
        } else if (ok) {
            ok = nd == mia_tensor_ndim(p.value);
            for (int d = 0; ok && d < nd; d++) ok = shape[d] == mia_tensor_dim(p.value, d);
        }
        if (!ok)
            return MIA_ERROR(MIA_ERR_MISMATCH, "%s: tensor %s has dtype %s and %d dims (shape "
                             "[%lld%s]), the model expects %s %lld elements in %d dims",
                             path, p.name, mia_safetensors_dtype_name(dt), nd,
                             (long long)(nd > 0 ? shape[0] : 0), nd > 1 ? ",..." : "",
                             i64 ? "i64" : "f32", (long long)mia_tensor_numel(p.value),
                             mia_tensor_ndim(p.value));
        MIA_TRY(mia_tensor_upload(p.value, mia_safetensors_data(st, (size_t)j),
                                  mia_safetensors_nbytes(st, (size_t)j)));
    }
    if (mia_safetensors_count(st) != n) {
        for (size_t j = 0; j < mia_safetensors_count(st); j++)
            if (mia_graph_find(m->g, mia_safetensors_name(st, j)) < 0)
                return MIA_ERROR(MIA_ERR_MISMATCH, "%s: unexpected tensor %s for %s", path,
                                 mia_safetensors_name(st, j), m->arch);
    }
    /* the graph's num_batches_tracked mirrors are re-read at the next training forward:
     * mia_graph_param() above marked them stale */
    return MIA_OK;
}

mia_status mia_model_load_weights(mia_model *m, const char *path)
{
    mia__error_begin();
    MIA_CHECK_ARG(m, "m is NULL");
    MIA_CHECK_ARG(path, "path is NULL");
    mia_safetensors *st;
    MIA_TRY(mia_safetensors_open(&st, path, NULL));
    mia_status s = load_weights(m, st, path);
    mia_safetensors_free(st);
    return s;
}

/* Parse up to max comma-separated numbers of metadata key; returns the count or -1. */
static int parse_list(const mia_safetensors *st, const char *key, double *v, int max)
{
    const char *s = mia_safetensors_metadata_get(st, key);
    if (!s) return -1;
    int n = 0;
    if (!*s) return 0;
    for (;;) {
        char *end;
        if (n == max) return -1;
        v[n++] = strtod(s, &end);
        if (end == s) return -1;
        if (*end == '\0') return n;
        if (*end != ',') return -1;
        s = end + 1;
    }
}

mia_status mia_model_load(mia_model **out, mia_backend *be, const char *path)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(out, "out is NULL");
    MIA_CHECK_ARG(be, "be is NULL");
    MIA_CHECK_ARG(path, "path is NULL");
    mia_safetensors *st;
    MIA_TRY(mia_safetensors_open(&st, path, NULL));
    mia_model_opts o;
    mia_model_opts_init(&o);
    double v[MIA_MODEL_MLP_MAX_HIDDEN];
    const char *arch = mia_safetensors_metadata_get(st, "mia_arch");
    mia_status s = MIA_OK;
    const char *bad = NULL;
    if (!arch) bad = "mia_arch";
    if (!bad && (parse_list(st, "mia_n_classes", v, 1) != 1 || v[0] < 1 || v[0] > 1e6))
        bad = "mia_n_classes";
    else if (!bad)
        o.n_classes = (int32_t)v[0];
    if (!bad && (parse_list(st, "mia_input_shape", v, 3) != 3 || v[0] < 1 || v[1] < 1 ||
                 v[2] < 1 || v[0] > 1 << 20 || v[1] > 4096 || v[2] > 4096))
        bad = "mia_input_shape";
    else if (!bad) {
        o.in_channels = (int32_t)v[0];
        o.in_h = (int32_t)v[1];
        o.in_w = (int32_t)v[2];
    }
    if (!bad && arch && strcmp(arch, "mlp") == 0) {
        int nh = parse_list(st, "mia_mlp_hidden", v, MIA_MODEL_MLP_MAX_HIDDEN);
        const char *act = mia_safetensors_metadata_get(st, "mia_mlp_act");
        if (nh < 0) bad = "mia_mlp_hidden";
        else if (!act || (strcmp(act, "relu") != 0 && strcmp(act, "tanh") != 0))
            bad = "mia_mlp_act";
        else {
            o.mlp_n_hidden = nh;
            for (int i = 0; i < nh; i++) o.mlp_hidden[i] = (int32_t)v[i];
            o.mlp_act = strcmp(act, "tanh") == 0 ? MIA_MLP_ACT_TANH : MIA_MLP_ACT_RELU;
        }
    }
    double mean[MIA_MODEL_MAX_CHANNELS], sd[MIA_MODEL_MAX_CHANNELS];
    int nm = parse_list(st, "mia_mean", mean, MIA_MODEL_MAX_CHANNELS);
    int ns = parse_list(st, "mia_std", sd, MIA_MODEL_MAX_CHANNELS);
    if (!bad && (nm < 0 || ns != nm)) bad = "mia_mean/mia_std";
    if (bad) {
        s = MIA_ERROR(MIA_ERR_FORMAT, "%s: metadata %s is missing or malformed", path, bad);
    } else {
        for (int i = 0; i < nm; i++) {
            o.mean[i] = (float)mean[i];
            o.std[i] = (float)sd[i];
        }
        mia_model *m = NULL;
        s = mia_model_create(&m, be, arch, &o);
        if (s == MIA_OK) s = load_weights(m, st, path);
        if (s == MIA_OK)
            *out = m;
        else
            mia_model_free(m);
    }
    mia_safetensors_free(st);
    return s;
}
