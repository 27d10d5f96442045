/*
 * bench-attack: fit + evaluate (all metrics) of the threshold, entropy and LOSS attacks on
 * n member + n non-member score vectors (shadow and target, 10 classes), against the paper's
 * algorithms in numpy/sklearn (bench/attack_peer.py) on the same scores, interleaved, medians.
 * Usage: bench-attack [n=1000000] [reps=3] [ATTACKS=threshold,entropy,loss,salem]. Prints
 * libmia and peer seconds and the ratio, and the machine load (/proc/loadavg) before and after.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mia/attack.h>

#define C 10

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double normal(void)
{
    double u1 = ((double)(next_u64() >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (double)(next_u64() >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Softmax of random logits; members get a boost on their label (they were trained on). */
static void make_set(float *p, int32_t *y, int64_t n, double boost)
{
    for (int64_t i = 0; i < n; i++) {
        double z[C], mx = -1e300, s = 0;
        y[i] = (int32_t)(next_u64() % C);
        for (int c = 0; c < C; c++) {
            z[c] = 2.0 * normal() + (c == y[i] ? boost : 0.0);
            mx = z[c] > mx ? z[c] : mx;
        }
        for (int c = 0; c < C; c++) s += exp(z[c] - mx);
        for (int c = 0; c < C; c++) p[i * C + c] = (float)(exp(z[c] - mx) / s);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_load(const char *when)
{
    char buf[128] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fgets(buf, sizeof buf, f)) printf("load average %s: %s", when, buf);
    if (f) fclose(f);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int dump(const char *dir, const char *name, const float *p, const int32_t *y, int64_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.f32", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, sizeof *p, (size_t)(n * C), f) != (size_t)(n * C)) return -1;
    fclose(f);
    snprintf(path, sizeof path, "%s/%s.i32", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(y, sizeof *y, (size_t)n, f) != (size_t)n) return -1;
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    const char *which = argc > 3 ? argv[3] : "threshold,entropy,loss,salem";
    if (n < 10 || reps < 1 || reps > 50) {
        fprintf(stderr, "usage: bench-attack [n >= 10] [reps 1..50]\n");
        return 2;
    }
    float *p[4];
    int32_t *y[4];
    const char *names[4] = {"shadow_mem", "shadow_non", "target_mem", "target_non"};
    char dir[] = "/tmp/mia-bench-attack-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    for (int s = 0; s < 4; s++) {
        p[s] = malloc((size_t)(n * C) * sizeof *p[s]);
        y[s] = malloc((size_t)n * sizeof *y[s]);
        if (!p[s] || !y[s]) return 1;
        make_set(p[s], y[s], n, s % 2 == 0 ? 2.0 : 0.0);
        if (dump(dir, names[s], p[s], y[s], n)) return 1;
    }
    char meta[600];
    snprintf(meta, sizeof meta, "%s/meta.txt", dir);
    FILE *mf = fopen(meta, "w");
    fprintf(mf, "%lld %d\n", (long long)n, C);
    fclose(mf);
    mia_score_set sm = {p[0], y[0], n, C}, sn = {p[1], y[1], n, C};
    mia_score_set tm = {p[2], y[2], n, C}, tn = {p[3], y[3], n, C};

    const mia_attack_kind kinds[3] = {MIA_ATTACK_THRESHOLD, MIA_ATTACK_ENTROPY, MIA_ATTACK_LOSS};
    const char *peer_names[3] = {"threshold", "entropy", "loss"};
    printf("bench-attack: n = %lld members + %lld non-members (shadow and target), %d classes\n",
           (long long)n, (long long)n, C);
    print_load("before");
    for (int k = 0; k < 3; k++) {
        if (!strstr(which, peer_names[k])) continue;
        double tc[50], tp[50];
        int peer_reps = kinds[k] == MIA_ATTACK_ENTROPY ? 1 : reps; /* the paper's scan is slow */
        double auroc = 0, fpr = 0;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            mia_attack *a = NULL;
            mia_attack_result *res = NULL;
            if (mia_attack_fit(&a, kinds[k], &sm, &sn, NULL) != MIA_OK ||
                mia_attack_evaluate(&res, a, &tm, &tn) != MIA_OK) {
                fprintf(stderr, "libmia: %s\n", mia_last_error());
                return 1;
            }
            tc[r] = now() - t0;
            auroc = mia_attack_result_metrics(res)->auroc;
            fpr = mia_attack_result_metrics(res)->fpr;
            mia_attack_result_free(res);
            mia_attack_free(a);
            if (r < peer_reps) { /* interleave: A B A B ... */
                char cmd[1024], line[256];
                snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/attack_peer.py %s %s",
                         MIA_BENCH_DIR, dir, peer_names[k]);
                FILE *pp = popen(cmd, "r");
                double sec = -1, pa = 0, pf = 0;
                if (pp && fgets(line, sizeof line, pp))
                    sscanf(line, "peer %*s %lf auroc %lf fpr %lf", &sec, &pa, &pf);
                if (pp) pclose(pp);
                if (sec < 0) {
                    fprintf(stderr, "peer failed\n");
                    return 1;
                }
                tp[r] = sec;
                if (fabs(pa - auroc) > 1e-6 || fabs(pf - fpr) > 1e-6)
                    printf("  note: %s peer auroc %.6f fpr %.6f vs libmia %.6f %.6f\n",
                           peer_names[k], pa, pf, auroc, fpr);
            }
        }
        double mc = median(tc, reps), mp = median(tp, peer_reps);
        printf("%-10s libmia %8.4f s  peer(numpy/sklearn) %8.3f s  ratio %7.1fx  (auroc %.4f)\n",
               peer_names[k], mc, mp, mp / mc, auroc);
    }
    /* Salem: the MLP trained on 2,500 + 2,500 shadow vectors (the paper's 5,000), per epoch */
    if (strstr(which, "salem")) {
        int64_t k = n < 2500 ? n : 2500;
        mia_score_set m5 = {p[0], NULL, k, C}, n5 = {p[1], NULL, k, C};
        double tc[50], tp[50], ec = 0, ep = 0;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            mia_attack *a = NULL;
            if (mia_attack_fit(&a, MIA_ATTACK_SALEM, &m5, &n5, NULL) != MIA_OK) {
                fprintf(stderr, "libmia: %s\n", mia_last_error());
                return 1;
            }
            ec = mia_attack_epochs(a);
            tc[r] = (now() - t0) / ec;
            mia_attack_free(a);
            char cmd[1024], line[256];
            snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/attack_peer.py %s salem",
                     MIA_BENCH_DIR, dir);
            FILE *pp = popen(cmd, "r");
            double sec = -1;
            if (pp && fgets(line, sizeof line, pp)) sscanf(line, "peer salem %lf epochs %lf", &sec, &ep);
            if (pp) pclose(pp);
            if (sec < 0 || ep < 1) {
                fprintf(stderr, "salem peer failed\n");
                return 1;
            }
            tp[r] = sec / ep;
        }
        double mc = median(tc, reps), mp = median(tp, reps);
        printf("%-10s libmia %8.4f s/epoch (%d epochs)  peer(PyTorch) %8.4f s/epoch (%d epochs)  "
               "ratio %7.1fx\n", "salem", mc, (int)ec, mp, (int)ep, mp / mc);
    }
    print_load("after");
    for (int s = 0; s < 4; s++) {
        free(p[s]);
        free(y[s]);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    return 0;
}
