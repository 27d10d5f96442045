/* libFuzzer target: the MATLAB .mat readers (matio): SVHN (mia_dataset_load_svhn) and the
 * Stanford Dogs split lists (mia_dogs_list_load, from a folder or from lists.tar).
 * Input: byte 0 selects (0: SVHN .mat, 1: Dogs train_list.mat in a folder, 2: Dogs lists.tar;
 * bit 2: max_images = 2), rest = the file. */
#include "fuzz-common.h"
#include "mia/dataset.h"
#include "mia/status.h"

/* selector (1) + the 128-byte MAT v5 header */
size_t fuzz_header_end(const uint8_t *data, size_t size)
{
    return size > 129 ? 129 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned sel = data[0] % 3, flags = data[0];
    data++;
    size--;
    fuzz_clear();
    if (sel == 0) {
        const char *p = fuzz_write(0, "test_32x32.mat", data, size);
        mia_dataset_load_opts o;
        mia_dataset_load_opts_init(&o);
        if (flags & 4) o.max_images = 2;
        o.max_bytes = 1 << 24;
        mia_dataset *d = NULL;
        mia_status s = mia_dataset_load_svhn(&d, p, &o);
        if (s == MIA_OK) {
            fuzz_accepted++;
            for (int64_t i = 0; i < mia_dataset_n(d); i++)
                fuzz_sink += mia_dataset_pixels(d, i)[mia_dataset_image_numel(d) - 1] +
                       (unsigned)mia_dataset_label(d, i);
            mia_dataset_free(d);
        } else if (d || !mia_last_error()[0]) {
            abort();
        }
        return 0;
    }
    const char *lists = sel == 1 ? fuzz_dir() : fuzz_write(0, "lists.tar", data, size);
    if (sel == 1) fuzz_write(1, "train_list.mat", data, size);
    char **files = NULL;
    int32_t *labels = NULL;
    int64_t n = -1;
    mia_status s = mia_dogs_list_load(&files, &labels, &n, lists, "train_list.mat");
    if (s == MIA_OK) {
        fuzz_accepted++;
        for (int64_t i = 0; i < n; i++) fuzz_sink += strlen(files[i]) + (size_t)labels[i];
        mia_dogs_list_free(files, labels, n);
    } else if (files || labels || !mia_last_error()[0]) {
        abort();
    }
    return 0;
}
