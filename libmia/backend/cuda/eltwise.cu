/* Elementwise activations (forward from x, backward from x and dy). y may alias x, dx dy. */
#include "common.cuh"
#include "eltwise.cuh"

static __global__ void act_fwd_kernel(mia_act act, float alpha, int64_t count, const float *x, float *y)
{
    MIA_CU_LOOP(i, count) y[i] = mia_cu_act_fwd(act, alpha, x[i]);
}

static __global__ void act_bwd_kernel(mia_act act, float alpha, int64_t count, const float *x,
                               const float *dy, float *dx)
{
    MIA_CU_LOOP(i, count) dx[i] = mia_cu_act_bwd(act, alpha, x[i], dy[i]);
}

static mia_status check_act(mia_act act)
{
    if ((int)act < (int)MIA_ACT_RELU || (int)act > (int)MIA_ACT_IDENTITY)
        return MIA_ERROR(MIA_ERR_INVALID, "eltwise: unknown activation %d", (int)act);
    return MIA_OK;
}

extern "C" mia_status mia__cuda_eltwise_fwd(mia_backend *be, const mia_eltwise_args *a)
{
    MIA_TRY(check_act(a->act));
    MIA_CU_BEGIN(be, st);
    act_fwd_kernel<<<mia_cu_blocks(a->count), MIA_CU_THREADS, 0, st>>>(a->act, a->alpha, a->count,
                                                                       a->x, a->y);
    MIA_CU_CHECK_LAUNCH("eltwise_fwd");
    return MIA_OK;
}

extern "C" mia_status mia__cuda_eltwise_bwd(mia_backend *be, const mia_eltwise_args *a)
{
    MIA_TRY(check_act(a->act));
    MIA_CU_BEGIN(be, st);
    act_bwd_kernel<<<mia_cu_blocks(a->count), MIA_CU_THREADS, 0, st>>>(a->act, a->alpha, a->count,
                                                                       a->x, a->dy, a->dx);
    MIA_CU_CHECK_LAUNCH("eltwise_bwd");
    return MIA_OK;
}
