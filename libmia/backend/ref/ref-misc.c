/* ref bias, elementwise binary ops, channel multiply (squeeze-excite) and dropout. */
#include "core/rng.h"
#include "ref.h"

mia_status mia__ref_bias_add(mia_backend *be, const mia_bias_args *a)
{
    (void)be;
    for (int64_t o = 0; o < a->outer; o++)
        for (int64_t c = 0; c < a->c; c++) {
            float *y = a->y + (o * a->c + c) * a->inner;
            const float b = a->b[c];
            for (int64_t i = 0; i < a->inner; i++) y[i] += b;
        }
    return MIA_OK;
}

mia_status mia__ref_bias_grad(mia_backend *be, const mia_bias_args *a)
{
    (void)be;
    for (int64_t c = 0; c < a->c; c++) {
        double s = 0.0;
        for (int64_t o = 0; o < a->outer; o++) {
            const float *dy = a->dy + (o * a->c + c) * a->inner;
            for (int64_t i = 0; i < a->inner; i++) s += (double)dy[i];
        }
        a->db[c] = (float)s;
    }
    return MIA_OK;
}

mia_status mia__ref_add(mia_backend *be, const mia_binary_args *a)
{
    (void)be;
    for (int64_t i = 0; i < a->count; i++) a->y[i] = a->a[i] + a->b[i];
    return MIA_OK;
}

mia_status mia__ref_axpy(mia_backend *be, const mia_binary_args *a)
{
    (void)be;
    for (int64_t i = 0; i < a->count; i++) a->y[i] += a->alpha * a->a[i];
    return MIA_OK;
}

mia_status mia__ref_mul(mia_backend *be, const mia_binary_args *a)
{
    (void)be;
    for (int64_t i = 0; i < a->count; i++) a->y[i] = a->a[i] * a->b[i];
    return MIA_OK;
}

mia_status mia__ref_scale(mia_backend *be, const mia_binary_args *a)
{
    (void)be;
    for (int64_t i = 0; i < a->count; i++) a->y[i] = a->alpha * a->a[i];
    return MIA_OK;
}

mia_status mia__ref_chmul_fwd(mia_backend *be, const mia_chmul_args *a)
{
    if (a->blocked) return mia__ref_chmul_unblocked(be, a, mia__ref_chmul_fwd);
    (void)be;
    for (int64_t p = 0; p < a->n * a->c; p++) {
        const float s = a->s[p];
        for (int64_t i = 0; i < a->hw; i++) a->y[p * a->hw + i] = a->x[p * a->hw + i] * s;
    }
    return MIA_OK;
}

mia_status mia__ref_chmul_bwd(mia_backend *be, const mia_chmul_args *a)
{
    if (a->blocked) return mia__ref_chmul_unblocked(be, a, mia__ref_chmul_bwd);
    (void)be;
    for (int64_t p = 0; p < a->n * a->c; p++) {
        const float s = a->s[p];
        double acc = 0.0;
        for (int64_t i = 0; i < a->hw; i++) {
            const int64_t k = p * a->hw + i;
            const float dy = a->dy[k];
            acc += (double)dy * (double)a->x[k];
            if (a->dx) a->dx[k] = dy * s; /* after reading dy: dx may alias dy */
        }
        if (a->ds) a->ds[p] = (float)acc;
    }
    return MIA_OK;
}

/* Shared by fwd and bwd: out[i] = keep(i) ? in[i] * (1 / (1 - p)) : 0. */
static void dropout_apply(const mia_dropout_args *a, const float *in, float *out)
{
    const float scale = 1.0f / (1.0f - a->p);
    const uint64_t stream = (uint64_t)MIA_STREAM_DROPOUT ^ a->stream;
    uint32_t word[4];
    for (int64_t i = 0; i < a->count; i++) {
        if (i % 4 == 0) mia__philox(a->seed, stream, (uint64_t)(i / 4), word);
        out[i] = mia__u32_to_unit(word[i % 4]) >= a->p ? in[i] * scale : 0.0f;
    }
}

mia_status mia__ref_dropout_fwd(mia_backend *be, const mia_dropout_args *a)
{
    (void)be;
    dropout_apply(a, a->x, a->y);
    return MIA_OK;
}

mia_status mia__ref_dropout_bwd(mia_backend *be, const mia_dropout_args *a)
{
    (void)be;
    dropout_apply(a, a->dy, a->dx);
    return MIA_OK;
}
