/* SalemCNN_Relu (spec §2.3): Sequential `model` (conv5x5-ReLU-maxpool x2, flatten, Linear 128,
 * ReLU) and the head `out`. Module indices give the state_dict keys model.0, model.3, model.7. */
#include "model-impl.h"

mia_status mia__build_salem_cnn(mia_graph *g, const mia_build_cfg *cfg)
{
    const int64_t chw[3] = {cfg->c, cfg->h, cfg->w};
    int x;
    MIA_CHECK_ARG(cfg->h >= 4 && cfg->w >= 4, "salem_cnn: input %lldx%lld is smaller than 4x4",
                  (long long)cfg->h, (long long)cfg->w);
    MIA_TRY(mia_graph_input(&x, g, 3, chw));
    MIA_TRY(mia_graph_conv2d(&x, g, "model.0", x, 32, 5, 1, 2, 1, true));
    MIA_TRY(mia_graph_activation(&x, g, x, MIA_GRAPH_ACT_RELU, 0.0f));
    MIA_TRY(mia_graph_pool2d(&x, g, x, MIA_GRAPH_POOL_MAX, 2, 2, 0));
    MIA_TRY(mia_graph_conv2d(&x, g, "model.3", x, 32, 5, 1, 2, 1, true));
    MIA_TRY(mia_graph_activation(&x, g, x, MIA_GRAPH_ACT_RELU, 0.0f));
    MIA_TRY(mia_graph_pool2d(&x, g, x, MIA_GRAPH_POOL_MAX, 2, 2, 0));
    MIA_TRY(mia_graph_flatten(&x, g, x));
    MIA_TRY(mia_graph_linear(&x, g, "model.7", x, 128, true));
    MIA_TRY(mia_graph_activation(&x, g, x, MIA_GRAPH_ACT_RELU, 0.0f));
    MIA_TRY(mia_graph_linear(&x, g, "out", x, cfg->n_classes, true));
    return mia_graph_set_output(g, x);
}
