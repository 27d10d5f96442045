/* Adam and SGD-with-momentum parameter updates (ops.h). Pure elementwise: deterministic. */
#include "common.cuh"
#include "optim.cuh"

static __global__ void adam_kernel(mia_adam_args a, float omb1, float omb2, float neg_step,
                                   float bc2_sqrt)
{
    MIA_CU_LOOP(i, a.count)
        mia_cu_adam1(&a.param[i], &a.m[i], &a.v[i], a.grad[i], a.weight_decay, a.beta1, a.beta2,
                     omb1, omb2, a.eps, neg_step, bc2_sqrt);
}

static __global__ void sgd_kernel(mia_sgd_args a)
{
    /* same f32 operation order as mia__ref_sgd_step */
    const float mu = a.momentum, omd = (float)(1.0 - (double)a.dampening);
    MIA_CU_LOOP(i, a.count) {
        float g = a.grad[i];
        if (a.weight_decay != 0.0f) g = g + a.weight_decay * a.param[i];
        if (mu != 0.0f) {
            float b = a.step == 1 ? g : a.buf[i] * mu + omd * g;
            a.buf[i] = b;
            g = a.nesterov ? g + mu * b : b;
        }
        a.param[i] = a.param[i] + (-a.lr) * g;
    }
}

extern "C" mia_status mia__cuda_adam_step(mia_backend *be, const mia_adam_args *a)
{
    MIA_CU_BEGIN(be, st);
    const double t = (double)a->step;
    const double bc1 = 1.0 - pow((double)a->beta1, t), bc2 = 1.0 - pow((double)a->beta2, t);
    const float neg_step = (float)(-((double)a->lr / bc1)), bc2_sqrt = (float)sqrt(bc2);
    const float omb1 = (float)(1.0 - (double)a->beta1), omb2 = (float)(1.0 - (double)a->beta2);
    adam_kernel<<<mia_cu_blocks(a->count), MIA_CU_THREADS, 0, st>>>(*a, omb1, omb2, neg_step,
                                                                    bc2_sqrt);
    MIA_CU_CHECK_LAUNCH("adam_step");
    return MIA_OK;
}

extern "C" mia_status mia__cuda_sgd_step(mia_backend *be, const mia_sgd_args *a)
{
    MIA_CU_BEGIN(be, st);
    if (a->momentum != 0.0f && !a->buf)
        return MIA_ERROR(MIA_ERR_INVALID, "sgd: momentum %g needs a buf", (double)a->momentum);
    sgd_kernel<<<mia_cu_blocks(a->count), MIA_CU_THREADS, 0, st>>>(*a);
    MIA_CU_CHECK_LAUNCH("sgd_step");
    return MIA_OK;
}
