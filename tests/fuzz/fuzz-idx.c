/* libFuzzer target: IDX loader (mia_dataset_load_idx), images alone or images + labels, plain
 * or gzip (the loader sniffs gzip itself; the seeds hold both).
 * Input: byte 0 flags (bit 0: labels file present; bit 1: max_images = 2), bytes 1-2 LE length
 * of the images file, then the images file, then the labels file (rest). */
#include "fuzz-common.h"
#include "mia/dataset.h"
#include "mia/status.h"

/* flags (1) + images length (2) + magic (4) + 4 bytes per dimension */
size_t fuzz_header_end(const uint8_t *data, size_t size)
{
    return size > 7 ? 3 + 4 + 4 * (size_t)data[6] : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    unsigned flags = data[0];
    size_t ni = fuzz_u16(data + 1, size - 1);
    data += 3;
    size -= 3;
    if (ni > size) ni = size;
    const char *img = fuzz_write(0, "images-idx3-ubyte", data, ni);
    const char *lab = (flags & 1) ? fuzz_write(1, "labels-idx1-ubyte", data + ni, size - ni) : NULL;
    mia_dataset_load_opts o;
    mia_dataset_load_opts_init(&o);
    if (flags & 2) o.max_images = 2;
    o.max_bytes = 1 << 24;
    mia_dataset *d = NULL;
    mia_status s = mia_dataset_load_idx(&d, img, lab, &o);
    if (s == MIA_OK) {
        fuzz_accepted++;
        int64_t n = mia_dataset_n(d), numel = mia_dataset_image_numel(d);
        for (int64_t i = 0; i < n; i++) {
            const uint8_t *p = mia_dataset_pixels(d, i);
            fuzz_sink += p[0] + p[numel - 1] + (unsigned)mia_dataset_label(d, i);
        }
        mia_dataset_free(d);
    } else if (d || !mia_last_error()[0]) {
        abort();
    }
    return 0;
}
