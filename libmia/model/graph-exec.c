/* Graph execution: forward in node order, backward in reverse with gradient accumulation.
 * Every computation goes through the backend dispatch functions of ops.h. */
#include <stdio.h>
#include <string.h>

#include "graph-impl.h"
#include "backend/ops.h"
#include "tensor/tensor-impl.h"

MIA_PRIVATE void mia__graph_free_activations(mia_graph *g);

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

static float *F(const mia_tensor *t) { return t ? mia__tensor_f32(t) : NULL; }

static mia_tensor *pval(const mia_graph *g, const mia_node *n, int j)
{
    return g->params[n->param[j]].value;
}

static mia_tensor *pgrad(const mia_graph *g, const mia_node *n, int j)
{
    return g->params[n->param[j]].grad;
}

/* Activation of node id (the caller's input for the input node). */
static const float *act_of(const mia_graph *g, int id)
{
    return id == g->input ? F(g->x) : F(g->nodes[id].out);
}

static mia_status new_act(mia_graph *g, const mia_node *n, int64_t batch, mia_tensor **t)
{
    int64_t shape[4] = {batch, n->shape[0], n->shape[1], n->shape[2]};
    return mia_tensor_create(t, g->be, MIA_DTYPE_F32, n->ndim + 1, shape);
}

static mia_status alloc_activations(mia_graph *g, int64_t batch)
{
    mia__graph_free_activations(g);
    for (int i = 0; i < g->n_nodes; i++) {
        mia_node *n = &g->nodes[i];
        if (!n->live || n->op == OP_INPUT) continue;
        MIA_TRY(new_act(g, n, batch, &n->out));
        if (n->op == OP_BN) {
            int64_t c[1] = {n->shape[0]};
            MIA_TRY(mia_tensor_create(&n->save_mean, g->be, MIA_DTYPE_F32, 1, c));
            MIA_TRY(mia_tensor_create(&n->save_var, g->be, MIA_DTYPE_F32, 1, c));
        }
    }
    g->batch = batch;
    return MIA_OK;
}

/* Gradient buffers of every live node that receives a gradient, plus the accumulation scratch. */
static mia_status alloc_grads(mia_graph *g)
{
    int64_t max_numel = 0, max_s = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        mia_node *n = &g->nodes[i];
        if (!n->live || !n->needs_grad || n->op == OP_INPUT) continue;
        if (!n->grad) MIA_TRY(new_act(g, n, g->batch, &n->grad));
        if (n->numel > max_numel) max_numel = n->numel;
        if (n->op == OP_CHMUL && n->shape[0] > max_s) max_s = n->shape[0];
    }
    int64_t need = (max_numel + max_s) * g->batch;
    if (need > 0 && g->scratch_numel < need) {
        mia_tensor_free(g->scratch);
        g->scratch = NULL;
        g->scratch_numel = 0;
        MIA_TRY(mia_tensor_create(&g->scratch, g->be, MIA_DTYPE_F32, 1, &need));
        g->scratch_numel = need;
    }
    return MIA_OK;
}

/* Conv geometry for node n (transposed nodes describe the equivalent forward conv from their
 * output to their input). */
static mia_conv2d_args conv_args(const mia_graph *g, const mia_node *n)
{
    const mia_node *in = &g->nodes[n->in[0]];
    const mia_node *big = n->op == OP_CONV ? in : n, *small = n->op == OP_CONV ? n : in;
    mia_conv2d_args a = {0};
    a.n = g->batch;
    a.c = big->shape[0];
    a.h = big->shape[1];
    a.w = big->shape[2];
    a.o = small->shape[0];
    a.oh = small->shape[1];
    a.ow = small->shape[2];
    a.kh = a.kw = n->k;
    a.sh = a.sw = n->stride;
    a.pt = a.pl = a.pb = a.pr = n->pad;
    a.groups = n->groups;
    a.wt = F(pval(g, n, 0));
    return a;
}

static mia_pool2d_args pool_args(const mia_graph *g, const mia_node *n)
{
    const mia_node *in = &g->nodes[n->in[0]];
    mia_pool2d_args a = {0};
    a.kind = (mia_pool_kind)n->pool;
    a.n = g->batch;
    a.c = in->shape[0];
    a.h = in->shape[1];
    a.w = in->shape[2];
    a.oh = n->shape[1];
    a.ow = n->shape[2];
    a.kh = n->op == OP_GAP ? in->shape[1] : n->k;
    a.kw = n->op == OP_GAP ? in->shape[2] : n->k;
    a.sh = a.sw = n->stride;
    a.pt = a.pl = a.pb = a.pr = n->pad;
    return a;
}

static mia_batchnorm_args bn_args(const mia_graph *g, const mia_node *n, bool training)
{
    mia_batchnorm_args a = {0};
    a.n = g->batch;
    a.c = n->shape[0];
    a.hw = n->ndim == 3 ? n->shape[1] * n->shape[2] : 1;
    a.eps = BN_EPS;
    a.momentum = BN_MOMENTUM;
    a.training = training;
    a.gamma = F(pval(g, n, 0));
    a.beta = F(pval(g, n, 1));
    a.running_mean = F(pval(g, n, 2));
    a.running_var = F(pval(g, n, 3));
    a.save_mean = F(n->save_mean);
    a.save_var = F(n->save_var);
    return a;
}

static size_t act_bytes(const mia_graph *g, const mia_node *n)
{
    return (size_t)(g->batch * n->numel) * sizeof(float);
}

static mia_status forward_node(mia_graph *g, int id, bool training, uint64_t seed)
{
    mia_node *n = &g->nodes[id];
    mia_backend *be = g->be;
    const float *x = n->n_in > 0 ? act_of(g, n->in[0]) : NULL;
    float *y = F(n->out);
    int64_t count = g->batch * n->numel;
    switch (n->op) {
    case OP_INPUT:
        return MIA_OK;
    case OP_CONV: {
        mia_conv2d_args a = conv_args(g, n);
        a.x = x;
        a.b = n->bias ? F(pval(g, n, 1)) : NULL;
        a.y = y;
        return mia__conv2d_fwd(be, &a);
    }
    case OP_CONVT: {
        mia_conv2d_args a = conv_args(g, n);
        a.dy = x;
        a.dx = y;
        MIA_TRY(mia__conv2d_bwd_data(be, &a));
        if (!n->bias) return MIA_OK;
        mia_bias_args b = {.outer = g->batch, .c = n->shape[0], .inner = n->shape[1] * n->shape[2],
                           .b = F(pval(g, n, 1)), .y = y};
        return mia__bias_add(be, &b);
    }
    case OP_BN: {
        mia_batchnorm_args a = bn_args(g, n, training);
        a.x = x;
        a.y = y;
        MIA_TRY(mia__batchnorm_fwd(be, &a));
        if (training) {
            n->nbt++;
            g->nbt_dirty = true;
        }
        return MIA_OK;
    }
    case OP_ACT: {
        mia_eltwise_args a = {.act = (mia_act)n->act, .alpha = n->alpha, .count = count, .x = x,
                              .y = y};
        return mia__eltwise_fwd(be, &a);
    }
    case OP_POOL:
    case OP_GAP: {
        mia_pool2d_args a = pool_args(g, n);
        a.x = x;
        a.y = y;
        return mia__pool2d_fwd(be, &a);
    }
    case OP_LINEAR: {
        int64_t fin = g->nodes[n->in[0]].numel, fout = n->shape[0];
        mia_gemm_args a = {.trans_b = true, .m = g->batch, .n = fout, .k = fin, .alpha = 1.0f,
                           .beta = 0.0f, .a = x, .lda = fin, .b = F(pval(g, n, 0)), .ldb = fin,
                           .c = y, .ldc = fout};
        MIA_TRY(mia__gemm(be, &a));
        if (!n->bias) return MIA_OK;
        mia_bias_args b = {.outer = g->batch, .c = fout, .inner = 1, .b = F(pval(g, n, 1)), .y = y};
        return mia__bias_add(be, &b);
    }
    case OP_ADD: {
        mia_binary_args a = {.count = count, .a = x, .b = act_of(g, n->in[1]), .y = y};
        return mia__add(be, &a);
    }
    case OP_CHMUL: {
        mia_chmul_args a = {.n = g->batch, .c = n->shape[0], .hw = n->shape[1] * n->shape[2],
                            .x = x, .s = act_of(g, n->in[1]), .y = y};
        return mia__chmul_fwd(be, &a);
    }
    case OP_DROPOUT:
        if (training && n->alpha > 0.0f && !g->dropout_off) {
            mia_dropout_args a = {.count = count, .p = n->alpha, .seed = seed,
                                  .stream = (uint64_t)id, .x = x, .y = y};
            return mia__dropout_fwd(be, &a);
        }
        return mia__memcpy_dd(be, y, x, act_bytes(g, n));
    case OP_FLATTEN:
        return mia__memcpy_dd(be, y, x, act_bytes(g, n));
    case OP_SOFTMAX: {
        mia_softmax_args a = {.rows = g->batch, .cols = n->numel, .log = n->log, .x = x,
                              .out = y};
        return mia__softmax_fwd(be, &a);
    }
    }
    return MIA_ERROR(MIA_ERR_STATE, "corrupt graph: unknown op %d", (int)n->op);
}

/* Where to write the gradient w.r.t. input j of n: straight into its buffer the first time,
 * else into scratch (at offset off) to be added afterwards. NULL when it needs no gradient. */
static float *grad_dst(mia_graph *g, const mia_node *n, int j, int64_t off, bool *acc)
{
    mia_node *in = &g->nodes[n->in[j]];
    *acc = false;
    if (!in->needs_grad || n->in[j] == g->input) return NULL;
    if (!in->grad_set) return F(in->grad);
    *acc = true;
    return F(g->scratch) + off;
}

static mia_status grad_done(mia_graph *g, const mia_node *n, int j, bool acc, int64_t off)
{
    mia_node *in = &g->nodes[n->in[j]];
    if (!in->needs_grad || n->in[j] == g->input) return MIA_OK;
    in->grad_set = true;
    if (!acc) return MIA_OK;
    mia_binary_args a = {.count = g->batch * in->numel, .a = F(in->grad),
                         .b = F(g->scratch) + off, .y = F(in->grad)};
    return mia__add(g->be, &a);
}

static mia_status backward_node(mia_graph *g, int id, uint64_t seed)
{
    mia_node *n = &g->nodes[id];
    mia_backend *be = g->be;
    const float *x = act_of(g, n->in[0]);
    const float *dy = F(n->grad);
    int64_t count = g->batch * n->numel;
    int64_t in_count = g->batch * g->nodes[n->in[0]].numel;
    bool acc = false;
    float *dx = grad_dst(g, n, 0, 0, &acc);
    switch (n->op) {
    case OP_INPUT:
        return MIA_OK;
    case OP_CONV: {
        mia_conv2d_args a = conv_args(g, n);
        a.x = x;
        a.dy = dy;
        a.dw = F(pgrad(g, n, 0));
        a.db = n->bias ? F(pgrad(g, n, 1)) : NULL;
        MIA_TRY(mia__conv2d_bwd_weights(be, &a));
        if (!dx) break;
        a.dx = dx;
        MIA_TRY(mia__conv2d_bwd_data(be, &a));
        break;
    }
    case OP_CONVT: {
        mia_conv2d_args a = conv_args(g, n);
        a.x = dy;    /* the equivalent conv's input is this node's output */
        a.dy = x;
        a.dw = F(pgrad(g, n, 0));
        MIA_TRY(mia__conv2d_bwd_weights(be, &a));
        if (n->bias) {
            mia_bias_args b = {.outer = g->batch, .c = n->shape[0],
                               .inner = n->shape[1] * n->shape[2], .dy = dy,
                               .db = F(pgrad(g, n, 1))};
            MIA_TRY(mia__bias_grad(be, &b));
        }
        if (!dx) break;
        a.x = dy;
        a.dy = NULL;
        a.y = dx;
        MIA_TRY(mia__conv2d_fwd(be, &a));
        break;
    }
    case OP_BN: {
        mia_batchnorm_args a = bn_args(g, n, true);
        a.x = x;
        a.dy = dy;
        a.dx = dx ? dx : F(g->scratch); /* the op always writes dx */
        a.dgamma = F(pgrad(g, n, 0));
        a.dbeta = F(pgrad(g, n, 1));
        MIA_TRY(mia__batchnorm_bwd(be, &a));
        break;
    }
    case OP_ACT: {
        if (!dx) break;
        mia_eltwise_args a = {.act = (mia_act)n->act, .alpha = n->alpha, .count = count, .x = x,
                              .dy = dy, .dx = dx};
        MIA_TRY(mia__eltwise_bwd(be, &a));
        break;
    }
    case OP_POOL:
    case OP_GAP: {
        if (!dx) break;
        mia_pool2d_args a = pool_args(g, n);
        a.x = x;
        a.dy = dy;
        a.dx = dx;
        MIA_TRY(mia__pool2d_bwd(be, &a));
        break;
    }
    case OP_LINEAR: {
        int64_t fin = g->nodes[n->in[0]].numel, fout = n->shape[0];
        mia_gemm_args w = {.trans_a = true, .m = fout, .n = fin, .k = g->batch, .alpha = 1.0f,
                           .beta = 0.0f, .a = dy, .lda = fout, .b = x, .ldb = fin,
                           .c = F(pgrad(g, n, 0)), .ldc = fin};
        MIA_TRY(mia__gemm(be, &w));
        if (n->bias) {
            mia_bias_args b = {.outer = g->batch, .c = fout, .inner = 1, .dy = dy,
                               .db = F(pgrad(g, n, 1))};
            MIA_TRY(mia__bias_grad(be, &b));
        }
        if (!dx) break;
        mia_gemm_args d = {.m = g->batch, .n = fin, .k = fout, .alpha = 1.0f, .beta = 0.0f,
                           .a = dy, .lda = fout, .b = F(pval(g, n, 0)), .ldb = fin, .c = dx,
                           .ldc = fin};
        MIA_TRY(mia__gemm(be, &d));
        break;
    }
    case OP_ADD: {
        /* Both inputs receive dy: copy on first write, add in place afterwards. */
        for (int j = 0; j < 2; j++) {
            mia_node *in = &g->nodes[n->in[j]];
            if (!in->needs_grad || n->in[j] == g->input) continue;
            if (!in->grad_set) {
                MIA_TRY(mia__memcpy_dd(be, F(in->grad), dy, act_bytes(g, n)));
                in->grad_set = true;
            } else {
                mia_binary_args a = {.count = count, .a = F(in->grad), .b = dy, .y = F(in->grad)};
                MIA_TRY(mia__add(be, &a));
            }
        }
        return MIA_OK;
    }
    case OP_CHMUL: {
        int64_t off_s = in_count; /* ds lives after dx in scratch */
        bool acc_s = false;
        float *ds = grad_dst(g, n, 1, off_s, &acc_s);
        mia_chmul_args a = {.n = g->batch, .c = n->shape[0], .hw = n->shape[1] * n->shape[2],
                            .x = x, .s = act_of(g, n->in[1]), .dy = dy,
                            .dx = dx ? dx : F(g->scratch),
                            .ds = ds ? ds : F(g->scratch) + off_s};
        /* When both inputs are the same node they cannot both be written directly. */
        if (n->in[0] == n->in[1]) return MIA_ERROR(MIA_ERR_UNSUPPORTED,
                                                   "channel_mul of a node with itself");
        MIA_TRY(mia__chmul_bwd(be, &a));
        MIA_TRY(grad_done(g, n, 1, acc_s, off_s));
        break;
    }
    case OP_DROPOUT:
        if (!dx) break;
        if (g->last_dropout && n->alpha > 0.0f) {
            mia_dropout_args a = {.count = count, .p = n->alpha, .seed = seed,
                                  .stream = (uint64_t)id, .dy = dy, .dx = dx};
            MIA_TRY(mia__dropout_bwd(be, &a));
        } else {
            MIA_TRY(mia__memcpy_dd(be, dx, dy, act_bytes(g, n)));
        }
        break;
    case OP_FLATTEN:
        if (!dx) break;
        MIA_TRY(mia__memcpy_dd(be, dx, dy, act_bytes(g, n)));
        break;
    case OP_SOFTMAX: {
        if (!dx) break;
        mia_softmax_args a = {.rows = g->batch, .cols = n->numel, .log = n->log, .y = F(n->out),
                              .dy = dy, .dx = dx};
        MIA_TRY(mia__softmax_bwd(be, &a));
        break;
    }
    }
    return grad_done(g, n, 0, acc, 0);
}

static void shape_str(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t at = 0;
    at += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (at < size) snprintf(buf + at, size - at, "]");
}

static mia_status sync_from_tensors(mia_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        mia_node *n = &g->nodes[i];
        if (n->op != OP_BN) continue;
        MIA_TRY(mia_tensor_download(pval(g, n, 4), &n->nbt, sizeof n->nbt));
    }
    g->nbt_stale = false;
    return MIA_OK;
}

mia_status mia__graph_sync_buffers(mia_graph *g)
{
    if (g->nbt_dirty && g->be) {
        for (int i = 0; i < g->n_nodes; i++) {
            mia_node *n = &g->nodes[i];
            if (n->op != OP_BN) continue;
            MIA_TRY(mia_tensor_upload(pval(g, n, 4), &n->nbt, sizeof n->nbt));
        }
        g->nbt_dirty = false;
    }
    g->nbt_stale = true; /* the caller may write the tensors */
    return MIA_OK;
}

mia_status mia_graph_forward(mia_graph *g, const mia_tensor *x, bool training,
                             uint64_t dropout_seed, const mia_tensor **out)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(g, "g is NULL");
    MIA_CHECK_ARG(x, "x is NULL");
    MIA_CHECK_ARG(out, "out is NULL");
    if (!g->be) return MIA_ERROR(MIA_ERR_STATE, "shape-only graph cannot run");
    if (g->output < 0) return MIA_ERROR(MIA_ERR_STATE, "the graph has no output (set_output)");
    MIA_CHECK_ARG(x->be == g->be, "x lives on backend %s, the graph on %s",
                  mia_backend_type(x->be), mia_backend_type(g->be));
    MIA_CHECK_ARG(x->dtype == MIA_DTYPE_F32, "x has dtype %s, expected f32",
                  mia_dtype_name(x->dtype));
    const mia_node *in = &g->nodes[g->input];
    bool ok = x->ndim == in->ndim + 1;
    for (int i = 0; ok && i < in->ndim; i++) ok = x->shape[i + 1] == in->shape[i];
    if (!ok) {
        char want[96], got[96];
        shape_str(want, sizeof want, in->ndim, in->shape);
        shape_str(got, sizeof got, x->ndim, x->shape);
        return MIA_ERROR(MIA_ERR_INVALID, "x: the input node expects [N,%s, got %s", want + 1, got);
    }
    g->ran = true;
    g->train_state = false;
    if (x->shape[0] != g->batch) MIA_TRY(alloc_activations(g, x->shape[0]));
    if (training && g->nbt_stale) MIA_TRY(sync_from_tensors(g));
    g->x = x;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!g->nodes[i].live) continue;
        mia_status s = forward_node(g, i, training, dropout_seed);
        if (s != MIA_OK) {
            mia__error_prefix("forward of node %d '%s'", i,
                              g->nodes[i].name ? g->nodes[i].name : "");
            return s;
        }
    }
    g->train_state = training;
    g->last_seed = dropout_seed;
    g->last_dropout = training && !g->dropout_off;
    *out = g->nodes[g->output].out ? g->nodes[g->output].out : x;
    return MIA_OK;
}

mia_status mia_graph_backward(mia_graph *g, const mia_tensor *dlogits)
{
    mia__error_begin();
    MIA_CHECK_ARG(g, "g is NULL");
    MIA_CHECK_ARG(dlogits, "dlogits is NULL");
    if (!g->train_state)
        return MIA_ERROR(MIA_ERR_STATE, "backward needs a preceding training forward");
    const mia_node *on = &g->nodes[g->output];
    MIA_CHECK_ARG(dlogits->be == g->be && dlogits->dtype == MIA_DTYPE_F32,
                  "dlogits must be f32 on the graph's backend");
    MIA_CHECK_ARG(dlogits->numel == g->batch * on->numel && dlogits->shape[0] == g->batch,
                  "dlogits has %lld elements, the output [%lld x %lld] needs %lld",
                  (long long)dlogits->numel, (long long)g->batch, (long long)on->numel,
                  (long long)(g->batch * on->numel));
    if (g->output == g->input) return MIA_OK;
    MIA_TRY(alloc_grads(g));
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i].grad_set = false;
    mia_node *o = &g->nodes[g->output];
    if (!o->needs_grad) return MIA_OK;
    MIA_TRY(mia__memcpy_dd(g->be, F(o->grad), F(dlogits), act_bytes(g, o)));
    o->grad_set = true;
    for (int i = g->output; i >= 0; i--) {
        mia_node *n = &g->nodes[i];
        if (!n->live || !n->needs_grad || n->op == OP_INPUT || !n->grad_set) continue;
        mia_status s = backward_node(g, i, g->last_seed);
        if (s != MIA_OK) {
            mia__error_prefix("backward of node %d '%s'", i, n->name ? n->name : "");
            return s;
        }
    }
    return MIA_OK;
}

mia_status mia_graph_zero_grad(mia_graph *g)
{
    mia__error_begin();
    MIA_CHECK_ARG(g, "g is NULL");
    for (size_t i = 0; i < g->n_params; i++)
        if (g->params[i].grad) MIA_TRY(mia_tensor_zero(g->params[i].grad));
    return MIA_OK;
}
