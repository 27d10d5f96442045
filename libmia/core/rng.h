/*
 * Counter-based random numbers (Philox-4x32-10, Salmon et al., SC'11).
 *
 * A value depends only on (seed, stream, counter), so results do not depend on thread count or
 * on the order in which elements are visited, and a generator's whole state is four integers
 * (checkpointable). Streams separate independent uses (init, shuffle, augmentation, dropout).
 * Every backend must produce the same numbers for dropout masks: use mia__philox() directly.
 */
#ifndef MIA_RNG_H
#define MIA_RNG_H

#include <stdint.h>

#include "mia-internal.h"

/* One Philox-4x32-10 block: 4 uniform 32-bit words for (key = seed, counter = (ctr, stream)). */
MIA_PRIVATE void mia__philox(uint64_t seed, uint64_t stream, uint64_t ctr, uint32_t out[4]);

/* Uniform float in [0, 1) with 24 random bits, from one 32-bit word. */
static inline float mia__u32_to_unit(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

/* Sequential generator over one stream. State is plain data: copy it to checkpoint it. */
typedef struct mia_rng {
    uint64_t seed;
    uint64_t stream;
    uint64_t ctr;    /* next block index */
    uint32_t buf[4];
    uint32_t used;   /* words of buf consumed, 4 = empty */
} mia_rng;

MIA_PRIVATE void     mia__rng_init(mia_rng *r, uint64_t seed, uint64_t stream);
MIA_PRIVATE uint32_t mia__rng_u32(mia_rng *r);
MIA_PRIVATE uint64_t mia__rng_u64(mia_rng *r);
MIA_PRIVATE float    mia__rng_uniform(mia_rng *r);        /* [0, 1), 24 bits */
MIA_PRIVATE double   mia__rng_uniform_f64(mia_rng *r);    /* [0, 1), 53 bits */
MIA_PRIVATE double   mia__rng_normal(mia_rng *r);         /* N(0,1), Box-Muller in f64 */
MIA_PRIVATE uint64_t mia__rng_below(mia_rng *r, uint64_t n); /* uniform in [0, n), unbiased; n>0 */
/* Fisher-Yates shuffle of idx[0..n). */
MIA_PRIVATE void     mia__rng_shuffle(mia_rng *r, int64_t *idx, int64_t n);

/* Well-known stream ids, so different uses of one seed never overlap. */
enum {
    MIA_STREAM_INIT = 1,
    MIA_STREAM_SHUFFLE = 2,
    MIA_STREAM_AUGMENT = 3,
    MIA_STREAM_DROPOUT = 4,
    MIA_STREAM_SPLIT = 5,
    MIA_STREAM_NOISE = 6,
    MIA_STREAM_ATTACK = 7,
    MIA_STREAM_CALIB = 8,
    MIA_STREAM_GAN = 9,
    MIA_STREAM_HOLDOUT = 10
};

#endif
