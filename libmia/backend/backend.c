/* Backend registry, creation, and dispatch of compute ops with argument checks and the
 * host fallback to ref for ops a host backend does not implement. */
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <unistd.h>

#include "backend-impl.h"
#include "ref/ref.h"

/* Priority order: cuda > onednn > ref. */
static const struct mia_backend_ops *const g_all[] = {
#if MIA_HAVE_CUDA
    &mia__cuda_backend_ops,
#endif
#if MIA_HAVE_ONEDNN
    &mia__onednn_backend_ops,
#endif
    &mia__ref_backend_ops,
};
#define N_ALL (sizeof g_all / sizeof g_all[0])

static const struct mia_backend_ops *g_enabled[N_ALL];
static size_t g_n_enabled;
static once_flag g_once = ONCE_FLAG_INIT;

static bool disabled_by_env(const char *name)
{
    const char *env = getenv("MIA_DISABLE_BACKENDS");
    if (!env) return false;
    size_t len = strlen(name);
    for (const char *p = env; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && strncmp(p, name, n) == 0) return true;
        if (!end) break;
        p = end + 1;
    }
    return false;
}

static void registry_init(void)
{
    for (size_t i = 0; i < N_ALL; i++) {
        /* ref can never be disabled: it is the fallback. */
        if (strcmp(g_all[i]->name, "ref") != 0 && disabled_by_env(g_all[i]->name)) continue;
        g_enabled[g_n_enabled++] = g_all[i];
    }
}

size_t mia_backend_count(void)
{
    call_once(&g_once, registry_init);
    return g_n_enabled;
}

const char *mia_backend_name(size_t i)
{
    call_once(&g_once, registry_init);
    return i < g_n_enabled ? g_enabled[i]->name : NULL;
}

static const struct mia_backend_ops *find(const char *name)
{
    call_once(&g_once, registry_init);
    for (size_t i = 0; i < g_n_enabled; i++)
        if (strcmp(g_enabled[i]->name, name) == 0) return g_enabled[i];
    return NULL;
}

static bool has_device(const struct mia_backend_ops *ops)
{
    return !ops->device_count || ops->device_count() > 0;
}

bool mia_backend_available(const char *name)
{
    if (!name) return false;
    const struct mia_backend_ops *ops = find(name);
    return ops && has_device(ops);
}

void mia_backend_opts_init_sized(mia_backend_opts *o, size_t size)
{
    if (!o) return;
    mia_backend_opts d = {0};
    d.struct_size = (uint32_t)sizeof d;
    d.n_threads = 0;
    d.device = 0;
    d.deterministic = true;
    memcpy(o, &d, size < sizeof d ? size : sizeof d);
    o->struct_size = (uint32_t)(size < sizeof d ? size : sizeof d);
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

mia_status mia_backend_create(mia_backend **out, const char *name, const mia_backend_opts *opts)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(out, "out is NULL");
    MIA_CHECK_ARG(name, "name is NULL (use \"auto\", \"cuda\", \"onednn\" or \"ref\")");

    mia_backend_opts o;
    mia_backend_opts_init(&o);
    if (opts) {
        MIA_CHECK_ARG(opts->struct_size >= sizeof(uint32_t) && opts->struct_size <= 4096,
                      "opts.struct_size %u is invalid: initialise opts with mia_backend_opts_init()",
                      (unsigned)opts->struct_size);
        memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    }
    MIA_CHECK_ARG(o.n_threads >= 0 && o.n_threads <= 1024,
                  "opts.n_threads = %d is out of range 0..1024 (0 = all CPUs)", (int)o.n_threads);
    MIA_CHECK_ARG(o.device >= 0, "opts.device = %d must be >= 0", (int)o.device);

    const struct mia_backend_ops *ops = NULL;
    if (strcmp(name, "auto") == 0) {
        call_once(&g_once, registry_init);
        for (size_t i = 0; i < g_n_enabled && !ops; i++)
            if (has_device(g_enabled[i])) ops = g_enabled[i];
    } else {
        ops = find(name);
        if (!ops) {
            if (strcmp(name, "cuda") == 0 || strcmp(name, "onednn") == 0 ||
                strcmp(name, "ref") == 0)
                return MIA_ERROR(MIA_ERR_UNSUPPORTED,
                                 "backend \"%s\" is not compiled into this libmia build "
                                 "(or disabled by MIA_DISABLE_BACKENDS)",
                                 name);
            return MIA_ERROR(MIA_ERR_INVALID,
                             "name \"%s\" is not a backend (use auto, cuda, onednn or ref)", name);
        }
        if (!has_device(ops))
            return MIA_ERROR(MIA_ERR_UNSUPPORTED, "backend \"%s\": no device present", name);
    }
    if (ops->device_count && o.device >= ops->device_count())
        return MIA_ERROR(MIA_ERR_INVALID, "opts.device = %d but backend \"%s\" has %d device(s)",
                         (int)o.device, ops->name, ops->device_count());

    mia_backend *be = mia__calloc(1, sizeof *be);
    if (!be) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory creating backend \"%s\"", ops->name);
    be->ops = ops;
    be->device = o.device;
    be->deterministic = o.deterministic;
    be->n_threads = ops->kind == MIA_DEVICE_HOST ? (o.n_threads ? o.n_threads : online_cpus()) : 1;
    if (ops->init) {
        mia_status s = ops->init(be, &o);
        if (s != MIA_OK) {
            mia__free(be);
            return s;
        }
    }
    *out = be;
    return MIA_OK;
}

void mia_backend_free(mia_backend *be)
{
    if (!be) return;
    if (be->live_tensors != 0)
        mia__log(MIA_LOG_WARN, "backend %s freed with %lld live tensor(s)", be->ops->name,
                 (long long)be->live_tensors);
    if (be->ops->fini) be->ops->fini(be);
    mia__free(be);
}

const char *mia_backend_type(const mia_backend *be) { return be ? be->ops->name : "none"; }

mia_device_kind mia_backend_device_kind(const mia_backend *be)
{
    return be ? be->ops->kind : MIA_DEVICE_HOST;
}

int mia_backend_n_threads(const mia_backend *be) { return be ? be->n_threads : 0; }

int64_t mia_backend_live_tensors(const mia_backend *be) { return be ? be->live_tensors : 0; }

mia_status mia_backend_synchronize(mia_backend *be)
{
    mia__error_begin();
    MIA_CHECK_ARG(be, "be is NULL");
    return be->ops->synchronize ? be->ops->synchronize(be) : MIA_OK;
}

/* ---- argument validation ------------------------------------------------------------------ */

static mia_status check_conv(const mia_conv2d_args *a)
{
    MIA_CHECK_ARG(a->n > 0 && a->c > 0 && a->h > 0 && a->w > 0,
                  "conv2d: input dims n=%lld c=%lld h=%lld w=%lld must be positive", (long long)a->n,
                  (long long)a->c, (long long)a->h, (long long)a->w);
    MIA_CHECK_ARG(a->o > 0 && a->kh > 0 && a->kw > 0 && a->sh > 0 && a->sw > 0,
                  "conv2d: o, kernel and stride must be positive");
    MIA_CHECK_ARG(a->pt >= 0 && a->pl >= 0 && a->pb >= 0 && a->pr >= 0,
                  "conv2d: padding must be >= 0");
    MIA_CHECK_ARG(a->groups > 0 && a->c % a->groups == 0 && a->o % a->groups == 0,
                  "conv2d: groups=%lld must divide c=%lld and o=%lld", (long long)a->groups,
                  (long long)a->c, (long long)a->o);
    int64_t eh = a->h + a->pt + a->pb - a->kh, ew = a->w + a->pl + a->pr - a->kw;
    MIA_CHECK_ARG(eh >= 0 && ew >= 0, "conv2d: kernel %lldx%lld larger than padded input",
                  (long long)a->kh, (long long)a->kw);
    MIA_CHECK_ARG(a->oh == eh / a->sh + 1 && a->ow == ew / a->sw + 1,
                  "conv2d: output %lldx%lld does not match the geometry (expected %lldx%lld)",
                  (long long)a->oh, (long long)a->ow, (long long)(eh / a->sh + 1),
                  (long long)(ew / a->sw + 1));
    return MIA_OK;
}

/* A blocked tensor needs whole channel blocks, and a device backend must say it takes them. */
static mia_status check_blocked(mia_backend *be, bool blocked, int64_t c, const char *what)
{
    if (!blocked) return MIA_OK;
    MIA_CHECK_ARG(c % MIA_BLOCK == 0, "%s: a blocked tensor needs channels %lld divisible by %d",
                  what, (long long)c, MIA_BLOCK);
    if (be->ops->kind != MIA_DEVICE_HOST && !be->ops->blocked_act)
        return MIA_ERROR(MIA_ERR_UNSUPPORTED, "%s: backend %s has no blocked layout", what,
                         be->ops->name);
    return MIA_OK;
}

static mia_status check_conv_b(mia_backend *be, const mia_conv2d_args *a)
{
    MIA_TRY(check_conv(a));
    MIA_TRY(check_blocked(be, a->x_blocked, a->c, "conv2d input"));
    return check_blocked(be, a->y_blocked, a->o, "conv2d output");
}

static mia_status check_relayout(mia_backend *be, const mia_relayout_args *a)
{
    MIA_CHECK_ARG(a->n > 0 && a->c > 0 && a->hw > 0, "relayout: dims must be positive");
    MIA_CHECK_ARG(a->x != a->y, "relayout: y must not alias x");
    return check_blocked(be, true, a->c, "relayout");
}

static mia_status check_pool(const mia_pool2d_args *a)
{
    MIA_CHECK_ARG(a->n > 0 && a->c > 0 && a->h > 0 && a->w > 0 && a->kh > 0 && a->kw > 0 &&
                      a->sh > 0 && a->sw > 0,
                  "pool2d: dims, kernel and stride must be positive");
    MIA_CHECK_ARG(a->pt >= 0 && a->pl >= 0 && a->pb >= 0 && a->pr >= 0 && a->pt < a->kh &&
                      a->pl < a->kw && a->pb < a->kh && a->pr < a->kw,
                  "pool2d: padding must be in [0, kernel)");
    int64_t eh = a->h + a->pt + a->pb - a->kh, ew = a->w + a->pl + a->pr - a->kw;
    MIA_CHECK_ARG(eh >= 0 && ew >= 0 && a->oh == eh / a->sh + 1 && a->ow == ew / a->sw + 1,
                  "pool2d: output %lldx%lld does not match the geometry", (long long)a->oh,
                  (long long)a->ow);
    return MIA_OK;
}

static mia_status check_pool_b(mia_backend *be, const mia_pool2d_args *a)
{
    MIA_TRY(check_pool(a));
    MIA_CHECK_ARG(!a->relu_mask || a->kind == MIA_POOL_MAX,
                  "pool2d: relu_mask needs max pooling");
    return check_blocked(be, a->blocked, a->c, "pool2d");
}

static mia_status check_gemm(const mia_gemm_args *a)
{
    MIA_CHECK_ARG(a->m > 0 && a->n > 0 && a->k > 0, "gemm: m, n, k must be positive");
    MIA_CHECK_ARG(a->lda >= (a->trans_a ? a->m : a->k) && a->ldb >= (a->trans_b ? a->k : a->n) &&
                      a->ldc >= a->n,
                  "gemm: leading dimensions too small");
    return MIA_OK;
}

static mia_status check_bn(mia_backend *be, const mia_batchnorm_args *a)
{
    MIA_CHECK_ARG(a->n > 0 && a->c > 0 && a->hw > 0, "batchnorm: dims must be positive");
    MIA_CHECK_ARG(a->eps > 0, "batchnorm: eps must be > 0");
    return check_blocked(be, a->blocked, a->c, "batchnorm");
}

static mia_status check_chmul(mia_backend *be, const mia_chmul_args *a)
{
    MIA_CHECK_ARG(a->n > 0 && a->c > 0 && a->hw > 0, "chmul: dims must be positive");
    return check_blocked(be, a->blocked, a->c, "chmul");
}

static mia_status check_xent(mia_backend *be, const mia_xent_args *a)
{
    MIA_CHECK_ARG(a->rows > 0 && a->cols > 0, "xent: rows and cols must be positive");
    MIA_CHECK_ARG(a->smoothing >= 0 && a->smoothing <= 1, "xent: smoothing %g not in [0, 1]",
                  (double)a->smoothing);
    if (be->ops->kind == MIA_DEVICE_HOST)
        for (int64_t r = 0; r < a->rows; r++)
            MIA_CHECK_ARG(a->labels[r] >= 0 && a->labels[r] < a->cols,
                          "xent: label %d of row %lld is not in [0, %lld)", (int)a->labels[r],
                          (long long)r, (long long)a->cols);
    return MIA_OK;
}

static mia_status check_dropout(const mia_dropout_args *a)
{
    MIA_CHECK_ARG(a->count > 0, "dropout: count must be positive");
    MIA_CHECK_ARG(a->p >= 0 && a->p < 1, "dropout: p = %g not in [0, 1)", (double)a->p);
    return MIA_OK;
}

#define CHECK_gemm(be, a) check_gemm(a)
#define CHECK_conv2d_fwd(be, a) check_conv_b(be, a)
#define CHECK_conv2d_bwd_data(be, a) check_conv_b(be, a)
#define CHECK_conv2d_bwd_weights(be, a) check_conv_b(be, a)
#define CHECK_batchnorm_fwd(be, a) check_bn(be, a)
#define CHECK_batchnorm_bwd(be, a) check_bn(be, a)
#define CHECK_pool2d_fwd(be, a) check_pool_b(be, a)
#define CHECK_pool2d_bwd CHECK_pool2d_fwd
#define CHECK_relayout(be, a) check_relayout(be, a)
#define CHECK_xent(be, a) check_xent(be, a)
#define CHECK_dropout_fwd(be, a) check_dropout(a)
#define CHECK_dropout_bwd(be, a) check_dropout(a)
#define CHECK_eltwise_fwd(be, a) ((a)->count > 0 ? MIA_OK : MIA_ERROR(MIA_ERR_INVALID, "eltwise: count must be positive"))
#define CHECK_eltwise_bwd CHECK_eltwise_fwd
#define CHECK_bias_add(be, a) ((a)->outer > 0 && (a)->c > 0 && (a)->inner > 0 ? MIA_OK : MIA_ERROR(MIA_ERR_INVALID, "bias: dims must be positive"))
#define CHECK_bias_grad CHECK_bias_add
#define CHECK_binary_(be, a) ((a)->count > 0 ? MIA_OK : MIA_ERROR(MIA_ERR_INVALID, "binary op: count must be positive"))
#define CHECK_add CHECK_binary_
#define CHECK_axpy CHECK_binary_
#define CHECK_mul CHECK_binary_
#define CHECK_scale CHECK_binary_
#define CHECK_chmul_fwd(be, a) check_chmul(be, a)
#define CHECK_chmul_bwd CHECK_chmul_fwd
#define CHECK_softmax_fwd(be, a) ((a)->rows > 0 && (a)->cols > 0 ? MIA_OK : MIA_ERROR(MIA_ERR_INVALID, "softmax: rows and cols must be positive"))
#define CHECK_softmax_bwd CHECK_softmax_fwd
#define CHECK_adam_step(be, a) ((a)->count > 0 && (a)->step >= 1 ? MIA_OK : MIA_ERROR(MIA_ERR_INVALID, "adam: count > 0 and step >= 1 required"))
#define CHECK_sgd_step(be, a) ((a)->count > 0 && (a)->step >= 1 ? MIA_OK : MIA_ERROR(MIA_ERR_INVALID, "sgd: count > 0 and step >= 1 required"))

#define MIA_DISPATCH_(op, args)                                                                \
    mia_status mia__##op(mia_backend *be, const args *a)                                       \
    {                                                                                          \
        MIA_TRY(CHECK_##op(be, a));                                                            \
        if (be->ops->op) return be->ops->op(be, a);                                            \
        if (be->ops->kind == MIA_DEVICE_HOST) return mia__ref_##op(be, a);                     \
        return MIA_ERROR(MIA_ERR_UNSUPPORTED, "op " #op " is not implemented by backend %s",   \
                         be->ops->name);                                                       \
    }
MIA_OP_LIST(MIA_DISPATCH_)
#undef MIA_DISPATCH_

bool mia__backend_blocked_act(const mia_backend *be) { return be && be->ops->blocked_act; }

mia_status mia__memcpy_dd(mia_backend *be, void *dst, const void *src, size_t n)
{
    if (n == 0 || dst == src) return MIA_OK;
    if (be->ops->memcpy_dd) return be->ops->memcpy_dd(be, dst, src, n);
    memmove(dst, src, n);
    return MIA_OK;
}

mia_status mia__memset0(mia_backend *be, void *dst, size_t n)
{
    if (n == 0) return MIA_OK;
    if (be->ops->memset0) return be->ops->memset0(be, dst, n);
    memset(dst, 0, n);
    return MIA_OK;
}

mia_status mia__fill_f32(mia_backend *be, float *dst, int64_t count, float v)
{
    if (be->ops->fill_f32) return be->ops->fill_f32(be, dst, count, v);
    for (int64_t i = 0; i < count; i++) dst[i] = v;
    return MIA_OK;
}
