/* EfficientNet-B0, CIFAR variant of kuangliu/pytorch-cifar (spec §2.2): stem conv3x3 + BN +
 * swish, 16 MBConv blocks with squeeze-excite, global pooling, dropout 0.2, linear. Block 1
 * (expansion 1) still owns conv1/bn1, which PyTorch creates but never runs: they are built
 * here too (same state_dict) and left detached from the output. */
#include <stdio.h>

#include "model-impl.h"

static mia_status swish(mia_graph *g, int x, int *y)
{
    return mia_graph_activation(y, g, x, MIA_GRAPH_ACT_SILU, 0.0f);
}

static mia_status block(mia_graph *g, const char *p, int x, int64_t in, int64_t out, int64_t k,
                        int64_t stride, int64_t expand, int *y)
{
    char a[64];
    int64_t ch = expand * in;
    int h = x, e;
    /* conv1/bn1 exist for every block; for expand == 1 their output is unused. */
    MIA_TRY(mia_graph_conv2d(&e, g, mia__joinname(a, sizeof a, p, "conv1"), x, ch, 1, 1, 0, 1,
                             false));
    MIA_TRY(mia_graph_batchnorm(&e, g, mia__joinname(a, sizeof a, p, "bn1"), e));
    if (expand != 1) MIA_TRY(swish(g, e, &h));
    MIA_TRY(mia_graph_conv2d(&h, g, mia__joinname(a, sizeof a, p, "conv2"), h, ch, k, stride,
                             k == 3 ? 1 : 2, ch, false));
    MIA_TRY(mia_graph_batchnorm(&h, g, mia__joinname(a, sizeof a, p, "bn2"), h));
    MIA_TRY(swish(g, h, &h));
    /* squeeze-excite: se_channels = int(in * 0.25) */
    int s;
    MIA_TRY(mia_graph_global_avg_pool(&s, g, h));
    MIA_TRY(mia_graph_conv2d(&s, g, mia__joinname(a, sizeof a, p, "se.se1"), s, in / 4, 1, 1, 0, 1,
                             true));
    MIA_TRY(swish(g, s, &s));
    MIA_TRY(mia_graph_conv2d(&s, g, mia__joinname(a, sizeof a, p, "se.se2"), s, ch, 1, 1, 0, 1,
                             true));
    MIA_TRY(mia_graph_activation(&s, g, s, MIA_GRAPH_ACT_SIGMOID, 0.0f));
    MIA_TRY(mia_graph_channel_mul(&h, g, h, s));
    MIA_TRY(mia_graph_conv2d(&h, g, mia__joinname(a, sizeof a, p, "conv3"), h, out, 1, 1, 0, 1,
                             false));
    MIA_TRY(mia_graph_batchnorm(&h, g, mia__joinname(a, sizeof a, p, "bn3"), h));
    if (stride == 1 && in == out) MIA_TRY(mia_graph_add(&h, g, h, x));
    *y = h;
    return MIA_OK;
}

mia_status mia__build_efficientnet_b0_cifar(mia_graph *g, const mia_build_cfg *cfg)
{
    MIA_CHECK_ARG(cfg->h >= 16 && cfg->w >= 16,
                  "efficientnet_b0_cifar: input %lldx%lld is smaller than 16x16",
                  (long long)cfg->h, (long long)cfg->w);
    static const int n_blocks[7] = {1, 2, 2, 3, 3, 4, 1};
    static const int64_t expansion[7] = {1, 6, 6, 6, 6, 6, 6};
    static const int64_t outc[7] = {16, 24, 40, 80, 112, 192, 320};
    static const int64_t kernel[7] = {3, 3, 5, 3, 5, 5, 3};
    static const int64_t stride[7] = {1, 2, 2, 2, 1, 2, 1};
    const int64_t chw[3] = {cfg->c, cfg->h, cfg->w};
    int x;
    MIA_TRY(mia_graph_input(&x, g, 3, chw));
    MIA_TRY(mia_graph_conv2d(&x, g, "conv1", x, 32, 3, 1, 1, 1, false));
    MIA_TRY(mia_graph_batchnorm(&x, g, "bn1", x));
    MIA_TRY(swish(g, x, &x));
    int64_t in = 32;
    int idx = 0;
    char p[32];
    for (int st = 0; st < 7; st++) {
        for (int b = 0; b < n_blocks[st]; b++) {
            snprintf(p, sizeof p, "layers.%d", idx++);
            MIA_TRY(block(g, p, x, in, outc[st], kernel[st], b == 0 ? stride[st] : 1,
                          expansion[st], &x));
            in = outc[st];
        }
    }
    MIA_TRY(mia_graph_global_avg_pool(&x, g, x));
    MIA_TRY(mia_graph_flatten(&x, g, x));
    MIA_TRY(mia_graph_dropout(&x, g, x, 0.2f));
    MIA_TRY(mia_graph_linear(&x, g, "linear", x, cfg->n_classes, true));
    return mia_graph_set_output(g, x);
}
