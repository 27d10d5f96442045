/* Graph internals shared by graph.c (building, inspection) and graph-exec.c (forward, backward).
 * Not installed. */
#ifndef MIA_GRAPH_IMPL_H
#define MIA_GRAPH_IMPL_H

#include <mia/graph.h>
#include <mia/tensor.h>

#include "mia-internal.h"

typedef enum node_op {
    OP_INPUT,
    OP_CONV,
    OP_CONVT,
    OP_BN,
    OP_ACT,
    OP_POOL,
    OP_GAP,
    OP_LINEAR,
    OP_ADD,
    OP_CHMUL,
    OP_DROPOUT,
    OP_FLATTEN,
    OP_SOFTMAX
} node_op;

#define NODE_MAX_PARAMS 5

typedef struct mia_node {
    node_op op;
    char *name;     /* module path, may be NULL */
    int in[2];
    int n_in;
    int ndim;       /* per-sample shape */
    int64_t shape[3];
    int64_t numel;  /* per sample */
    /* attributes */
    int64_t k, stride, pad, out_pad, groups;
    bool bias;
    int act;        /* mia_act */
    float alpha;    /* leaky slope / dropout p */
    int pool;       /* mia_pool_kind */
    bool log;
    /* indices into g->params: weight, bias, running_mean, running_var, num_batches_tracked */
    int param[NODE_MAX_PARAMS];
    int n_param;
    /* analysis */
    bool live;       /* influences the output */
    bool needs_grad; /* a parameter lies at or upstream of this node */
    bool blk;        /* activation and gradient kept channel-blocked (ops.h), see plan_layouts */
    /* per batch */
    mia_tensor *out;      /* activation [N, shape] (input node: borrowed caller tensor) */
    mia_tensor *grad;     /* dL/d out of nodes reading the graph input (kept after the backward);
                             other nodes' gradients live in g->grad_pool during the backward */
    mia_tensor *save_mean, *save_var; /* BN batch statistics */
    bool grad_set;        /* grad written in the current backward */
    int64_t nbt;          /* BN num_batches_tracked mirror (host) */
    /* execution (graph-exec.c) */
    float *y;             /* data of this node's activation in the current forward */
    float *dy;            /* data of this node's gradient in the current backward */
    int slot, gslot;      /* activation / gradient pool slot, -1 none */
    int last_use;         /* eval plan: last node reading this activation (INT_MAX: output) */
    int fold_into;        /* conv folded into the following BN in eval forwards, else -1 */
    int fold_from;        /* BN: the conv folded into it in eval forwards, else -1 */
    bool relu_train;      /* training forwards: conv with its only reader, a ReLU, fused into it
                             (that ReLU node then computes nothing) */
    bool relu_eval;       /* eval forwards: the same for a conv or a BN with its conv folded */
    mia_tensor *fold_b, *fold_s; /* BN with fold_from: folded bias, scale (weight: g->fold_w) */
    bool out_shared;      /* training: out is the input's tensor (in-place ReLU), not owned */
    bool relu_bwd;        /* training: max pool whose input is an in-place ReLU read by it
                             alone; its backward also runs that ReLU's (relu_mask), writing
                             the gradient of the ReLU's input, and the ReLU node's is skipped */
    bool transient;       /* training: no backward reads this activation, so it lives in a
                             pooled buffer only until its last reader ran (out stays NULL) */
    int train_last;       /* training: last node reading this activation, -1 none */
    mia_tensor *kept;     /* eval: own buffer of an input of the output node (kept readable) */
} mia_node;

/* A reusable buffer of the activation (eval) or gradient (backward) pools. */
typedef struct mia_slot {
    mia_tensor *t;
    int64_t cap;  /* elements */
    int refs;     /* nodes whose data lives in it; 0 = free */
} mia_slot;

typedef struct mia_pool {
    mia_slot *s;
    int n, cap;
} mia_pool;

typedef struct mia_gparam {
    char *name;
    mia_param_kind kind;
    mia_tensor *value, *grad;
    int node;
    bool detached;
    int ndim;
    int64_t shape[4];
    int64_t numel;
} mia_gparam;

struct mia_graph {
    mia_backend *be; /* NULL: shape-only graph (parameter counting, no tensors) */
    mia_node *nodes;
    int n_nodes, cap_nodes;
    mia_gparam *params;
    size_t n_params, cap_params;
    int input, output;
    int64_t batch;        /* N the activations are allocated for, 0 = none */
    bool ran;             /* a forward ran: the structure is frozen */
    bool train_state;     /* the last forward was a training forward */
    const mia_tensor *x;  /* input of the last forward (borrowed) */
    mia_tensor *scratch;  /* gradient accumulation scratch, max activation size */
    int64_t scratch_numel;
    mia_tensor *fold_w;   /* eval: folded weight of the conv+BN about to run, shared by all
                             folds (refold), grown to the largest folded conv weight */
    int64_t fold_w_numel;
    uint64_t last_seed;   /* dropout seed of the last forward */
    bool nbt_dirty;       /* host num_batches_tracked mirrors newer than the tensors */
    bool nbt_stale;       /* tensors may have been written by the user: re-read before use */
    bool dropout_off;     /* mia_graph_set_dropout_enabled(g, false) */
    int64_t cur_n;        /* batch of the current / last forward */
    bool planned_eval;    /* the last forward was an eval forward on pooled buffers */
    bool fold_ready;      /* conv->BN folding pairs computed */
    bool layout_ready;    /* node layouts (blk) planned */
    mia_pool act_pool;    /* eval activations, reused by liveness */
    mia_pool grad_pool;   /* backward gradients, reused by liveness */
    mia_tensor *eval_out; /* output of eval forwards */
    bool last_dropout;    /* dropout was active in the last forward */
};

/* Whether node n's activation is blocked with more than one element per channel plane: only
 * then do its bytes differ from the plain layout (ops.h). */
static inline bool mia__node_blocked_bytes(const mia_node *n)
{
    return n->blk && n->ndim == 3 && n->shape[1] * n->shape[2] > 1;
}

/* Shape-only graph: builders record shapes and parameter names but allocate no tensors. */
MIA_PRIVATE mia_status mia__graph_create_dry(mia_graph **out);
/* Free the eval activation and gradient pools. */
MIA_PRIVATE void mia__graph_free_pools(mia_graph *g);
/* Write pending num_batches_tracked mirrors into their tensors. */
MIA_PRIVATE mia_status mia__graph_sync_buffers(mia_graph *g);

#endif
