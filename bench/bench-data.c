/* Benchmark: dataset decode into memory, libmia vs a Python peer (bench/data_peer.py) in the same
 * run, interleaved (libmia, peer, libmia, peer, ...), median of the repeats.
 *   1. Fashion-MNIST, IDX .gz, train (60k) + test (10k) images and labels (Debian's
 *      dataset-fashion-mnist; $MIA_FASHION_MNIST_DIR overrides). Peer: gzip + numpy.frombuffer
 *      (what torchvision's read_sn3_pascalvincent_tensor does).
 *   2. A CIFAR-10-format .tar.gz of 50,000 generated records (5 x data_batch_N.bin). Peer:
 *      tarfile (streamed "r|gz") + numpy reshape of the records.
 * Usage: bench-data [repeats] [peer.py]. Prints a markdown table (images/s and MB/s).
 * The transform pipeline is timed by bench-transform (bench/run-data.sh runs both). */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mia-internal.h"
#include <mia/dataset.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Run the peer once; it prints seconds on stdout. */
static double peer_once(const char *peer, const char *mode, const char *a, const char *b)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' %s '%s' '%s'", peer, mode, a, b);
    FILE *p = popen(cmd, "r");
    double t = -1;
    if (p) {
        if (fscanf(p, "%lf", &t) != 1) t = -1;
        pclose(p);
    }
    return t;
}

static int write_cifar_tgz(const char *path, int records_per_batch)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) return -1;
    size_t n = (size_t)records_per_batch * 3073;
    uint8_t *buf = malloc(n);
    uint32_t s = 2463534242u;
    for (int b = 1; b <= 5; b++) {
        for (size_t r = 0; r < (size_t)records_per_batch; r++) {
            uint8_t *rec = buf + r * 3073;
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            rec[0] = (uint8_t)(s % 10);
            /* smooth-ish planes plus noise: compresses about like real photos (~1.1:1) */
            for (int k = 0; k < 3072; k++) {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                rec[1 + k] = (uint8_t)(((k % 32) * 4 + (k / 32 % 32) * 3 + (s & 63)) & 255);
            }
        }
        char name[64];
        snprintf(name, sizeof name, "cifar-10-batches-bin/data_batch_%d.bin", b);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)n);
        archive_write_header(a, e);
        archive_write_data(a, buf, n);
        archive_entry_free(e);
    }
    free(buf);
    archive_write_close(a);
    archive_write_free(a);
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    const char *peer = argc > 2 ? argv[2] : MIA_SOURCE_DIR "/bench/data_peer.py";
    if (reps < 1 || reps > 100) return 2;
    const char *fm = getenv("MIA_FASHION_MNIST_DIR");
    if (!fm || !*fm) fm = "/usr/share/datasets/fashion-mnist";
    double *tm = calloc((size_t)reps, sizeof *tm), *tp = calloc((size_t)reps, sizeof *tp);
    printf("| decode into memory | libmia images/s | peer images/s | ratio | libmia s | peer s |\n");
    printf("|---|---|---|---|---|---|\n");

    /* 1. Fashion-MNIST train + test */
    char tri[4200], trl[4200], tei[4200], tel[4200];
    snprintf(tri, sizeof tri, "%s/train-images-idx3-ubyte.gz", fm);
    snprintf(trl, sizeof trl, "%s/train-labels-idx1-ubyte.gz", fm);
    snprintf(tei, sizeof tei, "%s/t10k-images-idx3-ubyte.gz", fm);
    snprintf(tel, sizeof tel, "%s/t10k-labels-idx1-ubyte.gz", fm);
    if (access(tri, R_OK) == 0 && access(tei, R_OK) == 0) {
        int64_t n = 0;
        for (int r = 0; r < reps; r++) {
            double t0 = mia__now();
            mia_dataset *a = NULL, *b = NULL;
            if (mia_dataset_load_idx(&a, tri, trl, NULL) != MIA_OK ||
                mia_dataset_load_idx(&b, tei, tel, NULL) != MIA_OK) {
                fprintf(stderr, "bench-data: %s\n", mia_last_error());
                return 1;
            }
            tm[r] = mia__now() - t0;
            n = mia_dataset_n(a) + mia_dataset_n(b);
            mia_dataset_free(a);
            mia_dataset_free(b);
            tp[r] = peer_once(peer, "idx", fm, "-");
        }
        double a = median(tm, reps), b = median(tp, reps);
        printf("| Fashion-MNIST IDX .gz, 60k+10k (peer: gzip + numpy) | %.0f | %.0f | %.2fx | "
               "%.3f | %.3f |\n", (double)n / a, b > 0 ? (double)n / b : 0, b > 0 ? b / a : 0, a,
               b);
    } else {
        printf("| Fashion-MNIST | not installed (%s) | | | | |\n", fm);
    }

    /* 2. CIFAR-format .tar.gz, 50,000 records */
    char dir[] = "/tmp/mia-bench-data-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char tgz[256], spec[300];
    snprintf(tgz, sizeof tgz, "%s/cifar-10-binary.tar.gz", dir);
    if (write_cifar_tgz(tgz, 10000) != 0) return 1;
    snprintf(spec, sizeof spec, "cifar10:%s:train", tgz);
    int64_t n = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = mia__now();
        mia_dataset *d = NULL;
        if (mia_dataset_load(&d, spec, NULL) != MIA_OK) {
            fprintf(stderr, "bench-data: %s\n", mia_last_error());
            return 1;
        }
        tm[r] = mia__now() - t0;
        n = mia_dataset_n(d);
        mia_dataset_free(d);
        tp[r] = peer_once(peer, "cifar", tgz, "-");
    }
    double a = median(tm, reps), b = median(tp, reps);
    printf("| CIFAR-10 format .tar.gz, 50,000 records (peer: tarfile r|gz + numpy) | %.0f | %.0f "
           "| %.2fx | %.3f | %.3f |\n", (double)n / a, b > 0 ? (double)n / b : 0,
           b > 0 ? b / a : 0, a, b);
    remove(tgz);
    rmdir(dir);
    free(tm);
    free(tp);
    return 0;
}
