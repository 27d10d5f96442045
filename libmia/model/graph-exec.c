/* Graph execution: forward in node order, backward in reverse with gradient accumulation.
 * Every computation goes through the backend dispatch functions of ops.h. */
#include <limits.h>
#include <math.h>
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
    return id == g->input ? F(g->x) : g->nodes[id].y;
}

static int64_t node_hw(const mia_node *n) { return n->ndim == 3 ? n->shape[1] * n->shape[2] : 1; }

static bool blocked_bytes(const mia_graph *g, int id)
{
    return mia__node_blocked_bytes(&g->nodes[id]);
}

/* Whether a ReLU node is computed by its input node (relu_train / relu_eval). */
static bool relu_fused(const mia_graph *g, const mia_node *n, bool training)
{
    if (n->op != OP_ACT) return false;
    const mia_node *p = &g->nodes[n->in[0]];
    return training ? p->relu_train : p->relu_eval;
}

/* Ops whose output has the layout of their (first) input. */
static bool layout_preserving(node_op op)
{
    return op == OP_BN || op == OP_ACT || op == OP_POOL || op == OP_GAP || op == OP_ADD ||
           op == OP_CHMUL;
}

/* Decide which activations live blocked (ops.h), once the structure is frozen. On a backend with
 * blocked_act, every 4-D activation with whole channel blocks produced by a conv or a
 * layout-preserving op starts blocked; then, until nothing changes: a layout-preserving op and
 * its inputs must agree (else both go plain), and any other reader but a conv (which converts
 * inside the op) or a flatten (which converts as its copy) needs its input plain. The graph
 * input, the output and the output's inputs (readable after eval forwards) are plain. With
 * h * w == 1 the two layouts are the same bytes, so such activations satisfy every reader. */
static void plan_layouts(mia_graph *g)
{
    if (g->layout_ready) return;
    const bool on = mia__backend_blocked_act(g->be);
    for (int i = 0; i < g->n_nodes; i++) {
        mia_node *n = &g->nodes[i];
        n->blk = on && n->live && i != g->input && i != g->output && n->ndim == 3 &&
                 n->shape[0] % MIA_BLOCK == 0 &&
                 (n->op == OP_CONV || layout_preserving(n->op));
    }
    if (g->output >= 0 && g->output != g->input) {
        const mia_node *o = &g->nodes[g->output];
        for (int j = 0; j < o->n_in; j++) {
            mia_node *p = &g->nodes[o->in[j]];
            p->blk = false;
            /* a BN output folds its conv in eval forwards: the conv's input is what is kept */
            if (o->op == OP_BN && p->op == OP_CONV) g->nodes[p->in[0]].blk = false;
        }
    }
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = 0; i < g->n_nodes; i++) {
            mia_node *n = &g->nodes[i];
            if (!n->live || i == g->input) continue;
            for (int j = 0; j < n->n_in; j++) {
                mia_node *p = &g->nodes[n->in[j]];
                const bool main = layout_preserving(n->op) && !(n->op == OP_CHMUL && j == 1);
                if (main) {
                    if (n->blk != p->blk) {
                        n->blk = p->blk = false;
                        changed = true;
                    }
                } else if (n->op != OP_CONV && n->op != OP_FLATTEN && p->blk &&
                           node_hw(p) > 1) {
                    p->blk = false;
                    changed = true;
                }
            }
        }
    }
    g->layout_ready = true;
}

static mia_status new_act(mia_graph *g, const mia_node *n, int64_t batch, mia_tensor **t)
{
    int64_t shape[4] = {batch, n->shape[0], n->shape[1], n->shape[2]};
    return mia_tensor_create(t, g->be, MIA_DTYPE_F32, n->ndim + 1, shape);
}

/* Readers whose backward does not read their input's activation. */
static bool backward_skips_input(node_op op)
{
    return op == OP_ADD || op == OP_FLATTEN || op == OP_DROPOUT;
}

static mia_status alloc_activations(mia_graph *g, int64_t batch)
{
    mia__graph_free_activations(g);
    int *uses = mia__calloc((size_t)g->n_nodes, sizeof *uses);
    if (!uses) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory planning activations");
    /* An activation is transient when no backward (or caller) reads it after the forward: not
     * the input or the output, not a softmax (its backward reads its output), and only read by
     * adds, flattens and dropouts, none of them the output (an in-place ReLU over it reads it).
     * In ResNets that is the batchnorm before each residual add; PyTorch frees it too. */
    for (int i = 0; i < g->n_nodes; i++) {
        mia_node *n = &g->nodes[i];
        n->relu_train = false;
        n->relu_bwd = false;
        n->transient = n->live && i != g->input && i != g->output && n->op != OP_SOFTMAX;
        n->train_last = -1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const mia_node *n = &g->nodes[i];
        if (!n->live) continue;
        for (int j = 0; j < n->n_in; j++) {
            mia_node *p = &g->nodes[n->in[j]];
            uses[n->in[j]]++;
            p->train_last = i;
            if (i == g->output || !backward_skips_input(n->op)) p->transient = false;
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        mia_node *n = &g->nodes[i];
        n->out_shared = false;
        if (!n->live || n->op == OP_INPUT) continue;
        /* ReLU (and leaky ReLU with slope >= 0) in place over an input read by nobody else
         * whose own backward does not need its output (all but softmax): the ReLU backward
         * takes the mask from its output, which has the sign of its input. */
        const int p = n->in[0];
        if (n->op == OP_ACT &&
            (n->act == MIA_ACT_RELU || (n->act == MIA_ACT_LEAKY_RELU && n->alpha >= 0.0f)) &&
            p != g->input && p != g->output && uses[p] == 1 && g->nodes[p].op != OP_SOFTMAX &&
            g->nodes[p].out) {
            n->out = g->nodes[p].out;
            n->out_shared = true;
            /* a plain ReLU in place over a conv's output: the conv applies it (post-op) */
            if (n->act == MIA_ACT_RELU && g->nodes[p].op == OP_CONV) g->nodes[p].relu_train = true;
            continue;
        }
        /* a max pool reading only a plain in-place ReLU runs that ReLU's backward too */
        if (n->op == OP_POOL && n->pool == MIA_POOL_MAX && uses[p] == 1 && p != g->output) {
            const mia_node *r = &g->nodes[p];
            if (r->op == OP_ACT && r->act == MIA_ACT_RELU && r->out_shared) n->relu_bwd = true;
        }
        mia_status s = n->transient ? MIA_OK : new_act(g, n, batch, &n->out);
        if (s != MIA_OK) {
            mia__free(uses);
            return s;
        }
        if (n->op == OP_BN) {
            int64_t c[1] = {n->shape[0]};
            s = mia_tensor_create(&n->save_mean, g->be, MIA_DTYPE_F32, 1, c);
            if (s == MIA_OK) s = mia_tensor_create(&n->save_var, g->be, MIA_DTYPE_F32, 1, c);
            if (s != MIA_OK) {
                mia__free(uses);
                return s;
            }
        }
    }
    mia__free(uses);
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

/* ---- buffer pools ------------------------------------------------------------------------ */

/* A free slot of at least need elements (best fit; else the largest free one grown; else a new
 * one), marked used once. */
static mia_status pool_acquire(mia_graph *g, mia_pool *p, int64_t need, int *slot)
{
    int best = -1, big = -1;
    *slot = -1;
    for (int i = 0; i < p->n; i++) {
        if (p->s[i].refs) continue;
        if (p->s[i].cap >= need && (best < 0 || p->s[i].cap < p->s[best].cap)) best = i;
        if (big < 0 || p->s[i].cap > p->s[big].cap) big = i;
    }
    if (best < 0 && big >= 0) {
        mia_tensor_free(p->s[big].t);
        p->s[big].t = NULL;
        p->s[big].cap = 0;
        best = big;
    } else if (best < 0) {
        if (p->n == p->cap) {
            int cap = p->cap ? 2 * p->cap : 16;
            mia_slot *ns = mia__realloc(p->s, (size_t)cap * sizeof *ns);
            if (!ns) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory growing a buffer pool");
            p->s = ns;
            p->cap = cap;
        }
        best = p->n++;
        memset(&p->s[best], 0, sizeof p->s[best]);
    }
    if (!p->s[best].t) {
        MIA_TRY(mia_tensor_create(&p->s[best].t, g->be, MIA_DTYPE_F32, 1, &need));
        p->s[best].cap = need;
    }
    p->s[best].refs = 1;
    *slot = best;
    return MIA_OK;
}

static void pool_release(mia_pool *p, int slot)
{
    if (slot >= 0 && slot < p->n && p->s[slot].refs > 0) p->s[slot].refs--;
}

/* The gradient buffer of node n for the current backward, from the gradient pool. */
static mia_status grad_buf(mia_graph *g, mia_node *n)
{
    if (n->dy) return MIA_OK;
    if (n->in[0] == g->input || (n->n_in > 1 && n->in[1] == g->input)) {
        /* Nodes reading the graph input keep a dedicated gradient that stays readable after
         * the backward (n->grad: gen/cgan.c back-propagates it to the image itself). */
        if (!n->grad) MIA_TRY(new_act(g, n, g->batch, &n->grad));
        n->dy = F(n->grad);
        return MIA_OK;
    }
    MIA_TRY(pool_acquire(g, &g->grad_pool, g->cur_n * n->numel, &n->gslot));
    n->dy = F(g->grad_pool.s[n->gslot].t);
    return MIA_OK;
}

/* Conv geometry for node n (transposed nodes describe the equivalent forward conv from their
 * output to their input). */
static mia_conv2d_args conv_args(const mia_graph *g, const mia_node *n)
{
    const mia_node *in = &g->nodes[n->in[0]];
    const mia_node *big = n->op == OP_CONV ? in : n, *small = n->op == OP_CONV ? n : in;
    mia_conv2d_args a = {0};
    a.n = g->cur_n;
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
    if (n->op == OP_CONV) { /* transposed convs are plain (plan_layouts) */
        a.x_blocked = in->blk;
        a.y_blocked = n->blk;
    }
    return a;
}

static mia_pool2d_args pool_args(const mia_graph *g, const mia_node *n)
{
    const mia_node *in = &g->nodes[n->in[0]];
    mia_pool2d_args a = {0};
    a.kind = (mia_pool_kind)n->pool;
    a.n = g->cur_n;
    a.c = in->shape[0];
    a.h = in->shape[1];
    a.w = in->shape[2];
    a.oh = n->shape[1];
    a.ow = n->shape[2];
    a.kh = n->op == OP_GAP ? in->shape[1] : n->k;
    a.kw = n->op == OP_GAP ? in->shape[2] : n->k;
    a.sh = a.sw = n->stride;
    a.pt = a.pl = a.pb = a.pr = n->pad;
    a.blocked = n->blk;
    return a;
}

static mia_batchnorm_args bn_args(const mia_graph *g, const mia_node *n, bool training)
{
    mia_batchnorm_args a = {0};
    a.n = g->cur_n;
    a.c = n->shape[0];
    a.hw = n->ndim == 3 ? n->shape[1] * n->shape[2] : 1;
    a.eps = BN_EPS;
    a.momentum = BN_MOMENTUM;
    a.training = training;
    a.blocked = n->blk;
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
    return (size_t)(g->cur_n * n->numel) * sizeof(float);
}

static mia_status forward_node(mia_graph *g, int id, bool training, uint64_t seed)
{
    mia_node *n = &g->nodes[id];
    mia_backend *be = g->be;
    const float *x = n->n_in > 0 ? act_of(g, n->in[0]) : NULL;
    float *y = n->y;
    int64_t count = g->cur_n * n->numel;
    switch (n->op) {
    case OP_INPUT:
        return MIA_OK;
    case OP_CONV: {
        if (!training && n->fold_into >= 0) return MIA_OK; /* runs inside its BN */
        mia_conv2d_args a = conv_args(g, n);
        a.x = x;
        a.b = n->bias ? F(pval(g, n, 1)) : NULL;
        a.y = y;
        a.relu = training ? n->relu_train : n->relu_eval;
        return mia__conv2d_fwd(be, &a);
    }
    case OP_CONVT: {
        mia_conv2d_args a = conv_args(g, n);
        a.dy = x;
        a.dx = y;
        MIA_TRY(mia__conv2d_bwd_data(be, &a));
        if (!n->bias) return MIA_OK;
        mia_bias_args b = {.outer = g->cur_n, .c = n->shape[0], .inner = n->shape[1] * n->shape[2],
                           .b = F(pval(g, n, 1)), .y = y};
        return mia__bias_add(be, &b);
    }
    case OP_BN: {
        if (!training && n->fold_from >= 0) {
            const mia_node *c = &g->nodes[n->fold_from];
            mia_conv2d_args a = conv_args(g, c);
            a.x = act_of(g, c->in[0]);
            a.wt = F(g->fold_w); /* written by refold just before */
            a.b = F(n->fold_b);
            a.y = y;
            a.relu = n->relu_eval;
            return mia__conv2d_fwd(be, &a);
        }
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
        if (relu_fused(g, n, training)) return MIA_OK; /* done by its input */
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
        mia_gemm_args a = {.trans_b = true, .m = g->cur_n, .n = fout, .k = fin, .alpha = 1.0f,
                           .beta = 0.0f, .a = x, .lda = fin, .b = F(pval(g, n, 0)), .ldb = fin,
                           .c = y, .ldc = fout};
        MIA_TRY(mia__gemm(be, &a));
        if (!n->bias) return MIA_OK;
        mia_bias_args b = {.outer = g->cur_n, .c = fout, .inner = 1, .b = F(pval(g, n, 1)), .y = y};
        return mia__bias_add(be, &b);
    }
    case OP_ADD: {
        mia_binary_args a = {.count = count, .a = x, .b = act_of(g, n->in[1]), .y = y};
        return mia__add(be, &a);
    }
    case OP_CHMUL: {
        mia_chmul_args a = {.n = g->cur_n, .c = n->shape[0], .hw = n->shape[1] * n->shape[2],
                            .blocked = n->blk, .x = x, .s = act_of(g, n->in[1]), .y = y};
        return mia__chmul_fwd(be, &a);
    }
    case OP_DROPOUT:
        if (training && n->alpha > 0.0f && !g->dropout_off) {
            mia_dropout_args a = {.count = count, .p = n->alpha, .seed = seed,
                                  .stream = (uint64_t)id, .x = x, .y = y};
            return mia__dropout_fwd(be, &a);
        }
        return y == x ? MIA_OK : mia__memcpy_dd(be, y, x, act_bytes(g, n));
    case OP_FLATTEN:
        if (blocked_bytes(g, n->in[0])) { /* the flattened order is the plain one */
            const mia_node *p = &g->nodes[n->in[0]];
            mia_relayout_args a = {.n = g->cur_n, .c = p->shape[0], .hw = node_hw(p),
                                   .to_blocked = false, .x = x, .y = y};
            return mia__relayout(be, &a);
        }
        return y == x ? MIA_OK : mia__memcpy_dd(be, y, x, act_bytes(g, n));
    case OP_SOFTMAX: {
        mia_softmax_args a = {.rows = g->cur_n, .cols = n->numel, .log = n->log, .x = x,
                              .out = y};
        return mia__softmax_fwd(be, &a);
    }
    }
    return MIA_ERROR(MIA_ERR_STATE, "corrupt graph: unknown op %d", (int)n->op);
}

/* Where to write the gradient w.r.t. node id: straight into its buffer the first time, else into
 * scratch (at offset off) to be added afterwards. NULL when it needs no gradient. */
static mia_status grad_dst_of(mia_graph *g, int id, int64_t off, bool *acc, float **dst)
{
    mia_node *in = &g->nodes[id];
    *acc = false;
    *dst = NULL;
    if (!in->needs_grad || id == g->input) return MIA_OK;
    if (!in->grad_set) {
        MIA_TRY(grad_buf(g, in));
        *dst = in->dy;
        return MIA_OK;
    }
    *acc = true;
    *dst = F(g->scratch) + off;
    return MIA_OK;
}

static mia_status grad_done_of(mia_graph *g, int id, bool acc, int64_t off)
{
    mia_node *in = &g->nodes[id];
    if (!in->needs_grad || id == g->input) return MIA_OK;
    in->grad_set = true;
    if (!acc) return MIA_OK;
    mia_binary_args a = {.count = g->cur_n * in->numel, .a = in->dy,
                         .b = F(g->scratch) + off, .y = in->dy};
    return mia__add(g->be, &a);
}

static mia_status backward_node(mia_graph *g, int id, uint64_t seed)
{
    mia_node *n = &g->nodes[id];
    mia_backend *be = g->be;
    const float *x = act_of(g, n->in[0]);
    const float *dy = n->dy;
    int64_t count = g->cur_n * n->numel;
    int64_t in_count = g->cur_n * g->nodes[n->in[0]].numel;
    bool acc = false;
    float *dx;
    /* input 0's gradient; a relu_bwd pool writes that of its ReLU's input instead */
    const int tgt = n->relu_bwd ? g->nodes[n->in[0]].in[0] : n->in[0];
    MIA_TRY(grad_dst_of(g, tgt, 0, &acc, &dx));
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
            mia_bias_args b = {.outer = g->cur_n, .c = n->shape[0],
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
        a.relu_mask = n->relu_bwd;
        a.x = x;
        a.dy = dy;
        a.dx = dx;
        MIA_TRY(mia__pool2d_bwd(be, &a));
        break;
    }
    case OP_LINEAR: {
        int64_t fin = g->nodes[n->in[0]].numel, fout = n->shape[0];
        mia_gemm_args w = {.trans_a = true, .m = fout, .n = fin, .k = g->cur_n, .alpha = 1.0f,
                           .beta = 0.0f, .a = dy, .lda = fout, .b = x, .ldb = fin,
                           .c = F(pgrad(g, n, 0)), .ldc = fin};
        MIA_TRY(mia__gemm(be, &w));
        if (n->bias) {
            mia_bias_args b = {.outer = g->cur_n, .c = fout, .inner = 1, .dy = dy,
                               .db = F(pgrad(g, n, 1))};
            MIA_TRY(mia__bias_grad(be, &b));
        }
        if (!dx) break;
        mia_gemm_args d = {.m = g->cur_n, .n = fin, .k = fout, .alpha = 1.0f, .beta = 0.0f,
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
                MIA_TRY(grad_buf(g, in));
                MIA_TRY(mia__memcpy_dd(be, in->dy, dy, act_bytes(g, n)));
                in->grad_set = true;
            } else {
                mia_binary_args a = {.count = count, .a = in->dy, .b = dy, .y = in->dy};
                MIA_TRY(mia__add(be, &a));
            }
        }
        return MIA_OK;
    }
    case OP_CHMUL: {
        int64_t off_s = in_count; /* ds lives after dx in scratch */
        bool acc_s = false;
        float *ds;
        MIA_TRY(grad_dst_of(g, n->in[1], off_s, &acc_s, &ds));
        mia_chmul_args a = {.n = g->cur_n, .c = n->shape[0], .hw = n->shape[1] * n->shape[2],
                            .blocked = n->blk, .x = x, .s = act_of(g, n->in[1]), .dy = dy,
                            .dx = dx ? dx : F(g->scratch),
                            .ds = ds ? ds : F(g->scratch) + off_s};
        /* When both inputs are the same node they cannot both be written directly. */
        if (n->in[0] == n->in[1]) return MIA_ERROR(MIA_ERR_UNSUPPORTED,
                                                   "channel_mul of a node with itself");
        MIA_TRY(mia__chmul_bwd(be, &a));
        MIA_TRY(grad_done_of(g, n->in[1], acc_s, off_s));
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
        if (blocked_bytes(g, n->in[0])) {
            const mia_node *p = &g->nodes[n->in[0]];
            mia_relayout_args a = {.n = g->cur_n, .c = p->shape[0], .hw = node_hw(p),
                                   .to_blocked = true, .x = dy, .y = dx};
            MIA_TRY(mia__relayout(be, &a));
            break;
        }
        MIA_TRY(mia__memcpy_dd(be, dx, dy, act_bytes(g, n)));
        break;
    case OP_SOFTMAX: {
        if (!dx) break;
        mia_softmax_args a = {.rows = g->cur_n, .cols = n->numel, .log = n->log, .y = n->y,
                              .dy = dy, .dx = dx};
        MIA_TRY(mia__softmax_bwd(be, &a));
        break;
    }
    }
    return grad_done_of(g, tgt, acc, 0);
}

static void shape_str(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t at = 0;
    at += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (at < size) snprintf(buf + at, size - at, "]");
}

/* ---- eval forwards: BN folding and pooled activations ------------------------------------ */

static int eval_inputs(const mia_graph *g, const mia_node *n, int in[2]);

/* Pair every conv whose only consumer is a batchnorm with it (once: the structure is frozen). */
static void find_folds(mia_graph *g)
{
    int *uses = NULL;
    if (g->fold_ready) return;
    uses = mia__calloc((size_t)g->n_nodes, sizeof *uses);
    if (!uses) return; /* no folding: still correct */
    for (int i = 0; i < g->n_nodes; i++) {
        const mia_node *n = &g->nodes[i];
        if (!n->live) continue;
        for (int j = 0; j < n->n_in; j++) uses[n->in[j]]++;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        mia_node *b = &g->nodes[i];
        if (!b->live || b->op != OP_BN || b->ndim != 3) continue;
        mia_node *c = &g->nodes[b->in[0]];
        if (c->op != OP_CONV || uses[b->in[0]] != 1 || b->in[0] == g->output) continue;
        c->fold_into = i;
        b->fold_from = b->in[0];
    }
    /* A plain ReLU that is the only reader of a conv (or of a BN with its conv folded) runs as
     * the conv's post-op; the ReLU node becomes a view of that output. Not when the conv output
     * must stay readable (an input of the graph output). */
    int kin[2] = {-1, -1};
    const int nk = g->output >= 0 ? eval_inputs(g, &g->nodes[g->output], kin) : 0;
    for (int i = 0; i < g->n_nodes; i++) {
        mia_node *r = &g->nodes[i];
        if (!r->live || r->op != OP_ACT || r->act != MIA_ACT_RELU || i == g->output) continue;
        if ((nk > 0 && kin[0] == i) || (nk > 1 && kin[1] == i)) continue; /* kept readable */
        const int p = r->in[0];
        mia_node *pn = &g->nodes[p];
        if (p == g->input || uses[p] != 1) continue;
        if (!((pn->op == OP_CONV && pn->fold_into < 0) || (pn->op == OP_BN && pn->fold_from >= 0)))
            continue;
        pn->relu_eval = true;
    }
    mia__free(uses);
    g->fold_ready = true;
}

/* Folded weight and bias of BN node b: W' = W * s, b' = beta + (bias - mean) * s with
 * s = gamma / sqrt(running_var + eps), from the current parameters (they may have changed
 * since the last eval forward). W' goes to g->fold_w, one buffer shared by every fold and
 * grown to the largest folded weight (ResNet-50: 9 MB instead of 95 MB of per-BN copies), so
 * it holds b's weight only until the next refold: call it right before b's forward. The
 * backend runs ops in order, so the next refold overwrites it only after this conv read it. */
static mia_status refold(mia_graph *g, mia_node *b)
{
    const mia_node *c = &g->nodes[b->fold_from];
    const mia_gparam *w = &g->params[c->param[0]];
    const int64_t o = c->shape[0];
    if (g->fold_w_numel < w->numel) {
        mia_tensor_free(g->fold_w);
        g->fold_w = NULL;
        g->fold_w_numel = 0;
        MIA_TRY(mia_tensor_create(&g->fold_w, g->be, MIA_DTYPE_F32, 1, &w->numel));
        g->fold_w_numel = w->numel;
    }
    if (!b->fold_b) MIA_TRY(mia_tensor_create(&b->fold_b, g->be, MIA_DTYPE_F32, 1, &o));
    if (!b->fold_s) MIA_TRY(mia_tensor_create(&b->fold_s, g->be, MIA_DTYPE_F32, 1, &o));
    float *h = mia__malloc((size_t)o * 6 * sizeof *h);
    if (!h) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory folding batchnorm '%s'", b->name);
    float *gam = h, *bet = h + o, *mu = h + 2 * o, *var = h + 3 * o, *cb = h + 4 * o,
          *sc = h + 5 * o;
    size_t nb = (size_t)o * sizeof *h;
    mia_status s = mia_tensor_download(pval(g, b, 0), gam, nb);
    if (s == MIA_OK) s = mia_tensor_download(pval(g, b, 1), bet, nb);
    if (s == MIA_OK) s = mia_tensor_download(pval(g, b, 2), mu, nb);
    if (s == MIA_OK) s = mia_tensor_download(pval(g, b, 3), var, nb);
    if (s == MIA_OK && c->bias) s = mia_tensor_download(pval(g, c, 1), cb, nb);
    if (s == MIA_OK) {
        for (int64_t k = 0; k < o; k++) {
            double sk = (double)gam[k] / sqrt((double)var[k] + (double)BN_EPS);
            double bk = c->bias ? (double)cb[k] : 0.0;
            sc[k] = (float)sk;
            cb[k] = (float)((double)bet[k] + (bk - (double)mu[k]) * sk);
        }
        s = mia_tensor_upload(b->fold_s, sc, nb);
    }
    if (s == MIA_OK) s = mia_tensor_upload(b->fold_b, cb, nb);
    mia__free(h);
    MIA_TRY(s);
    mia_chmul_args a = {.n = 1, .c = o, .hw = w->numel / o, .x = F(w->value), .s = F(b->fold_s),
                        .y = F(g->fold_w)};
    return mia__chmul_fwd(g->be, &a);
}

/* The activations a node reads in an eval forward (a folded BN reads its conv's input). */
static int eval_inputs(const mia_graph *g, const mia_node *n, int in[2])
{
    if (n->op == OP_BN && n->fold_from >= 0) {
        in[0] = g->nodes[n->fold_from].in[0];
        return 1;
    }
    in[0] = n->in[0];
    in[1] = n->in[1];
    return n->n_in;
}

static bool eval_runs(const mia_graph *g, int i)
{
    const mia_node *n = &g->nodes[i];
    return n->live && i != g->input && n->fold_into < 0;
}

/* ---- eval buffer plan ---------------------------------------------------------------------- */

/* A buffer of an eval forward: the activations that share it (views, in-place ops) and the
 * node steps during which it is live (written at start, last read at end, inclusive). */
typedef struct ebuf {
    int64_t need; /* elements */
    int start, end, refs, slot;
} ebuf;

/* Whether node n (step i) writes its output as a view of input 0 (nothing is written in place:
 * a flatten or dropout of a plain activation, or a ReLU its input's op already applied). */
static bool eval_view(const mia_graph *g, const mia_node *n, const int in[2])
{
    return ((n->op == OP_FLATTEN || n->op == OP_DROPOUT) && in[0] != g->input &&
            !blocked_bytes(g, in[0])) ||
           relu_fused(g, n, false);
}

/* The act_pool slot of every pooled activation of an eval forward (node slot; -1 for the
 * output, a kept input of the output, a node not run, and a view of an unpooled input). Each
 * activation gets a buffer (views and in-place ops share their input's); buffers are placed
 * largest first, each
 * in the smallest slot whose other buffers are not live at the same time (a new slot when none
 * is free): sizes are known before the forward, so a small activation between two large ones
 * no longer takes a large buffer that the next large one then misses (ResNet-50 eval: two
 * 51 MB buffers and a 13 MB one instead of three of 51 MB). An ACT or ADD writes over its input
 * when that input is read for the last time there and shares its buffer with nobody. */
static mia_status plan_eval_buffers(mia_graph *g)
{
    int *buf = mia__calloc((size_t)g->n_nodes, sizeof *buf); /* node -> buffer, -1 none */
    ebuf *eb = mia__calloc((size_t)g->n_nodes, sizeof *eb);
    if (!buf || !eb) {
        mia__free(buf);
        mia__free(eb);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory planning eval buffers");
    }
    int nb = 0;
    for (int i = 0; i < g->n_nodes; i++) buf[i] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!eval_runs(g, i)) continue;
        mia_node *n = &g->nodes[i];
        int in[2] = {-1, -1};
        const int k = eval_inputs(g, n, in);
        if (i == g->output || n->last_use == INT_MAX) {
            /* eval_out / kept: not pooled */
        } else if (eval_view(g, n, in)) {
            buf[i] = buf[in[0]];
            if (buf[i] >= 0) eb[buf[i]].refs++;
        } else {
            for (int j = 0; j < k && buf[i] < 0; j++) {
                const int b = in[j] == g->input ? -1 : buf[in[j]];
                if (b >= 0 && g->nodes[in[j]].last_use == i && eb[b].refs == 1 &&
                    (n->op == OP_ACT || n->op == OP_ADD)) {
                    buf[i] = b;
                    eb[b].refs++;
                }
            }
            if (buf[i] < 0) {
                eb[nb] = (ebuf){.need = g->cur_n * n->numel, .start = i, .end = INT_MAX,
                                .refs = 1, .slot = -1};
                buf[i] = nb++;
            }
        }
        for (int j = 0; j < k; j++) {
            if (j == 1 && in[1] == in[0]) break;
            const int b = in[j] == g->input ? -1 : buf[in[j]];
            if (b >= 0 && g->nodes[in[j]].last_use == i && --eb[b].refs == 0) eb[b].end = i;
        }
        if (n->last_use < 0 && buf[i] >= 0 && --eb[buf[i]].refs == 0) eb[buf[i]].end = i;
    }
    /* placement, largest buffer first (ties: earlier first) */
    int *order = mia__calloc((size_t)(nb ? nb : 1), sizeof *order);
    int64_t *cap = mia__calloc((size_t)(nb ? nb : 1), sizeof *cap);
    if (!order || !cap) {
        mia__free(order);
        mia__free(cap);
        mia__free(buf);
        mia__free(eb);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory planning eval buffers");
    }
    for (int i = 0; i < nb; i++) order[i] = i;
    for (int i = 1; i < nb; i++) /* insertion sort: a few hundred buffers at most */
        for (int j = i; j > 0; j--) {
            const ebuf *a = &eb[order[j - 1]], *b = &eb[order[j]];
            if (a->need > b->need || (a->need == b->need && a->start <= b->start)) break;
            const int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    int nslot = 0;
    for (int oi = 0; oi < nb; oi++) {
        ebuf *b = &eb[order[oi]];
        int best = -1;
        for (int sl = 0; sl < nslot; sl++) {
            bool free_then = true;
            for (int oj = 0; oj < oi && free_then; oj++) {
                const ebuf *o = &eb[order[oj]];
                if (o->slot == sl && o->start <= b->end && b->start <= o->end) free_then = false;
            }
            if (free_then && (best < 0 || cap[sl] < cap[best])) best = sl;
        }
        if (best < 0) {
            best = nslot++;
            cap[best] = b->need;
        }
        b->slot = best;
    }
    mia__free(order);
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i].slot = buf[i] >= 0 ? eb[buf[i]].slot : -1;
    mia__free(buf);
    mia__free(eb);
    /* the pool's slots: the plan's count, each at least its largest buffer */
    mia_status s = MIA_OK;
    mia_pool *p = &g->act_pool;
    if (nslot > p->cap) {
        mia_slot *ns = mia__realloc(p->s, (size_t)nslot * sizeof *ns);
        if (!ns) s = MIA_ERROR(MIA_ERR_NOMEM, "out of memory growing a buffer pool");
        else {
            p->s = ns;
            p->cap = nslot;
        }
    }
    for (int sl = 0; sl < nslot && s == MIA_OK; sl++) {
        if (sl >= p->n) {
            memset(&p->s[sl], 0, sizeof p->s[sl]);
            p->n = sl + 1;
        }
        p->s[sl].refs = 0;
        if (p->s[sl].t && p->s[sl].cap >= cap[sl]) continue;
        mia_tensor_free(p->s[sl].t);
        p->s[sl].t = NULL;
        p->s[sl].cap = 0;
        s = mia_tensor_create(&p->s[sl].t, g->be, MIA_DTYPE_F32, 1, &cap[sl]);
        if (s == MIA_OK) p->s[sl].cap = cap[sl];
    }
    mia__free(cap);
    return s;
}

/* Eval forward: conv+BN pairs folded into one conv, activations in pooled buffers reused once
 * their last reader ran (in place for activations and residual adds); only the output is kept. */
static mia_status forward_eval(mia_graph *g)
{
    find_folds(g);
    mia_node *on = &g->nodes[g->output];
    if (g->output != g->input) {
        int64_t shape[4] = {g->cur_n, on->shape[0], on->shape[1], on->shape[2]};
        if (g->eval_out && (mia_tensor_ndim(g->eval_out) != on->ndim + 1 ||
                            mia_tensor_dim(g->eval_out, 0) != g->cur_n)) {
            mia_tensor_free(g->eval_out);
            g->eval_out = NULL;
        }
        if (!g->eval_out)
            MIA_TRY(mia_tensor_create(&g->eval_out, g->be, MIA_DTYPE_F32, on->ndim + 1, shape));
    }
    for (int i = 0; i < g->n_nodes; i++) {
        mia_node *n = &g->nodes[i];
        n->last_use = -1;
        n->slot = -1;
        n->y = NULL;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (!eval_runs(g, i)) continue;
        int in[2];
        int k = eval_inputs(g, &g->nodes[i], in);
        for (int j = 0; j < k; j++) g->nodes[in[j]].last_use = i;
    }
    on->last_use = INT_MAX;
    /* The output's inputs (e.g. the last layer's features) stay readable after the forward. */
    int kin[2];
    int nk = g->output != g->input ? eval_inputs(g, on, kin) : 0;
    for (int j = 0; j < nk; j++) {
        if (kin[j] == g->input) continue;
        mia_node *kn = &g->nodes[kin[j]];
        kn->last_use = INT_MAX;
        if (kn->kept && mia_tensor_dim(kn->kept, 0) != g->cur_n) {
            mia_tensor_free(kn->kept);
            kn->kept = NULL;
        }
        if (!kn->kept) MIA_TRY(new_act(g, kn, g->cur_n, &kn->kept));
    }
    MIA_TRY(plan_eval_buffers(g));
    g->planned_eval = true;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!eval_runs(g, i)) continue;
        mia_node *n = &g->nodes[i];
        if (n->op == OP_BN && n->fold_from >= 0) MIA_TRY(refold(g, n));
        if (i == g->output)
            n->y = F(g->eval_out);
        else if (n->last_use == INT_MAX)
            n->y = F(n->kept);
        else if (n->slot >= 0)
            n->y = F(g->act_pool.s[n->slot].t); /* a view's slot is its input's: same data */
        else
            n->y = g->nodes[n->in[0]].y; /* a view of a kept activation */
        mia_status s = forward_node(g, i, false, 0);
        if (s != MIA_OK) {
            mia__error_prefix("forward of node %d '%s'", i, n->name ? n->name : "");
            return s;
        }
    }
    return MIA_OK;
}

/* Training forward in node order; transient activations take pooled buffers until their last
 * reader ran. */
static mia_status forward_train(mia_graph *g, uint64_t seed)
{
    for (int i = 0; i < g->act_pool.n; i++) g->act_pool.s[i].refs = 0;
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i].slot = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        mia_node *n = &g->nodes[i];
        if (!n->live) continue;
        if (n->transient) {
            MIA_TRY(pool_acquire(g, &g->act_pool, g->cur_n * n->numel, &n->slot));
            n->y = F(g->act_pool.s[n->slot].t);
        }
        mia_status s = forward_node(g, i, true, seed);
        if (s != MIA_OK) {
            mia__error_prefix("forward of node %d '%s'", i, n->name ? n->name : "");
            return s;
        }
        for (int j = 0; j < n->n_in; j++) {
            mia_node *p = &g->nodes[n->in[j]];
            if (j == 1 && n->in[1] == n->in[0]) break;
            if (p->transient && p->train_last == i) pool_release(&g->act_pool, p->slot);
        }
        if (n->transient && n->train_last < 0) pool_release(&g->act_pool, n->slot);
    }
    return MIA_OK;
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
    plan_layouts(g);
    g->train_state = false;
    g->cur_n = x->shape[0];
    if (training && g->nbt_stale) MIA_TRY(sync_from_tensors(g));
    if (training && g->cur_n != g->batch) MIA_TRY(alloc_activations(g, g->cur_n));
    g->x = x; /* after alloc_activations, which clears it */
    if (training) {
        g->planned_eval = false;
        for (int i = 0; i < g->n_nodes; i++) {
            mia_node *n = &g->nodes[i];
            n->y = n->live && i != g->input ? F(n->out) : NULL;
            n->grad_set = false; /* mia_graph_input_grad: no backward since this forward */
        }
        MIA_TRY(forward_train(g, dropout_seed));
    } else {
        MIA_TRY(forward_eval(g));
    }
    g->train_state = training;
    g->last_seed = dropout_seed;
    g->last_dropout = training && !g->dropout_off;
    if (g->output == g->input) *out = x;
    else *out = training ? g->nodes[g->output].out : g->eval_out;
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
    MIA_CHECK_ARG(dlogits->numel == g->cur_n * on->numel && dlogits->shape[0] == g->cur_n,
                  "dlogits has %lld elements, the output [%lld x %lld] needs %lld",
                  (long long)dlogits->numel, (long long)g->cur_n, (long long)on->numel,
                  (long long)(g->cur_n * on->numel));
    if (g->output == g->input) return MIA_OK;
    MIA_TRY(alloc_grads(g));
    for (int i = 0; i < g->n_nodes; i++) {
        g->nodes[i].grad_set = false;
        g->nodes[i].dy = NULL;
        g->nodes[i].gslot = -1;
    }
    for (int i = 0; i < g->grad_pool.n; i++) g->grad_pool.s[i].refs = 0;
    mia_node *o = &g->nodes[g->output];
    if (!o->needs_grad) return MIA_OK;
    MIA_TRY(grad_buf(g, o));
    MIA_TRY(mia__memcpy_dd(g->be, o->dy, F(dlogits), act_bytes(g, o)));
    o->grad_set = true;
    for (int i = g->output; i >= 0; i--) {
        mia_node *n = &g->nodes[i];
        if (!n->live || !n->needs_grad || n->op == OP_INPUT || !n->grad_set) continue;
        mia_status s = backward_node(g, i, g->last_seed);
        if (s != MIA_OK) {
            mia__error_prefix("backward of node %d '%s'", i, n->name ? n->name : "");
            return s;
        }
        pool_release(&g->grad_pool, n->gslot); /* its gradient is consumed */
        n->gslot = -1;
        n->dy = NULL;
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

mia_status mia_graph_input_grad(mia_graph *g, mia_tensor *dx)
{
    mia__error_begin();
    MIA_CHECK_ARG(g, "g is NULL");
    MIA_CHECK_ARG(dx, "dx is NULL");
    if (!g->train_state || !g->x)
        return MIA_ERROR(MIA_ERR_STATE, "input_grad needs a training forward and its backward");
    MIA_CHECK_ARG(dx->be == g->be && dx->dtype == MIA_DTYPE_F32 && dx->numel == g->x->numel &&
                      dx->shape[0] == g->cur_n,
                  "dx must be f32 on the graph's backend with the input's shape (%lld elements)",
                  (long long)g->x->numel);
    bool first = true;
    mia_tensor *tmp = NULL; /* second and later consumers of the input */
    mia_status s = MIA_OK;
    for (int i = 0; s == MIA_OK && i < g->n_nodes; i++) {
        mia_node *n = &g->nodes[i];
        if (!n->live || i == g->input) continue;
        int uses = 0;
        for (int j = 0; j < n->n_in; j++) uses += n->in[j] == g->input;
        if (!uses) continue;
        if (uses > 1 || (n->op != OP_CONV && n->op != OP_CONVT && n->op != OP_LINEAR)) {
            s = MIA_ERROR(MIA_ERR_UNSUPPORTED, "input_grad: node %d '%s' reads the input and is "
                          "not a conv, transposed conv or linear node", i, n->name ? n->name : "");
            break;
        }
        if (!n->grad_set || !n->grad) {
            s = MIA_ERROR(MIA_ERR_STATE, "input_grad: no backward since the last training "
                          "forward");
            break;
        }
        if (!first && !tmp) s = mia_tensor_create(&tmp, g->be, MIA_DTYPE_F32, 1, &dx->numel);
        if (s != MIA_OK) break;
        float *dst = first ? F(dx) : F(tmp);
        const float *dy = F(n->grad);
        if (n->op == OP_CONV) {
            mia_conv2d_args a = conv_args(g, n);
            a.dy = dy;
            a.dx = dst;
            s = mia__conv2d_bwd_data(g->be, &a);
        } else if (n->op == OP_CONVT) {
            mia_conv2d_args a = conv_args(g, n);
            a.x = dy;
            a.y = dst;
            s = mia__conv2d_fwd(g->be, &a);
        } else {
            int64_t fin = g->nodes[g->input].numel, fout = n->shape[0];
            mia_gemm_args d = {.m = g->cur_n, .n = fin, .k = fout, .alpha = 1.0f, .beta = 0.0f,
                               .a = dy, .lda = fout, .b = F(pval(g, n, 0)), .ldb = fin,
                               .c = dst, .ldc = fin};
            s = mia__gemm(g->be, &d);
        }
        if (s == MIA_OK && !first) {
            mia_binary_args a = {.count = dx->numel, .a = F(dx), .b = dst, .y = F(dx)};
            s = mia__add(g->be, &a);
        }
        first = false;
    }
    mia_tensor_free(tmp);
    if (s == MIA_OK && first)
        s = MIA_ERROR(MIA_ERR_UNSUPPORTED, "input_grad: no node reads the input");
    return s;
}
