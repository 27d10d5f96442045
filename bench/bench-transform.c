/* Benchmark: Resize(96 -> 32, PIL bilinear) + ToTensor + CIFAR Normalize, images/s, libmia vs
 * torchvision's PIL pipeline on the same images in the same run (bench/transform_peer.py).
 * Usage: bench-transform [n_images] [repeats] [peer.py]. Prints a table; the goal is >= 3x. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset-impl.h"
#include "data/image.h"
#include "mia-internal.h"
#include <mia/dataset.h>
#include <mia/transform.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 2000;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    const char *peer = argc > 3 ? argv[3] : MIA_SOURCE_DIR "/bench/transform_peer.py";
    if (n < 1 || reps < 1) return 2;
    mia_dataset *d = NULL;
    if (mia__dataset_new(&d, n, 3, 96, 96, 1, "bench") != MIA_OK) return 1;
    uint32_t s = 12345;
    for (int64_t i = 0; i < n * 3 * 96 * 96; i++) {
        s = s * 1664525u + 1013904223u;
        d->pixels[i] = (uint8_t)(s >> 24);
    }
    /* the same images for the peer: raw NHWC u8 */
    char raw[] = "/tmp/mia-bench-transform-XXXXXX";
    int fd = mkstemp(raw);
    FILE *f = fdopen(fd, "wb");
    uint8_t *hwc = malloc(96 * 96 * 3);
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *p = d->pixels + i * 3 * 96 * 96;
        for (int y = 0; y < 96 * 96; y++)
            for (int c = 0; c < 3; c++) hwc[y * 3 + c] = p[c * 96 * 96 + y];
        fwrite(hwc, 1, 96 * 96 * 3, f);
    }
    fclose(f);
    free(hwc);

    mia_transform_opts o;
    mia_transform_opts_init(&o);
    o.resize_h = o.resize_w = 32;
    mia_transform_set_normalize(&o, MIA_NORM_CIFAR10);
    mia_transform *t = NULL;
    if (mia_transform_create(&t, &o) != MIA_OK) return 1;
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    float *x = malloc((size_t)n * 3 * 32 * 32 * sizeof(float));
    double *ts = malloc((size_t)reps * sizeof *ts);
    for (int r = 0; r < reps; r++) {
        double t0 = mia__now();
        for (int64_t b = 0; b < n; b += 128) {
            int64_t m = n - b < 128 ? n - b : 128;
            if (mia_transform_batch(t, d, idx + b, m, 0, x + b * 3 * 32 * 32, NULL) != MIA_OK)
                return 1;
        }
        ts[r] = mia__now() - t0;
    }
    qsort(ts, (size_t)reps, sizeof *ts, cmp_d);
    double mine = (double)n / ts[reps / 2];

    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' %lld %d", peer, raw, (long long)n, reps);
    double theirs = 0;
    FILE *p = popen(cmd, "r");
    if (p) {
        if (fscanf(p, "%lf", &theirs) != 1) theirs = 0;
        pclose(p);
    }
    remove(raw);
    printf("| pipeline: Resize(96->32) + ToTensor + Normalize | images/s (median of %d) |\n", reps);
    printf("|---|---|\n");
    printf("| libmia mia_transform_batch | %.0f |\n", mine);
    if (theirs > 0) {
        printf("| torchvision 0.14 PIL (Image.fromarray + Compose) | %.0f |\n", theirs);
        printf("| ratio libmia / torchvision | %.2fx (goal >= 3x) |\n", mine / theirs);
    } else {
        printf("| torchvision peer | not available |\n");
    }
    mia_transform_free(t);
    mia_dataset_free(d);
    free(idx);
    free(x);
    free(ts);
    return 0;
}
