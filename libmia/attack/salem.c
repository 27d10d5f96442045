/*
 * Salem attack (spec §5.2, paper "Top-3 Confidences"): top-k sorted scores -> MLP k-64-1 trained
 * with BCE-with-logits, Adam lr 0.01, batch 16, early stopping on the training loss (window 15,
 * min diff 0.0005); member iff sigmoid(out) >= 0.5.
 *
 * Training runs the model "mlp" (model.h) on a private ref backend through the graph API
 * (forward / backward) and mia__adam_step; the BCE and its gradient on the [B, 1] logits are
 * computed here, in float32 as torch.nn.BCEWithLogitsLoss does. The training set is the shadow
 * non-members (label 0) then members (label 1); each epoch draws a fresh permutation from
 * Philox (seed, MIA_STREAM_ATTACK) like DataLoader(shuffle=True) draws torch.randperm.
 * Prediction uses the fitted weights in a plain host loop (read-only, thread-safe).
 */
#include <float.h>
#include <math.h>

#include "attack/attack-impl.h"
#include "backend/ops.h"
#include "core/rng.h"
#include "tensor/tensor-impl.h"
#include <mia/backend.h>
#include <mia/graph.h>
#include <mia/model.h>
#include <mia/tensor.h>

#define SALEM_BATCH 16
#define SALEM_LR 0.01f
#define SALEM_WINDOW 15
#define SALEM_MIN_DIFF 0.0005

/* Sorted (descending) top-k of one row; validated: finite and non-negative. */
static mia_status topk_row(const char *name, const float *row, int64_t C, int k, int64_t i,
                           float *out)
{
    for (int j = 0; j < k; j++) out[j] = -1.0f;
    for (int64_t c = 0; c < C; c++) {
        float v = row[c];
        if (!(v >= 0.0f && v <= FLT_MAX))
            return MIA_ERROR(MIA_ERR_NUMERIC, "%s: probs[%lld][%lld] = %g is not a finite "
                             "non-negative score", name, (long long)i, (long long)c, (double)v);
        if (v <= out[k - 1]) continue;
        int j = k - 1;
        while (j > 0 && out[j - 1] < v) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = v;
    }
    return MIA_OK;
}

mia_status mia__salem_features(const char *name, const mia_score_set *x, int k, float *feat)
{
    if (k < 1 || k > x->n_classes)
        return MIA_ERROR(MIA_ERR_INVALID, "%s: the Salem attack needs n_classes >= salem_k "
                         "(%lld < %d)", name, (long long)x->n_classes, k);
    for (int64_t i = 0; i < x->n; i++)
        MIA_TRY(topk_row(name, x->probs + i * x->n_classes, x->n_classes, k, i, feat + i * k));
    return MIA_OK;
}

/* torch BCEWithLogitsLoss (mean) of one batch in float32, and dL/dz = (sigmoid(z) - y) / B. */
static float bce_batch(const float *z, const float *y, int64_t B, float *dz)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < B; i++) {
        float x = z[i], t = y[i];
        float mv = -x > 0.0f ? -x : 0.0f;
        sum += (1.0f - t) * x + mv + logf(expf(-mv) + expf(-x - mv));
        float sg = 1.0f / (1.0f + expf(-x));
        dz[i] = (sg - t) / (float)B;
    }
    return sum / (float)B;
}

typedef struct salem_run {
    mia_backend *be;
    mia_model *m;
    mia_tensor *xb[2], *db[2]; /* full batch, remainder batch */
    float *adam;               /* m and v of every parameter */
    int64_t *idx;
} salem_run;

static void run_free(salem_run *r)
{
    for (int i = 0; i < 2; i++) {
        mia_tensor_free(r->xb[i]);
        mia_tensor_free(r->db[i]);
    }
    mia_model_free(r->m);
    mia_backend_free(r->be);
    mia__free(r->adam);
    mia__free(r->idx);
}

mia_status mia__salem_train(mia_attack *a, const float *feat, const float *y, int64_t n, int k,
                            const mia_attack_opts *o, const mia__salem_inject *inj)
{
    static const char *names[4] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    const int64_t H = MIA_SALEM_HIDDEN;
    const int64_t sizes[4] = {H * k, H, H, 1};
    const int64_t total = sizes[0] + sizes[1] + sizes[2] + sizes[3];
    salem_run r;
    memset(&r, 0, sizeof r);
    mia_status s = MIA_OK;
    mia_param_info p[4];

    mia_backend_opts bo;
    mia_backend_opts_init(&bo);
    bo.n_threads = 1;
    mia_model_opts mo;
    mia_model_opts_init(&mo);
    mo.n_classes = 1;
    mo.in_channels = k;
    mo.in_h = mo.in_w = 1;
    mo.mlp_n_hidden = 1;
    mo.mlp_hidden[0] = (int32_t)H;
    mo.mlp_act = MIA_MLP_ACT_RELU;
    mo.seed = o->seed;
    s = mia_backend_create(&r.be, "ref", &bo);
    if (s == MIA_OK) s = mia_model_create(&r.m, r.be, "mlp", &mo);
    mia_graph *g = s == MIA_OK ? mia_model_graph(r.m) : NULL;
    for (int i = 0; s == MIA_OK && i < 4; i++) {
        int64_t at = mia_graph_find(g, names[i]);
        if (at < 0) s = MIA_ERROR(MIA_ERR_STATE, "Salem MLP: no parameter %s", names[i]);
        if (s == MIA_OK) s = mia_graph_param(g, (size_t)at, &p[i]);
    }
    if (s == MIA_OK && inj && inj->init) { /* tests: PyTorch's initial weights */
        const float *src = inj->init;
        for (int i = 0; i < 4; i++) {
            memcpy(mia__tensor_f32(p[i].value), src, (size_t)sizes[i] * sizeof(float));
            src += sizes[i];
        }
    }
    const int64_t nb = n / SALEM_BATCH, rem = n % SALEM_BATCH;
    for (int i = 0; s == MIA_OK && i < 2; i++) {
        int64_t B = i == 0 ? SALEM_BATCH : rem;
        if ((i == 0 && nb == 0) || B == 0) continue;
        int64_t xs[2] = {B, k}, ds[2] = {B, 1};
        s = mia_tensor_create(&r.xb[i], r.be, MIA_DTYPE_F32, 2, xs);
        if (s == MIA_OK) s = mia_tensor_create(&r.db[i], r.be, MIA_DTYPE_F32, 2, ds);
    }
    if (s == MIA_OK) {
        r.adam = mia__calloc((size_t)(2 * total), sizeof *r.adam);
        r.idx = mia__malloc((size_t)n * sizeof *r.idx);
        if (!r.adam || !r.idx) s = MIA_ERROR(MIA_ERR_NOMEM, "Salem attack: out of memory");
    }
    if (s != MIA_OK) {
        run_free(&r);
        return s;
    }

    mia_rng rng;
    mia__rng_init(&rng, o->seed, MIA_STREAM_ATTACK);
    double best = INFINITY;
    int count = 0, epoch = 0;
    int64_t step = 0;
    const int max_epochs = o->salem_max_epochs > 0 ? o->salem_max_epochs : 10000;
    bool stopped = false;
    while (s == MIA_OK && !stopped && epoch < max_epochs) {
        if (inj && inj->orders) {
            if (epoch >= inj->n_orders) {
                s = MIA_ERROR(MIA_ERR_STATE, "Salem attack: injected orders cover %lld epochs",
                              (long long)inj->n_orders);
                break;
            }
            memcpy(r.idx, inj->orders + (int64_t)epoch * n, (size_t)n * sizeof *r.idx);
        } else {
            for (int64_t i = 0; i < n; i++) r.idx[i] = i;
            mia__rng_shuffle(&rng, r.idx, n);
        }
        double running = 0.0;
        for (int64_t b = 0; s == MIA_OK && b < nb + (rem > 0); b++) {
            int which = b < nb ? 0 : 1;
            int64_t B = which == 0 ? SALEM_BATCH : rem, off = b * SALEM_BATCH;
            float *xd = mia__tensor_f32(r.xb[which]), *dd = mia__tensor_f32(r.db[which]);
            float yb[SALEM_BATCH];
            for (int64_t i = 0; i < B; i++) {
                int64_t j = r.idx[off + i];
                memcpy(xd + i * k, feat + j * k, (size_t)k * sizeof *xd);
                yb[i] = y[j];
            }
            const mia_tensor *out = NULL;
            s = mia_graph_forward(g, r.xb[which], true, 0, &out);
            if (s != MIA_OK) break;
            float loss = bce_batch(mia__tensor_f32(out), yb, B, dd);
            running += (double)loss * (double)B;
            s = mia_graph_backward(g, r.db[which]);
            step++;
            float *st = r.adam;
            for (int i = 0; s == MIA_OK && i < 4; i++) {
                mia_adam_args ad = {.count = sizes[i], .step = step, .lr = SALEM_LR,
                                    .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                    .weight_decay = 0.0f, .param = mia__tensor_f32(p[i].value),
                                    .m = st, .v = st + sizes[i],
                                    .grad = mia__tensor_f32(p[i].grad)};
                s = mia__adam_step(r.be, &ad);
                st += 2 * sizes[i];
            }
        }
        if (s != MIA_OK) break;
        epoch++;
        double v = running / (double)n;
        a->salem_final_loss = v;
        /* EarlyStopper(window=15, min_diff=0.0005), literally. */
        if (best <= v + SALEM_MIN_DIFF && count >= SALEM_WINDOW) {
            stopped = true;
        } else {
            if (v < best && best - v >= SALEM_MIN_DIFF) {
                best = v;
                count = 0;
            }
            count++;
        }
    }
    if (s == MIA_OK) {
        a->w1 = mia__malloc((size_t)total * sizeof *a->w1);
        if (!a->w1) s = MIA_ERROR(MIA_ERR_NOMEM, "Salem attack: out of memory");
    }
    if (s == MIA_OK) {
        float *dst = a->w1;
        for (int i = 0; i < 4; i++) {
            memcpy(dst, mia__tensor_f32(p[i].value), (size_t)sizes[i] * sizeof *dst);
            dst += sizes[i];
        }
        a->b1 = a->w1 + sizes[0];
        a->w2 = a->b1 + H;
        a->b2 = a->w2 + H;
        a->salem_k = k;
        a->salem_epochs = epoch;
        for (int64_t i = 0; i < total; i++)
            if (!isfinite(a->w1[i])) {
                s = MIA_ERROR(MIA_ERR_NUMERIC, "Salem attack: training diverged (non-finite "
                              "weights after %d epochs)", epoch);
                break;
            }
    }
    run_free(&r);
    return s;
}

mia_status mia__salem_fit(mia_attack *a, const mia_score_set *mem, const mia_score_set *non,
                          const mia_attack_opts *o)
{
    const int k = o->salem_k;
    if (k < 1 || k > 64)
        return MIA_ERROR(MIA_ERR_INVALID, "opts.salem_k: must be in [1, 64] (got %d)", k);
    if (mem->n_classes < k)
        return MIA_ERROR(MIA_ERR_INVALID, "members: the Salem attack needs n_classes >= salem_k "
                         "(%lld < %d)", (long long)mem->n_classes, k);
    if (o->salem_max_epochs < 1)
        return MIA_ERROR(MIA_ERR_INVALID, "opts.salem_max_epochs: must be >= 1 (got %d)",
                         o->salem_max_epochs);
    const int64_t n = mem->n + non->n;
    float *feat = mia__malloc((size_t)n * (size_t)k * sizeof *feat);
    float *y = mia__malloc((size_t)n * sizeof *y);
    mia_status s = MIA_OK;
    if (!feat || !y) s = MIA_ERROR(MIA_ERR_NOMEM, "Salem attack: out of memory");
    /* The paper's order: non-members (label 0), then members (label 1). */
    if (s == MIA_OK) s = mia__salem_features("non_members", non, k, feat);
    if (s == MIA_OK) s = mia__salem_features("members", mem, k, feat + non->n * k);
    if (s == MIA_OK) {
        for (int64_t i = 0; i < n; i++) y[i] = i < non->n ? 0.0f : 1.0f;
        s = mia__salem_train(a, feat, y, n, k, o, NULL);
    }
    mia__free(feat);
    mia__free(y);
    return s;
}

float mia__salem_logit(const mia_attack *a, const float *f)
{
    const int k = a->salem_k;
    float z = a->b2[0];
    for (int j = 0; j < MIA_SALEM_HIDDEN; j++) {
        float h = a->b1[j];
        for (int c = 0; c < k; c++) h += a->w1[j * k + c] * f[c];
        z += a->w2[j] * (h > 0.0f ? h : 0.0f);
    }
    return z;
}

mia_status mia__salem_scores(const mia_attack *a, const char *name, const mia_score_set *x,
                             float *score, uint8_t *pred)
{
    const int k = a->salem_k;
    if (x->n_classes < k)
        return MIA_ERROR(MIA_ERR_INVALID, "%s: the Salem attack needs n_classes >= salem_k "
                         "(%lld < %d)", name, (long long)x->n_classes, k);
    float f[64];
    for (int64_t i = 0; i < x->n; i++) {
        MIA_TRY(topk_row(name, x->probs + i * x->n_classes, x->n_classes, k, i, f));
        float z = mia__salem_logit(a, f);
        float sg = 1.0f / (1.0f + expf(-z));
        score[i] = sg;
        pred[i] = sg >= 0.5f;
    }
    return MIA_OK;
}
