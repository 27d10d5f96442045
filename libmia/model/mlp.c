/* Fully connected network: Sequential(Linear, act, ..., Linear). Keys "0.weight", "2.weight", ...
 * as the Salem attack's nn.Sequential (activations occupy the odd indices). */
#include <stdio.h>

#include "model-impl.h"

mia_status mia__build_mlp(mia_graph *g, const mia_build_cfg *cfg)
{
    const mia_model_opts *o = cfg->o;
    int64_t features = cfg->c * cfg->h * cfg->w;
    int x;
    char name[32];
    MIA_TRY(mia_graph_input(&x, g, 1, &features));
    int idx = 0;
    for (int i = 0; i < o->mlp_n_hidden; i++) {
        snprintf(name, sizeof name, "%d", idx);
        MIA_TRY(mia_graph_linear(&x, g, name, x, o->mlp_hidden[i], true));
        MIA_TRY(mia_graph_activation(&x, g, x,
                                     o->mlp_act == MIA_MLP_ACT_TANH ? MIA_GRAPH_ACT_TANH
                                                                    : MIA_GRAPH_ACT_RELU,
                                     0.0f));
        idx += 2;
    }
    snprintf(name, sizeof name, "%d", idx);
    MIA_TRY(mia_graph_linear(&x, g, name, x, cfg->n_classes, true));
    return mia_graph_set_output(g, x);
}
