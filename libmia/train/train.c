/* Training loop, evaluation and dataset-wide prediction. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mia/calib.h>
#include <mia/graph.h>

#include "train-internal.h"
#include "backend/ops.h"
#include "core/rng.h"
#include "io/io.h"
#include "model/graph-impl.h"
#include "tensor/tensor-impl.h"

static int64_t g_nan_step;
void mia__train_inject_nan(int64_t step) { g_nan_step = step; }

/* ---- options -------------------------------------------------------------------------------- */

void mia_train_opts_init_sized(mia_train_opts *o, size_t size)
{
    if (!o) return;
    mia_train_opts d;
    memset(&d, 0, sizeof d);
    d.struct_size = (uint32_t)sizeof d;
    d.optimizer = MIA_OPTIM_ADAM;
    d.lr = 0.01;
    d.beta1 = 0.9;
    d.beta2 = 0.999;
    d.eps = 1e-8;
    d.momentum = 0.9;
    d.schedule = MIA_SCHEDULE_NONE;
    d.step_size = 30;
    d.gamma = 0.1;
    d.epochs = 100;
    d.batch_size = 64;
    d.eval_batch_size = 128;
    size_t n = size < sizeof d ? size : sizeof d;
    memcpy(o, &d, n);
    o->struct_size = (uint32_t)n;
}

void mia_train_opts_paper(mia_train_opts *o, const char *arch)
{
    if (!o) return;
    o->optimizer = MIA_OPTIM_ADAM;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->lr = (arch && strcmp(arch, "salem_cnn") == 0) ? 0.001 : 0.01;
    o->batch_size = 64;
    o->epochs = 100;
    o->schedule = MIA_SCHEDULE_NONE;
    o->weight_decay = 0.0;
    o->label_smoothing = 0.0;
}

void mia_eval_opts_init_sized(mia_eval_opts *o, size_t size)
{
    if (!o) return;
    mia_eval_opts d;
    memset(&d, 0, sizeof d);
    d.struct_size = (uint32_t)sizeof d;
    d.batch_size = 128;
    d.n_bins = 15;
    size_t n = size < sizeof d ? size : sizeof d;
    memcpy(o, &d, n);
    o->struct_size = (uint32_t)n;
}

static mia_status check_opts(const mia_train_opts *o)
{
    MIA_CHECK_ARG(o->optimizer == MIA_OPTIM_ADAM || o->optimizer == MIA_OPTIM_SGD,
                  "opts->optimizer %d is not a mia_optimizer", (int)o->optimizer);
    MIA_CHECK_ARG(isfinite(o->lr) && o->lr > 0, "opts->lr %g must be > 0", o->lr);
    MIA_CHECK_ARG(o->beta1 >= 0 && o->beta1 < 1, "opts->beta1 %g must lie in [0, 1)", o->beta1);
    MIA_CHECK_ARG(o->beta2 >= 0 && o->beta2 < 1, "opts->beta2 %g must lie in [0, 1)", o->beta2);
    MIA_CHECK_ARG(o->eps >= 0 && isfinite(o->eps), "opts->eps %g must be >= 0", o->eps);
    MIA_CHECK_ARG(o->momentum >= 0 && isfinite(o->momentum), "opts->momentum %g must be >= 0",
                  o->momentum);
    MIA_CHECK_ARG(o->dampening >= 0 && o->dampening <= 1, "opts->dampening %g outside [0, 1]",
                  o->dampening);
    MIA_CHECK_ARG(!o->nesterov || (o->momentum > 0 && o->dampening == 0),
                  "opts->nesterov needs momentum > 0 and dampening 0");
    MIA_CHECK_ARG(o->weight_decay >= 0 && isfinite(o->weight_decay),
                  "opts->weight_decay %g must be >= 0", o->weight_decay);
    MIA_CHECK_ARG(o->schedule >= MIA_SCHEDULE_NONE && o->schedule <= MIA_SCHEDULE_COSINE,
                  "opts->schedule %d is not a mia_lr_schedule", (int)o->schedule);
    MIA_CHECK_ARG(o->schedule != MIA_SCHEDULE_STEP || (o->step_size >= 1 && o->gamma > 0),
                  "opts->step_size must be >= 1 and opts->gamma > 0 for the step schedule");
    MIA_CHECK_ARG(o->min_lr >= 0 && o->min_lr <= o->lr, "opts->min_lr %g outside [0, lr]",
                  o->min_lr);
    MIA_CHECK_ARG(o->epochs >= 1, "opts->epochs %" PRId64 " must be >= 1", o->epochs);
    MIA_CHECK_ARG(o->batch_size >= 1, "opts->batch_size %" PRId64 " must be >= 1",
                  o->batch_size);
    MIA_CHECK_ARG(o->eval_batch_size >= 1, "opts->eval_batch_size must be >= 1");
    MIA_CHECK_ARG(o->label_smoothing >= 0 && o->label_smoothing < 1,
                  "opts->label_smoothing %g outside [0, 1)", o->label_smoothing);
    MIA_CHECK_ARG(o->checkpoint_every >= 0, "opts->checkpoint_every must be >= 0");
    MIA_CHECK_ARG(!o->resume || o->checkpoint_dir, "opts->resume needs opts->checkpoint_dir");
    return MIA_OK;
}

mia_status mia_train_config_hash(const mia_model *m, const mia_train_opts *opts, char out[65])
{
    mia__error_begin();
    MIA_CHECK_ARG(m && out, "m or out is NULL");
    mia_train_opts o;
    mia_train_opts_init(&o);
    if (opts) memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    int64_t in[3];
    mia_model_input_shape(m, in);
    char buf[1024];
    int n = snprintf(buf, sizeof buf,
                     "mia-train-config-v1;arch=%s;classes=%d;in=%" PRId64 ",%" PRId64 ",%" PRId64
                     ";params=%" PRId64 ";optim=%d;lr=%a;b1=%a;b2=%a;eps=%a;mom=%a;damp=%a;"
                     "nest=%d;wd=%a;sched=%d;step=%" PRId64 ";gamma=%a;minlr=%a;epochs=%" PRId64
                     ";bs=%" PRId64 ";ls=%a;seed=%" PRIu64 ";augment=%d",
                     mia_model_arch(m), (int)mia_model_n_classes(m), in[0], in[1], in[2],
                     mia_model_n_params(m), (int)o.optimizer, o.lr, o.beta1, o.beta2, o.eps,
                     o.momentum, o.dampening, (int)o.nesterov, o.weight_decay, (int)o.schedule,
                     o.step_size, o.gamma, o.min_lr, o.epochs, o.batch_size, o.label_smoothing,
                     o.seed, o.augment != NULL);
    uint8_t d[32];
    mia__sha256(buf, (size_t)n, d);
    mia__sha256_hex(d, out);
    return MIA_OK;
}

/* ---- batches -------------------------------------------------------------------------------- */

void mia__batcher_free(mia_batcher *b)
{
    if (!b) return;
    mia__free(b->host);
    mia__free(b->labels);
    mia_tensor_free(b->x);
    memset(b, 0, sizeof *b);
}

mia_status mia__batcher_init(mia_batcher *b, mia_model *m, const mia_dataset *d,
                             const mia_transform *t, int64_t cap, const char *what)
{
    memset(b, 0, sizeof *b);
    mia_graph *g = mia_model_graph(m);
    b->m = m;
    b->be = mia_graph_backend(g);
    b->d = d;
    b->t = t;
    b->cap = cap;
    b->in_ndim = mia_graph_node_shape(g, g->input, b->in_shape);
    int64_t numel = 1;
    for (int i = 0; i < b->in_ndim; i++) numel *= b->in_shape[i];
    b->numel = numel;
    int64_t mc[3];
    mia_model_input_shape(m, mc);
    int64_t c = mia_dataset_channels(d), h = mia_dataset_height(d), w = mia_dataset_width(d);
    if (t) {
        int64_t oc, oh, ow;
        MIA_TRY(mia_transform_output_shape(t, c, h, w, &oc, &oh, &ow));
        c = oc;
        h = oh;
        w = ow;
    }
    if (c * h * w != numel || (b->in_ndim == 3 && (c != mc[0] || h != mc[1] || w != mc[2])))
        return MIA_ERROR(MIA_ERR_MISMATCH,
                         "%s data: images are %" PRId64 "x%" PRId64 "x%" PRId64
                         " but model '%s' expects %" PRId64 "x%" PRId64 "x%" PRId64,
                         what, c, h, w, mia_model_arch(m), mc[0], mc[1], mc[2]);
    for (int i = 0; i < 4; i++) {
        b->mean[i] = 0.0f;
        b->std[i] = 1.0f;
    }
    int nc = (int)(mc[0] < MIA_MODEL_MAX_CHANNELS ? mc[0] : MIA_MODEL_MAX_CHANNELS);
    if (b->in_ndim == 3) mia_model_normalization(m, b->mean, b->std);
    (void)nc;
    size_t nb;
    if (mia__mul_size((size_t)cap, (size_t)numel * sizeof(float), &nb))
        return MIA_ERROR(MIA_ERR_NOMEM, "%s batch: size overflow", what);
    b->host = mia__malloc(nb);
    b->labels = mia__malloc((size_t)cap * sizeof *b->labels);
    if (!b->host || !b->labels) {
        mia__batcher_free(b);
        return MIA_ERROR(MIA_ERR_NOMEM, "%s batch of %" PRId64 " images", what, cap);
    }
    return MIA_OK;
}

mia_status mia__batcher_load(mia_batcher *b, const int64_t *idx, int64_t n, uint64_t epoch)
{
    if (b->t) {
        MIA_TRY(mia_transform_batch(b->t, b->d, idx, n, epoch, b->host, b->labels));
    } else {
        mia_batch_opts bo;
        mia_batch_opts_init(&bo);
        bo.flags = MIA_BATCH_NORMALIZE;
        memcpy(bo.mean, b->mean, sizeof bo.mean);
        memcpy(bo.std, b->std, sizeof bo.std);
        MIA_TRY(mia_dataset_batch_f32(b->d, idx, n, b->host, b->labels, &bo));
    }
    if (!b->x || b->x_n != n) {
        mia_tensor_free(b->x);
        b->x = NULL;
        int64_t shape[4] = {n, b->in_shape[0], b->in_shape[1], b->in_shape[2]};
        MIA_TRY(mia_tensor_create(&b->x, b->be, MIA_DTYPE_F32, (int)b->in_ndim + 1, shape));
        b->x_n = n;
    }
    return mia_tensor_upload(b->x, b->host, (size_t)n * (size_t)b->numel * sizeof(float));
}

/* ---- metrics from arrays ------------------------------------------------------------------- */

mia_status mia__eval_arrays(const float *probs, const float *logits, const int32_t *labels,
                            int64_t n, int64_t k, int n_bins, mia_eval_result *out)
{
    float *p = (float *)probs;
    float *own = NULL;
    double loss = 0.0;
    int64_t correct = 0;
    if (logits) {
        own = mia__malloc((size_t)n * (size_t)k * sizeof *own);
        if (!own) return MIA_ERROR(MIA_ERR_NOMEM, "evaluation probabilities");
        p = own;
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t y = labels[i];
        if (y < 0 || y >= k) {
            mia__free(own);
            return MIA_ERROR(MIA_ERR_INVALID, "label %d of image %" PRId64 " outside [0, %" PRId64
                             ")", (int)y, i, k);
        }
        if (logits) {
            const float *z = logits + i * k;
            double mx = -INFINITY;
            for (int64_t c = 0; c < k; c++) mx = z[c] > mx ? z[c] : mx;
            double se = 0.0;
            for (int64_t c = 0; c < k; c++) se += exp((double)z[c] - mx);
            double lse = mx + log(se);
            loss += lse - (double)z[y];
            for (int64_t c = 0; c < k; c++) own[i * k + c] = (float)exp((double)z[c] - lse);
        } else {
            double py = probs[i * k + y];
            loss += -log(py > 1e-30 ? py : 1e-30);
        }
        const float *r = p + i * k;
        int64_t am = 0;
        for (int64_t c = 1; c < k; c++)
            if (r[c] > r[am]) am = c;
        if (logits) { /* argmax of the logits themselves (exact ties of softmax are rounding) */
            const float *z = logits + i * k;
            am = 0;
            for (int64_t c = 1; c < k; c++)
                if (z[c] > z[am]) am = c;
        }
        correct += am == y;
    }
    double ece = 0, oe = 0;
    mia_status s = mia_calibration_errors(p, labels, n, k, n_bins, &ece, &oe);
    mia__free(own);
    MIA_TRY(s);
    out->n = n;
    out->accuracy = (double)correct / (double)n;
    out->loss = loss / (double)n;
    out->ece = ece;
    out->oe = oe;
    return MIA_OK;
}

/* ---- dataset-wide prediction ---------------------------------------------------------------- */

mia_status mia__predict_all(mia_model *m, const mia_dataset *d, const mia_eval_opts *o,
                            mia_batch_score_fn fn, void *ctx, int64_t k, float *out,
                            int32_t *labels, const char *stage)
{
    int64_t n = mia_dataset_n(d);
    MIA_CHECK_ARG(n >= 1, "dataset is empty");
    int64_t bs = o->batch_size < n ? o->batch_size : n;
    mia_batcher b;
    MIA_TRY(mia__batcher_init(&b, m, d, o->transform, bs, stage));
    int64_t *idx = mia__malloc((size_t)bs * sizeof *idx);
    if (!idx) {
        mia__batcher_free(&b);
        return MIA_ERROR(MIA_ERR_NOMEM, "index buffer");
    }
    mia_status s = MIA_OK;
    double t0 = mia__now();
    for (int64_t first = 0; s == MIA_OK && first < n; first += bs) {
        int64_t nb = n - first < bs ? n - first : bs;
        for (int64_t i = 0; i < nb; i++) idx[i] = first + i;
        s = mia__batcher_load(&b, idx, nb, 0);
        if (s == MIA_OK) s = fn(ctx, b.x, nb, first, out + first * k);
        if (s == MIA_OK && labels) memcpy(labels + first, b.labels, (size_t)nb * sizeof *labels);
        if (s == MIA_OK && o->progress) {
            double el = mia__now() - t0, done = (double)(first + nb);
            mia_progress p = {.struct_size = sizeof p, .stage = stage, .epoch = -1,
                              .epochs = -1, .step = first / bs + 1,
                              .steps = (n + bs - 1) / bs, .loss = NAN,
                              .items_per_sec = el > 0 ? done / el : 0,
                              .eta_seconds = done > 0 ? el * ((double)n - done) / done : -1,
                              .fraction = done / (double)n};
            if (!o->progress(&p, o->progress_user_data))
                s = MIA_ERROR(MIA_ERR_CANCELLED, "%s cancelled by the progress callback", stage);
        }
    }
    mia__free(idx);
    mia__batcher_free(&b);
    return s;
}

typedef struct model_ctx {
    mia_model *m;
    mia_predict_kind kind;
} model_ctx;

static mia_status model_score(void *ctx, const mia_tensor *x, int64_t n, int64_t first,
                              float *out)
{
    (void)n;
    (void)first;
    model_ctx *c = ctx;
    return mia_model_predict(c->m, x, c->kind, out);
}

static mia_status resolve_eval_opts(const mia_eval_opts *opts, mia_eval_opts *o)
{
    mia_eval_opts_init(o);
    if (opts) memcpy(o, opts, opts->struct_size < sizeof *o ? opts->struct_size : sizeof *o);
    MIA_CHECK_ARG(o->batch_size >= 1, "opts->batch_size %" PRId64 " must be >= 1",
                  o->batch_size);
    MIA_CHECK_ARG(o->n_bins >= 1 && o->n_bins <= 1000, "opts->n_bins %d outside [1, 1000]",
                  o->n_bins);
    return MIA_OK;
}

mia_status mia_model_predict_dataset(mia_model *m, const mia_dataset *d, mia_predict_kind kind,
                                     const mia_eval_opts *opts, float *out)
{
    mia__error_begin();
    MIA_CHECK_ARG(m && d && out, "m, d or out is NULL");
    MIA_CHECK_ARG(kind == MIA_PREDICT_LOGITS || kind == MIA_PREDICT_SOFTMAX,
                  "kind %d is not a mia_predict_kind", (int)kind);
    mia_eval_opts o;
    MIA_TRY(resolve_eval_opts(opts, &o));
    model_ctx c = {m, kind};
    return mia__predict_all(m, d, &o, model_score, &c, mia_model_n_classes(m), out, NULL,
                            "predict");
}

static mia_status evaluate_impl(mia_model *m, const mia_dataset *d, const mia_eval_opts *o,
                                mia_eval_result *out)
{
    int64_t n = mia_dataset_n(d), k = mia_model_n_classes(m);
    MIA_CHECK_ARG(mia_dataset_n_classes(d) > 0, "dataset '%s' is unlabelled",
                  mia_dataset_source(d));
    float *logits = mia__malloc((size_t)n * (size_t)k * sizeof *logits);
    int32_t *labels = mia__malloc((size_t)n * sizeof *labels);
    mia_status s = MIA_OK;
    if (!logits || !labels) s = MIA_ERROR(MIA_ERR_NOMEM, "evaluation buffers");
    model_ctx c = {m, MIA_PREDICT_LOGITS};
    if (s == MIA_OK) s = mia__predict_all(m, d, o, model_score, &c, k, logits, labels, "eval");
    if (s == MIA_OK) s = mia__eval_arrays(NULL, logits, labels, n, k, o->n_bins, out);
    mia__free(logits);
    mia__free(labels);
    return s;
}

mia_status mia_evaluate(mia_model *m, const mia_dataset *d, const mia_eval_opts *opts,
                        mia_eval_result *out)
{
    mia__error_begin();
    MIA_CHECK_ARG(m && d && out, "m, d or out is NULL");
    mia_eval_opts o;
    MIA_TRY(resolve_eval_opts(opts, &o));
    return evaluate_impl(m, d, &o, out);
}

/* ---- training ------------------------------------------------------------------------------ */

typedef struct trainer {
    mia_model *m;
    mia_graph *g;
    mia_backend *be;
    const mia_dataset *d;
    mia_train_opts o;
    int64_t k, n, steps_per_epoch;
    mia_batcher b;
    int64_t *order, *idx;
    mia_tensor *lab, *loss, *dlogits; /* for the current batch size */
    int64_t lab_n;
    float *host_loss, *host_logits, *host_grad;
    size_t host_grad_cap;
    mia_optim_state *os;
    char cfg_hash[65], data_hash[65];
} trainer;

static void trainer_free(trainer *t)
{
    mia__batcher_free(&t->b);
    mia__free(t->order);
    mia__free(t->idx);
    mia_tensor_free(t->lab);
    mia_tensor_free(t->loss);
    mia_tensor_free(t->dlogits);
    mia__free(t->host_loss);
    mia__free(t->host_logits);
    mia__free(t->host_grad);
    mia__optim_free(t->os);
}

static mia_status ensure_batch_tensors(trainer *t, int64_t n)
{
    if (t->lab && t->lab_n == n) return MIA_OK;
    mia_tensor_free(t->lab);
    mia_tensor_free(t->loss);
    mia_tensor_free(t->dlogits);
    t->lab = t->loss = t->dlogits = NULL;
    int64_t s1[1] = {n}, s2[2] = {n, t->k};
    MIA_TRY(mia_tensor_create(&t->lab, t->be, MIA_DTYPE_I32, 1, s1));
    MIA_TRY(mia_tensor_create(&t->loss, t->be, MIA_DTYPE_F32, 1, s1));
    MIA_TRY(mia_tensor_create(&t->dlogits, t->be, MIA_DTYPE_F32, 2, s2));
    t->lab_n = n;
    return MIA_OK;
}

static void epoch_order(const trainer *t, int64_t epoch)
{
    for (int64_t i = 0; i < t->n; i++) t->order[i] = i;
    mia_rng r;
    mia__rng_init(&r, t->o.seed, (uint64_t)MIA_STREAM_SHUFFLE + ((uint64_t)(epoch + 1) << 32));
    mia__rng_shuffle(&r, t->order, t->n);
}

static uint64_t dropout_seed(uint64_t seed, int64_t step)
{
    uint32_t w[4];
    mia__philox(seed, MIA_STREAM_DROPOUT, (uint64_t)step, w);
    return ((uint64_t)w[0] << 32) | w[1];
}

/* Finite check of every gradient; names the first bad tensor. */
static mia_status check_grads(trainer *t, int64_t step)
{
    size_t np = mia_graph_param_count(t->g);
    for (size_t i = 0; i < np; i++) {
        mia_param_info pi;
        MIA_TRY(mia_graph_param(t->g, i, &pi));
        if (pi.kind != MIA_PARAM_KIND_PARAM || pi.detached || !pi.grad) continue;
        int64_t cnt = mia_tensor_numel(pi.grad);
        const float *gp = mia_tensor_host_data(pi.grad);
        if (!gp) {
            size_t nb = mia_tensor_nbytes(pi.grad);
            if (nb > t->host_grad_cap) {
                float *p = mia__realloc(t->host_grad, nb);
                if (!p) return MIA_ERROR(MIA_ERR_NOMEM, "gradient check buffer");
                t->host_grad = p;
                t->host_grad_cap = nb;
            }
            MIA_TRY(mia_tensor_download(pi.grad, t->host_grad, nb));
            gp = t->host_grad;
        }
        float acc = 0.0f;
        for (int64_t j = 0; j < cnt; j++) acc += gp[j] * 0.0f;
        if (!isfinite(acc)) {
            int64_t j = 0;
            while (j < cnt && isfinite(gp[j])) j++;
            return MIA_ERROR(MIA_ERR_NUMERIC,
                             "step %" PRId64 ": gradient of '%s' is not finite (element %" PRId64
                             " = %g); training stopped, the last checkpoint is kept",
                             step, pi.name, j, j < cnt ? (double)gp[j] : 0.0);
        }
    }
    return MIA_OK;
}

static mia_status poison_grad(trainer *t)
{
    size_t np = mia_graph_param_count(t->g);
    for (size_t i = 0; i < np; i++) {
        mia_param_info pi;
        MIA_TRY(mia_graph_param(t->g, i, &pi));
        if (pi.kind != MIA_PARAM_KIND_PARAM || pi.detached || !pi.grad) continue;
        return mia__fill_f32(t->be, mia__tensor_f32(pi.grad), 1, NAN);
    }
    return MIA_OK;
}

/* One optimiser step on batch order[first .. first+nb). */
static mia_status train_step(trainer *t, int64_t epoch, const int64_t *idx, int64_t nb,
                             int64_t global_step, int64_t optim_step, double lr,
                             double *loss_sum, int64_t *correct)
{
    MIA_TRY(mia__batcher_load(&t->b, idx, nb, (uint64_t)epoch));
    for (int64_t i = 0; i < nb; i++)
        if (t->b.labels[i] < 0 || t->b.labels[i] >= t->k)
            return MIA_ERROR(MIA_ERR_INVALID,
                             "train data: image %" PRId64 " has label %d outside [0, %" PRId64
                             ")", idx[i], (int)t->b.labels[i], t->k);
    MIA_TRY(ensure_batch_tensors(t, nb));
    MIA_TRY(mia_tensor_upload(t->lab, t->b.labels, (size_t)nb * sizeof(int32_t)));
    const mia_tensor *y;
    MIA_TRY(mia_graph_forward(t->g, t->b.x, true, dropout_seed(t->o.seed, global_step), &y));
    mia_xent_args xa = {.rows = nb, .cols = t->k, .smoothing = (float)t->o.label_smoothing,
                        .grad_scale = 1.0f / (float)nb, .logits = mia__tensor_f32(y),
                        .labels = mia__tensor_data(t->lab), .loss = mia__tensor_f32(t->loss),
                        .dlogits = mia__tensor_f32(t->dlogits)};
    MIA_TRY(mia__xent(t->be, &xa));
    MIA_TRY(mia_tensor_download(t->loss, t->host_loss, (size_t)nb * sizeof(float)));
    MIA_TRY(mia_tensor_download(y, t->host_logits, (size_t)nb * (size_t)t->k * sizeof(float)));
    double ls = 0.0;
    for (int64_t i = 0; i < nb; i++) ls += t->host_loss[i];
    if (!isfinite(ls))
        return MIA_ERROR(MIA_ERR_NUMERIC,
                         "step %" PRId64 " (epoch %" PRId64 "): loss is not finite (%g); "
                         "training stopped, the last checkpoint is kept",
                         global_step, epoch + 1, ls);
    for (int64_t i = 0; i < nb; i++) {
        const float *z = t->host_logits + i * t->k;
        int64_t am = 0;
        for (int64_t c = 1; c < t->k; c++)
            if (z[c] > z[am]) am = c;
        *correct += am == t->b.labels[i];
    }
    *loss_sum += ls;
    MIA_TRY(mia_graph_backward(t->g, t->dlogits));
    if (g_nan_step > 0 && global_step == g_nan_step) MIA_TRY(poison_grad(t));
    MIA_TRY(check_grads(t, global_step));
    return mia__optim_step(t->os, lr, optim_step);
}

static mia_status save_ckpt(trainer *t, const mia_ckpt_pos *p)
{
    return mia__ckpt_save(t->o.checkpoint_dir, t->m, t->os, p, t->cfg_hash, t->data_hash,
                          t->o.seed);
}

static mia_status run(trainer *t, mia_train_result *res)
{
    mia_ckpt_pos p;
    memset(&p, 0, sizeof p);
    if (t->o.checkpoint_dir) mia__ckpt_clean_tmp(t->o.checkpoint_dir);
    if (t->o.resume) {
        bool found = false;
        MIA_TRY(mia__ckpt_resume(t->o.checkpoint_dir, t->m, t->os, &p, t->cfg_hash,
                                 t->data_hash, &found, res->resumed_from,
                                 sizeof res->resumed_from));
        if (found) res->resumed_step = p.global_step;
    }
    const double t_start = mia__now();
    const int64_t step0 = p.global_step;
    const int64_t total_steps = t->o.epochs * t->steps_per_epoch;
    const int64_t bs = t->o.batch_size;
    while (p.epoch < t->o.epochs) {
        const double lr = mia__lr_at(&t->o, p.epoch);
        const double te = mia__now();
        epoch_order(t, p.epoch);
        while (p.pos < t->steps_per_epoch) {
            int64_t first = p.pos * bs;
            int64_t nb = t->n - first < bs ? t->n - first : bs;
            memcpy(t->idx, t->order + first, (size_t)nb * sizeof *t->idx);
            MIA_TRY(train_step(t, p.epoch, t->idx, nb, p.global_step + 1, p.optim_step + 1, lr,
                               &p.loss_sum, &p.correct));
            p.pos++;
            p.global_step++;
            p.optim_step++;
            p.seen += nb;
            bool cancel = false;
            if (t->o.progress) {
                double el = mia__now() - t_start;
                double done = (double)(p.global_step - step0);
                double left = (double)(total_steps - p.global_step);
                mia_progress pr = {.struct_size = sizeof pr, .stage = "train",
                                   .epoch = p.epoch + 1, .epochs = t->o.epochs, .step = p.pos,
                                   .steps = t->steps_per_epoch,
                                   .loss = p.loss_sum / (double)p.seen,
                                   .items_per_sec = el > 0 ? done * (double)bs / el : 0,
                                   .eta_seconds = done > 0 ? el * left / done : -1,
                                   .fraction = (double)p.global_step / (double)total_steps};
                cancel = !t->o.progress(&pr, t->o.progress_user_data);
            }
            bool epoch_end = p.pos == t->steps_per_epoch;
            if (t->o.checkpoint_dir && !epoch_end &&
                (cancel || (t->o.checkpoint_every > 0 &&
                            p.global_step % t->o.checkpoint_every == 0)))
                MIA_TRY(save_ckpt(t, &p));
            if (cancel)
                return MIA_ERROR(MIA_ERR_CANCELLED, "training cancelled at step %" PRId64
                                 " (epoch %" PRId64 ")%s", p.global_step, p.epoch + 1,
                                 t->o.checkpoint_dir ? "; checkpoint written" : "");
        }
        mia_epoch_stats es = {.epoch = p.epoch + 1, .train_loss = p.loss_sum / (double)p.seen,
                              .train_accuracy = (double)p.correct / (double)p.seen,
                              .val_loss = NAN, .val_accuracy = NAN, .lr = lr};
        if (t->o.val) {
            mia_eval_opts eo;
            mia_eval_opts_init(&eo);
            eo.batch_size = t->o.eval_batch_size;
            eo.transform = t->o.eval_transform;
            mia_eval_result er;
            MIA_TRY(evaluate_impl(t->m, t->o.val, &eo, &er));
            es.val_loss = er.loss;
            es.val_accuracy = er.accuracy;
        }
        es.seconds = mia__now() - te;
        mia__log(MIA_LOG_INFO, "epoch %" PRId64 ": train loss %.4f acc %.4f, val loss %.4f acc %.4f",
                 es.epoch, es.train_loss, es.train_accuracy, es.val_loss, es.val_accuracy);
        p.epoch++;
        p.pos = 0;
        p.loss_sum = 0;
        p.correct = 0;
        p.seen = 0;
        res->last = es;
        if (t->o.checkpoint_dir) MIA_TRY(save_ckpt(t, &p));
        if (t->o.on_epoch && !t->o.on_epoch(&es, t->o.on_epoch_user_data))
            return MIA_ERROR(MIA_ERR_CANCELLED, "training cancelled after epoch %" PRId64,
                             es.epoch);
        res->epochs_done = p.epoch;
        res->steps_done = p.global_step;
    }
    res->epochs_done = p.epoch;
    res->steps_done = p.global_step;
    return MIA_OK;
}

mia_status mia_train(mia_model *m, const mia_dataset *train, const mia_train_opts *opts,
                     mia_train_result *result)
{
    mia__error_begin();
    MIA_CHECK_ARG(m, "m is NULL");
    MIA_CHECK_ARG(train, "train dataset is NULL");
    trainer t;
    memset(&t, 0, sizeof t);
    mia_train_opts_init(&t.o);
    if (opts) {
        MIA_CHECK_ARG(opts->struct_size >= offsetof(mia_train_opts, lr),
                      "opts->struct_size %u is too small (use mia_train_opts_init)",
                      opts->struct_size);
        memcpy(&t.o, opts, opts->struct_size < sizeof t.o ? opts->struct_size : sizeof t.o);
    }
    MIA_TRY(check_opts(&t.o));
    mia_train_result res;
    memset(&res, 0, sizeof res);
    res.resumed_step = -1;
    t.m = m;
    t.g = mia_model_graph(m);
    t.be = mia_graph_backend(t.g);
    t.d = train;
    t.k = mia_model_n_classes(m);
    t.n = mia_dataset_n(train);
    MIA_CHECK_ARG(t.n >= 1, "train dataset is empty");
    MIA_CHECK_ARG(mia_dataset_n_classes(train) > 0, "train dataset '%s' is unlabelled",
                  mia_dataset_source(train));
    MIA_CHECK_ARG(mia_graph_output(t.g) >= 0 && t.k >= 1, "model has no output");
    t.steps_per_epoch = (t.n + t.o.batch_size - 1) / t.o.batch_size;
    const char *delay = getenv("MIA_TEST_CKPT_DELAY_MS");
    if (delay) mia__train_ckpt_delay(atoi(delay));
    int64_t bs = t.o.batch_size < t.n ? t.o.batch_size : t.n;
    mia_status s = mia__batcher_init(&t.b, m, train, t.o.augment, bs, "train");
    if (s == MIA_OK) {
        t.order = mia__malloc((size_t)t.n * sizeof *t.order);
        t.idx = mia__malloc((size_t)bs * sizeof *t.idx);
        t.host_loss = mia__malloc((size_t)bs * sizeof *t.host_loss);
        t.host_logits = mia__malloc((size_t)bs * (size_t)t.k * sizeof *t.host_logits);
        if (!t.order || !t.idx || !t.host_loss || !t.host_logits)
            s = MIA_ERROR(MIA_ERR_NOMEM, "training buffers");
    }
    if (s == MIA_OK && t.o.val) {
        mia_batcher vb; /* geometry check of the validation set before training */
        s = mia__batcher_init(&vb, m, t.o.val, t.o.eval_transform, 1, "val");
        mia__batcher_free(&vb);
    }
    if (s == MIA_OK) s = mia__optim_create(&t.os, m, &t.o);
    if (s == MIA_OK) s = mia_train_config_hash(m, &t.o, t.cfg_hash);
    if (s == MIA_OK) {
        mia_dataset_hash_hex(train, t.data_hash);
        s = run(&t, &res);
    }
    trainer_free(&t);
    if (result) *result = res;
    return s;
}
