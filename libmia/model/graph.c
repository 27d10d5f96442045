/* Graph construction and inspection. Execution lives in graph-exec.c. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "graph-impl.h"
#include "backend/ops.h"
#include "tensor/tensor-impl.h"

/* ---- lifetime ----------------------------------------------------------------------------- */

static mia_status graph_new(mia_graph **out, mia_backend *be)
{
    mia_graph *g = mia__calloc(1, sizeof *g);
    if (!g) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory allocating a graph");
    g->be = be;
    g->input = -1;
    g->output = -1;
    *out = g;
    return MIA_OK;
}

mia_status mia_graph_create(mia_graph **out, mia_backend *be)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(out, "out is NULL");
    MIA_CHECK_ARG(be, "be is NULL");
    return graph_new(out, be);
}

mia_status mia__graph_create_dry(mia_graph **out)
{
    *out = NULL;
    return graph_new(out, NULL);
}

static void free_activations(mia_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        mia_node *n = &g->nodes[i];
        if (n->op != OP_INPUT && !n->out_shared) mia_tensor_free(n->out);
        n->out_shared = false;
        mia_tensor_free(n->grad);
        mia_tensor_free(n->save_mean);
        mia_tensor_free(n->save_var);
        mia_tensor_free(n->fold_b);
        mia_tensor_free(n->fold_s);
        mia_tensor_free(n->kept);
        n->kept = NULL;
        n->out = n->grad = n->save_mean = n->save_var = NULL;
        n->fold_b = n->fold_s = NULL;
        n->y = n->dy = NULL;
    }
    mia__graph_free_pools(g);
    mia_tensor_free(g->scratch);
    g->scratch = NULL;
    g->scratch_numel = 0;
    mia_tensor_free(g->fold_w);
    g->fold_w = NULL;
    g->fold_w_numel = 0;
    g->batch = 0;
    g->train_state = false;
    g->x = NULL;
}

void mia_graph_free(mia_graph *g)
{
    if (!g) return;
    free_activations(g);
    for (int i = 0; i < g->n_nodes; i++) mia__free(g->nodes[i].name);
    for (size_t i = 0; i < g->n_params; i++) {
        mia__free(g->params[i].name);
        mia_tensor_free(g->params[i].value);
        mia_tensor_free(g->params[i].grad);
    }
    mia__free(g->nodes);
    mia__free(g->params);
    mia__free(g);
}

mia_backend *mia_graph_backend(const mia_graph *g) { return g ? g->be : NULL; }

/* Free the pooled eval activations and gradients. */
void mia__graph_free_pools(mia_graph *g)
{
    mia_pool *pools[2] = {&g->act_pool, &g->grad_pool};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < pools[k]->n; i++) mia_tensor_free(pools[k]->s[i].t);
        mia__free(pools[k]->s);
        memset(pools[k], 0, sizeof *pools[k]);
    }
    mia_tensor_free(g->eval_out);
    g->eval_out = NULL;
    g->planned_eval = false;
}

/* Used by graph-exec.c when N changes. */
MIA_PRIVATE void mia__graph_free_activations(mia_graph *g);
void mia__graph_free_activations(mia_graph *g) { free_activations(g); }

/* ---- building helpers --------------------------------------------------------------------- */

static const char *node_label(const mia_graph *g, int id)
{
    static const char *const ops[] = {"input", "conv2d", "conv_transpose2d", "batchnorm",
                                      "activation", "pool2d", "global_avg_pool", "linear",
                                      "add", "channel_mul", "dropout", "flatten", "softmax"};
    const mia_node *n = &g->nodes[id];
    return n->name ? n->name : ops[n->op];
}

/* Common checks of a builder call; sets *out = -1 first. */
static mia_status begin_node(int *out, mia_graph *g, const char *what)
{
    if (out) *out = -1;
    MIA_CHECK_ARG(out, "%s: out is NULL", what);
    MIA_CHECK_ARG(g, "%s: g is NULL", what);
    if (g->ran)
        return MIA_ERROR(MIA_ERR_STATE, "%s: the graph already ran; nodes cannot be added", what);
    return MIA_OK;
}

static mia_status check_input(const mia_graph *g, int x, const char *what, const char *name)
{
    MIA_CHECK_ARG(x >= 0 && x < g->n_nodes, "%s '%s': input node id %d does not exist", what,
                  name ? name : "", x);
    return MIA_OK;
}

/* Append a node; on success *id is its index. name is copied (may be NULL). */
static mia_status push_node(mia_graph *g, node_op op, const char *name, int *id)
{
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 32;
        mia_node *nn = mia__realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory growing the graph");
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    mia_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->in[0] = n->in[1] = -1;
    n->slot = n->gslot = n->fold_into = n->fold_from = -1;
    if (name) {
        n->name = mia__strdup(name);
        if (!n->name) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory copying node name");
    }
    *id = g->n_nodes++;
    return MIA_OK;
}

/* Remove the last node (after a failure while adding its parameters). */
static void pop_node(mia_graph *g)
{
    mia_node *n = &g->nodes[g->n_nodes - 1];
    while (n->n_param > 0) {
        mia_gparam *p = &g->params[--g->n_params];
        mia__free(p->name);
        mia_tensor_free(p->value);
        mia_tensor_free(p->grad);
        n->n_param--;
    }
    mia__free(n->name);
    g->n_nodes--;
}

static void set_shape(mia_node *n, int ndim, int64_t a, int64_t b, int64_t c)
{
    n->ndim = ndim;
    n->shape[0] = a;
    n->shape[1] = b;
    n->shape[2] = c;
    n->numel = a * (ndim > 1 ? b : 1) * (ndim > 2 ? c : 1);
}

/* Add a parameter or buffer to node id. fill: initial value for f32 (0 or 1). */
static mia_status add_param(mia_graph *g, int id, const char *suffix, mia_param_kind kind,
                            mia_dtype dtype, int ndim, const int64_t *shape, float fill)
{
    mia_node *n = &g->nodes[id];
    if (g->n_params == g->cap_params) {
        size_t cap = g->cap_params ? g->cap_params * 2 : 64;
        mia_gparam *np = mia__realloc(g->params, cap * sizeof *np);
        if (!np) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory growing the parameter list");
        g->params = np;
        g->cap_params = cap;
    }
    mia_gparam *p = &g->params[g->n_params];
    memset(p, 0, sizeof *p);
    size_t len = strlen(n->name) + strlen(suffix) + 2;
    p->name = mia__malloc(len);
    if (!p->name) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory copying a parameter name");
    snprintf(p->name, len, "%s.%s", n->name, suffix);
    p->kind = kind;
    p->node = id;
    p->ndim = ndim;
    p->numel = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->numel *= shape[i];
    }
    mia_status s = MIA_OK;
    if (g->be) {
        s = mia_tensor_create(&p->value, g->be, dtype, ndim, shape);
        if (s == MIA_OK && fill != 0.0f) s = mia_tensor_fill_f32(p->value, fill);
        if (s == MIA_OK && kind == MIA_PARAM_KIND_PARAM)
            s = mia_tensor_create(&p->grad, g->be, dtype, ndim, shape);
        if (s != MIA_OK) {
            mia__error_prefix("%s", p->name);
            mia_tensor_free(p->value);
            mia_tensor_free(p->grad);
            mia__free(p->name);
            return s;
        }
    }
    n->param[n->n_param++] = (int)g->n_params;
    g->n_params++;
    return MIA_OK;
}

static mia_status need_name(const char *name, const char *what)
{
    MIA_CHECK_ARG(name && name[0], "%s: name is NULL or empty (layers with parameters need their "
                  "PyTorch module path)", what);
    return MIA_OK;
}

/* ---- builders ----------------------------------------------------------------------------- */

mia_status mia_graph_input(int *out, mia_graph *g, int ndim, const int64_t *shape)
{
    mia__error_begin();
    MIA_TRY(begin_node(out, g, "input"));
    MIA_CHECK_ARG(g->input < 0, "input: the graph already has an input (node %d)", g->input);
    MIA_CHECK_ARG(ndim >= 1 && ndim <= 3, "input: ndim %d not in [1, 3]", ndim);
    MIA_CHECK_ARG(shape, "input: shape is NULL");
    for (int i = 0; i < ndim; i++)
        MIA_CHECK_ARG(shape[i] > 0 && shape[i] <= (int64_t)1 << 31,
                      "input: shape[%d] = %lld must be in [1, 2^31]", i, (long long)shape[i]);
    int id;
    MIA_TRY(push_node(g, OP_INPUT, NULL, &id));
    set_shape(&g->nodes[id], ndim, shape[0], ndim > 1 ? shape[1] : 1, ndim > 2 ? shape[2] : 1);
    g->input = id;
    *out = id;
    return MIA_OK;
}

static mia_status conv_common(int *out, mia_graph *g, const char *name, int x, int64_t out_ch,
                              int64_t k, int64_t stride, int64_t pad, int64_t out_pad,
                              int64_t groups, bool bias, bool transposed)
{
    const char *what = transposed ? "conv_transpose2d" : "conv2d";
    MIA_TRY(begin_node(out, g, what));
    MIA_TRY(need_name(name, what));
    MIA_TRY(check_input(g, x, what, name));
    const mia_node *in = &g->nodes[x];
    MIA_CHECK_ARG(in->ndim == 3, "%s '%s': input '%s' must be [C, H, W], has %d dims", what, name,
                  node_label(g, x), in->ndim);
    int64_t c = in->shape[0], h = in->shape[1], w = in->shape[2];
    MIA_CHECK_ARG(out_ch > 0 && k > 0 && stride > 0 && pad >= 0 && groups > 0,
                  "%s '%s': out_ch, k, stride, groups must be positive and pad >= 0", what, name);
    MIA_CHECK_ARG(c % groups == 0 && out_ch % groups == 0,
                  "%s '%s': groups %lld must divide in channels %lld and out channels %lld", what,
                  name, (long long)groups, (long long)c, (long long)out_ch);
    int64_t oh, ow;
    if (!transposed) {
        MIA_CHECK_ARG(h + 2 * pad >= k && w + 2 * pad >= k,
                      "%s '%s': kernel %lld larger than the padded input %lldx%lld", what, name,
                      (long long)k, (long long)(h + 2 * pad), (long long)(w + 2 * pad));
        oh = (h + 2 * pad - k) / stride + 1;
        ow = (w + 2 * pad - k) / stride + 1;
    } else {
        MIA_CHECK_ARG(out_pad >= 0 && out_pad < stride,
                      "%s '%s': output_padding %lld must be in [0, stride %lld)", what, name,
                      (long long)out_pad, (long long)stride);
        oh = (h - 1) * stride - 2 * pad + k + out_pad;
        ow = (w - 1) * stride - 2 * pad + k + out_pad;
        MIA_CHECK_ARG(oh > 0 && ow > 0, "%s '%s': output size %lldx%lld is not positive", what,
                      name, (long long)oh, (long long)ow);
        MIA_CHECK_ARG(oh + 2 * pad >= k && ow + 2 * pad >= k,
                      "%s '%s': padding %lld too large for kernel %lld", what, name,
                      (long long)pad, (long long)k);
    }
    int id;
    MIA_TRY(push_node(g, transposed ? OP_CONVT : OP_CONV, name, &id));
    mia_node *n = &g->nodes[id];
    n->in[0] = x;
    n->n_in = 1;
    n->k = k;
    n->stride = stride;
    n->pad = pad;
    n->out_pad = out_pad;
    n->groups = groups;
    n->bias = bias;
    set_shape(n, 3, out_ch, oh, ow);
    int64_t ws[4] = {transposed ? c : out_ch, transposed ? out_ch / groups : c / groups, k, k};
    int64_t bs[1] = {out_ch};
    mia_status s = add_param(g, id, "weight", MIA_PARAM_KIND_PARAM, MIA_DTYPE_F32, 4, ws, 0.0f);
    if (s == MIA_OK && bias)
        s = add_param(g, id, "bias", MIA_PARAM_KIND_PARAM, MIA_DTYPE_F32, 1, bs, 0.0f);
    if (s != MIA_OK) {
        pop_node(g);
        return s;
    }
    *out = id;
    return MIA_OK;
}

mia_status mia_graph_conv2d(int *out, mia_graph *g, const char *name, int x, int64_t out_ch,
                            int64_t k, int64_t stride, int64_t pad, int64_t groups, bool bias)
{
    mia__error_begin();
    return conv_common(out, g, name, x, out_ch, k, stride, pad, 0, groups, bias, false);
}

mia_status mia_graph_conv_transpose2d(int *out, mia_graph *g, const char *name, int x,
                                      int64_t out_ch, int64_t k, int64_t stride, int64_t pad,
                                      int64_t output_padding, int64_t groups, bool bias)
{
    mia__error_begin();
    return conv_common(out, g, name, x, out_ch, k, stride, pad, output_padding, groups, bias,
                       true);
}

mia_status mia_graph_batchnorm(int *out, mia_graph *g, const char *name, int x)
{
    mia__error_begin();
    MIA_TRY(begin_node(out, g, "batchnorm"));
    MIA_TRY(need_name(name, "batchnorm"));
    MIA_TRY(check_input(g, x, "batchnorm", name));
    const mia_node *in = &g->nodes[x];
    MIA_CHECK_ARG(in->ndim == 3 || in->ndim == 1,
                  "batchnorm '%s': input '%s' must be [C, H, W] or [C], has %d dims", name,
                  node_label(g, x), in->ndim);
    const int ndim = in->ndim;
    const int64_t s0 = in->shape[0], s1 = in->shape[1], s2 = in->shape[2];
    int id;
    MIA_TRY(push_node(g, OP_BN, name, &id)); /* may move g->nodes: in is stale from here */
    mia_node *n = &g->nodes[id];
    n->in[0] = x;
    n->n_in = 1;
    set_shape(n, ndim, s0, s1, s2);
    int64_t cs[1] = {s0}, one[1] = {1};
    mia_status s = add_param(g, id, "weight", MIA_PARAM_KIND_PARAM, MIA_DTYPE_F32, 1, cs, 1.0f);
    if (s == MIA_OK)
        s = add_param(g, id, "bias", MIA_PARAM_KIND_PARAM, MIA_DTYPE_F32, 1, cs, 0.0f);
    if (s == MIA_OK)
        s = add_param(g, id, "running_mean", MIA_PARAM_KIND_BUFFER, MIA_DTYPE_F32, 1, cs, 0.0f);
    if (s == MIA_OK)
        s = add_param(g, id, "running_var", MIA_PARAM_KIND_BUFFER, MIA_DTYPE_F32, 1, cs, 1.0f);
    if (s == MIA_OK)
        s = add_param(g, id, "num_batches_tracked", MIA_PARAM_KIND_BUFFER, MIA_DTYPE_I64, 1, one,
                      0.0f);
    if (s != MIA_OK) {
        pop_node(g);
        return s;
    }
    *out = id;
    return MIA_OK;
}

/* A node without parameters, same shape as its input unless the caller changes it. */
static mia_status simple_node(int *out, mia_graph *g, node_op op, const char *what, int x, int *id)
{
    MIA_TRY(begin_node(out, g, what));
    MIA_TRY(check_input(g, x, what, NULL));
    MIA_TRY(push_node(g, op, NULL, id));
    mia_node *n = &g->nodes[*id];
    const mia_node *in = &g->nodes[x];
    n->in[0] = x;
    n->n_in = 1;
    set_shape(n, in->ndim, in->shape[0], in->shape[1], in->shape[2]);
    return MIA_OK;
}

mia_status mia_graph_activation(int *out, mia_graph *g, int x, mia_graph_act act, float alpha)
{
    mia__error_begin();
    if (out) *out = -1;
    MIA_CHECK_ARG(act >= MIA_GRAPH_ACT_RELU && act <= MIA_GRAPH_ACT_TANH,
                  "activation: act %d is not a mia_graph_act", (int)act);
    int id;
    MIA_TRY(simple_node(out, g, OP_ACT, "activation", x, &id));
    static const int map[] = {MIA_ACT_RELU, MIA_ACT_LEAKY_RELU, MIA_ACT_SILU, MIA_ACT_SIGMOID,
                              MIA_ACT_TANH};
    g->nodes[id].act = map[act];
    g->nodes[id].alpha = alpha;
    *out = id;
    return MIA_OK;
}

static mia_status pool_common(int *out, mia_graph *g, int x, int kind, int64_t k, int64_t stride,
                              int64_t pad, bool global)
{
    const char *what = global ? "global_avg_pool" : "pool2d";
    MIA_TRY(begin_node(out, g, what));
    MIA_TRY(check_input(g, x, what, NULL));
    const mia_node *in = &g->nodes[x];
    MIA_CHECK_ARG(in->ndim == 3, "%s: input '%s' must be [C, H, W], has %d dims", what,
                  node_label(g, x), in->ndim);
    int64_t c = in->shape[0], h = in->shape[1], w = in->shape[2];
    int64_t kh = k, kw = k;
    if (global) {
        kh = h;
        kw = w;
        stride = 1;
        pad = 0;
    } else {
        MIA_CHECK_ARG(kind >= MIA_GRAPH_POOL_MAX && kind <= MIA_GRAPH_POOL_AVG_EXCLUDE_PAD,
                      "pool2d: kind %d is not a mia_graph_pool", kind);
        MIA_CHECK_ARG(k > 0 && stride > 0 && pad >= 0 && pad < k,
                      "pool2d: k=%lld stride=%lld must be positive and pad=%lld in [0, k)",
                      (long long)k, (long long)stride, (long long)pad);
        MIA_CHECK_ARG(h + 2 * pad >= k && w + 2 * pad >= k,
                      "pool2d: kernel %lld larger than the padded input '%s' %lldx%lld",
                      (long long)k, node_label(g, x), (long long)(h + 2 * pad),
                      (long long)(w + 2 * pad));
    }
    int id;
    MIA_TRY(push_node(g, global ? OP_GAP : OP_POOL, NULL, &id));
    mia_node *n = &g->nodes[id];
    n->in[0] = x;
    n->n_in = 1;
    n->pool = global                       ? MIA_POOL_AVG_INCLUDE_PAD
              : kind == MIA_GRAPH_POOL_MAX ? MIA_POOL_MAX
              : kind == MIA_GRAPH_POOL_AVG ? MIA_POOL_AVG_INCLUDE_PAD
                                           : MIA_POOL_AVG_EXCLUDE_PAD;
    n->k = kh; /* square except for global pooling, where kh/kw come from the input */
    n->stride = stride;
    n->pad = pad;
    set_shape(n, 3, c, (h + 2 * pad - kh) / stride + 1, (w + 2 * pad - kw) / stride + 1);
    *out = id;
    return MIA_OK;
}

mia_status mia_graph_pool2d(int *out, mia_graph *g, int x, mia_graph_pool kind, int64_t k,
                            int64_t stride, int64_t pad)
{
    mia__error_begin();
    return pool_common(out, g, x, (int)kind, k, stride, pad, false);
}

mia_status mia_graph_global_avg_pool(int *out, mia_graph *g, int x)
{
    mia__error_begin();
    return pool_common(out, g, x, 0, 0, 1, 0, true);
}

mia_status mia_graph_linear(int *out, mia_graph *g, const char *name, int x,
                            int64_t out_features, bool bias)
{
    mia__error_begin();
    MIA_TRY(begin_node(out, g, "linear"));
    MIA_TRY(need_name(name, "linear"));
    MIA_TRY(check_input(g, x, "linear", name));
    const mia_node *in = &g->nodes[x];
    MIA_CHECK_ARG(in->ndim == 1,
                  "linear '%s': input '%s' must be [features] (flatten it first), has %d dims",
                  name, node_label(g, x), in->ndim);
    MIA_CHECK_ARG(out_features > 0, "linear '%s': out_features %lld must be positive", name,
                  (long long)out_features);
    int64_t fin = in->shape[0];
    int id;
    MIA_TRY(push_node(g, OP_LINEAR, name, &id));
    mia_node *n = &g->nodes[id];
    n->in[0] = x;
    n->n_in = 1;
    n->bias = bias;
    set_shape(n, 1, out_features, 1, 1);
    int64_t ws[2] = {out_features, fin}, bs[1] = {out_features};
    mia_status s = add_param(g, id, "weight", MIA_PARAM_KIND_PARAM, MIA_DTYPE_F32, 2, ws, 0.0f);
    if (s == MIA_OK && bias)
        s = add_param(g, id, "bias", MIA_PARAM_KIND_PARAM, MIA_DTYPE_F32, 1, bs, 0.0f);
    if (s != MIA_OK) {
        pop_node(g);
        return s;
    }
    *out = id;
    return MIA_OK;
}

mia_status mia_graph_add(int *out, mia_graph *g, int a, int b)
{
    mia__error_begin();
    MIA_TRY(begin_node(out, g, "add"));
    MIA_TRY(check_input(g, a, "add", NULL));
    MIA_TRY(check_input(g, b, "add", NULL));
    const mia_node *na = &g->nodes[a], *nb = &g->nodes[b];
    bool same = na->ndim == nb->ndim;
    for (int i = 0; same && i < na->ndim; i++) same = na->shape[i] == nb->shape[i];
    MIA_CHECK_ARG(same, "add: inputs '%s' [%lld,%lld,%lld] and '%s' [%lld,%lld,%lld] differ in shape",
                  node_label(g, a), (long long)na->shape[0], (long long)na->shape[1],
                  (long long)na->shape[2], node_label(g, b), (long long)nb->shape[0],
                  (long long)nb->shape[1], (long long)nb->shape[2]);
    int id;
    MIA_TRY(simple_node(out, g, OP_ADD, "add", a, &id));
    g->nodes[id].in[1] = b;
    g->nodes[id].n_in = 2;
    *out = id;
    return MIA_OK;
}

mia_status mia_graph_channel_mul(int *out, mia_graph *g, int x, int s)
{
    mia__error_begin();
    MIA_TRY(begin_node(out, g, "channel_mul"));
    MIA_TRY(check_input(g, x, "channel_mul", NULL));
    MIA_TRY(check_input(g, s, "channel_mul", NULL));
    const mia_node *nx = &g->nodes[x], *ns = &g->nodes[s];
    MIA_CHECK_ARG(nx->ndim == 3, "channel_mul: input '%s' must be [C, H, W]", node_label(g, x));
    MIA_CHECK_ARG(ns->numel == nx->shape[0],
                  "channel_mul: scale '%s' has %lld elements per sample, expected C = %lld",
                  node_label(g, s), (long long)ns->numel, (long long)nx->shape[0]);
    int id;
    MIA_TRY(simple_node(out, g, OP_CHMUL, "channel_mul", x, &id));
    g->nodes[id].in[1] = s;
    g->nodes[id].n_in = 2;
    *out = id;
    return MIA_OK;
}

mia_status mia_graph_dropout(int *out, mia_graph *g, int x, float p)
{
    mia__error_begin();
    if (out) *out = -1;
    MIA_CHECK_ARG(p >= 0.0f && p < 1.0f, "dropout: p = %g not in [0, 1)", (double)p);
    int id;
    MIA_TRY(simple_node(out, g, OP_DROPOUT, "dropout", x, &id));
    g->nodes[id].alpha = p;
    *out = id;
    return MIA_OK;
}

mia_status mia_graph_set_dropout_enabled(mia_graph *g, bool enabled)
{
    mia__error_begin();
    MIA_CHECK_ARG(g, "g is NULL");
    g->dropout_off = !enabled;
    return MIA_OK;
}

mia_status mia_graph_flatten(int *out, mia_graph *g, int x)
{
    mia__error_begin();
    int id;
    MIA_TRY(simple_node(out, g, OP_FLATTEN, "flatten", x, &id));
    mia_node *n = &g->nodes[id];
    set_shape(n, 1, n->numel, 1, 1);
    *out = id;
    return MIA_OK;
}

mia_status mia_graph_softmax(int *out, mia_graph *g, int x, bool log)
{
    mia__error_begin();
    if (out) *out = -1;
    if (g && x >= 0 && x < g->n_nodes)
        MIA_CHECK_ARG(g->nodes[x].ndim == 1, "softmax: input '%s' must be [features]",
                      node_label(g, x));
    int id;
    MIA_TRY(simple_node(out, g, OP_SOFTMAX, "softmax", x, &id));
    g->nodes[id].log = log;
    *out = id;
    return MIA_OK;
}

mia_status mia_graph_set_output(mia_graph *g, int node)
{
    mia__error_begin();
    MIA_CHECK_ARG(g, "g is NULL");
    MIA_CHECK_ARG(node >= 0 && node < g->n_nodes, "node id %d does not exist", node);
    MIA_CHECK_ARG(g->input >= 0, "the graph has no input node");
    if (g->ran && node != g->output)
        return MIA_ERROR(MIA_ERR_STATE, "the graph already ran; its output cannot change");
    g->output = node;
    /* Liveness: nodes reachable backwards from the output. Nodes are topologically ordered. */
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i].live = false;
    g->nodes[node].live = true;
    for (int i = node; i >= 0; i--) {
        mia_node *n = &g->nodes[i];
        if (!n->live) continue;
        for (int j = 0; j < n->n_in; j++) g->nodes[n->in[j]].live = true;
    }
    /* needs_grad: the node or something upstream has a parameter. */
    for (int i = 0; i < g->n_nodes; i++) {
        mia_node *n = &g->nodes[i];
        n->needs_grad = n->n_param > 0;
        for (int j = 0; j < n->n_in; j++) n->needs_grad |= g->nodes[n->in[j]].needs_grad;
    }
    for (size_t i = 0; i < g->n_params; i++)
        g->params[i].detached = !g->nodes[g->params[i].node].live;
    return MIA_OK;
}

/* ---- inspection --------------------------------------------------------------------------- */

size_t mia_graph_param_count(const mia_graph *g) { return g ? g->n_params : 0; }

mia_status mia_graph_param(mia_graph *g, size_t i, mia_param_info *info)
{
    mia__error_begin();
    MIA_CHECK_ARG(g, "g is NULL");
    MIA_CHECK_ARG(info, "info is NULL");
    MIA_CHECK_ARG(i < g->n_params, "index %zu out of range (%zu parameters)", i, g->n_params);
    MIA_TRY(mia__graph_sync_buffers(g));
    const mia_gparam *p = &g->params[i];
    info->name = p->name;
    info->kind = p->kind;
    info->value = p->value;
    info->grad = p->grad;
    info->detached = p->detached;
    info->node = p->node;
    return MIA_OK;
}

int64_t mia_graph_find(const mia_graph *g, const char *name)
{
    if (!g || !name) return -1;
    for (size_t i = 0; i < g->n_params; i++)
        if (strcmp(g->params[i].name, name) == 0) return (int64_t)i;
    return -1;
}

int64_t mia_graph_n_params(const mia_graph *g)
{
    int64_t n = 0;
    if (!g) return 0;
    for (size_t i = 0; i < g->n_params; i++)
        if (g->params[i].kind == MIA_PARAM_KIND_PARAM) n += g->params[i].numel;
    return n;
}

int mia_graph_node_count(const mia_graph *g) { return g ? g->n_nodes : 0; }

int mia_graph_output(const mia_graph *g) { return g ? g->output : -1; }

const mia_tensor *mia_graph_node_value(const mia_graph *g, int node)
{
    if (!g || node < 0 || node >= g->n_nodes || !g->nodes[node].live) return NULL;
    if (g->nodes[node].op == OP_INPUT) return g->x;
    const mia_node *n = &g->nodes[node];
    if (mia__node_blocked_bytes(n)) return NULL; /* the backend's layout */
    if (!g->planned_eval && n->transient) return NULL; /* its buffer was reused */
    if (g->planned_eval)
        return node == g->output                          ? g->eval_out
               : g->nodes[node].last_use == INT_MAX ? g->nodes[node].kept
                                                          : NULL;
    return g->nodes[node].out;
}

int mia_graph_node_shape(const mia_graph *g, int node, int64_t shape[3])
{
    if (!g || node < 0 || node >= g->n_nodes) return 0;
    const mia_node *n = &g->nodes[node];
    if (shape)
        for (int i = 0; i < n->ndim; i++) shape[i] = n->shape[i];
    return n->ndim;
}
