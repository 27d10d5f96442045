/* Model internals: builders and initialisation. Not installed. */
#ifndef MIA_MODEL_IMPL_H
#define MIA_MODEL_IMPL_H

#include <mia/graph.h>
#include <mia/model.h>

#include "graph-impl.h"
#include "core/rng.h"

/* Resolved options of a builder (defaults applied, validated for the common ranges). */
typedef struct mia_build_cfg {
    int64_t n_classes, c, h, w;
    const mia_model_opts *o;
} mia_build_cfg;

/* A builder adds every node of its architecture to an empty graph (possibly shape-only) and
 * sets the output. Errors name the architecture and the problem. */
typedef mia_status (*mia_builder_fn)(mia_graph *g, const mia_build_cfg *cfg);

MIA_PRIVATE mia_status mia__build_salem_cnn(mia_graph *g, const mia_build_cfg *cfg);
MIA_PRIVATE mia_status mia__build_resnet18_cifar(mia_graph *g, const mia_build_cfg *cfg);
MIA_PRIVATE mia_status mia__build_resnet50(mia_graph *g, const mia_build_cfg *cfg);
MIA_PRIVATE mia_status mia__build_efficientnet_b0_cifar(mia_graph *g, const mia_build_cfg *cfg);
MIA_PRIVATE mia_status mia__build_mlp(mia_graph *g, const mia_build_cfg *cfg);

/* Weight initialisation schemes for conv weights. */
typedef enum mia_init_scheme {
    MIA_INIT_PYTORCH_DEFAULT = 0,   /* kaiming_uniform(a=sqrt 5): U(+-1/sqrt(fan_in)) */
    MIA_INIT_CONV_KAIMING_FAN_OUT = 1 /* torchvision ResNet: conv ~ N(0, 2/fan_out), linear default */
} mia_init_scheme;

/* Initialise every parameter of g in registration order from one generator on
 * (seed, MIA_STREAM_INIT): conv / conv-transpose / linear weights and biases as PyTorch's
 * reset_parameters() (or the scheme), batchnorm weight 1, bias 0, running stats 0 / 1. */
MIA_PRIVATE mia_status mia__init_params(mia_graph *g, uint64_t seed, mia_init_scheme scheme);

/* Small helper for builders: "prefix.suffix" into buf. */
MIA_PRIVATE const char *mia__joinname(char *buf, size_t size, const char *prefix,
                                      const char *suffix);

#endif
