/* onednn backend: 3x3 stride-1 convolutions as Winograd F(2x2, 3x3), on blocked activations.
 *
 * oneDNN 2.6 has Winograd only for AVX-512; on AVX2 its direct kernels run ResNet-18's 3x3 convs
 * at 60-75% of the fp32 peak, and those convs are ~85% of a training step. F(2x2, 3x3) computes
 * each 2x2 output tile from a 4x4 input tile with 16 multiplies per (input, output) channel pair
 * instead of 36, so the multiply work drops 2.25x. The multiplies are 16 independent GEMMs (one
 * per tile position xi), run as one batched oneDNN matmul; the transforms around them are ours.
 *
 * Notation (Lavin & Gray 2015): d a 4x4 input tile, g a 3x3 kernel, Y a 2x2 output tile.
 *   V = B^T d B      U = G g G^T      Y = A^T (U . V) A   (. elementwise, summed over channels)
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 * - forward:          M[xi] (tiles x O) = V[xi] (tiles x C) * U[xi] (C x O), then Y = A^T M A.
 * - backward-data:    the forward of dy with the kernel rotated by 180 degrees and C, O swapped,
 *                     padded by 2 - pad (dx[i] = sum_j dy[i + pad - 2 + j] w[2 - j]).
 * - backward-weights: the adjoint of the forward in g: dU[xi] (C x O) = V[xi]^T dM[xi] summed
 *                     over tiles, with dM = A dY A^T, then dw = G^T dU G.
 * Tiles past the bottom/right edge (odd output sizes) read zeros and write nothing.
 *
 * Work is done in chunks of whole images, sized so the chunk's transformed tiles (V and M) stay
 * in the last-level cache; the transformed weights are computed once per call. Every buffer is
 * in one per-backend arena (od_ctx.wino). Each transform element is computed by one thread and
 * the matmuls are deterministic for a given thread count, so results are reproducible; they
 * differ from the direct convolution by rounding only (F(2x2, 3x3) uses transform coefficients
 * 0, +-1 and +-1/2), well within the parity tolerance against the ref backend. */
#include <string.h>

#include "onednn-internal.h"

#define B8 MIA_BLOCK
/* Bytes of V + M per chunk: the forward passes keep them in the last-level cache; the
 * backward-weights pass takes larger chunks, since every chunk re-reads and re-writes dU. */
#define WINO_CHUNK_FWD ((size_t)6 << 20)
#define WINO_CHUNK_BWDW ((size_t)16 << 20)
#define K_WINO_MM 40 /* cache kind (conv 1..3, onednn-ops.c 10..) */

/* Largest transformed image (V + M of one image) taken: a chunk holds at least one image, so a
 * much larger one (64 channels at 512x512: 0.5 GB) runs the direct convolution instead. */
#define WINO_IMAGE_MAX ((size_t)32 << 20)

bool mia__od_wino_applies(const mia_conv2d_args *a)
{
    const int64_t hh = a->h > a->oh ? a->h : a->oh, ww = a->w > a->ow ? a->w : a->ow;
    const size_t per_img = (size_t)(((hh + 1) / 2) * ((ww + 1) / 2)) * 16 *
                           (size_t)(a->c + a->o) * sizeof(float);
    return per_img <= WINO_IMAGE_MAX && a->kh == 3 && a->kw == 3 && a->sh == 1 && a->sw == 1 &&
           a->groups == 1 && a->x_blocked && a->y_blocked && a->c % B8 == 0 &&
           a->o % B8 == 0 && a->c >= 16 && a->o >= 16 && a->pt >= 0 && a->pt <= 2 &&
           a->pl >= 0 && a->pl <= 2 && a->pb >= 0 && a->pb <= 2 && a->pr >= 0 && a->pr <= 2 &&
           a->oh >= 2 && a->ow >= 2;
}

/* One Winograd convolution pass: a blocked [n, ci, ih, iw] input read with offset (pt, pl)
 * (input row = output row + ky - pt), a blocked [n, co, oh, ow] output. */
typedef struct wgeom {
    int64_t n, ci, co, ih, iw, oh, ow, pt, pl;
    int64_t th, tw; /* tiles per image: ceil(oh / 2) x ceil(ow / 2) */
    int64_t nb;     /* images per chunk (divides n) */
} wgeom;

static void geom_init(wgeom *g, int64_t n, int64_t ci, int64_t co, int64_t ih, int64_t iw,
                      int64_t oh, int64_t ow, int64_t pt, int64_t pl, size_t budget)
{
    *g = (wgeom){.n = n, .ci = ci, .co = co, .ih = ih, .iw = iw, .oh = oh, .ow = ow, .pt = pt,
                 .pl = pl};
    g->th = (oh + 1) / 2;
    g->tw = (ow + 1) / 2;
    const size_t per_img = (size_t)(g->th * g->tw) * 16 * (size_t)(ci + co) * sizeof(float);
    g->nb = 1;
    for (int64_t d = n; d >= 1; d--)
        if (n % d == 0 && (size_t)d * per_img <= budget) {
            g->nb = d;
            break;
        }
}

/* ---- transforms (8 channels of a block are the 8 lanes of every loop) --------------------- */

/* v = B^T d B for a 4x4 tile d (index r * 4 + s). */
static inline void tile_bt(float d[16][B8], float v[16][B8])
{
    float t[16][B8];
    for (int s = 0; s < 4; s++)
        for (int l = 0; l < B8; l++) {
            const float d0 = d[s][l], d1 = d[4 + s][l], d2 = d[8 + s][l], d3 = d[12 + s][l];
            t[s][l] = d0 - d2;
            t[4 + s][l] = d1 + d2;
            t[8 + s][l] = d2 - d1;
            t[12 + s][l] = d1 - d3;
        }
    for (int r = 0; r < 4; r++)
        for (int l = 0; l < B8; l++) {
            const float t0 = t[4 * r][l], t1 = t[4 * r + 1][l], t2 = t[4 * r + 2][l],
                        t3 = t[4 * r + 3][l];
            v[4 * r][l] = t0 - t2;
            v[4 * r + 1][l] = t1 + t2;
            v[4 * r + 2][l] = t2 - t1;
            v[4 * r + 3][l] = t1 - t3;
        }
}

/* The 4x4 tile of plane xp ([ih][iw][8]) whose top-left input pixel is (y0, x0); zeros outside. */
static inline void load_tile(const float *xp, int64_t ih, int64_t iw, int64_t y0, int64_t x0,
                             float d[16][B8])
{
    if (y0 >= 0 && y0 + 4 <= ih && x0 >= 0 && x0 + 4 <= iw) {
        for (int r = 0; r < 4; r++)
            memcpy(d[4 * r], xp + ((y0 + r) * iw + x0) * B8, 4 * B8 * sizeof(float));
        return;
    }
    for (int r = 0; r < 4; r++)
        for (int s = 0; s < 4; s++) {
            const int64_t yy = y0 + r, xx = x0 + s;
            if (yy >= 0 && yy < ih && xx >= 0 && xx < iw)
                memcpy(d[4 * r + s], xp + (yy * iw + xx) * B8, B8 * sizeof(float));
            else
                memset(d[4 * r + s], 0, B8 * sizeof(float));
        }
}

/* The transforms run one row of tiles (image nn of the chunk, tile row ty) per call; each row
 * kernel is compiled for AVX2 too and picked at load time (the 8 lanes are then one register). */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__clang__)
#define WINO_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define WINO_CLONES
#endif

/* What a row kernel reads and writes for the chunk that starts at image n0 (output_row also
 * takes the bias and the fused ReLU). */
typedef struct wrows {
    const float *src;
    float *dst;
    const float *bias;
    bool relu;
    int64_t n0;
} wrows;

typedef void row_fn(const wgeom *g, const wrows *rw, int64_t nn, int64_t ty);

/* Run a row kernel over every row of tiles of the chunk, rows in parallel. */
static void for_rows(const wgeom *g, row_fn *fn, const wrows *rw)
{
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t nn = 0; nn < g->nb; nn++)
        for (int64_t ty = 0; ty < g->th; ty++) fn(g, rw, nn, ty);
}

/* V[xi][t][c] for one row of tiles of a blocked input (chunk from image n0). Per tile all
 * channel blocks, so each V[xi][t] row is written contiguously. */
WINO_CLONES static void input_row(const wgeom *g, const wrows *rw, int64_t nn, int64_t ty)
{
    const float *x = rw->src;
    float *V = rw->dst;
    const int64_t n0 = rw->n0;
    const int64_t CB = g->ci / B8, T = g->nb * g->th * g->tw, C = g->ci;
    const int64_t ih = g->ih, iw = g->iw, plane = ih * iw * B8;
    const float *xn = x + (n0 + nn) * CB * plane;
    for (int64_t tx = 0; tx < g->tw; tx++) {
        const int64_t t = (nn * g->th + ty) * g->tw + tx;
        for (int64_t cb = 0; cb < CB; cb++) {
            float d[16][B8], v[16][B8];
            load_tile(xn + cb * plane, ih, iw, 2 * ty - g->pt, 2 * tx - g->pl, d);
            tile_bt(d, v);
            for (int xi = 0; xi < 16; xi++)
                memcpy(V + (xi * T + t) * C + cb * B8, v[xi], B8 * sizeof(float));
        }
    }
}


/* y = A^T m A (+ bias, ReLU) for one row of tiles into a blocked output (chunk from image n0). */
WINO_CLONES static void output_row(const wgeom *g, const wrows *rw, int64_t nn, int64_t ty)
{
    const float *M = rw->src, *bias = rw->bias;
    float *y = rw->dst;
    const int64_t n0 = rw->n0;
    const bool relu = rw->relu;
    const int64_t KB = g->co / B8, T = g->nb * g->th * g->tw, K = g->co;
    const int64_t oh = g->oh, ow = g->ow;
    for (int64_t tx = 0; tx < g->tw; tx++)
        for (int64_t kb = 0; kb < KB; kb++) {
            const int64_t t = (nn * g->th + ty) * g->tw + tx;
            float *yp = y + ((n0 + nn) * KB + kb) * oh * ow * B8;
            float b[B8];
            for (int l = 0; l < B8; l++) b[l] = bias ? bias[kb * B8 + l] : 0.0f;
            float m[16][B8], a[8][B8], o[4][B8];
            for (int xi = 0; xi < 16; xi++)
                memcpy(m[xi], M + (xi * T + t) * K + kb * B8, B8 * sizeof(float));
            for (int s = 0; s < 4; s++)
                for (int l = 0; l < B8; l++) {
                    a[s][l] = m[s][l] + m[4 + s][l] + m[8 + s][l];
                    a[4 + s][l] = m[4 + s][l] - m[8 + s][l] - m[12 + s][l];
                }
            for (int r = 0; r < 2; r++)
                for (int l = 0; l < B8; l++) {
                    float o0 = a[4 * r][l] + a[4 * r + 1][l] + a[4 * r + 2][l] + b[l];
                    float o1 = a[4 * r + 1][l] - a[4 * r + 2][l] - a[4 * r + 3][l] + b[l];
                    if (relu) {
                        o0 = o0 > 0.0f ? o0 : 0.0f;
                        o1 = o1 > 0.0f ? o1 : 0.0f;
                    }
                    o[2 * r][l] = o0;
                    o[2 * r + 1][l] = o1;
                }
            for (int r = 0; r < 2; r++) {
                const int64_t yy = 2 * ty + r;
                if (yy >= oh) break;
                for (int s = 0; s < 2; s++) {
                    const int64_t xx = 2 * tx + s;
                    if (xx < ow) memcpy(yp + (yy * ow + xx) * B8, o[2 * r + s], sizeof o[0]);
                }
            }
        }
}


/* dM[xi][t][k] = (A dY A^T)[xi] for one row of 2x2 tiles of a blocked dy (chunk from image
 * n0; zeros past the edge). */
WINO_CLONES static void grad_row(const wgeom *g, const wrows *rw, int64_t nn, int64_t ty)
{
    const float *dy = rw->src;
    float *dM = rw->dst;
    const int64_t n0 = rw->n0;
    const int64_t KB = g->co / B8, T = g->nb * g->th * g->tw, K = g->co;
    const int64_t oh = g->oh, ow = g->ow;
    for (int64_t tx = 0; tx < g->tw; tx++)
        for (int64_t kb = 0; kb < KB; kb++) {
            const float *dp = dy + ((n0 + nn) * KB + kb) * oh * ow * B8;
            float q[4][B8], a[8][B8], m[16][B8];
            for (int r = 0; r < 2; r++)
                for (int s = 0; s < 2; s++) {
                    const int64_t yy = 2 * ty + r, xx = 2 * tx + s;
                    if (yy < oh && xx < ow)
                        memcpy(q[2 * r + s], dp + (yy * ow + xx) * B8, sizeof q[0]);
                    else
                        memset(q[2 * r + s], 0, sizeof q[0]);
                }
            /* rows: (q0, q0 + q1, q0 - q1, -q1) per column, then the same per row */
            for (int s = 0; s < 2; s++)
                for (int l = 0; l < B8; l++) {
                    const float q0 = q[s][l], q1 = q[2 + s][l];
                    a[s][l] = q0;
                    a[2 + s][l] = q0 + q1;
                    a[4 + s][l] = q0 - q1;
                    a[6 + s][l] = -q1;
                }
            for (int r = 0; r < 4; r++)
                for (int l = 0; l < B8; l++) {
                    const float q0 = a[2 * r][l], q1 = a[2 * r + 1][l];
                    m[4 * r][l] = q0;
                    m[4 * r + 1][l] = q0 + q1;
                    m[4 * r + 2][l] = q0 - q1;
                    m[4 * r + 3][l] = -q1;
                }
            const int64_t t = (nn * g->th + ty) * g->tw + tx;
            for (int xi = 0; xi < 16; xi++)
                memcpy(dM + (xi * T + t) * K + kb * B8, m[xi], B8 * sizeof(float));
        }
}


/* U[xi][i][j] = (G g G^T)[xi] for every kernel of an OIHW [o, c, 3, 3] weight, where
 * (i, j) = (c, o) and g = w[o][c] (forward), or (i, j) = (o, c) and g = w[o][c] rotated by 180
 * degrees (backward-data). */
static void weight_transform(const float *w, int64_t o, int64_t c, bool bwd_data, float *U)
{
    /* rows i of U in parallel, columns j innermost: each U[xi][i] row is written in order */
    const int64_t ni = bwd_data ? o : c, nj = bwd_data ? c : o;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < ni; i++)
        for (int64_t j = 0; j < nj; j++) {
            const int64_t k = bwd_data ? i : j, ch = bwd_data ? j : i;
            const float *wp = w + (k * c + ch) * 9;
            float gk[9], t[12], u[16];
            for (int q = 0; q < 9; q++) gk[q] = bwd_data ? wp[8 - q] : wp[q];
            for (int s = 0; s < 3; s++) { /* G g: rows */
                const float g0 = gk[s], g1 = gk[3 + s], g2 = gk[6 + s];
                t[s] = g0;
                t[3 + s] = 0.5f * (g0 + g1 + g2);
                t[6 + s] = 0.5f * (g0 - g1 + g2);
                t[9 + s] = g2;
            }
            for (int r = 0; r < 4; r++) { /* (G g) G^T: columns */
                const float g0 = t[3 * r], g1 = t[3 * r + 1], g2 = t[3 * r + 2];
                u[4 * r] = g0;
                u[4 * r + 1] = 0.5f * (g0 + g1 + g2);
                u[4 * r + 2] = 0.5f * (g0 - g1 + g2);
                u[4 * r + 3] = g2;
            }
            for (int xi = 0; xi < 16; xi++) U[(xi * ni + i) * nj + j] = u[xi];
        }
}

/* dw[o][c] = G^T dU[c][o] G (3x3 from 4x4). */
static void weight_grad_transform(const float *dU, int64_t o, int64_t c, float *dw)
{
#pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t k = 0; k < o; k++) {
            float m[16], t[12];
            for (int xi = 0; xi < 16; xi++) m[xi] = dU[(xi * c + ch) * o + k];
            for (int s = 0; s < 4; s++) { /* G^T m: rows */
                const float m0 = m[s], m1 = m[4 + s], m2 = m[8 + s], m3 = m[12 + s];
                t[s] = m0 + 0.5f * (m1 + m2);
                t[4 + s] = 0.5f * (m1 - m2);
                t[8 + s] = 0.5f * (m1 + m2) + m3;
            }
            float *wp = dw + (k * c + ch) * 9;
            for (int r = 0; r < 3; r++) { /* (G^T m) G: columns */
                const float m0 = t[4 * r], m1 = t[4 * r + 1], m2 = t[4 * r + 2], m3 = t[4 * r + 3];
                wp[3 * r] = m0 + 0.5f * (m1 + m2);
                wp[3 * r + 1] = 0.5f * (m1 - m2);
                wp[3 * r + 2] = 0.5f * (m1 + m2) + m3;
            }
        }
}

/* db[k] = sum over (n, y, x) of a blocked dy, in f64 per channel in a fixed order. */
static void bias_grad(const float *dy, int64_t n, int64_t o, int64_t hw, float *db)
{
    const int64_t KB = o / B8;
#pragma omp parallel for schedule(static)
    for (int64_t kb = 0; kb < KB; kb++) {
        double acc[B8] = {0};
        for (int64_t i = 0; i < n; i++) {
            const float *p = dy + (i * KB + kb) * hw * B8;
            float part[B8] = {0};
            for (int64_t s = 0; s < hw; s++)
                for (int l = 0; l < B8; l++) part[l] += p[s * B8 + l];
            for (int l = 0; l < B8; l++) acc[l] += part[l];
        }
        for (int l = 0; l < B8; l++) db[kb * B8 + l] = (float)acc[l];
    }
}

/* ---- the batched matmul ------------------------------------------------------------------- */

/* dst[16][m][n] (+)= src[16][m][k] * wei[16][k][n]; src stored transposed ([16][k][m]) when
 * trans_a; acc adds to dst. */
typedef struct mm_args {
    int64_t m, k, n;
    bool trans_a, acc;
} mm_args;

enum { MM_SRC, MM_WEI, MM_DST };

static mia_status build_mm(od_ctx *c, od_entry *e, const void *args)
{
    const mm_args *a = args;
    const dnnl_dims_t sd = {16, a->m, a->k}, wd = {16, a->k, a->n}, dd = {16, a->m, a->n};
    dnnl_memory_desc_t s, w, d;
    if (a->trans_a) {
        const dnnl_dims_t ss = {a->m * a->k, 1, a->m};
        OD_CHECK(dnnl_memory_desc_init_by_strides(&s, 3, sd, dnnl_f32, ss));
    } else {
        OD_CHECK(dnnl_memory_desc_init_by_tag(&s, 3, sd, dnnl_f32, dnnl_abc));
    }
    OD_CHECK(dnnl_memory_desc_init_by_tag(&w, 3, wd, dnnl_f32, dnnl_abc));
    OD_CHECK(dnnl_memory_desc_init_by_tag(&d, 3, dd, dnnl_f32, dnnl_abc));
    dnnl_matmul_desc_t md;
    OD_CHECK(dnnl_matmul_desc_init(&md, &s, &w, NULL, &d));
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_status_t st = dnnl_primitive_attr_clone(&attr, c->attr);
    if (st == dnnl_success && a->acc) {
        st = dnnl_post_ops_create(&po);
        if (st == dnnl_success) st = dnnl_post_ops_append_sum(po, 1.0f);
        if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(attr, po);
        if (po) dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd = NULL;
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &md, attr, c->engine, NULL);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) return mia__od_fail(st, "Winograd matmul descriptor");
    int stage;
    mia_status r = mia__od_stage(c, e, pd, &stage);
    if (r == MIA_OK) r = mia__od_user(c, e, stage, pd, DNNL_ARG_SRC, MM_SRC, false, &s);
    if (r == MIA_OK) r = mia__od_user(c, e, stage, pd, DNNL_ARG_WEIGHTS, MM_WEI, false, &w);
    if (r == MIA_OK) r = mia__od_user(c, e, stage, pd, DNNL_ARG_DST, MM_DST, true, &d);
    dnnl_primitive_desc_destroy(pd);
    return r;
}

static mia_status mm_get(mia_backend *be, mm_args a, od_entry **e)
{
    od_key k;
    OD_KEY(&k, K_WINO_MM, a.m, a.k, a.n, a.trans_a, a.acc);
    return mia__od_get(be, &k, build_mm, &a, e);
}

static mia_status mm_run(mia_backend *be, od_entry *e, const float *src, const float *wei,
                         float *dst)
{
    void *p[3] = {(void *)src, (void *)wei, dst};
    return mia__od_run(be->ctx, e, p);
}

/* ---- the three ops ------------------------------------------------------------------------ */

/* A Winograd forward pass (forward or backward-data) with transformed weights already in U. */
static mia_status wino_forward(mia_backend *be, const wgeom *g, const float *x, const float *U,
                               float *V, float *M, const float *bias, bool relu, float *y)
{
    const int64_t T = g->nb * g->th * g->tw;
    od_entry *e;
    MIA_TRY(mm_get(be, (mm_args){T, g->ci, g->co, false, false}, &e));
    for (int64_t n0 = 0; n0 < g->n; n0 += g->nb) {
        for_rows(g, input_row, &(wrows){.src = x, .dst = V, .n0 = n0});
        MIA_TRY(mm_run(be, e, V, U, M));
        for_rows(g, output_row, &(wrows){.src = M, .dst = y, .bias = bias, .relu = relu, .n0 = n0});
    }
    return MIA_OK;
}

/* Carve the arena into float buffers of the given counts (64-byte aligned each). */
static mia_status wino_buffers(mia_backend *be, int nbuf, const int64_t *count, float **out)
{
    od_ctx *c = be->ctx;
    size_t off[4], need = 0;
    for (int i = 0; i < nbuf; i++) {
        off[i] = need;
        need += ((size_t)count[i] * sizeof(float) + 63) & ~(size_t)63;
    }
    MIA_TRY(mia__od_arena_fit(&c->wino, &c->wino_cap, need));
    for (int i = 0; i < nbuf; i++) out[i] = (float *)((char *)c->wino + off[i]);
    return MIA_OK;
}

mia_status mia__od_wino_fwd(mia_backend *be, const mia_conv2d_args *a)
{
    mia__od_threads(be);
    wgeom g;
    geom_init(&g, a->n, a->c, a->o, a->h, a->w, a->oh, a->ow, a->pt, a->pl, WINO_CHUNK_FWD);
    const int64_t T = g.nb * g.th * g.tw;
    float *buf[3];
    MIA_TRY(wino_buffers(be, 3, (const int64_t[]){16 * a->c * a->o, 16 * T * a->c, 16 * T * a->o},
                         buf));
    weight_transform(a->wt, a->o, a->c, false, buf[0]);
    return wino_forward(be, &g, a->x, buf[0], buf[1], buf[2], a->b, a->relu, a->y);
}

mia_status mia__od_wino_bwd_data(mia_backend *be, const mia_conv2d_args *a)
{
    mia__od_threads(be);
    wgeom g;
    geom_init(&g, a->n, a->o, a->c, a->oh, a->ow, a->h, a->w, 2 - a->pt, 2 - a->pl,
              WINO_CHUNK_FWD);
    const int64_t T = g.nb * g.th * g.tw;
    float *buf[3];
    MIA_TRY(wino_buffers(be, 3, (const int64_t[]){16 * a->c * a->o, 16 * T * a->o, 16 * T * a->c},
                         buf));
    weight_transform(a->wt, a->o, a->c, true, buf[0]);
    return wino_forward(be, &g, a->dy, buf[0], buf[1], buf[2], NULL, false, a->dx);
}

mia_status mia__od_wino_bwd_weights(mia_backend *be, const mia_conv2d_args *a)
{
    mia__od_threads(be);
    wgeom g;
    /* every chunk reads and rewrites all of dU: chunks at least as large as it keep that
     * traffic at most half of the chunk's */
    const size_t du_bytes = (size_t)(16 * a->c * a->o) * sizeof(float);
    geom_init(&g, a->n, a->c, a->o, a->h, a->w, a->oh, a->ow, a->pt, a->pl,
              du_bytes > WINO_CHUNK_BWDW ? du_bytes : WINO_CHUNK_BWDW);
    const int64_t T = g.nb * g.th * g.tw;
    float *buf[3];
    MIA_TRY(wino_buffers(be, 3, (const int64_t[]){16 * a->c * a->o, 16 * T * a->c, 16 * T * a->o},
                         buf));
    float *dU = buf[0], *V = buf[1], *dM = buf[2];
    od_entry *first, *rest;
    MIA_TRY(mm_get(be, (mm_args){a->c, T, a->o, true, false}, &first));
    MIA_TRY(mm_get(be, (mm_args){a->c, T, a->o, true, true}, &rest));
    for (int64_t n0 = 0; n0 < g.n; n0 += g.nb) {
        for_rows(&g, input_row, &(wrows){.src = a->x, .dst = V, .n0 = n0});
        for_rows(&g, grad_row, &(wrows){.src = a->dy, .dst = dM, .n0 = n0});
        MIA_TRY(mm_run(be, n0 == 0 ? first : rest, V, dM, dU));
    }
    weight_grad_transform(dU, a->o, a->c, a->dw);
    if (a->db) bias_grad(a->dy, a->n, a->o, a->oh * a->ow, a->db);
    return MIA_OK;
}
