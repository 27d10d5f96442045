/*
 * Plain main() driver for the libFuzzer targets (zstd libregression / stb fuzz_main.c
 * pattern): `replay-X FILE|DIR...` runs LLVMFuzzerTestOneInput once on every file given and on
 * every regular file of every directory given (sorted, not recursive), so a gcc build with
 * ASan+UBSan replays the committed corpora. With MIA_FUZZ_VERBOSE set it prints, per input, the
 * last error message of the library (to audit that ok-* seeds load and bad-* seeds fail). Exit status 0 when every input returned; a crash
 * or sanitizer report ends the process with its own status. Prints the number of inputs run.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
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
