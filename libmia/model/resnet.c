/* ResNets: the CIFAR ResNet-18 of kuangliu/pytorch-cifar (spec §2.1) and torchvision's
 * ResNet-50 (spec §2.4). Node creation follows PyTorch's module registration order, so the
 * parameter list is in state_dict order. */
#include <stdio.h>

#include "model-impl.h"

static mia_status conv_bn(mia_graph *g, const char *conv, const char *bn, int x, int64_t out,
                          int64_t k, int64_t stride, int64_t pad, bool relu, int *y)
{
    MIA_TRY(mia_graph_conv2d(y, g, conv, x, out, k, stride, pad, 1, false));
    MIA_TRY(mia_graph_batchnorm(y, g, bn, *y));
    if (relu) MIA_TRY(mia_graph_activation(y, g, *y, MIA_GRAPH_ACT_RELU, 0.0f));
    return MIA_OK;
}

/* kuangliu BasicBlock: relu(bn1(conv1 x)) -> bn2(conv2) + shortcut(x) -> relu. */
static mia_status basic_block(mia_graph *g, const char *p, int x, int64_t in, int64_t planes,
                              int64_t stride, int *y)
{
    char a[64], b[64];
    int h, sc = x;
    MIA_TRY(conv_bn(g, mia__joinname(a, sizeof a, p, "conv1"), mia__joinname(b, sizeof b, p, "bn1"),
                    x, planes, 3, stride, 1, true, &h));
    MIA_TRY(conv_bn(g, mia__joinname(a, sizeof a, p, "conv2"), mia__joinname(b, sizeof b, p, "bn2"),
                    h, planes, 3, 1, 1, false, &h));
    if (stride != 1 || in != planes)
        MIA_TRY(conv_bn(g, mia__joinname(a, sizeof a, p, "shortcut.0"),
                        mia__joinname(b, sizeof b, p, "shortcut.1"), x, planes, 1, stride, 0,
                        false, &sc));
    MIA_TRY(mia_graph_add(&h, g, h, sc));
    return mia_graph_activation(y, g, h, MIA_GRAPH_ACT_RELU, 0.0f);
}

mia_status mia__build_resnet18_cifar(mia_graph *g, const mia_build_cfg *cfg)
{
    /* avg_pool2d(4) after three stride-2 stages needs at least 4x4 there, i.e. >= 25 pixels. */
    MIA_CHECK_ARG(cfg->h >= 25 && cfg->w >= 25,
                  "resnet18_cifar: input %lldx%lld is smaller than 25x25 (avg_pool2d(4) after "
                  "three stride-2 stages)", (long long)cfg->h, (long long)cfg->w);
    const int64_t chw[3] = {cfg->c, cfg->h, cfg->w};
    int x;
    MIA_TRY(mia_graph_input(&x, g, 3, chw));
    MIA_TRY(conv_bn(g, "conv1", "bn1", x, 64, 3, 1, 1, true, &x));
    static const int64_t planes[4] = {64, 128, 256, 512};
    int64_t in = 64;
    char p[32];
    for (int l = 0; l < 4; l++) {
        for (int b = 0; b < 2; b++) {
            snprintf(p, sizeof p, "layer%d.%d", l + 1, b);
            MIA_TRY(basic_block(g, p, x, in, planes[l], (l > 0 && b == 0) ? 2 : 1, &x));
            in = planes[l];
        }
    }
    MIA_TRY(mia_graph_pool2d(&x, g, x, MIA_GRAPH_POOL_AVG, 4, 4, 0));
    MIA_TRY(mia_graph_flatten(&x, g, x));
    MIA_TRY(mia_graph_linear(&x, g, "linear", x, cfg->n_classes, true));
    return mia_graph_set_output(g, x);
}

/* torchvision Bottleneck (v1.5, stride on the 3x3 conv). */
static mia_status bottleneck(mia_graph *g, const char *p, int x, int64_t in, int64_t planes,
                             int64_t stride, int *y)
{
    char a[64], b[64];
    int h, sc = x;
    MIA_TRY(conv_bn(g, mia__joinname(a, sizeof a, p, "conv1"), mia__joinname(b, sizeof b, p, "bn1"),
                    x, planes, 1, 1, 0, true, &h));
    MIA_TRY(conv_bn(g, mia__joinname(a, sizeof a, p, "conv2"), mia__joinname(b, sizeof b, p, "bn2"),
                    h, planes, 3, stride, 1, true, &h));
    MIA_TRY(conv_bn(g, mia__joinname(a, sizeof a, p, "conv3"), mia__joinname(b, sizeof b, p, "bn3"),
                    h, planes * 4, 1, 1, 0, false, &h));
    if (stride != 1 || in != planes * 4)
        MIA_TRY(conv_bn(g, mia__joinname(a, sizeof a, p, "downsample.0"),
                        mia__joinname(b, sizeof b, p, "downsample.1"), x, planes * 4, 1, stride,
                        0, false, &sc));
    MIA_TRY(mia_graph_add(&h, g, h, sc));
    return mia_graph_activation(y, g, h, MIA_GRAPH_ACT_RELU, 0.0f);
}

mia_status mia__build_resnet50(mia_graph *g, const mia_build_cfg *cfg)
{
    MIA_CHECK_ARG(cfg->h >= 32 && cfg->w >= 32, "resnet50: input %lldx%lld is smaller than 32x32",
                  (long long)cfg->h, (long long)cfg->w);
    const int64_t chw[3] = {cfg->c, cfg->h, cfg->w};
    int x;
    MIA_TRY(mia_graph_input(&x, g, 3, chw));
    MIA_TRY(conv_bn(g, "conv1", "bn1", x, 64, 7, 2, 3, true, &x));
    MIA_TRY(mia_graph_pool2d(&x, g, x, MIA_GRAPH_POOL_MAX, 3, 2, 1));
    static const int64_t planes[4] = {64, 128, 256, 512};
    static const int blocks[4] = {3, 4, 6, 3};
    int64_t in = 64;
    char p[32];
    for (int l = 0; l < 4; l++) {
        for (int b = 0; b < blocks[l]; b++) {
            snprintf(p, sizeof p, "layer%d.%d", l + 1, b);
            MIA_TRY(bottleneck(g, p, x, in, planes[l], (l > 0 && b == 0) ? 2 : 1, &x));
            in = planes[l] * 4;
        }
    }
    MIA_TRY(mia_graph_global_avg_pool(&x, g, x));
    MIA_TRY(mia_graph_flatten(&x, g, x));
    MIA_TRY(mia_graph_linear(&x, g, "fc", x, cfg->n_classes, true));
    return mia_graph_set_output(g, x);
}
