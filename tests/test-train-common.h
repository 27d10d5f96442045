/* Shared helpers of test-train, test-calib and test-checkpoint: tiny labelled IDX datasets
 * written to a temporary directory, a deterministic test RNG, weight snapshots. */
#ifndef TEST_TRAIN_COMMON_H
#define TEST_TRAIN_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mia/mia.h>

#include "test-util.h"

static uint64_t tt_rng_state = 88172645463325252ull;
static inline uint64_t tt_u64(void)
{
    tt_rng_state ^= tt_rng_state << 13;
    tt_rng_state ^= tt_rng_state >> 7;
    tt_rng_state ^= tt_rng_state << 17;
    return tt_rng_state;
}
static inline double tt_unif(void) { return (double)(tt_u64() >> 11) * (1.0 / 9007199254740992.0); }

static void tt_be32(FILE *f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    fwrite(b, 1, 4, f);
}

/* A labelled dataset of n h x w one-channel images: pixel values and labels from `gen`
 * (pixels[n*h*w], labels[n]) written as IDX files under dir, then loaded. */
static inline mia_dataset *tt_dataset(const char *dir, const char *name, const uint8_t *px,
                                      const uint8_t *lab, int64_t n, int64_t h, int64_t w)
{
    char ip[512], lp[512], spec[1100];
    snprintf(ip, sizeof ip, "%s/%s-images.idx", dir, name);
    snprintf(lp, sizeof lp, "%s/%s-labels.idx", dir, name);
    FILE *f = fopen(ip, "wb");
    if (!f) return NULL;
    tt_be32(f, 0x803);
    tt_be32(f, (uint32_t)n);
    tt_be32(f, (uint32_t)h);
    tt_be32(f, (uint32_t)w);
    fwrite(px, 1, (size_t)(n * h * w), f);
    fclose(f);
    f = fopen(lp, "wb");
    if (!f) return NULL;
    tt_be32(f, 0x801);
    tt_be32(f, (uint32_t)n);
    fwrite(lab, 1, (size_t)n, f);
    fclose(f);
    snprintf(spec, sizeof spec, "idx:%s,%s", ip, lp);
    mia_dataset *d = NULL;
    if (mia_dataset_load(&d, spec, NULL) != MIA_OK) {
        fprintf(stderr, "load %s: %s\n", spec, mia_last_error());
        return NULL;
    }
    return d;
}

/* A learnable synthetic set: class = which quadrant of a 2x2 image is brightest (k <= 4). */
static inline mia_dataset *tt_synth(const char *dir, const char *name, int64_t n, int k,
                                    uint64_t seed)
{
    uint64_t save = tt_rng_state;
    tt_rng_state = seed * 2654435761ull + 12345;
    uint8_t *px = malloc((size_t)n * 4), *lab = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) {
        int y = (int)(tt_u64() % (uint64_t)k);
        lab[i] = (uint8_t)y;
        for (int j = 0; j < 4; j++) px[i * 4 + j] = (uint8_t)(tt_u64() % 120);
        px[i * 4 + y] = (uint8_t)(130 + tt_u64() % 120);
    }
    mia_dataset *d = tt_dataset(dir, name, px, lab, n, 2, 2);
    free(px);
    free(lab);
    tt_rng_state = save;
    return d;
}

static inline char *tt_tmpdir(void)
{
    char *t = strdup("/tmp/mia-train-test-XXXXXX");
    return mkdtemp(t);
}

static inline void tt_rmrf(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", dir);
}

/* All parameters and buffers of m, concatenated (caller frees). */
static inline unsigned char *tt_snapshot(mia_model *m, size_t *len)
{
    mia_graph *g = mia_model_graph(m);
    size_t total = 0;
    for (size_t i = 0; i < mia_graph_param_count(g); i++) {
        mia_param_info p;
        mia_graph_param(g, i, &p);
        total += mia_tensor_nbytes(p.value);
    }
    unsigned char *buf = malloc(total), *at = buf;
    for (size_t i = 0; i < mia_graph_param_count(g); i++) {
        mia_param_info p;
        mia_graph_param(g, i, &p);
        mia_tensor_download(p.value, at, mia_tensor_nbytes(p.value));
        at += mia_tensor_nbytes(p.value);
    }
    *len = total;
    return buf;
}

static inline mia_model *tt_mlp(mia_backend *be, int hidden, int k, uint64_t seed)
{
    mia_model_opts o;
    mia_model_opts_init(&o);
    o.in_channels = 1;
    o.in_h = o.in_w = 2;
    o.n_classes = k;
    o.mlp_n_hidden = hidden > 0 ? 1 : 0;
    o.mlp_hidden[0] = hidden;
    o.seed = seed;
    mia_model *m = NULL;
    if (mia_model_create(&m, be, "mlp", &o) != MIA_OK)
        fprintf(stderr, "mlp: %s\n", mia_last_error());
    return m;
}

#endif
