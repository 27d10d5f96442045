/* ref 2-D max / average pooling (PyTorch semantics, floor mode, asymmetric padding).
 * Max: padding is -inf, ties go to the first element in row-major window order, NaN wins (as
 * PyTorch's CPU kernel). Average with count_include_pad divides by the window clipped to the
 * padded input; without it, by the number of real input elements in the window. */
#include <math.h>
#include <string.h>

#include "ref.h"

typedef struct win {
    int64_t y0, y1, x0, x1; /* clipped to the input */
    int64_t div;            /* average divisor */
} win;

static win window(const mia_pool2d_args *a, int64_t oy, int64_t ox)
{
    win w;
    int64_t hs = oy * a->sh - a->pt, ws = ox * a->sw - a->pl;
    int64_t he = hs + a->kh, we = ws + a->kw;
    if (he > a->h + a->pb) he = a->h + a->pb;
    if (we > a->w + a->pr) we = a->w + a->pr;
    int64_t padded = (he - hs) * (we - ws);
    w.y0 = hs < 0 ? 0 : hs;
    w.x0 = ws < 0 ? 0 : ws;
    w.y1 = he > a->h ? a->h : he;
    w.x1 = we > a->w ? a->w : we;
    w.div = a->kind == MIA_POOL_AVG_INCLUDE_PAD ? padded : (w.y1 - w.y0) * (w.x1 - w.x0);
    return w;
}

/* Index (within the plane) of the window's max, first on ties; -1 if the window is empty. */
static int64_t argmax(const mia_pool2d_args *a, const float *xp, win w)
{
    int64_t best = -1;
    float bv = -INFINITY;
    for (int64_t y = w.y0; y < w.y1; y++)
        for (int64_t x = w.x0; x < w.x1; x++) {
            float v = xp[y * a->w + x];
            if (best < 0 || v > bv || isnan(v)) {
                best = y * a->w + x;
                bv = v;
            }
        }
    return best;
}

mia_status mia__ref_pool2d_fwd(mia_backend *be, const mia_pool2d_args *a)
{
    if (a->blocked) return mia__ref_pool_unblocked(be, a, mia__ref_pool2d_fwd);
    (void)be;
    if (a->kind != MIA_POOL_MAX && a->kind != MIA_POOL_AVG_INCLUDE_PAD &&
        a->kind != MIA_POOL_AVG_EXCLUDE_PAD)
        return MIA_ERROR(MIA_ERR_INVALID, "pool2d: unknown kind %d", (int)a->kind);
    for (int64_t p = 0; p < a->n * a->c; p++) {
        const float *xp = a->x + p * a->h * a->w;
        float *yp = a->y + p * a->oh * a->ow;
        for (int64_t oy = 0; oy < a->oh; oy++)
            for (int64_t ox = 0; ox < a->ow; ox++) {
                win w = window(a, oy, ox);
                float out;
                if (a->kind == MIA_POOL_MAX) {
                    int64_t k = argmax(a, xp, w);
                    out = k < 0 ? -INFINITY : xp[k];
                } else {
                    double s = 0.0;
                    for (int64_t y = w.y0; y < w.y1; y++)
                        for (int64_t x = w.x0; x < w.x1; x++) s += (double)xp[y * a->w + x];
                    out = w.div > 0 ? (float)(s / (double)w.div) : 0.0f;
                }
                yp[oy * a->ow + ox] = out;
            }
    }
    return MIA_OK;
}

mia_status mia__ref_pool2d_bwd(mia_backend *be, const mia_pool2d_args *a)
{
    if (a->blocked) return mia__ref_pool_unblocked(be, a, mia__ref_pool2d_bwd);
    (void)be;
    if (a->kind != MIA_POOL_MAX && a->kind != MIA_POOL_AVG_INCLUDE_PAD &&
        a->kind != MIA_POOL_AVG_EXCLUDE_PAD)
        return MIA_ERROR(MIA_ERR_INVALID, "pool2d: unknown kind %d", (int)a->kind);
    memset(a->dx, 0, (size_t)(a->n * a->c * a->h * a->w) * sizeof(float));
    for (int64_t p = 0; p < a->n * a->c; p++) {
        const float *xp = a->x ? a->x + p * a->h * a->w : NULL;
        const float *dyp = a->dy + p * a->oh * a->ow;
        float *dxp = a->dx + p * a->h * a->w;
        for (int64_t oy = 0; oy < a->oh; oy++)
            for (int64_t ox = 0; ox < a->ow; ox++) {
                win w = window(a, oy, ox);
                float g = dyp[oy * a->ow + ox];
                if (a->kind == MIA_POOL_MAX) {
                    int64_t k = argmax(a, xp, w);
                    if (k >= 0) dxp[k] += g;
                } else {
                    if (w.div <= 0) continue;
                    float gd = (float)((double)g / (double)w.div);
                    for (int64_t y = w.y0; y < w.y1; y++)
                        for (int64_t x = w.x0; x < w.x1; x++) dxp[y * a->w + x] += gd;
                }
            }
        if (a->relu_mask) /* the ReLU backward (ref-eltwise.c): x > 0 ? dx : 0 */
            for (int64_t i = 0; i < a->h * a->w; i++)
                if (!(xp[i] > 0)) dxp[i] = 0.0f;
    }
    return MIA_OK;
}
