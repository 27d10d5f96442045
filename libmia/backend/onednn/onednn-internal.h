/*
 * Private state of the onednn backend: the per-backend engine/stream and the primitive cache.
 * Not installed.
 *
 * A cache entry ("od_entry") is a small pipeline of up to OD_MAX_STAGES stages. Each stage is
 * one oneDNN primitive with its argument slots. A slot is either
 *  - a user slot: wraps a caller pointer (set with dnnl_memory_set_data_handle on every call) in
 *    the layout that ops.h fixes for it (plain NCHW or blocked activations, OIHW/GOIHW weights,
 *    row-major). If the primitive chose a different layout for the argument (format_tag any),
 *    the slot also has a cached reorder primitive that runs before (inputs) or after (outputs)
 *    the main primitive, into or out of a temporary buffer;
 *  - an internal slot: an entry-owned buffer (workspace, temporaries, statistics);
 *  - a borrowed slot: the internal memory of an earlier stage (e.g. the max-pool workspace).
 * Everything (primitives, memory objects, internal buffers) is created once per key and reused,
 * so a cached op allocates nothing per call. Keys hold the op kind and every shape, stride,
 * padding and flag field that changes the primitive. Temporary reorder buffers and scratchpads
 * are only live during one op, so they do not belong to the entry: they are regions of two
 * arenas of the backend (od_ctx.tmp, od_ctx.scr), grown to the largest entry's need and
 * attached with dnnl_memory_set_data_handle on every call. A network with a hundred convs thus
 * holds one set of transient buffers instead of a hundred (a handle is used by one thread at a
 * time, doc/threading.md).
 */
#ifndef MIA_ONEDNN_INTERNAL_H
#define MIA_ONEDNN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

#include "../backend-impl.h"

#define OD_KEY_N 24
#define OD_MAX_STAGES 3
#define OD_MAX_SLOTS 10
#define OD_MAX_AUX 6

typedef struct od_key {
    int64_t v[OD_KEY_N];
} od_key;

typedef struct od_slot {
    int arg;               /* DNNL_ARG_* */
    int user_idx;          /* index in the per-call pointer array; -1 for internal/borrowed */
    bool out;              /* output of the primitive (reorder after, not before) */
    bool borrowed;         /* inner belongs to an earlier stage's slot */
    dnnl_memory_t user;    /* wraps the caller pointer; NULL for internal/borrowed */
    dnnl_memory_t inner;   /* what the primitive sees (== user when the layouts match) */
    dnnl_primitive_t reorder;
    dnnl_memory_t reorder_scratch; /* data in the scratch arena */
    size_t off;                    /* reorder target: offset of inner in the temporary arena */
    void *buf;                     /* internal slot: owned buffer behind inner */
} od_slot;

typedef struct od_stage {
    dnnl_primitive_t prim;
    dnnl_memory_t scratch; /* data in the scratch arena */
    od_slot slot[OD_MAX_SLOTS];
    int nslot;
} od_stage;

typedef struct od_entry {
    od_key key;
    struct od_entry *next;
    bool fallback; /* oneDNN has no implementation for this case: the op runs the ref kernel */
    bool custom;   /* oneDNN would run a slow generic implementation: the op runs ours */
    od_stage st[OD_MAX_STAGES];
    int nst;
    size_t tmp_size;        /* bytes of the temporary arena this entry uses */
    size_t scr_size;        /* largest scratchpad of its primitives and reorders */
    float *aux[OD_MAX_AUX]; /* op-specific internal buffers (views into slot buffers) */
} od_entry;

typedef struct od_ctx {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_attr_t attr; /* scratchpad_mode user: scratchpads live in the arena scr */
    od_entry **bucket;
    size_t nbucket, count;
    void *tmp, *scr; /* arenas for temporary reorder buffers and scratchpads (64-byte aligned) */
    size_t tmp_cap, scr_cap;
    void *wino; /* arena of the Winograd convolutions' transformed tiles and weights */
    size_t wino_cap;
} od_ctx;

/* Error translation: record MIA_ERR_DEVICE with dnnl_status2str text. */
MIA_PRIVATE mia_status mia__od_fail(dnnl_status_t s, const char *what);

#define OD_CHECK(call)                                                                          \
    do {                                                                                        \
        dnnl_status_t od_s_ = (call);                                                           \
        if (od_s_ != dnnl_success) return mia__od_fail(od_s_, #call);                          \
    } while (0)

/* For primitive-descriptor creation: "unimplemented" marks the entry as a ref fallback. */
#define OD_PD(e, call)                                                                          \
    do {                                                                                        \
        dnnl_status_t od_s_ = (call);                                                           \
        if (od_s_ == dnnl_unimplemented) {                                                      \
            (e)->fallback = true;                                                               \
            return MIA_OK;                                                                      \
        }                                                                                       \
        if (od_s_ != dnnl_success) return mia__od_fail(od_s_, #call);                          \
    } while (0)

/* Set the calling thread's OpenMP thread count to the backend's (OpenMP ICVs are per thread). */
MIA_PRIVATE void mia__od_threads(mia_backend *be);

/* Fill a key: v[0] = kind, then the given fields; the rest stays 0. */
MIA_PRIVATE void mia__od_key_set(od_key *k, const int64_t *v, size_t n);
#define OD_KEY(kp, ...)                                                                         \
    mia__od_key_set((kp), (const int64_t[]){__VA_ARGS__},                                     \
                    sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
MIA_PRIVATE int64_t mia__od_fbits(float f);

typedef mia_status (*od_build_fn)(od_ctx *ctx, od_entry *e, const void *args);

/* Find the entry for key k, building it with fn(ctx, e, args) on a miss. On failure nothing is
 * cached and the error is recorded. */
MIA_PRIVATE mia_status mia__od_get(mia_backend *be, const od_key *k, od_build_fn fn,
                                   const void *args, od_entry **out);

/* Builders (used inside od_build_fn). mia__od_stage creates the primitive of stage e->nst from
 * pd (which the caller keeps and destroys) plus its scratchpad, and returns its index. */
MIA_PRIVATE mia_status mia__od_stage(od_ctx *ctx, od_entry *e, const_dnnl_primitive_desc_t pd,
                                     int *stage);
/* A user slot for argument arg. user_md is the caller's plain layout; the primitive's layout is
 * queried from pd and a reorder is added when they differ. */
MIA_PRIVATE mia_status mia__od_user(od_ctx *ctx, od_entry *e, int stage,
                                    const_dnnl_primitive_desc_t pd, int arg, int user_idx,
                                    bool out, const dnnl_memory_desc_t *user_md);
/* An internal slot with an owned zero-filled buffer in the layout pd wants for arg (or md when
 * pd is NULL). *mem and *data (both nullable) receive the memory object and the buffer. */
MIA_PRIVATE mia_status mia__od_internal(od_ctx *ctx, od_entry *e, int stage,
                                        const_dnnl_primitive_desc_t pd, int arg,
                                        const dnnl_memory_desc_t *md, dnnl_memory_t *mem,
                                        void **data);
/* A slot that passes memory owned by an earlier slot. */
MIA_PRIVATE mia_status mia__od_borrow(od_entry *e, int stage, int arg, dnnl_memory_t mem);

/* Make arena *p at least need bytes, 64-byte aligned (contents are not kept). MIA_ERR_NOMEM
 * leaves it empty. */
MIA_PRIVATE mia_status mia__od_arena_fit(void **p, size_t *cap, size_t need);

/* Run every stage of e with the caller pointers ptr[user_idx]. */
MIA_PRIVATE mia_status mia__od_run(od_ctx *ctx, od_entry *e, void *const *ptr);

/* Plain memory descriptor helpers. */
MIA_PRIVATE mia_status mia__od_md(dnnl_memory_desc_t *md, int ndims, const int64_t *dims,
                                  dnnl_format_tag_t tag);

/* Max pooling on plain NCHW (onednn-pool.c): bit-identical to the ref kernel. */
MIA_PRIVATE mia_status mia__od_maxpool_fwd(mia_backend *be, const mia_pool2d_args *a);
MIA_PRIVATE mia_status mia__od_maxpool_bwd(mia_backend *be, const mia_pool2d_args *a);

/* Depthwise conv backward-weights on plain NCHW (onednn-dw.c): bit-identical to the ref kernel;
 * used where oneDNN's choice is its gemm fallback. */
MIA_PRIVATE bool mia__od_dw_applies(const mia_conv2d_args *a);
MIA_PRIVATE mia_status mia__od_dw_bwd_weights(mia_backend *be, const mia_conv2d_args *a);

/* 3x3 stride-1 convs on blocked activations as Winograd F(2x2, 3x3) (onednn-wino.c); used by
 * onednn-conv.c wherever mia__od_wino_applies. */
MIA_PRIVATE bool mia__od_wino_applies(const mia_conv2d_args *a);
MIA_PRIVATE mia_status mia__od_wino_fwd(mia_backend *be, const mia_conv2d_args *a);
MIA_PRIVATE mia_status mia__od_wino_bwd_data(mia_backend *be, const mia_conv2d_args *a);
MIA_PRIVATE mia_status mia__od_wino_bwd_weights(mia_backend *be, const mia_conv2d_args *a);

/* Ops implemented in onednn-conv.c and onednn-ops.c. */
#define OD_DECL_(name, args) MIA_PRIVATE mia_status mia__od_##name(mia_backend *be, const args *a);
MIA_OP_LIST(OD_DECL_)
#undef OD_DECL_

#endif
