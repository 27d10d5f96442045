/* ref optimiser steps: the shared per-element kernels of optim-kernel.h over the whole tensor. */
#include "../optim-kernel.h"
#include "ref.h"

mia_status mia__ref_adam_step(mia_backend *be, const mia_adam_args *a)
{
    (void)be;
    mia__adam_range(a, 0, a->count);
    return MIA_OK;
}

mia_status mia__ref_sgd_step(mia_backend *be, const mia_sgd_args *a)
{
    (void)be;
    mia__sgd_range(a, 0, a->count);
    return MIA_OK;
}
