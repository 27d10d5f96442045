/*
 * The ref backend's kernels: plain C11 loops, f64 accumulation where cheap. They are the test
 * oracle for every other backend and the host fallback for ops a host backend leaves NULL.
 * All pointers are host memory. Single-threaded and deterministic.
 */
#ifndef MIA_REF_H
#define MIA_REF_H

#include "../backend-impl.h"

#define MIA_REF_DECL_(name, args) MIA_PRIVATE mia_status mia__ref_##name(mia_backend *be, const args *a);
MIA_OP_LIST(MIA_REF_DECL_)
#undef MIA_REF_DECL_

#endif
