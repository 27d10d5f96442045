/* onednn backend: max pooling on the plain NCHW and blocked layouts of ops.h, hand-written.
 *
 * oneDNN 2.6 runs pooling on plain NCHW tensors with its reference-like `simple_nchw`
 * implementation (and a max-pool backward needs a second forward for the workspace): for
 * SalemCNN that was more than half of a training step. The layout-agnostic loops here read each
 * input once, need no workspace or reorder, and follow ops.h / the ref kernel exactly: padding is
 * -inf, ties go to the first element in row-major window order, NaN wins. Planes (n, c) are
 * independent and each is computed by one thread in a fixed order, so results are bit-identical
 * to the ref backend for any thread count. Average pooling stays on oneDNN (onednn-ops.c). */
#include <math.h>
#include <string.h>

#include "onednn-internal.h"

/* Parallelise over planes only when there is enough work to pay for waking the threads. */
#define POOL_PAR_MIN 32768

/* v replaces the current maximum (ref: v > best || isnan(v)). */
static inline int takes(float v, float best) { return (v > best) | (v != v); }

static inline uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The running maximum m after seeing v, as a branch-free select. */
static inline float pick(float m, float v)
{
    const uint32_t t = 0u - (uint32_t)takes(v, m);
    return bitsf((fbits(v) & t) | (fbits(m) & ~t));
}

static void plane_fwd_2x2(const mia_pool2d_args *a, const float *xp, float *yp)
{
    const int64_t w = a->w, ow = a->ow;
    for (int64_t oy = 0; oy < a->oh; oy++) {
        const float *r0 = xp + 2 * oy * w, *r1 = r0 + w;
        float *yr = yp + oy * ow;
        for (int64_t ox = 0; ox < ow; ox++)
            yr[ox] = pick(pick(pick(r0[2 * ox], r0[2 * ox + 1]), r1[2 * ox]), r1[2 * ox + 1]);
    }
}

/* Spatial index of the window's maximum within the plane (first on ties), -1 for an empty
 * window. Consecutive spatial elements are sp floats apart (1 plain, 8 blocked). */
static inline int64_t plane_argmax(const mia_pool2d_args *a, const float *xp, int64_t sp,
                                   int64_t oy, int64_t ox)
{
    int64_t y0 = oy * a->sh - a->pt, x0 = ox * a->sw - a->pl;
    int64_t y1 = y0 + a->kh, x1 = x0 + a->kw;
    if (y0 < 0) y0 = 0;
    if (x0 < 0) x0 = 0;
    if (y1 > a->h) y1 = a->h;
    if (x1 > a->w) x1 = a->w;
    int64_t best = -1;
    float bv = -INFINITY;
    for (int64_t y = y0; y < y1; y++)
        for (int64_t x = x0; x < x1; x++) {
            const float v = xp[(y * a->w + x) * sp];
            if (best < 0 || takes(v, bv)) {
                best = y * a->w + x;
                bv = v;
            }
        }
    return best;
}

/* One 2x2 window of a plain plane's backward, branch-free (the argmax of random data is
 * unpredictable): inputs q0[0], q0[1] (top row) and q1[0], q1[1]; each dx element is either
 * 0 + g or +0, selected with integer masks. relu: the fused ReLU backward (ops.h relu_mask): g
 * only reaches a maximum > 0, the other three are 0 anyway. */
static inline void bwd_window_2x2(const float *restrict q0, const float *restrict q1, float dy,
                                  bool relu, float *restrict e0, float *restrict e1)
{
    const float v0 = q0[0], v1 = q0[1], v2 = q1[0], v3 = q1[1];
    const uint32_t t1 = 0u - (uint32_t)takes(v1, v0);
    const float m1 = bitsf((fbits(v1) & t1) | (fbits(v0) & ~t1));
    const uint32_t t2 = 0u - (uint32_t)takes(v2, m1);
    const float m2 = bitsf((fbits(v2) & t2) | (fbits(m1) & ~t2));
    const uint32_t t3 = 0u - (uint32_t)takes(v3, m2);
    uint32_t g = fbits(0.0f + dy);
    if (relu) {
        const float m3 = bitsf((fbits(v3) & t3) | (fbits(m2) & ~t3));
        g &= 0u - (uint32_t)(m3 > 0.0f);
    }
    e1[1] = bitsf(g & t3);
    e1[0] = bitsf(g & t2 & ~t3);
    e0[1] = bitsf(g & t1 & ~t2 & ~t3);
    e0[0] = bitsf(g & ~t1 & ~t2 & ~t3);
}

/* One output row of the 2x2/2 backward on a plain plane. */
static void bwd_row_2x2(const float *restrict r0, const float *restrict r1,
                        const float *restrict dy, bool relu, float *restrict d0,
                        float *restrict d1, int64_t ow)
{
    for (int64_t ox = 0; ox < ow; ox++)
        bwd_window_2x2(r0 + 2 * ox, r1 + 2 * ox, dy[ox], relu, d0 + 2 * ox, d1 + 2 * ox);
}

/* The fused ReLU backward of the general (overlapping / padded) case, after the window sums. */
static void relu_mask_plane(const float *restrict xp, float *restrict dxp, int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        if (!(xp[i] > 0.0f)) dxp[i] = 0.0f;
}

static bool is_2x2(const mia_pool2d_args *a)
{
    return a->kh == 2 && a->kw == 2 && a->sh == 2 && a->sw == 2 && a->pt == 0 && a->pl == 0 &&
           a->pb == 0 && a->pr == 0 && a->oh == a->h / 2 && a->ow == a->w / 2;
}

/* Blocked tensors: planes are (n, channel block) of hw x 8 floats; the 8 lanes are 8 channels,
 * innermost, each computed exactly as a plain plane. Four lanes are one GCC vector (an SSE
 * register, x86-64's baseline; a blocked element is two of them): comparisons give lane masks
 * (-1 / 0), so the selects below are branch-free bit operations on whole vectors, the same ones
 * the scalar kernels above do per element. */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
#define V4 4 /* lanes per vector */

static inline v4f ld4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void st4(float *p, v4i bits) { memcpy(p, &bits, sizeof bits); }

/* Select v where mask k is set, else m. */
static inline v4f sel4(v4i k, v4f v, v4f m) { return (v4f)(((v4i)v & k) | ((v4i)m & ~k)); }

/* takes(v, best) per lane, as a mask. */
static inline v4i takes4(v4f v, v4f best) { return (v > best) | (v != v); }

static void plane_fwd_2x2_blocked(const mia_pool2d_args *a, const float *restrict xp,
                                  float *restrict yp)
{
    const int64_t B = MIA_BLOCK, w = a->w, ow = a->ow;
    for (int64_t oy = 0; oy < a->oh; oy++) {
        const float *r0 = xp + 2 * oy * w * B, *r1 = r0 + w * B;
        float *yr = yp + oy * ow * B;
        for (int64_t ox = 0; ox < ow; ox++) {
            const float *q0 = r0 + 2 * ox * B, *q1 = r1 + 2 * ox * B;
            float *yo = yr + ox * B;
            for (int64_t h = 0; h < B; h += V4) {
                const v4f v0 = ld4(q0 + h), v1 = ld4(q0 + B + h), v2 = ld4(q1 + h),
                          v3 = ld4(q1 + B + h);
                const v4f m1 = sel4(takes4(v1, v0), v1, v0);
                const v4f m2 = sel4(takes4(v2, m1), v2, m1);
                st4(yo + h, (v4i)sel4(takes4(v3, m2), v3, m2));
            }
        }
    }
}

/* The 2x2/2 backward on a blocked plane, the 8 lanes of a window at once (bwd_window_2x2). */
static inline void bwd_2x2_blocked(const mia_pool2d_args *a, const float *restrict xp,
                                   const float *restrict dyp, float *restrict dxp, bool relu)
{
    const int64_t B = MIA_BLOCK, w = a->w, ow = a->ow;
    for (int64_t oy = 0; oy < a->oh; oy++) {
        const int64_t r0 = 2 * oy * w * B, r1 = r0 + w * B;
        for (int64_t ox = 0; ox < ow; ox++) {
            const float *g = dyp + (oy * ow + ox) * B;
            const int64_t o0 = r0 + 2 * ox * B, o1 = r1 + 2 * ox * B;
            for (int64_t h = 0; h < B; h += V4) {
                const int64_t p0 = o0 + h, p1 = o1 + h;
                const v4f v0 = ld4(xp + p0), v1 = ld4(xp + p0 + B), v2 = ld4(xp + p1),
                          v3 = ld4(xp + p1 + B);
                const v4i t1 = takes4(v1, v0);
                const v4f m1 = sel4(t1, v1, v0);
                const v4i t2 = takes4(v2, m1);
                const v4f m2 = sel4(t2, v2, m1);
                const v4i t3 = takes4(v3, m2);
                const v4f zero = {0.0f, 0.0f, 0.0f, 0.0f};
                v4i gb = (v4i)(zero + ld4(g + h));
                if (relu) gb &= sel4(t3, v3, m2) > zero;
                st4(dxp + p1 + B, gb & t3);
                st4(dxp + p1, gb & t2 & ~t3);
                st4(dxp + p0 + B, gb & t1 & ~t2 & ~t3);
                st4(dxp + p0, gb & ~t1 & ~t2 & ~t3);
            }
        }
    }
}

static void plane_bwd_2x2_blocked(const mia_pool2d_args *a, const float *restrict xp,
                                  const float *restrict dyp, float *restrict dxp)
{
    if (a->relu_mask)
        bwd_2x2_blocked(a, xp, dyp, dxp, true);
    else
        bwd_2x2_blocked(a, xp, dyp, dxp, false);
}

static void fwd_blocked(const mia_pool2d_args *a, bool fast)
{
    const int64_t planes = a->n * (a->c / MIA_BLOCK), in = a->h * a->w, out = a->oh * a->ow;
    const int64_t B = MIA_BLOCK;
#pragma omp parallel for schedule(static) if (planes * in * B > POOL_PAR_MIN)
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = a->x + p * in * B;
        float *yp = a->y + p * out * B;
        if (fast) {
            plane_fwd_2x2_blocked(a, xp, yp);
            continue;
        }
        for (int64_t oy = 0; oy < a->oh; oy++)
            for (int64_t ox = 0; ox < a->ow; ox++)
                for (int64_t l = 0; l < B; l++) {
                    const int64_t k = plane_argmax(a, xp + l, B, oy, ox);
                    yp[(oy * a->ow + ox) * B + l] = k < 0 ? -INFINITY : xp[k * B + l];
                }
    }
}

static void bwd_blocked(const mia_pool2d_args *a, bool fast)
{
    const int64_t planes = a->n * (a->c / MIA_BLOCK), in = a->h * a->w, out = a->oh * a->ow;
    const int64_t B = MIA_BLOCK;
#pragma omp parallel for schedule(static) if (planes * in * B > POOL_PAR_MIN)
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = a->x + p * in * B, *dyp = a->dy + p * out * B;
        float *dxp = a->dx + p * in * B;
        if (!fast || a->h % 2 || a->w % 2) memset(dxp, 0, (size_t)(in * B) * sizeof *dxp);
        if (fast) {
            plane_bwd_2x2_blocked(a, xp, dyp, dxp);
            continue;
        }
        /* overlapping windows accumulate in the ref kernel's (row-major output) order */
        for (int64_t oy = 0; oy < a->oh; oy++)
            for (int64_t ox = 0; ox < a->ow; ox++)
                for (int64_t l = 0; l < B; l++) {
                    const int64_t k = plane_argmax(a, xp + l, B, oy, ox);
                    if (k >= 0) dxp[k * B + l] += dyp[(oy * a->ow + ox) * B + l];
                }
        if (a->relu_mask) relu_mask_plane(xp, dxp, in * B);
    }
}

mia_status mia__od_maxpool_fwd(mia_backend *be, const mia_pool2d_args *a)
{
    mia__od_threads(be);
    if (a->blocked) {
        fwd_blocked(a, is_2x2(a));
        return MIA_OK;
    }
    const int64_t planes = a->n * a->c, in = a->h * a->w, out = a->oh * a->ow;
    const bool fast = is_2x2(a);
#pragma omp parallel for schedule(static) if (planes * in > POOL_PAR_MIN)
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = a->x + p * in;
        float *yp = a->y + p * out;
        if (fast) {
            plane_fwd_2x2(a, xp, yp);
            continue;
        }
        for (int64_t oy = 0; oy < a->oh; oy++)
            for (int64_t ox = 0; ox < a->ow; ox++) {
                const int64_t k = plane_argmax(a, xp, 1, oy, ox);
                yp[oy * a->ow + ox] = k < 0 ? -INFINITY : xp[k];
            }
    }
    return MIA_OK;
}

mia_status mia__od_maxpool_bwd(mia_backend *be, const mia_pool2d_args *a)
{
    mia__od_threads(be);
    if (a->blocked) {
        bwd_blocked(a, is_2x2(a));
        return MIA_OK;
    }
    const int64_t planes = a->n * a->c, in = a->h * a->w, out = a->oh * a->ow;
    const bool fast = is_2x2(a);
#pragma omp parallel for schedule(static) if (planes * in > POOL_PAR_MIN)
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = a->x + p * in, *dyp = a->dy + p * out;
        float *dxp = a->dx + p * in;
        if (fast) {
            /* Disjoint windows: each dx element gets at most one contribution, 0 + g as the ref
             * kernel computes it (which turns -0 into +0). Branch-free selects: the argmax of
             * random data is unpredictable. Rows/columns no window covers (odd h or w) stay 0. */
            const int64_t w = a->w, ow = a->ow;
            if (a->h % 2 || w % 2) memset(dxp, 0, (size_t)in * sizeof *dxp);
            for (int64_t oy = 0; oy < a->oh; oy++)
                bwd_row_2x2(xp + 2 * oy * w, xp + (2 * oy + 1) * w, dyp + oy * ow, a->relu_mask,
                            dxp + 2 * oy * w, dxp + (2 * oy + 1) * w, ow);
            continue;
        }
        memset(dxp, 0, (size_t)in * sizeof *dxp);
        /* Overlapping windows accumulate in the ref kernel's (row-major output) order. */
        for (int64_t oy = 0; oy < a->oh; oy++)
            for (int64_t ox = 0; ox < a->ow; ox++) {
                const int64_t k = plane_argmax(a, xp, 1, oy, ox);
                if (k >= 0) dxp[k] += dyp[oy * a->ow + ox];
            }
        if (a->relu_mask) relu_mask_plane(xp, dxp, in);
    }
    return MIA_OK;
}
