/* Philox-4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3"). */
#include <math.h>

#include "rng.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

void mia__philox(uint64_t seed, uint64_t stream, uint64_t ctr, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n1 = lo1;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        uint32_t n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

void mia__rng_init(mia_rng *r, uint64_t seed, uint64_t stream)
{
    r->seed = seed;
    r->stream = stream;
    r->ctr = 0;
    r->used = 4;
    r->buf[0] = r->buf[1] = r->buf[2] = r->buf[3] = 0;
}

uint32_t mia__rng_u32(mia_rng *r)
{
    if (r->used >= 4) {
        mia__philox(r->seed, r->stream, r->ctr++, r->buf);
        r->used = 0;
    }
    return r->buf[r->used++];
}

uint64_t mia__rng_u64(mia_rng *r)
{
    uint64_t hi = mia__rng_u32(r);
    return (hi << 32) | mia__rng_u32(r);
}

float mia__rng_uniform(mia_rng *r) { return mia__u32_to_unit(mia__rng_u32(r)); }

double mia__rng_uniform_f64(mia_rng *r)
{
    return (double)(mia__rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

double mia__rng_normal(mia_rng *r)
{
    double u1 = mia__rng_uniform_f64(r), u2 = mia__rng_uniform_f64(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

uint64_t mia__rng_below(mia_rng *r, uint64_t n)
{
    /* Lemire-free rejection: threshold = 2^64 mod n. */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = mia__rng_u64(r);
        if (x >= threshold) return x % n;
    }
}

void mia__rng_shuffle(mia_rng *r, int64_t *idx, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)mia__rng_below(r, (uint64_t)i + 1);
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
