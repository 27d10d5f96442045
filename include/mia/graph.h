/**
 * @file graph.h
 * @brief Static computation graphs (DAGs of layers) with hand-written backward passes.
 *
 * A graph is built node by node on one backend, then run many times. Builders add nodes in
 * topological order (a node's inputs must already exist) and name every layer with its PyTorch
 * module path, so parameters carry their PyTorch `state_dict` keys ("layer1.0.conv1.weight",
 * "layer1.0.bn1.running_mean", ...). All compute runs through the backend's ops, so one graph
 * runs unchanged on ref, onednn and cuda.
 * @code
 *   mia_graph *g;
 *   int x, h, y;
 *   const int64_t chw[3] = {3, 32, 32};
 *   mia_graph_create(&g, be);
 *   mia_graph_input(&x, g, 3, chw);
 *   mia_graph_conv2d(&h, g, "conv1", x, 16, 3, 1, 1, 1, false);
 *   mia_graph_batchnorm(&h, g, "bn1", h);
 *   mia_graph_activation(&h, g, h, MIA_GRAPH_ACT_RELU, 0.0f);
 *   mia_graph_global_avg_pool(&h, g, h);
 *   mia_graph_flatten(&h, g, h);
 *   mia_graph_linear(&y, g, "fc", h, 10, true);
 *   mia_graph_set_output(g, y);
 *   const mia_tensor *logits;
 *   mia_graph_forward(g, images, true, seed, &logits);   // images: [N, 3, 32, 32] f32
 *   mia_graph_backward(g, dlogits);                       // fills every parameter's grad
 *   mia_graph_free(g);
 * @endcode
 * Lifetime: the backend outlives the graph; the graph owns its parameters, buffers, gradients
 * and activations. Thread-safety: a graph is used by one thread at a time.
 */
#ifndef MIA_GRAPH_H
#define MIA_GRAPH_H

#include "common.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Activation functions of mia_graph_activation(). Values are persisted: never renumber. */
typedef enum mia_graph_act {
    MIA_GRAPH_ACT_RELU = 0,
    MIA_GRAPH_ACT_LEAKY_RELU = 1, /**< alpha = negative slope (PyTorch default 0.01) */
    MIA_GRAPH_ACT_SILU = 2,       /**< x * sigmoid(x) ("swish") */
    MIA_GRAPH_ACT_SIGMOID = 3,
    MIA_GRAPH_ACT_TANH = 4
} mia_graph_act;

/** Pooling kinds of mia_graph_pool2d(). */
typedef enum mia_graph_pool {
    MIA_GRAPH_POOL_MAX = 0,
    MIA_GRAPH_POOL_AVG = 1,             /**< PyTorch AvgPool2d default: count_include_pad=True */
    MIA_GRAPH_POOL_AVG_EXCLUDE_PAD = 2  /**< count_include_pad=False */
} mia_graph_pool;

/** What a named tensor of the graph is. */
typedef enum mia_param_kind {
    MIA_PARAM_KIND_PARAM = 0, /**< trainable: has a gradient */
    MIA_PARAM_KIND_BUFFER = 1 /**< state (BN running stats, num_batches_tracked): no gradient */
} mia_param_kind;

/** One parameter or buffer, in PyTorch `state_dict` order. All pointers are borrowed from the
 *  graph and valid until it is freed. */
typedef struct mia_param_info {
    const char *name;    /**< PyTorch state_dict key, e.g. "layer1.0.bn1.running_var" */
    mia_param_kind kind; /**< parameter or buffer */
    mia_tensor *value;   /**< the values (f32; I64 for num_batches_tracked); writable */
    mia_tensor *grad;    /**< gradient of the last mia_graph_backward(), same shape; NULL for
                              buffers */
    bool detached;       /**< true when the tensor does not influence the output (e.g. the conv1/bn1
                              of EfficientNet's first block). PyTorch leaves its .grad None and
                              optimisers skip it: trainers should too. Its grad stays zero. */
    int node;            /**< id of the node that owns it */
} mia_param_info;

/**
 * @brief Create an empty graph whose tensors live on @p be.
 * @param[out] out caller owns; free with mia_graph_free() before freeing @p be.
 * @return MIA_OK; MIA_ERR_INVALID (NULL argument); MIA_ERR_NOMEM.
 */
MIA_API mia_status mia_graph_create(mia_graph **out, mia_backend *be);

/** Free @p g with all its tensors. Accepts NULL. */
MIA_API void mia_graph_free(mia_graph *g);

/** Borrowed: the backend of @p g. */
MIA_API mia_backend *mia_graph_backend(const mia_graph *g);

/* ---- building ----------------------------------------------------------------------------
 * Every builder writes the new node's id to *out (set to -1 on failure) and returns MIA_OK,
 * MIA_ERR_INVALID (a bad argument or an input of the wrong shape; the message names the layer),
 * MIA_ERR_STATE (graph already run: nodes cannot be added after the first forward) or
 * MIA_ERR_NOMEM / MIA_ERR_DEVICE (allocating parameters). @p name is the PyTorch module path of
 * the layer (copied); parameters get "<name>.weight" etc. It may be NULL for layers without
 * parameters. Parameters are created zero (BN weight and running_var one); builders of models
 * initialise them afterwards. */

/** The graph's input, with per-sample shape @p shape[0..ndim) (e.g. {C, H, W} or {features}),
 *  1 <= ndim <= 3. Exactly one input per graph. */
MIA_API mia_status mia_graph_input(int *out, mia_graph *g, int ndim, const int64_t *shape);

/** Conv2d (PyTorch semantics) on a [C, H, W] input: square kernel @p k, @p stride, symmetric zero
 *  padding @p pad, @p groups (depthwise when groups == C). Parameters "<name>.weight"
 *  [out_ch, C/groups, k, k] and, when @p bias, "<name>.bias" [out_ch]. */
MIA_API mia_status mia_graph_conv2d(int *out, mia_graph *g, const char *name, int x,
                                    int64_t out_ch, int64_t k, int64_t stride, int64_t pad,
                                    int64_t groups, bool bias);

/** ConvTranspose2d (PyTorch semantics, incl. output_padding < stride): output size
 *  (H - 1) * stride - 2 * pad + k + output_padding. "<name>.weight" is [C, out_ch/groups, k, k]. */
MIA_API mia_status mia_graph_conv_transpose2d(int *out, mia_graph *g, const char *name, int x,
                                              int64_t out_ch, int64_t k, int64_t stride,
                                              int64_t pad, int64_t output_padding, int64_t groups,
                                              bool bias);

/** BatchNorm2d on [C, H, W] or BatchNorm1d on [C] (eps 1e-5, momentum 0.1, affine, tracking
 *  running stats). Parameters "<name>.weight", "<name>.bias"; buffers "<name>.running_mean",
 *  "<name>.running_var" and "<name>.num_batches_tracked" (I64 scalar, shape [1]). */
MIA_API mia_status mia_graph_batchnorm(int *out, mia_graph *g, const char *name, int x);

/** Elementwise activation. @p alpha is the negative slope of leaky ReLU, ignored otherwise. */
MIA_API mia_status mia_graph_activation(int *out, mia_graph *g, int x, mia_graph_act act,
                                        float alpha);

/** Max or average pooling over a [C, H, W] input: square kernel, stride, symmetric padding
 *  (pad < k). Output size floor((H + 2 pad - k) / stride) + 1 (ceil_mode=False). */
MIA_API mia_status mia_graph_pool2d(int *out, mia_graph *g, int x, mia_graph_pool kind,
                                    int64_t k, int64_t stride, int64_t pad);

/** Global average pooling [C, H, W] -> [C, 1, 1] (adaptive_avg_pool2d(1)). */
MIA_API mia_status mia_graph_global_avg_pool(int *out, mia_graph *g, int x);

/** Linear layer on a [in] input: y = x W^T + b with "<name>.weight" [out_features, in] and,
 *  when @p bias, "<name>.bias" [out_features]. */
MIA_API mia_status mia_graph_linear(int *out, mia_graph *g, const char *name, int x,
                                    int64_t out_features, bool bias);

/** Elementwise sum of two nodes of identical shape (residual connection). */
MIA_API mia_status mia_graph_add(int *out, mia_graph *g, int a, int b);

/** Channel-wise multiply (squeeze-and-excitation): x [C, H, W] times s [C, 1, 1] or [C]. */
MIA_API mia_status mia_graph_channel_mul(int *out, mia_graph *g, int x, int s);

/** Inverted dropout with probability @p p in [0, 1), active only in training forwards; the mask
 *  depends on the forward's dropout_seed and the node id only. */
MIA_API mia_status mia_graph_dropout(int *out, mia_graph *g, int x, float p);

/**
 * @brief Switch every dropout node of @p g on or off for training forwards (default on).
 *
 * Off, dropout is the identity in training too (as in eval mode), e.g. to compare training-mode
 * outputs and gradients with another framework whose dropout masks differ. The setting applies
 * from the next mia_graph_forward(); a pending backward uses the setting of its forward.
 * @return MIA_OK; MIA_ERR_INVALID (NULL @p g).
 */
MIA_API mia_status mia_graph_set_dropout_enabled(mia_graph *g, bool enabled);

/** Flatten the per-sample shape to one dimension (C, H, W order). */
MIA_API mia_status mia_graph_flatten(int *out, mia_graph *g, int x);

/** Softmax (or, with @p log, log-softmax) over a [features] input, per sample. */
MIA_API mia_status mia_graph_softmax(int *out, mia_graph *g, int x, bool log);

/** Mark node @p node as the output (the logits). Nodes that do not influence it are not run.
 *  @return MIA_OK; MIA_ERR_INVALID for an unknown node id. */
MIA_API mia_status mia_graph_set_output(mia_graph *g, int node);

/* ---- running ----------------------------------------------------------------------------- */

/**
 * @brief Run the graph on a batch.
 * @param x        f32 tensor [N, <input shape>] on the graph's backend; borrowed, and must stay
 *                 alive and unchanged until the following mia_graph_backward().
 * @param training batchnorm uses batch statistics and updates running stats; dropout active.
 *                 An eval forward keeps no backward state.
 * @param dropout_seed seed of the dropout masks of this forward.
 * @param[out] out borrowed output [N, <output shape>], valid until the next forward or free.
 * @return MIA_OK; MIA_ERR_INVALID (wrong shape, dtype or backend of @p x); MIA_ERR_STATE (no
 *         output set); MIA_ERR_NOMEM/MIA_ERR_DEVICE. Training activations are (re)allocated
 *         when N changes and reused otherwise.
 * @note Eval forwards fold each conv followed only by a batchnorm into one conv (weights and
 *       bias rescaled from the current running statistics, recomputed at every eval forward)
 *       and keep their activations in a pool of buffers reused as soon as their last reader has
 *       run, so only the output survives them (mia_graph_node_value() is NULL for the other
 *       nodes). Training forwards keep every activation for the backward (a ReLU runs in place
 *       over an input read by nobody else, which then holds the ReLU's output), and the
 *       backward takes its gradient buffers from a pool reused the same way.
 */
MIA_API mia_status mia_graph_forward(mia_graph *g, const mia_tensor *x, bool training,
                                     uint64_t dropout_seed, const mia_tensor **out);

/**
 * @brief Back-propagate @p dlogits (same shape as the last output) through the last forward.
 *
 * Overwrites the gradient of every parameter (detached ones are zero); gradients of nodes
 * consumed several times are summed.
 * @return MIA_OK; MIA_ERR_STATE if the last forward was not a training forward;
 *         MIA_ERR_INVALID (shape/backend of @p dlogits); MIA_ERR_NOMEM/MIA_ERR_DEVICE.
 */
MIA_API mia_status mia_graph_backward(mia_graph *g, const mia_tensor *dlogits);

/** Set every parameter gradient to zero. @return MIA_OK or MIA_ERR_DEVICE. */
MIA_API mia_status mia_graph_zero_grad(mia_graph *g);

/**
 * @brief Gradient of the loss w.r.t. the graph input, from the last mia_graph_backward().
 *
 * Call after a training forward and its backward; writes dL/dx into @p dx (caller-owned, same
 * shape, backend and dtype f32 as the input of that forward), summing over the nodes that read
 * the input. Supported consumers of the input: conv, transposed conv and linear nodes.
 * @return MIA_OK; MIA_ERR_INVALID (NULL or mis-shaped @p dx, named); MIA_ERR_STATE (no backward
 *         since the last training forward); MIA_ERR_UNSUPPORTED (another kind of node reads
 *         the input); MIA_ERR_NOMEM/MIA_ERR_DEVICE.
 * @note Not thread-safe on the same graph (it reads the backward's kept gradients).
 */
MIA_API mia_status mia_graph_input_grad(mia_graph *g, mia_tensor *dx);

/* ---- inspection -------------------------------------------------------------------------- */

/** Number of parameters and buffers (state_dict entries). */
MIA_API size_t mia_graph_param_count(const mia_graph *g);

/**
 * @brief Describe state_dict entry @p i (PyTorch order: module registration order, parameters
 *        before buffers within a layer).
 * @return MIA_OK; MIA_ERR_INVALID for an out-of-range index or NULL @p info.
 */
MIA_API mia_status mia_graph_param(mia_graph *g, size_t i, mia_param_info *info);

/** Index of the state_dict entry called @p name, or -1. */
MIA_API int64_t mia_graph_find(const mia_graph *g, const char *name);

/** Number of trainable elements (sum of numel over MIA_PARAM_KIND_PARAM entries, detached
 *  ones included, as PyTorch's sum(p.numel() for p in model.parameters())). */
MIA_API int64_t mia_graph_n_params(const mia_graph *g);

/** Number of nodes. */
MIA_API int mia_graph_node_count(const mia_graph *g);

/** Output node id, or -1 if none set. */
MIA_API int mia_graph_output(const mia_graph *g);

/** Borrowed: the activation of node @p node from the last forward ([N, <node shape>]), NULL
 *  before the first forward, for an unknown id, for a node that was not run, after an eval
 *  forward for every node but the input, the output and the output's inputs (their buffers were
 *  reused), after a training forward for an activation no backward reads (e.g. a batchnorm
 *  feeding a residual add: its buffer was reused), and for a 4-D activation the backend keeps
 *  in its internal channel-blocked layout
 *  (the onednn backend does so between convolutions; the output and its inputs are always
 *  plain). */
MIA_API const mia_tensor *mia_graph_node_value(const mia_graph *g, int node);

/** Per-sample shape of node @p node: writes up to 3 dims to @p shape; returns ndim (0 for an
 *  unknown id). */
MIA_API int mia_graph_node_shape(const mia_graph *g, int node, int64_t shape[3]);

#ifdef __cplusplus
}
#endif
#endif
