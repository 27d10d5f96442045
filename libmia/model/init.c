/* PyTorch-default parameter initialisation, drawn on the host from the counter-based RNG and
 * uploaded, so the same seed gives the same weights on every backend. */
#include <math.h>
#include <stdio.h>

#include "model-impl.h"
#include "tensor/tensor-impl.h"

const char *mia__joinname(char *buf, size_t size, const char *prefix, const char *suffix)
{
    snprintf(buf, size, "%s.%s", prefix, suffix);
    return buf;
}

/* fan_in and fan_out as torch.nn.init._calculate_fan_in_and_fan_out: dims 1 and 0 times the
 * receptive field. */
static void fans(const mia_gparam *p, int64_t *fan_in, int64_t *fan_out)
{
    int64_t rf = 1;
    for (int i = 2; i < p->ndim; i++) rf *= p->shape[i];
    *fan_in = (p->ndim > 1 ? p->shape[1] : 1) * rf;
    *fan_out = p->shape[0] * rf;
}

typedef enum { DIST_UNIFORM, DIST_NORMAL } dist_kind;

static mia_status fill_random(mia_gparam *p, mia_rng *r, dist_kind kind, double scale)
{
    float *buf = mia__malloc((size_t)p->numel * sizeof *buf);
    if (!buf) return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory initialising", p->name);
    for (int64_t i = 0; i < p->numel; i++) {
        double v = kind == DIST_UNIFORM ? (2.0 * mia__rng_uniform_f64(r) - 1.0) * scale
                                        : mia__rng_normal(r) * scale;
        buf[i] = (float)v;
    }
    mia_status s = mia_tensor_upload(p->value, buf, (size_t)p->numel * sizeof *buf);
    mia__free(buf);
    return s;
}

mia_status mia__init_params(mia_graph *g, uint64_t seed, mia_init_scheme scheme)
{
    mia_rng r;
    mia__rng_init(&r, seed, MIA_STREAM_INIT);
    for (int i = 0; i < g->n_nodes; i++) {
        mia_node *n = &g->nodes[i];
        if (n->op != OP_CONV && n->op != OP_CONVT && n->op != OP_LINEAR) continue;
        mia_gparam *w = &g->params[n->param[0]];
        int64_t fan_in, fan_out;
        fans(w, &fan_in, &fan_out);
        double bound = 1.0 / sqrt((double)fan_in); /* = sqrt(6 / ((1 + 5) * fan_in)) */
        if (scheme == MIA_INIT_CONV_KAIMING_FAN_OUT && n->op != OP_LINEAR)
            MIA_TRY(fill_random(w, &r, DIST_NORMAL, sqrt(2.0 / (double)fan_out)));
        else
            MIA_TRY(fill_random(w, &r, DIST_UNIFORM, bound));
        if (n->bias) {
            mia_gparam *b = &g->params[n->param[1]];
            if (scheme == MIA_INIT_CONV_KAIMING_FAN_OUT && n->op != OP_LINEAR)
                MIA_TRY(mia_tensor_zero(b->value)); /* torchvision: constant_(bias, 0) */
            else
                MIA_TRY(fill_random(b, &r, DIST_UNIFORM, bound));
        }
    }
    return MIA_OK;
}
