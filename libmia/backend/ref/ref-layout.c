/* ref layout support: the relayout op, and the blocked variants of the layout-aware kernels.
 * A blocked call runs the plain kernel on plain copies of its blocked tensors and blocks the
 * outputs back, so the ref backend stays a direct oracle for the blocked paths of the others. */
#include <string.h>

#include "ref.h"

static void relayout(const float *x, float *y, int64_t n, int64_t c, int64_t hw, bool to_blocked)
{
    const int64_t cb = c / MIA_BLOCK;
    for (int64_t i = 0; i < n; i++)
        for (int64_t b = 0; b < cb; b++)
            for (int64_t s = 0; s < hw; s++)
                for (int64_t l = 0; l < MIA_BLOCK; l++) {
                    const int64_t p = (i * c + b * MIA_BLOCK + l) * hw + s;
                    const int64_t q = ((i * cb + b) * hw + s) * MIA_BLOCK + l;
                    if (to_blocked)
                        y[q] = x[p];
                    else
                        y[p] = x[q];
                }
}

mia_status mia__ref_relayout(mia_backend *be, const mia_relayout_args *a)
{
    (void)be;
    relayout(a->x, a->y, a->n, a->c, a->hw, a->to_blocked);
    return MIA_OK;
}

/* Up to 4 blocked tensors of one call: plain stand-ins for the kernel. */
typedef struct unblock {
    float *tmp[4];
    float *back[4]; /* caller's blocked output, or NULL for an input */
    int64_t n[4], c[4], hw[4];
    int k;
    bool oom;
} unblock;

/* A plain stand-in for blocked tensor p (NULL stays NULL); inputs are converted now, outputs
 * when the call ends (unblock_end). */
static float *ub_add(unblock *u, const float *p, bool out, int64_t n, int64_t c, int64_t hw)
{
    if (!p || u->oom) return NULL;
    float *t = mia__malloc((size_t)(n * c * hw) * sizeof *t);
    if (!t) {
        u->oom = true;
        return NULL;
    }
    if (out)
        memset(t, 0, (size_t)(n * c * hw) * sizeof *t);
    else
        relayout(p, t, n, c, hw, false);
    u->tmp[u->k] = t;
    u->back[u->k] = out ? (float *)p : NULL;
    u->n[u->k] = n;
    u->c[u->k] = c;
    u->hw[u->k] = hw;
    u->k++;
    return t;
}

static mia_status ub_end(unblock *u, mia_status s)
{
    for (int i = 0; i < u->k; i++) {
        if (s == MIA_OK && !u->oom && u->back[i])
            relayout(u->tmp[i], u->back[i], u->n[i], u->c[i], u->hw[i], true);
        mia__free(u->tmp[i]);
    }
    if (u->oom) return MIA_ERROR(MIA_ERR_NOMEM, "ref: out of memory for a blocked layout copy");
    return s;
}

/* Plain stand-ins for an (input, output) pair of blocked tensors of one layout, e.g. x and dx. */
static void ub_pair(unblock *u, const float **in, float **out, int64_t n, int64_t c, int64_t hw)
{
    *in = ub_add(u, *in, false, n, c, hw);
    *out = ub_add(u, *out, true, n, c, hw);
}

mia_status mia__ref_conv_unblocked(mia_backend *be, const mia_conv2d_args *a,
                                   mia_status (*fn)(mia_backend *, const mia_conv2d_args *))
{
    unblock u = {0};
    mia_conv2d_args p = *a;
    p.x_blocked = p.y_blocked = false;
    if (a->x_blocked) ub_pair(&u, &p.x, &p.dx, a->n, a->c, a->h * a->w);
    if (a->y_blocked) ub_pair(&u, &p.dy, &p.y, a->n, a->o, a->oh * a->ow);
    return ub_end(&u, u.oom ? MIA_OK : fn(be, &p));
}

mia_status mia__ref_bn_unblocked(mia_backend *be, const mia_batchnorm_args *a,
                                 mia_status (*fn)(mia_backend *, const mia_batchnorm_args *))
{
    unblock u = {0};
    mia_batchnorm_args p = *a;
    p.blocked = false;
    ub_pair(&u, &p.x, &p.dx, a->n, a->c, a->hw);
    ub_pair(&u, &p.dy, &p.y, a->n, a->c, a->hw);
    return ub_end(&u, u.oom ? MIA_OK : fn(be, &p));
}

mia_status mia__ref_pool_unblocked(mia_backend *be, const mia_pool2d_args *a,
                                   mia_status (*fn)(mia_backend *, const mia_pool2d_args *))
{
    unblock u = {0};
    mia_pool2d_args p = *a;
    p.blocked = false;
    ub_pair(&u, &p.x, &p.dx, a->n, a->c, a->h * a->w);
    ub_pair(&u, &p.dy, &p.y, a->n, a->c, a->oh * a->ow);
    return ub_end(&u, u.oom ? MIA_OK : fn(be, &p));
}

mia_status mia__ref_chmul_unblocked(mia_backend *be, const mia_chmul_args *a,
                                    mia_status (*fn)(mia_backend *, const mia_chmul_args *))
{
    unblock u = {0};
    mia_chmul_args p = *a;
    p.blocked = false;
    ub_pair(&u, &p.x, &p.dx, a->n, a->c, a->hw);
    ub_pair(&u, &p.dy, &p.y, a->n, a->c, a->hw);
    return ub_end(&u, u.oom ? MIA_OK : fn(be, &p));
}
