/* libFuzzer target: CIFAR-10/100 binary loader (mia_dataset_load_cifar), from a folder or from
 * an archive. Input: byte 0 flags (bit 0: CIFAR-100; bit 1: archive mode — the rest of the input
 * is the archive file; bit 2: coarse labels; bit 3: max_images = 3), bytes 1-2 LE length of the
 * record file (test split), rest the label-names file. */
#include "fuzz-common.h"
#include "mia/dataset.h"
#include "mia/status.h"

/* folder mode: flags (1) + length (2) + the first record's label bytes */
size_t fuzz_header_end(const uint8_t *data, size_t size)
{
    return size > 5 && !(data[0] & 2) ? 3 + ((data[0] & 1) ? 2 : 1) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    unsigned flags = data[0];
    int classes = (flags & 1) ? 100 : 10;
    mia_dataset_load_opts o;
    mia_dataset_load_opts_init(&o);
    o.cifar100_coarse = (flags & 4) != 0;
    if (flags & 8) o.max_images = 3;
    o.max_bytes = 1 << 24;
    fuzz_clear();
    const char *path;
    if (flags & 2) {
        path = fuzz_write(0, "cifar-binary.tar.gz", data + 1, size - 1);
    } else {
        size_t nr = fuzz_u16(data + 1, size - 1);
        data += 3;
        size -= 3;
        if (nr > size) nr = size;
        path = fuzz_dir();
        fuzz_write(1, classes == 10 ? "test_batch.bin" : "test.bin", data, nr);
        fuzz_write(2, classes == 10 ? "batches.meta.txt"
                                    : (o.cifar100_coarse ? "coarse_label_names.txt"
                                                         : "fine_label_names.txt"),
                   data + nr, size - nr);
    }
    mia_dataset *d = NULL;
    mia_status s = mia_dataset_load_cifar(&d, classes, path, MIA_DATA_TEST, &o);
    if (s == MIA_OK) {
        fuzz_accepted++;
        int64_t n = mia_dataset_n(d);
        for (int64_t k = 0; k < mia_dataset_n_classes(d); k++) (void)mia_dataset_class_name(d, k);
        for (int64_t i = 0; i < n; i++)
            fuzz_sink += mia_dataset_pixels(d, i)[3071] + (unsigned)mia_dataset_label(d, i);
        mia_dataset_free(d);
    } else if (d || !mia_last_error()[0]) {
        abort();
    }
    return 0;
}
