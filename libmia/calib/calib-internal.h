/* Calibrated-model internals shared by temperature.c, llla.c and calibrated.c. Not installed. */
#ifndef MIA_CALIB_INTERNAL_H
#define MIA_CALIB_INTERNAL_H

#include <mia/calib.h>

#include "mia-internal.h"

struct mia_calibrated {
    mia_calib_method method;
    mia_model *m;
    double T;            /* temperature */
    /* LLLA */
    int phi_node;        /* input node of the last linear layer */
    int64_t D, C, n_fit;
    double *U, *V, *B;   /* KFAC factors after scaling: C x C, D x D, C x C */
    double *Q, *lam;     /* eigenvectors (columns, row-major D x D) and eigenvalues of V */
    double var0;
    double *Sout, *Sb;   /* (U + sqrt(tau) I)^-1, (B + tau I)^-1 for var0 */
    int n_samples;
    uint64_t seed;
    bool paper_exact;
    uint64_t call_ctr;   /* paper_exact: rows drawn so far */
    float *logits;       /* scratch: rows x C */
    float *phi;          /* scratch: rows x D */
    int64_t scratch_rows;
};

/* LLLA probabilities of a batch x (already on any backend): row r uses noise key key0 + r. */
MIA_PRIVATE mia_status mia__llla_predict(mia_calibrated *c, const mia_tensor *x, int64_t n,
                                         uint64_t key0, int n_samples, float *out);

/* Test access: the scaled KFAC factors (borrowed) and sizes. */
MIA_PRIVATE void mia__llla_factors(const mia_calibrated *c, const double **U, const double **V,
                                   const double **B, int64_t *D, int64_t *C);
/* Set var0 (recomputes Sout, Sb). */
MIA_PRIVATE mia_status mia__llla_set_var0(mia_calibrated *c, double var0);

/* Noise stream of predictive row key q (Philox (seed, stream, ...), normals in order s, c). */
static inline uint64_t mia__llla_noise_stream(uint64_t q)
{
    return 8u /* MIA_STREAM_CALIB */ + ((q + 1) << 16);
}

#endif
