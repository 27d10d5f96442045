/* Optimiser state (Adam m, v; SGD momentum buffers) and learning-rate schedules. The update
 * arithmetic itself is the backend's (mia__adam_step / mia__sgd_step, PyTorch semantics). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <mia/graph.h>

#include "train-internal.h"
#include "backend/ops.h"
#include "tensor/tensor-impl.h"

typedef struct oparam {
    mia_tensor *value, *grad; /* borrowed from the graph */
    mia_tensor *m, *v;        /* Adam: m, v; SGD: m = momentum buffer, v = NULL */
    char *name_m, *name_v;
} oparam;

struct mia_optim_state {
    mia_backend *be;
    mia_train_opts o;
    oparam *p;
    size_t n;
};

void mia__optim_free(mia_optim_state *os)
{
    if (!os) return;
    for (size_t i = 0; i < os->n; i++) {
        mia_tensor_free(os->p[i].m);
        mia_tensor_free(os->p[i].v);
        mia__free(os->p[i].name_m);
        mia__free(os->p[i].name_v);
    }
    mia__free(os->p);
    mia__free(os);
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = mia__malloc(n);
    if (s) snprintf(s, n, "%s%s", a, b);
    return s;
}

mia_status mia__optim_create(mia_optim_state **out, mia_model *m, const mia_train_opts *o)
{
    *out = NULL;
    mia_graph *g = mia_model_graph(m);
    mia_optim_state *os = mia__calloc(1, sizeof *os);
    if (!os) return MIA_ERROR(MIA_ERR_NOMEM, "optimiser state");
    os->be = mia_graph_backend(g);
    os->o = *o;
    size_t np = mia_graph_param_count(g);
    os->p = mia__calloc(np ? np : 1, sizeof *os->p);
    if (!os->p) {
        mia__free(os);
        return MIA_ERROR(MIA_ERR_NOMEM, "optimiser state");
    }
    bool need_v = o->optimizer == MIA_OPTIM_ADAM;
    bool need_m = need_v || o->momentum != 0.0;
    for (size_t i = 0; i < np; i++) {
        mia_param_info pi;
        mia_status s = mia_graph_param(g, i, &pi);
        if (s != MIA_OK) {
            mia__optim_free(os);
            return s;
        }
        if (pi.kind != MIA_PARAM_KIND_PARAM || pi.detached) continue;
        oparam *p = &os->p[os->n++];
        p->value = pi.value;
        p->grad = pi.grad;
        const int64_t *shape = mia_tensor_shape(pi.value);
        int nd = mia_tensor_ndim(pi.value);
        s = MIA_OK;
        if (need_m) {
            p->name_m = join(need_v ? "optim.m." : "optim.momentum.", pi.name);
            if (!p->name_m) s = MIA_ERROR(MIA_ERR_NOMEM, "optimiser state");
            if (s == MIA_OK) s = mia_tensor_create(&p->m, os->be, MIA_DTYPE_F32, nd, shape);
        }
        if (s == MIA_OK && need_v) {
            p->name_v = join("optim.v.", pi.name);
            if (!p->name_v) s = MIA_ERROR(MIA_ERR_NOMEM, "optimiser state");
            if (s == MIA_OK) s = mia_tensor_create(&p->v, os->be, MIA_DTYPE_F32, nd, shape);
        }
        if (s != MIA_OK) {
            mia__optim_free(os);
            return s;
        }
    }
    *out = os;
    return MIA_OK;
}

mia_status mia__optim_step(mia_optim_state *os, double lr, int64_t step)
{
    const mia_train_opts *o = &os->o;
    for (size_t i = 0; i < os->n; i++) {
        oparam *p = &os->p[i];
        if (o->optimizer == MIA_OPTIM_ADAM) {
            mia_adam_args a = {.count = mia_tensor_numel(p->value), .step = step,
                               .lr = (float)lr, .beta1 = (float)o->beta1,
                               .beta2 = (float)o->beta2, .eps = (float)o->eps,
                               .weight_decay = (float)o->weight_decay,
                               .param = mia__tensor_f32(p->value), .m = mia__tensor_f32(p->m),
                               .v = mia__tensor_f32(p->v), .grad = mia__tensor_f32(p->grad)};
            MIA_TRY(mia__adam_step(os->be, &a));
        } else {
            mia_sgd_args a = {.count = mia_tensor_numel(p->value), .step = step,
                              .lr = (float)lr, .momentum = (float)o->momentum,
                              .dampening = (float)o->dampening,
                              .weight_decay = (float)o->weight_decay, .nesterov = o->nesterov,
                              .param = mia__tensor_f32(p->value),
                              .buf = p->m ? mia__tensor_f32(p->m) : NULL,
                              .grad = mia__tensor_f32(p->grad)};
            MIA_TRY(mia__sgd_step(os->be, &a));
        }
    }
    return MIA_OK;
}

double mia__lr_at(const mia_train_opts *o, int64_t epoch)
{
    switch (o->schedule) {
    case MIA_SCHEDULE_STEP:
        return o->lr * pow(o->gamma, (double)(epoch / (o->step_size > 0 ? o->step_size : 1)));
    case MIA_SCHEDULE_COSINE: {
        const double pi = 3.14159265358979323846;
        double t = o->epochs > 0 ? (double)epoch / (double)o->epochs : 0.0;
        return o->min_lr + (o->lr - o->min_lr) * (1.0 + cos(pi * t)) / 2.0;
    }
    default:
        return o->lr;
    }
}

size_t mia__optim_n_state(const mia_optim_state *os)
{
    size_t n = 0;
    for (size_t i = 0; i < os->n; i++) n += (os->p[i].m != NULL) + (os->p[i].v != NULL);
    return n;
}

static const oparam *state_at(const mia_optim_state *os, size_t i, bool *is_v)
{
    for (size_t j = 0; j < os->n; j++) {
        const oparam *p = &os->p[j];
        if (p->m) {
            if (i == 0) {
                *is_v = false;
                return p;
            }
            i--;
        }
        if (p->v) {
            if (i == 0) {
                *is_v = true;
                return p;
            }
            i--;
        }
    }
    return NULL;
}

const char *mia__optim_state_name(const mia_optim_state *os, size_t i)
{
    bool v;
    const oparam *p = state_at(os, i, &v);
    return p ? (v ? p->name_v : p->name_m) : NULL;
}

mia_tensor *mia__optim_state_tensor(const mia_optim_state *os, size_t i)
{
    bool v;
    const oparam *p = state_at(os, i, &v);
    return p ? (v ? p->v : p->m) : NULL;
}
