/* onednn backend: depthwise convolution backward-weights, hand-written.
 *
 * oneDNN 2.6's AVX2 depthwise backward-weights kernel rejects some shapes (small spatial sizes
 * with large padding, stride 2: the late EfficientNet-B0 stages) and falls back to its gemm
 * implementation, which for depthwise runs one tiny GEMM per group: 70-110 ms per call at
 * batch 64, a third of an EfficientNet training step. onednn-conv.c routes exactly those cases
 * (depthwise and oneDNN picked gemm) here. The loops are the ref kernel's, restricted to one
 * channel per group: per weight, f64 accumulation over (n, oy, ox) in the same order, so on plain
 * tensors the results are bit-identical to the ref backend. Channels are independent and run in
 * parallel. Blocked tensors (ops.h) are read in place (dw_blocked, or every 8th float). */
#include "onednn-internal.h"

/* First and one-past-last output index o with 0 <= o * s - p + k < n. */
static void out_range(int64_t n, int64_t on, int64_t s, int64_t p, int64_t k, int64_t *lo,
                      int64_t *hi)
{
    int64_t a = p - k; /* o * s >= a */
    int64_t l = a <= 0 ? 0 : (a + s - 1) / s;
    int64_t b = n - 1 + p - k; /* o * s <= b */
    int64_t h = b < 0 ? 0 : b / s + 1;
    if (h > on) h = on;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* Offset of plane (n, c) of an [N, C, hw] tensor, plain or blocked. */
static inline int64_t plane(bool blocked, int64_t n, int64_t c, int64_t C, int64_t hw)
{
    if (!blocked) return (n * C + c) * hw;
    return (n * (C / MIA_BLOCK) + c / MIA_BLOCK) * hw * MIA_BLOCK + c % MIA_BLOCK;
}

bool mia__od_dw_applies(const mia_conv2d_args *a)
{
    return a->groups > 1 && a->groups == a->c && a->groups == a->o && a->kh * a->kw <= 64;
}

/* Both tensors blocked: the 8 channels of a block are the 8 lanes of every loop, innermost and
 * contiguous. Each image's sums are taken in f32 (8 lanes per vector) and added to f64 totals in
 * image order: a fixed order, so deterministic at any thread count, within the parity tolerance
 * of the ref kernel's all-f64 sums (not bit-identical to them). */
static void dw_blocked(const mia_conv2d_args *a)
{
    const int64_t C = a->c, H = a->h, W = a->w, OH = a->oh, OW = a->ow, KH = a->kh, KW = a->kw;
    const int64_t B = MIA_BLOCK, CB = C / MIA_BLOCK;
    const int64_t work = a->n * C * OH * OW * KH * KW;
#pragma omp parallel for schedule(static) if (work > 65536)
    for (int64_t cb = 0; cb < CB; cb++) {
        double acc[64][MIA_BLOCK], bacc[MIA_BLOCK];
        float img[64][MIA_BLOCK], bimg[MIA_BLOCK];
        for (int64_t i = 0; i < KH * KW; i++)
            for (int64_t l = 0; l < B; l++) acc[i][l] = 0.0;
        for (int64_t l = 0; l < B; l++) bacc[l] = 0.0;
        for (int64_t n = 0; n < a->n; n++) {
            const float *xc = a->x + (n * CB + cb) * H * W * B;
            const float *dyc = a->dy + (n * CB + cb) * OH * OW * B;
            if (a->dw) {
                for (int64_t ky = 0; ky < KH; ky++) {
                    int64_t y0, y1;
                    out_range(H, OH, a->sh, a->pt, ky, &y0, &y1);
                    for (int64_t kx = 0; kx < KW; kx++) {
                        int64_t x0, x1;
                        out_range(W, OW, a->sw, a->pl, kx, &x0, &x1);
                        float s[MIA_BLOCK] = {0};
                        for (int64_t oy = y0; oy < y1; oy++) {
                            const float *xr = xc + (oy * a->sh - a->pt + ky) * W * B;
                            const float *dr = dyc + oy * OW * B;
                            for (int64_t ox = x0; ox < x1; ox++) {
                                const float *xv = xr + (ox * a->sw - a->pl + kx) * B;
                                const float *dv = dr + ox * B;
                                for (int64_t l = 0; l < B; l++) s[l] += dv[l] * xv[l];
                            }
                        }
                        for (int64_t l = 0; l < B; l++) img[ky * KW + kx][l] = s[l];
                    }
                }
                for (int64_t i = 0; i < KH * KW; i++)
                    for (int64_t l = 0; l < B; l++) acc[i][l] += (double)img[i][l];
            }
            if (a->db) {
                for (int64_t l = 0; l < B; l++) bimg[l] = 0.0f;
                for (int64_t i = 0; i < OH * OW; i++)
                    for (int64_t l = 0; l < B; l++) bimg[l] += dyc[i * B + l];
                for (int64_t l = 0; l < B; l++) bacc[l] += (double)bimg[l];
            }
        }
        for (int64_t l = 0; l < B; l++) {
            const int64_t c = cb * B + l;
            if (a->dw)
                for (int64_t i = 0; i < KH * KW; i++) a->dw[c * KH * KW + i] = (float)acc[i][l];
            if (a->db) a->db[c] = (float)bacc[l];
        }
    }
}

mia_status mia__od_dw_bwd_weights(mia_backend *be, const mia_conv2d_args *a)
{
    mia__od_threads(be);
    if (a->x_blocked && a->y_blocked) {
        dw_blocked(a);
        return MIA_OK;
    }
    const int64_t C = a->c, H = a->h, W = a->w, OH = a->oh, OW = a->ow, KH = a->kh, KW = a->kw;
    const int64_t work = a->n * C * OH * OW * KH * KW;
    const int64_t xsp = a->x_blocked ? MIA_BLOCK : 1, dsp = a->y_blocked ? MIA_BLOCK : 1;
#pragma omp parallel for schedule(static) if (work > 65536)
    for (int64_t c = 0; c < C; c++) {
        double acc[64], bacc = 0.0;
        for (int64_t i = 0; i < KH * KW; i++) acc[i] = 0.0;
        for (int64_t n = 0; n < a->n; n++) {
            const float *xc = a->x + plane(a->x_blocked, n, c, C, H * W);
            const float *dyc = a->dy + plane(a->y_blocked, n, c, C, OH * OW);
            if (a->dw)
                for (int64_t ky = 0; ky < KH; ky++) {
                    int64_t y0, y1;
                    out_range(H, OH, a->sh, a->pt, ky, &y0, &y1);
                    for (int64_t kx = 0; kx < KW; kx++) {
                        int64_t x0, x1;
                        out_range(W, OW, a->sw, a->pl, kx, &x0, &x1);
                        double s = acc[ky * KW + kx];
                        for (int64_t oy = y0; oy < y1; oy++) {
                            const float *xr = xc + (oy * a->sh - a->pt + ky) * W * xsp;
                            const float *dr = dyc + oy * OW * dsp;
                            for (int64_t ox = x0; ox < x1; ox++)
                                s += (double)dr[ox * dsp] *
                                     (double)xr[(ox * a->sw - a->pl + kx) * xsp];
                        }
                        acc[ky * KW + kx] = s;
                    }
                }
            if (a->db)
                for (int64_t i = 0; i < OH * OW; i++) bacc += (double)dyc[i * dsp];
        }
        if (a->dw)
            for (int64_t i = 0; i < KH * KW; i++) a->dw[c * KH * KW + i] = (float)acc[i];
        if (a->db) a->db[c] = (float)bacc;
    }
    return MIA_OK;
}
