/*
 * 2-D convolution on the GPU.
 * - General (grouped) convs: im2col + one cuBLAS strided-batched GEMM per chunk of images
 *   (batch = groups); bwd_data is GEMM (W^T dy) + col2im; bwd_weights is GEMM (dy col^T)
 *   accumulated over chunks with beta = 1.
 * - Depthwise convs (groups == c, o = c * multiplier): direct kernels.
 * Every output element is written by exactly one thread with a fixed summation order
 * (col2im and depthwise bwd gather instead of scattering), so there are no atomics and the
 * results are bit-identical run to run regardless of opts.deterministic.
 */
#include "common.cuh"
#include "conv.cuh"

typedef struct mia_cu_conv_geom geom;

/* Workspace budget for one chunk (columns + transposed outputs). */
#define CONV_CHUNK_BYTES ((size_t)512 << 20)

static __global__ void im2col_kernel(const float *__restrict__ x, float *__restrict__ col, geom g)
{
    const int64_t ohw = g.oh * g.ow, ldcol = g.nb * ohw, khkw = g.kh * g.kw;
    const int64_t total = g.c * khkw * ldcol;
    MIA_CU_LOOP(idx, total) {
        int64_t r = idx / ldcol, q = idx - r * ldcol;
        int64_t img = q / ohw, p = q - img * ohw;
        int64_t oy = p / g.ow, ox = p - oy * g.ow;
        int64_t ci = r / khkw, kk = r - ci * khkw;
        int64_t ki = kk / g.kw, kj = kk - ki * g.kw;
        int64_t iy = oy * g.sh - g.pt + ki, ix = ox * g.sw - g.pl + kj;
        float v = 0.0f;
        if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) v = x[((img * g.c + ci) * g.h + iy) * g.w + ix];
        col[idx] = v;
    }
}

/* dx[img, ci, iy, ix] = sum over (ki, kj) that map onto it of col[(ci, ki, kj)][(img, oy, ox)]. */
static __global__ void col2im_kernel(const float *__restrict__ col, float *__restrict__ dx, geom g)
{
    const int64_t ohw = g.oh * g.ow, ldcol = g.nb * ohw, khkw = g.kh * g.kw;
    const int64_t total = g.nb * g.c * g.h * g.w;
    MIA_CU_LOOP(idx, total) {
        int64_t ix = idx % g.w, t = idx / g.w;
        int64_t iy = t % g.h;
        t /= g.h;
        int64_t ci = t % g.c, img = t / g.c;
        float acc = 0.0f;
        for (int64_t ki = 0; ki < g.kh; ki++) {
            int64_t ty = iy + g.pt - ki;
            if (ty < 0 || ty % g.sh) continue;
            int64_t oy = ty / g.sh;
            if (oy >= g.oh) continue;
            for (int64_t kj = 0; kj < g.kw; kj++) {
                int64_t tx = ix + g.pl - kj;
                if (tx < 0 || tx % g.sw) continue;
                int64_t ox = tx / g.sw;
                if (ox >= g.ow) continue;
                acc += col[(ci * khkw + ki * g.kw + kj) * ldcol + img * ohw + oy * g.ow + ox];
            }
        }
        dx[idx] = acc;
    }
}

/* y[img, oc, p] = tmp[oc][img * ohw + p] + b[oc] */
static __global__ void unfold_out_kernel(const float *__restrict__ tmp, const float *__restrict__ b,
                                  float *__restrict__ y, geom g)
{
    const int64_t ohw = g.oh * g.ow, ldcol = g.nb * ohw, total = g.nb * g.o * ohw;
    MIA_CU_LOOP(idx, total) {
        int64_t p = idx % ohw, t = idx / ohw;
        int64_t oc = t % g.o, img = t / g.o;
        float v = tmp[oc * ldcol + img * ohw + p];
        y[idx] = b ? v + b[oc] : v;
    }
}

/* dyT[oc][img * ohw + p] = dy[img, oc, p] */
static __global__ void fold_dy_kernel(const float *__restrict__ dy, float *__restrict__ dyt, geom g)
{
    const int64_t ohw = g.oh * g.ow, ldcol = g.nb * ohw, total = g.nb * g.o * ohw;
    MIA_CU_LOOP(idx, total) {
        int64_t q = idx % ldcol, oc = idx / ldcol;
        int64_t img = q / ohw, p = q - img * ohw;
        dyt[idx] = dy[(img * g.o + oc) * ohw + p];
    }
}

/* ---- depthwise (groups == c; output channel oc reads input channel oc / mult) ---------------- */

static __global__ void dw_fwd_kernel(const float *__restrict__ x, const float *__restrict__ wt,
                              const float *__restrict__ b, float *__restrict__ y, geom g)
{
    const int64_t mult = g.o / g.c, total = g.nb * g.o * g.oh * g.ow;
    MIA_CU_LOOP(idx, total) {
        int64_t ox = idx % g.ow, t = idx / g.ow;
        int64_t oy = t % g.oh;
        t /= g.oh;
        int64_t oc = t % g.o, img = t / g.o;
        const float *xp = x + (img * g.c + oc / mult) * g.h * g.w;
        const float *wp = wt + oc * g.kh * g.kw;
        float acc = 0.0f;
        for (int64_t ki = 0; ki < g.kh; ki++) {
            int64_t iy = oy * g.sh - g.pt + ki;
            if (iy < 0 || iy >= g.h) continue;
            for (int64_t kj = 0; kj < g.kw; kj++) {
                int64_t ix = ox * g.sw - g.pl + kj;
                if (ix < 0 || ix >= g.w) continue;
                acc += xp[iy * g.w + ix] * wp[ki * g.kw + kj];
            }
        }
        y[idx] = b ? acc + b[oc] : acc;
    }
}

static __global__ void dw_bwd_data_kernel(const float *__restrict__ dy, const float *__restrict__ wt,
                                   float *__restrict__ dx, geom g)
{
    const int64_t mult = g.o / g.c, total = g.nb * g.c * g.h * g.w;
    MIA_CU_LOOP(idx, total) {
        int64_t ix = idx % g.w, t = idx / g.w;
        int64_t iy = t % g.h;
        t /= g.h;
        int64_t ci = t % g.c, img = t / g.c;
        float acc = 0.0f;
        for (int64_t m = 0; m < mult; m++) {
            int64_t oc = ci * mult + m;
            const float *dyp = dy + (img * g.o + oc) * g.oh * g.ow;
            const float *wp = wt + oc * g.kh * g.kw;
            for (int64_t ki = 0; ki < g.kh; ki++) {
                int64_t ty = iy + g.pt - ki;
                if (ty < 0 || ty % g.sh) continue;
                int64_t oy = ty / g.sh;
                if (oy >= g.oh) continue;
                for (int64_t kj = 0; kj < g.kw; kj++) {
                    int64_t tx = ix + g.pl - kj;
                    if (tx < 0 || tx % g.sw) continue;
                    int64_t ox = tx / g.sw;
                    if (ox >= g.ow) continue;
                    acc += dyp[oy * g.ow + ox] * wp[ki * g.kw + kj];
                }
            }
        }
        dx[idx] = acc;
    }
}

/* One block per weight (oc, ki, kj): dw = sum over (img, oy, ox) of dy * x, f64 accumulation. */
static __global__ void dw_bwd_weights_kernel(const float *__restrict__ x, const float *__restrict__ dy,
                                      float *__restrict__ dw, geom g)
{
    __shared__ double sh[32];
    const int64_t mult = g.o / g.c, khkw = g.kh * g.kw, ohw = g.oh * g.ow;
    const int64_t widx = blockIdx.x;
    const int64_t oc = widx / khkw, kk = widx - oc * khkw, ki = kk / g.kw, kj = kk - ki * g.kw;
    const int64_t ci = oc / mult, total = g.nb * ohw;
    double acc = 0.0;
    for (int64_t q = threadIdx.x; q < total; q += blockDim.x) {
        int64_t img = q / ohw, p = q - img * ohw, oy = p / g.ow, ox = p - oy * g.ow;
        int64_t iy = oy * g.sh - g.pt + ki, ix = ox * g.sw - g.pl + kj;
        if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
        acc += (double)dy[(img * g.o + oc) * ohw + p] *
               (double)x[((img * g.c + ci) * g.h + iy) * g.w + ix];
    }
    acc = mia_cu_block_sum(acc, sh);
    if (threadIdx.x == 0) dw[widx] = (float)acc;
}

/* ---- host side --------------------------------------------------------------------------- */

static geom make_geom(const mia_conv2d_args *a, int64_t nb)
{
    geom g;
    g.c = a->c; g.h = a->h; g.w = a->w; g.o = a->o; g.oh = a->oh; g.ow = a->ow;
    g.kh = a->kh; g.kw = a->kw; g.sh = a->sh; g.sw = a->sw; g.pt = a->pt; g.pl = a->pl;
    g.nb = nb;
    return g;
}

static bool is_depthwise(const mia_conv2d_args *a) { return a->groups > 1 && a->groups == a->c; }

/* Images per chunk so that columns + one transposed output fit the budget (at least one). */
static int64_t chunk_images(const mia_conv2d_args *a)
{
    const int64_t ckk = a->c * a->kh * a->kw, ohw = a->oh * a->ow;
    const int64_t per_img = (ckk + a->o) * ohw * (int64_t)sizeof(float);
    int64_t nb = (int64_t)(CONV_CHUNK_BYTES / (size_t)(per_img > 0 ? per_img : 1));
    if (nb < 1) nb = 1;
    if (nb > a->n) nb = a->n;
    while (nb > 1 && nb * ohw > INT32_MAX / 2) nb /= 2; /* cuBLAS takes int dimensions */
    return nb;
}

static mia_status conv_workspace(mia_backend *be, const mia_conv2d_args *a, int64_t nb,
                                 float **col, float **tmp)
{
    const int64_t ckk = a->c * a->kh * a->kw, ldcol = nb * a->oh * a->ow;
    void *ws = NULL;
    MIA_TRY(mia__cuda_scratch(be, (size_t)((ckk + a->o) * ldcol) * sizeof(float), &ws));
    *col = (float *)ws;
    *tmp = *col + ckk * ldcol;
    return MIA_OK;
}

static mia_status conv_fwd(mia_backend *be, const mia_conv2d_args *a);

/* The fused ReLU runs as the eltwise kernel over the output. */
extern "C" mia_status mia__cuda_conv2d_fwd(mia_backend *be, const mia_conv2d_args *a)
{
    MIA_TRY(conv_fwd(be, a));
    if (!a->relu) return MIA_OK;
    mia_eltwise_args e = {};
    e.act = MIA_ACT_RELU;
    e.count = a->n * a->o * a->oh * a->ow;
    e.x = a->y;
    e.y = a->y;
    return mia__cuda_eltwise_fwd(be, &e);
}

static mia_status conv_fwd(mia_backend *be, const mia_conv2d_args *a)
{
    MIA_CU_BEGIN(be, st);
    if (is_depthwise(a)) {
        geom g = make_geom(a, a->n);
        dw_fwd_kernel<<<mia_cu_blocks(a->n * a->o * a->oh * a->ow), MIA_CU_THREADS, 0, st>>>(
            a->x, a->wt, a->b, a->y, g);
        MIA_CU_CHECK_LAUNCH("conv2d_fwd (depthwise)");
        return MIA_OK;
    }
    const int64_t nb0 = chunk_images(a), ohw = a->oh * a->ow, G = a->groups;
    const int64_t og = a->o / G, ckkg = a->c / G * a->kh * a->kw;
    float *col, *tmp;
    MIA_TRY(conv_workspace(be, a, nb0, &col, &tmp));
    for (int64_t i0 = 0; i0 < a->n; i0 += nb0) {
        const int64_t nb = a->n - i0 < nb0 ? a->n - i0 : nb0, ldcol = nb * ohw;
        geom g = make_geom(a, nb);
        im2col_kernel<<<mia_cu_blocks(a->c * a->kh * a->kw * ldcol), MIA_CU_THREADS, 0, st>>>(
            a->x + i0 * a->c * a->h * a->w, col, g);
        MIA_CU_CHECK_LAUNCH("conv2d_fwd (im2col)");
        /* tmp_g[og, ldcol] = W_g[og, ckkg] x col_g[ckkg, ldcol], one batch entry per group */
        MIA_TRY(mia__cuda_sgemm(be, false, false, og, ldcol, ckkg, 1.0f, a->wt, ckkg, og * ckkg,
                                col, ldcol, ckkg * ldcol, 0.0f, tmp, ldcol, og * ldcol, G));
        unfold_out_kernel<<<mia_cu_blocks(nb * a->o * ohw), MIA_CU_THREADS, 0, st>>>(
            tmp, a->b, a->y + i0 * a->o * ohw, g);
        MIA_CU_CHECK_LAUNCH("conv2d_fwd (output)");
    }
    return MIA_OK;
}

extern "C" mia_status mia__cuda_conv2d_bwd_data(mia_backend *be, const mia_conv2d_args *a)
{
    MIA_CU_BEGIN(be, st);
    if (is_depthwise(a)) {
        geom g = make_geom(a, a->n);
        dw_bwd_data_kernel<<<mia_cu_blocks(a->n * a->c * a->h * a->w), MIA_CU_THREADS, 0, st>>>(
            a->dy, a->wt, a->dx, g);
        MIA_CU_CHECK_LAUNCH("conv2d_bwd_data (depthwise)");
        return MIA_OK;
    }
    const int64_t nb0 = chunk_images(a), ohw = a->oh * a->ow, G = a->groups;
    const int64_t og = a->o / G, ckkg = a->c / G * a->kh * a->kw;
    float *col, *dyt;
    MIA_TRY(conv_workspace(be, a, nb0, &col, &dyt));
    for (int64_t i0 = 0; i0 < a->n; i0 += nb0) {
        const int64_t nb = a->n - i0 < nb0 ? a->n - i0 : nb0, ldcol = nb * ohw;
        geom g = make_geom(a, nb);
        fold_dy_kernel<<<mia_cu_blocks(nb * a->o * ohw), MIA_CU_THREADS, 0, st>>>(
            a->dy + i0 * a->o * ohw, dyt, g);
        MIA_CU_CHECK_LAUNCH("conv2d_bwd_data (fold dy)");
        /* col_g[ckkg, ldcol] = W_g^T[ckkg, og] x dyT_g[og, ldcol] */
        MIA_TRY(mia__cuda_sgemm(be, true, false, ckkg, ldcol, og, 1.0f, a->wt, ckkg, og * ckkg,
                                dyt, ldcol, og * ldcol, 0.0f, col, ldcol, ckkg * ldcol, G));
        col2im_kernel<<<mia_cu_blocks(nb * a->c * a->h * a->w), MIA_CU_THREADS, 0, st>>>(
            col, a->dx + i0 * a->c * a->h * a->w, g);
        MIA_CU_CHECK_LAUNCH("conv2d_bwd_data (col2im)");
    }
    return MIA_OK;
}

extern "C" mia_status mia__cuda_conv2d_bwd_weights(mia_backend *be, const mia_conv2d_args *a)
{
    MIA_CU_BEGIN(be, st);
    if (a->db) {
        mia_bias_args ba = {};
        ba.outer = a->n;
        ba.c = a->o;
        ba.inner = a->oh * a->ow;
        ba.dy = a->dy;
        ba.db = a->db;
        MIA_TRY(mia__cuda_bias_grad(be, &ba));
    }
    if (!a->dw) return MIA_OK;
    if (is_depthwise(a)) {
        geom g = make_geom(a, a->n);
        dw_bwd_weights_kernel<<<(unsigned)(a->o * a->kh * a->kw), MIA_CU_THREADS, 0, st>>>(
            a->x, a->dy, a->dw, g);
        MIA_CU_CHECK_LAUNCH("conv2d_bwd_weights (depthwise)");
        return MIA_OK;
    }
    const int64_t nb0 = chunk_images(a), ohw = a->oh * a->ow, G = a->groups;
    const int64_t og = a->o / G, ckkg = a->c / G * a->kh * a->kw;
    float *col, *dyt;
    MIA_TRY(conv_workspace(be, a, nb0, &col, &dyt));
    for (int64_t i0 = 0; i0 < a->n; i0 += nb0) {
        const int64_t nb = a->n - i0 < nb0 ? a->n - i0 : nb0, ldcol = nb * ohw;
        geom g = make_geom(a, nb);
        im2col_kernel<<<mia_cu_blocks(a->c * a->kh * a->kw * ldcol), MIA_CU_THREADS, 0, st>>>(
            a->x + i0 * a->c * a->h * a->w, col, g);
        MIA_CU_CHECK_LAUNCH("conv2d_bwd_weights (im2col)");
        fold_dy_kernel<<<mia_cu_blocks(nb * a->o * ohw), MIA_CU_THREADS, 0, st>>>(
            a->dy + i0 * a->o * ohw, dyt, g);
        MIA_CU_CHECK_LAUNCH("conv2d_bwd_weights (fold dy)");
        /* dW_g[og, ckkg] (+)= dyT_g[og, ldcol] x col_g^T[ldcol, ckkg]; chunks accumulate in
         * order, so the sum over images has a fixed association. */
        MIA_TRY(mia__cuda_sgemm(be, false, true, og, ckkg, ldcol, 1.0f, dyt, ldcol, og * ldcol,
                                col, ldcol, ckkg * ldcol, i0 == 0 ? 0.0f : 1.0f, a->dw, ckkg,
                                og * ckkg, G));
    }
    return MIA_OK;
}
