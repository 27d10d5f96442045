/* The onednn backend: host memory, one oneDNN engine + stream per backend, and the per-backend
 * primitive cache (see onednn-internal.h). Kernels live in onednn-conv.c and onednn-ops.c; ops
 * left NULL here (dropout, xent) fall back to the ref kernels. */
#include <omp.h>
#include <string.h>

#include <oneapi/dnnl/dnnl_debug.h>

#include "onednn-internal.h"

mia_status mia__od_fail(dnnl_status_t s, const char *what)
{
    return MIA_ERROR(MIA_ERR_DEVICE, "onednn: %s failed: %s", what, dnnl_status2str(s));
}

void mia__od_threads(mia_backend *be)
{
    if (omp_get_max_threads() != be->n_threads) omp_set_num_threads(be->n_threads);
}

void mia__od_key_set(od_key *k, const int64_t *v, size_t n)
{
    memset(k, 0, sizeof *k);
    for (size_t i = 0; i < n && i < OD_KEY_N; i++) k->v[i] = v[i];
}

int64_t mia__od_fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (int64_t)u;
}

mia_status mia__od_md(dnnl_memory_desc_t *md, int ndims, const int64_t *dims,
                      dnnl_format_tag_t tag)
{
    dnnl_dims_t d;
    for (int i = 0; i < ndims; i++) d[i] = dims[i];
    OD_CHECK(dnnl_memory_desc_init_by_tag(md, ndims, d, dnnl_f32, tag));
    return MIA_OK;
}

/* ---- cache -------------------------------------------------------------------------------- */

static uint64_t key_hash(const od_key *k)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < OD_KEY_N; i++) {
        h ^= (uint64_t)k->v[i];
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return h;
}

static void entry_free(od_entry *e)
{
    if (!e) return;
    for (int s = 0; s < OD_MAX_STAGES; s++) {
        od_stage *st = &e->st[s];
        for (int i = 0; i < st->nslot; i++) {
            od_slot *sl = &st->slot[i];
            if (sl->reorder) dnnl_primitive_destroy(sl->reorder);
            if (sl->reorder_scratch) dnnl_memory_destroy(sl->reorder_scratch);
            if (!sl->borrowed && sl->inner && sl->inner != sl->user) dnnl_memory_destroy(sl->inner);
            if (sl->user) dnnl_memory_destroy(sl->user);
            mia__free(sl->buf);
        }
        if (st->prim) dnnl_primitive_destroy(st->prim);
        if (st->scratch) dnnl_memory_destroy(st->scratch);
    }
    mia__free(e);
}

static mia_status cache_grow(od_ctx *c)
{
    size_t nb = c->nbucket ? c->nbucket * 2 : 64;
    od_entry **b = mia__calloc(nb, sizeof *b);
    if (!b) return MIA_ERROR(MIA_ERR_NOMEM, "onednn: out of memory growing the primitive cache");
    for (size_t i = 0; i < c->nbucket; i++) {
        od_entry *e = c->bucket[i];
        while (e) {
            od_entry *nx = e->next;
            size_t j = (size_t)(key_hash(&e->key) & (nb - 1));
            e->next = b[j];
            b[j] = e;
            e = nx;
        }
    }
    mia__free(c->bucket);
    c->bucket = b;
    c->nbucket = nb;
    return MIA_OK;
}

mia_status mia__od_get(mia_backend *be, const od_key *k, od_build_fn fn, const void *args,
                       od_entry **out)
{
    od_ctx *c = be->ctx;
    if (c->nbucket) {
        for (od_entry *e = c->bucket[key_hash(k) & (c->nbucket - 1)]; e; e = e->next)
            if (memcmp(&e->key, k, sizeof *k) == 0) {
                *out = e;
                return MIA_OK;
            }
    }
    if (c->count + 1 > c->nbucket) MIA_TRY(cache_grow(c));
    od_entry *e = mia__calloc(1, sizeof *e);
    if (!e) return MIA_ERROR(MIA_ERR_NOMEM, "onednn: out of memory for a primitive cache entry");
    e->key = *k;
    mia_status s = fn(c, e, args);
    if (s != MIA_OK) {
        entry_free(e);
        return s;
    }
    size_t j = (size_t)(key_hash(k) & (c->nbucket - 1));
    e->next = c->bucket[j];
    c->bucket[j] = e;
    c->count++;
    *out = e;
    return MIA_OK;
}

/* ---- builders ----------------------------------------------------------------------------- */

static mia_status own_memory(od_ctx *c, const dnnl_memory_desc_t *md, dnnl_memory_t *mem,
                             void **buf)
{
    size_t n = dnnl_memory_desc_get_size(md);
    void *p = mia__aligned_alloc(64, n ? n : 64);
    if (!p) return MIA_ERROR(MIA_ERR_NOMEM, "onednn: out of memory allocating %zu bytes", n);
    memset(p, 0, n ? n : 64);
    dnnl_status_t s = dnnl_memory_create(mem, md, c->engine, p);
    if (s != dnnl_success) {
        mia__free(p);
        *mem = NULL;
        return mia__od_fail(s, "dnnl_memory_create");
    }
    *buf = p;
    return MIA_OK;
}

/* A memory object whose data lives in an arena (attached in mia__od_run). */
static mia_status arena_memory(od_ctx *c, const dnnl_memory_desc_t *md, dnnl_memory_t *mem)
{
    OD_CHECK(dnnl_memory_create(mem, md, c->engine, DNNL_MEMORY_NONE));
    return MIA_OK;
}

/* Primitive + user-mode scratchpad (in the scratch arena) from pd. */
static mia_status make_prim(od_ctx *c, od_entry *e, const_dnnl_primitive_desc_t pd,
                            dnnl_primitive_t *prim, dnnl_memory_t *scratch)
{
    OD_CHECK(dnnl_primitive_create(prim, pd));
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    const size_t n = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (n == 0) return MIA_OK;
    MIA_TRY(arena_memory(c, smd, scratch));
    if (n > e->scr_size) e->scr_size = n;
    return MIA_OK;
}

mia_status mia__od_stage(od_ctx *c, od_entry *e, const_dnnl_primitive_desc_t pd, int *stage)
{
    if (e->nst >= OD_MAX_STAGES) return MIA_ERROR(MIA_ERR_DEVICE, "onednn: too many stages");
    od_stage *st = &e->st[e->nst];
    MIA_TRY(make_prim(c, e, pd, &st->prim, &st->scratch));
    *stage = e->nst++;
    return MIA_OK;
}

static od_slot *new_slot(od_entry *e, int stage, int arg)
{
    od_stage *st = &e->st[stage];
    if (st->nslot >= OD_MAX_SLOTS) return NULL;
    od_slot *sl = &st->slot[st->nslot++];
    memset(sl, 0, sizeof *sl);
    sl->arg = arg;
    sl->user_idx = -1;
    return sl;
}

mia_status mia__od_user(od_ctx *c, od_entry *e, int stage, const_dnnl_primitive_desc_t pd,
                        int arg, int user_idx, bool out, const dnnl_memory_desc_t *user_md)
{
    od_slot *sl = new_slot(e, stage, arg);
    if (!sl) return MIA_ERROR(MIA_ERR_DEVICE, "onednn: too many slots");
    sl->user_idx = user_idx;
    sl->out = out;
    OD_CHECK(dnnl_memory_create(&sl->user, user_md, c->engine, DNNL_MEMORY_NONE));
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
    if (!want || want->ndims == 0 || dnnl_memory_desc_equal(want, user_md)) {
        sl->inner = sl->user;
        return MIA_OK;
    }
    dnnl_memory_desc_t wmd = *want;
    MIA_TRY(arena_memory(c, &wmd, &sl->inner));
    sl->off = e->tmp_size;
    e->tmp_size += (dnnl_memory_desc_get_size(&wmd) + 63) / 64 * 64;
    dnnl_primitive_desc_t rpd;
    if (out)
        OD_CHECK(dnnl_reorder_primitive_desc_create(&rpd, &wmd, c->engine, user_md, c->engine,
                                                    c->attr));
    else
        OD_CHECK(dnnl_reorder_primitive_desc_create(&rpd, user_md, c->engine, &wmd, c->engine,
                                                    c->attr));
    mia_status s = make_prim(c, e, rpd, &sl->reorder, &sl->reorder_scratch);
    dnnl_primitive_desc_destroy(rpd);
    return s;
}

mia_status mia__od_internal(od_ctx *c, od_entry *e, int stage, const_dnnl_primitive_desc_t pd,
                            int arg, const dnnl_memory_desc_t *md, dnnl_memory_t *mem, void **data)
{
    od_slot *sl = new_slot(e, stage, arg);
    if (!sl) return MIA_ERROR(MIA_ERR_DEVICE, "onednn: too many slots");
    dnnl_memory_desc_t m;
    if (pd) {
        const dnnl_memory_desc_t *q = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
        if (!q) return MIA_ERROR(MIA_ERR_DEVICE, "onednn: primitive has no argument %d", arg);
        m = *q;
    } else {
        m = *md;
    }
    MIA_TRY(own_memory(c, &m, &sl->inner, &sl->buf));
    if (mem) *mem = sl->inner;
    if (data) *data = sl->buf;
    return MIA_OK;
}

mia_status mia__od_borrow(od_entry *e, int stage, int arg, dnnl_memory_t mem)
{
    od_slot *sl = new_slot(e, stage, arg);
    if (!sl) return MIA_ERROR(MIA_ERR_DEVICE, "onednn: too many slots");
    sl->borrowed = true;
    sl->inner = mem;
    return MIA_OK;
}

static mia_status exec1(od_ctx *c, dnnl_primitive_t p, dnnl_memory_t scratch, int nargs,
                        dnnl_exec_arg_t *args)
{
    if (scratch) {
        args[nargs].arg = DNNL_ARG_SCRATCHPAD;
        args[nargs].memory = scratch;
        nargs++;
    }
    OD_CHECK(dnnl_primitive_execute(p, c->stream, nargs, args));
    return MIA_OK;
}

mia_status mia__od_arena_fit(void **p, size_t *cap, size_t need)
{
    if (need <= *cap) return MIA_OK;
    mia__free(*p);
    *cap = 0;
    *p = mia__aligned_alloc(64, need);
    if (!*p) return MIA_ERROR(MIA_ERR_NOMEM, "onednn: out of memory for a %zu-byte arena", need);
    *cap = need;
    return MIA_OK;
}

mia_status mia__od_run(od_ctx *c, od_entry *e, void *const *ptr)
{
    MIA_TRY(mia__od_arena_fit(&c->tmp, &c->tmp_cap, e->tmp_size));
    MIA_TRY(mia__od_arena_fit(&c->scr, &c->scr_cap, e->scr_size));
    for (int s = 0; s < e->nst; s++) {
        od_stage *st = &e->st[s];
        dnnl_exec_arg_t args[OD_MAX_SLOTS + 1];
        if (st->scratch) OD_CHECK(dnnl_memory_set_data_handle(st->scratch, c->scr));
        for (int i = 0; i < st->nslot; i++) {
            od_slot *sl = &st->slot[i];
            if (sl->user) OD_CHECK(dnnl_memory_set_data_handle(sl->user, ptr[sl->user_idx]));
            if (sl->reorder) {
                OD_CHECK(dnnl_memory_set_data_handle(sl->inner, (char *)c->tmp + sl->off));
                if (sl->reorder_scratch)
                    OD_CHECK(dnnl_memory_set_data_handle(sl->reorder_scratch, c->scr));
            }
            if (sl->reorder && !sl->out) {
                dnnl_exec_arg_t ra[3] = {{DNNL_ARG_FROM, sl->user}, {DNNL_ARG_TO, sl->inner}};
                MIA_TRY(exec1(c, sl->reorder, sl->reorder_scratch, 2, ra));
            }
            args[i].arg = sl->arg;
            args[i].memory = sl->inner;
        }
        MIA_TRY(exec1(c, st->prim, st->scratch, st->nslot, args));
        for (int i = 0; i < st->nslot; i++) {
            od_slot *sl = &st->slot[i];
            if (sl->reorder && sl->out) {
                dnnl_exec_arg_t ra[3] = {{DNNL_ARG_FROM, sl->inner}, {DNNL_ARG_TO, sl->user}};
                MIA_TRY(exec1(c, sl->reorder, sl->reorder_scratch, 2, ra));
            }
        }
    }
    OD_CHECK(dnnl_stream_wait(c->stream));
    return MIA_OK;
}

/* ---- backend ------------------------------------------------------------------------------ */

static void od_fini(mia_backend *be)
{
    od_ctx *c = be->ctx;
    if (!c) return;
    for (size_t i = 0; i < c->nbucket; i++) {
        od_entry *e = c->bucket[i];
        while (e) {
            od_entry *nx = e->next;
            entry_free(e);
            e = nx;
        }
    }
    mia__free(c->bucket);
    mia__free(c->tmp);
    mia__free(c->scr);
    mia__free(c->wino);
    if (c->attr) dnnl_primitive_attr_destroy(c->attr);
    if (c->stream) dnnl_stream_destroy(c->stream);
    if (c->engine) dnnl_engine_destroy(c->engine);
    mia__free(c);
    be->ctx = NULL;
}

static mia_status od_init_ctx(od_ctx *c)
{
    OD_CHECK(dnnl_engine_create(&c->engine, dnnl_cpu, 0));
    OD_CHECK(dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags));
    OD_CHECK(dnnl_primitive_attr_create(&c->attr));
    OD_CHECK(dnnl_primitive_attr_set_scratchpad_mode(c->attr, dnnl_scratchpad_mode_user));
    return MIA_OK;
}

static mia_status od_init(mia_backend *be, const mia_backend_opts *o)
{
    (void)o;
    od_ctx *c = mia__calloc(1, sizeof *c);
    if (!c) return MIA_ERROR(MIA_ERR_NOMEM, "onednn: out of memory creating the backend");
    be->ctx = c;
    mia_status s = od_init_ctx(c);
    if (s != MIA_OK) od_fini(be);
    return s;
}

static mia_status od_alloc(mia_backend *be, size_t nbytes, void **out)
{
    (void)be;
    void *p = mia__aligned_alloc(64, nbytes);
    if (!p) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory allocating %zu bytes", nbytes);
    memset(p, 0, nbytes);
    *out = p;
    return MIA_OK;
}

static void od_release(mia_backend *be, void *p)
{
    (void)be;
    mia__free(p);
}

static mia_status od_copy(mia_backend *be, void *dst, const void *src, size_t n)
{
    (void)be;
    memcpy(dst, src, n);
    return MIA_OK;
}

const struct mia_backend_ops mia__onednn_backend_ops = {
    .abi = MIA_BACKEND_ABI,
    .name = "onednn",
    .kind = MIA_DEVICE_HOST,
    .blocked_act = true,
    .init = od_init,
    .fini = od_fini,
    .alloc = od_alloc,
    .release = od_release,
    .upload = od_copy,
    .download = od_copy,
    .gemm = mia__od_gemm,
    .conv2d_fwd = mia__od_conv2d_fwd,
    .conv2d_bwd_data = mia__od_conv2d_bwd_data,
    .conv2d_bwd_weights = mia__od_conv2d_bwd_weights,
    .batchnorm_fwd = mia__od_batchnorm_fwd,
    .batchnorm_bwd = mia__od_batchnorm_bwd,
    .eltwise_fwd = mia__od_eltwise_fwd,
    .eltwise_bwd = mia__od_eltwise_bwd,
    .pool2d_fwd = mia__od_pool2d_fwd,
    .pool2d_bwd = mia__od_pool2d_bwd,
    .bias_add = mia__od_bias_add,
    .bias_grad = mia__od_bias_grad,
    .add = mia__od_add,
    .axpy = mia__od_axpy,
    .mul = mia__od_mul,
    .scale = mia__od_scale,
    .chmul_fwd = mia__od_chmul_fwd,
    .chmul_bwd = mia__od_chmul_bwd,
    .relayout = mia__od_relayout,
    .adam_step = mia__od_adam_step,
    .sgd_step = mia__od_sgd_step,
    .softmax_fwd = mia__od_softmax_fwd,
    .softmax_bwd = mia__od_softmax_bwd,
    /* dropout, xent: no oneDNN primitive; the ref kernels serve them. */
};
