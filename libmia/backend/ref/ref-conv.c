/* ref 2-D convolution (NCHW, OIHW, groups, asymmetric padding): direct loops, f64 sums.
 * Backward data is a gather (one sum per input element), so every output is written once. */
#include <string.h>

#include "ref.h"

mia_status mia__ref_conv2d_fwd(mia_backend *be, const mia_conv2d_args *a)
{
    if (a->x_blocked || a->y_blocked) return mia__ref_conv_unblocked(be, a, mia__ref_conv2d_fwd);
    (void)be;
    const int64_t cg = a->c / a->groups, og = a->o / a->groups;
    for (int64_t n = 0; n < a->n; n++)
        for (int64_t o = 0; o < a->o; o++) {
            const int64_t g = o / og;
            for (int64_t oy = 0; oy < a->oh; oy++)
                for (int64_t ox = 0; ox < a->ow; ox++) {
                    double acc = a->b ? (double)a->b[o] : 0.0;
                    for (int64_t ci = 0; ci < cg; ci++) {
                        const float *xc = a->x + ((n * a->c) + g * cg + ci) * a->h * a->w;
                        const float *wc = a->wt + (o * cg + ci) * a->kh * a->kw;
                        for (int64_t ky = 0; ky < a->kh; ky++) {
                            int64_t iy = oy * a->sh - a->pt + ky;
                            if (iy < 0 || iy >= a->h) continue;
                            for (int64_t kx = 0; kx < a->kw; kx++) {
                                int64_t ix = ox * a->sw - a->pl + kx;
                                if (ix < 0 || ix >= a->w) continue;
                                acc += (double)xc[iy * a->w + ix] * (double)wc[ky * a->kw + kx];
                            }
                        }
                    }
                    if (a->relu && acc <= 0) acc = 0.0; /* as ref eltwise ReLU */
                    a->y[((n * a->o + o) * a->oh + oy) * a->ow + ox] = (float)acc;
                }
        }
    return MIA_OK;
}

mia_status mia__ref_conv2d_bwd_data(mia_backend *be, const mia_conv2d_args *a)
{
    if (a->x_blocked || a->y_blocked) return mia__ref_conv_unblocked(be, a, mia__ref_conv2d_bwd_data);
    (void)be;
    const int64_t cg = a->c / a->groups, og = a->o / a->groups;
    for (int64_t n = 0; n < a->n; n++)
        for (int64_t c = 0; c < a->c; c++) {
            const int64_t g = c / cg, ci = c % cg;
            for (int64_t iy = 0; iy < a->h; iy++)
                for (int64_t ix = 0; ix < a->w; ix++) {
                    double acc = 0.0;
                    for (int64_t ky = 0; ky < a->kh; ky++) {
                        int64_t ty = iy + a->pt - ky; /* = oy * sh */
                        if (ty < 0 || ty % a->sh != 0) continue;
                        int64_t oy = ty / a->sh;
                        if (oy >= a->oh) continue;
                        for (int64_t kx = 0; kx < a->kw; kx++) {
                            int64_t tx = ix + a->pl - kx;
                            if (tx < 0 || tx % a->sw != 0) continue;
                            int64_t ox = tx / a->sw;
                            if (ox >= a->ow) continue;
                            for (int64_t oo = 0; oo < og; oo++) {
                                int64_t o = g * og + oo;
                                acc += (double)a->dy[((n * a->o + o) * a->oh + oy) * a->ow + ox] *
                                       (double)a->wt[((o * cg + ci) * a->kh + ky) * a->kw + kx];
                            }
                        }
                    }
                    a->dx[((n * a->c + c) * a->h + iy) * a->w + ix] = (float)acc;
                }
        }
    return MIA_OK;
}

mia_status mia__ref_conv2d_bwd_weights(mia_backend *be, const mia_conv2d_args *a)
{
    if (a->x_blocked || a->y_blocked) return mia__ref_conv_unblocked(be, a, mia__ref_conv2d_bwd_weights);
    (void)be;
    const int64_t cg = a->c / a->groups, og = a->o / a->groups;
    if (a->dw)
        for (int64_t o = 0; o < a->o; o++) {
            const int64_t g = o / og;
            for (int64_t ci = 0; ci < cg; ci++)
                for (int64_t ky = 0; ky < a->kh; ky++)
                    for (int64_t kx = 0; kx < a->kw; kx++) {
                        double acc = 0.0;
                        for (int64_t n = 0; n < a->n; n++) {
                            const float *xc = a->x + ((n * a->c) + g * cg + ci) * a->h * a->w;
                            const float *dyc = a->dy + (n * a->o + o) * a->oh * a->ow;
                            for (int64_t oy = 0; oy < a->oh; oy++) {
                                int64_t iy = oy * a->sh - a->pt + ky;
                                if (iy < 0 || iy >= a->h) continue;
                                for (int64_t ox = 0; ox < a->ow; ox++) {
                                    int64_t ix = ox * a->sw - a->pl + kx;
                                    if (ix < 0 || ix >= a->w) continue;
                                    acc += (double)dyc[oy * a->ow + ox] *
                                           (double)xc[iy * a->w + ix];
                                }
                            }
                        }
                        a->dw[((o * cg + ci) * a->kh + ky) * a->kw + kx] = (float)acc;
                    }
        }
    if (a->db)
        for (int64_t o = 0; o < a->o; o++) {
            double acc = 0.0;
            for (int64_t n = 0; n < a->n; n++) {
                const float *dyc = a->dy + (n * a->o + o) * a->oh * a->ow;
                for (int64_t i = 0; i < a->oh * a->ow; i++) acc += (double)dyc[i];
            }
            a->db[o] = (float)acc;
        }
    return MIA_OK;
}
