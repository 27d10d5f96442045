/* The ref backend: host memory from the libmia allocator; kernels in ref-*.c. */
#include <string.h>

#include "ref.h"

static mia_status ref_alloc(mia_backend *be, size_t nbytes, void **out)
{
    (void)be;
    void *p = mia__aligned_alloc(64, nbytes);
    if (!p) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory allocating %zu bytes", nbytes);
    memset(p, 0, nbytes);
    *out = p;
    return MIA_OK;
}

static void ref_release(mia_backend *be, void *p)
{
    (void)be;
    mia__free(p);
}

static mia_status ref_copy(mia_backend *be, void *dst, const void *src, size_t n)
{
    (void)be;
    memcpy(dst, src, n);
    return MIA_OK;
}

const struct mia_backend_ops mia__ref_backend_ops = {
    .abi = MIA_BACKEND_ABI,
    .name = "ref",
    .kind = MIA_DEVICE_HOST,
    .alloc = ref_alloc,
    .release = ref_release,
    .upload = ref_copy,
    .download = ref_copy,
#define MIA_REF_SLOT_(name, args) .name = mia__ref_##name,
    MIA_OP_LIST(MIA_REF_SLOT_)
#undef MIA_REF_SLOT_
};
