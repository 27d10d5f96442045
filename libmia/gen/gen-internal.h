/* Internals of libmia/gen exposed to the tests (not installed). */
#ifndef MIA_GEN_INTERNAL_H
#define MIA_GEN_INTERNAL_H

#include <mia/dataset.h>
#include <mia/gen.h>
#include <mia/graph.h>

#include "mia-internal.h"

/* G's non-saturating loss on the training batch of @p step (a function of (seed, step) only,
 * exactly as mia_cgan_train() draws it), with G and D in training mode; with @p grads, G's
 * parameter gradients are left in G's graph (the same path as a training step, without the
 * optimiser). For the finite-difference check of tests/test-gen.c. */
MIA_PRIVATE mia_status mia__cgan_g_loss(mia_cgan *g, const mia_dataset *d, int64_t step,
                                        bool grads, double *loss);
/* Borrowed: the generator (false) or the discriminator (true) graph. */
MIA_PRIVATE mia_graph *mia__cgan_graph(mia_cgan *g, bool discriminator);

#endif
