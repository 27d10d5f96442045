/*
 * Plain main() driver for the libFuzzer targets (zstd libregression / stb fuzz_main.c
 * pattern): `replay-X FILE|DIR...` runs LLVMFuzzerTestOneInput once on every file given and on
 * every regular file of every directory given (sorted, not recursive), so a gcc build with
 * ASan+UBSan replays the committed corpora. With MIA_FUZZ_VERBOSE set it prints, per input, the
 * last error message of the library (to audit that ok-* seeds load and bad-* seeds fail).
 *
 * `replay-X --corrupt FILE...` runs the corruption matrix of reliability.md B2/B3 on each
 * (valid) file instead: see corrupt_file(). Every case goes through the target, which aborts
 * when the library fails without a message or returns a handle on failure; the sanitizers
 * catch the rest. Cases that set a length field must finish in < 100 ms and grow the peak RSS
 * by < 32 MB, every other case in < 2 s; any breach makes the exit status 1. Exit status 0 when every input returned; a crash
 * or sanitizer report ends the process with its own status. Prints the number of inputs run.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "mia/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern long fuzz_accepted; /* fuzz-common.h: inputs the parser accepted */

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: cannot open\n", path);
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return -1;
    }
    long n = ftell(f);
    rewind(f);
    if (n < 0) {
        fclose(f);
        return -1;
    }
    /* exactly-sized heap copy so ASan catches one-past-the-end reads */
    uint8_t *buf = malloc(n ? (size_t)n : 1);
    if (!buf || (n && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "replay: %s: cannot read\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    long before = fuzz_accepted;
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    if (getenv("MIA_FUZZ_VERBOSE")) { /* what the last library call said, to audit the seeds */
        const char *e = mia_last_error();
        if (fuzz_accepted > before)
            printf("%s: accepted\n", path);
        else
            printf("%s: rejected: %s\n", path, e && *e ? e : "(no message)");
    }
    free(buf);
    return 0;
}

/* ---- corruption matrix (reliability.md B2/B3) ----------------------------------------------- */

/* Optional per target (weak): offset where the format's header ends in a fixture, 0 = unknown. */
size_t fuzz_header_end(const uint8_t *data, size_t size) __attribute__((weak));

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

typedef struct {
    long cases, slow, fat;
    double worst_s;
    long worst_kb;
} cstats;

/* Run one derived case: a heap copy of exactly n bytes. Absurd-header cases must finish in
 * < 100 ms and grow the peak RSS by < 32 MB (both measured in this process). */
static void run_case(cstats *st, const uint8_t *buf, size_t n, int absurd, const char *what,
                     size_t at)
{
    uint8_t *c = malloc(n ? n : 1);
    if (!c) abort();
    memcpy(c, buf, n);
    long rss0 = maxrss_kb();
    double t0 = now_s();
    LLVMFuzzerTestOneInput(c, n);
    double dt = now_s() - t0;
    long drss = maxrss_kb() - rss0;
    free(c);
    st->cases++;
    if (dt > st->worst_s) st->worst_s = dt;
    if (drss > st->worst_kb) st->worst_kb = drss;
    if ((absurd && dt > 0.1) || dt > 2.0) {
        st->slow++;
        fprintf(stderr, "corrupt: %s at %zu (%zu bytes) took %.3f s (> %s)\n", what, at, n, dt,
                absurd ? "100 ms" : "2 s");
    }
    if (absurd && drss > 32 * 1024) {
        st->fat++;
        fprintf(stderr, "corrupt: %s at %zu grew the peak RSS by %ld KB (> 32 MB)\n", what, at,
                drss);
    }
}

static void put_le(uint8_t *p, uint64_t v, int w)
{
    for (int i = 0; i < w; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_be(uint8_t *p, uint64_t v, int w)
{
    for (int i = 0; i < w; i++) p[w - 1 - i] = (uint8_t)(v >> (8 * (w - 1 - i)));
}

/* SplitMix64: the seeded byte flips (fixed seed: every run derives the same cases). */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Every case derived from one valid fixture: truncation at 0, 1, 7, 8, header end +-1, every
 * 1/64 of the file and before the last byte; 256 seeded single-byte flips; 4- and 8-byte
 * fields (LE and BE) at every offset of the header (the first 64 bytes when the target does
 * not say where its header ends) set to 0, 1, 2^31-1, 2^32-1, 2^64-1; one appended byte. */
static long corrupt_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uint8_t *d = NULL;
    size_t n = 0, cap = 0, k;
    uint8_t tmp[65536];
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (n + k > cap) {
            cap = 2 * (n + k);
            uint8_t *nd = realloc(d, cap);
            if (!nd) abort();
            d = nd;
        }
        memcpy(d + n, tmp, k);
        n += k;
    }
    fclose(f);
    cstats st = {0, 0, 0, 0, 0};
    size_t hend = fuzz_header_end ? fuzz_header_end(d, n) : 0;
    size_t cuts[80];
    int nc = 0;
    cuts[nc++] = 0;
    cuts[nc++] = 1;
    cuts[nc++] = 7;
    cuts[nc++] = 8;
    if (hend) {
        cuts[nc++] = hend - 1;
        cuts[nc++] = hend;
        cuts[nc++] = hend + 1;
    }
    for (int i = 1; i < 64; i++) cuts[nc++] = n * (size_t)i / 64;
    if (n) cuts[nc++] = n - 1;
    for (int i = 0; i < nc; i++)
        if (cuts[i] < n) run_case(&st, d, cuts[i], 0, "truncation", cuts[i]);
    uint8_t *w = malloc(n + 1);
    if (!w) abort();
    uint64_t seed = 0x6d69612d66757a7aull;
    for (int i = 0; i < 256 && n; i++) {
        memcpy(w, d, n);
        size_t at = (size_t)(splitmix(&seed) % n);
        uint8_t x = (uint8_t)(splitmix(&seed) % 255 + 1);
        w[at] ^= x;
        run_case(&st, w, n, 0, "byte flip", at);
    }
    static const uint64_t vals[] = {0, 1, 0x7fffffffu, 0xffffffffu, UINT64_MAX};
    size_t fend = hend ? hend : (n < 64 ? n : 64);
    for (size_t at = 0; at < fend; at++)
        for (int wd = 4; wd <= 8; wd += 4)
            for (int e = 0; e < 2; e++)
                for (int v = 0; v < 5; v++) {
                    if (at + (size_t)wd > n) continue;
                    memcpy(w, d, n);
                    if (e) put_be(w + at, vals[v], wd); else put_le(w + at, vals[v], wd);
                    run_case(&st, w, n, 1, "length field", at);
                }
    memcpy(w, d, n);
    w[n] = 0x5a;
    run_case(&st, w, n + 1, 0, "appended byte", n);
    free(w);
    free(d);
    printf("corrupt: %s: %ld cases, worst %.1f ms, worst peak-RSS growth %ld KB, %ld slow, %ld "
           "over the RSS cap\n", path, st.cases, st.worst_s * 1e3, st.worst_kb, st.slow, st.fat);
    return (st.slow || st.fat) ? -st.cases : st.cases;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* `replay-X --corrupt FILE...`: the corruption matrix of each (valid) fixture. */
static int corrupt_main(int argc, char **argv)
{
    long total = 0;
    int bad = 0;
    int nfix = 0;
    for (int a = 2; a < argc; a++) {
        struct stat sb;
        if (stat(argv[a], &sb) == 0 && S_ISDIR(sb.st_mode)) { /* its ok-* fixtures */
            struct dirent **ents = NULL;
            int ne = scandir(argv[a], &ents, NULL, alphasort);
            for (int i = 0; i < ne; i++) {
                if (strncmp(ents[i]->d_name, "ok-", 3) == 0) {
                    char p[4096];
                    if (snprintf(p, sizeof p, "%s/%s", argv[a], ents[i]->d_name) < (int)sizeof p) {
                        long r = corrupt_file(p);
                        nfix++;
                        if (r < 0) bad = 1;
                        total += r < 0 ? (r == -1 ? 0 : -r) : r;
                    }
                }
                free(ents[i]);
            }
            free(ents);
            continue;
        }
        nfix++;
        long r = corrupt_file(argv[a]);
        if (r == -1) {
            fprintf(stderr, "corrupt: %s: cannot read\n", argv[a]);
            bad = 1;
            continue;
        }
        if (r < 0) bad = 1;
        total += r < 0 ? -r : r;
    }
    printf("corrupt: %ld cases from %d fixtures%s\n", total, nfix, bad ? ", FAILED" : "");
    return bad || nfix == 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--corrupt") == 0) return corrupt_main(argc, argv);
    long runs = 0, errors = 0;
    for (int a = 1; a < argc; a++) {
        struct stat sb;
        if (stat(argv[a], &sb) != 0) {
            fprintf(stderr, "replay: %s: not found\n", argv[a]);
            errors++;
            continue;
        }
        if (!S_ISDIR(sb.st_mode)) {
            if (run_file(argv[a]) == 0) runs++; else errors++;
            continue;
        }
        DIR *d = opendir(argv[a]);
        if (!d) {
            errors++;
            continue;
        }
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                char **nn = realloc(names, cap * sizeof *names);
                if (!nn) abort();
                names = nn;
            }
            names[n] = malloc(strlen(argv[a]) + strlen(e->d_name) + 2);
            if (!names[n]) abort();
            sprintf(names[n], "%s/%s", argv[a], e->d_name);
            n++;
        }
        closedir(d);
        if (n) qsort(names, n, sizeof *names, cmp_str);
        for (size_t i = 0; i < n; i++) {
            if (stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
                if (run_file(names[i]) == 0) runs++; else errors++;
            }
            free(names[i]);
        }
        free(names);
    }
    printf("replay: %ld inputs run, %ld unreadable\n", runs, errors);
    return (errors || runs == 0) ? 1 : 0;
}
