/* libFuzzer target: STL-10 binary loader (mia_dataset_load_stl10). The image file is mostly
 * synthetic (its only checked property is its size): byte 0 picks n = byte0 % 4 images of
 * 3x96x96 bytes, byte 1 a signed size error (0 = exact), bytes 2-3 LE the length of the labels
 * file; then the labels file, then class_names.txt (rest); the image bytes are the input
 * repeated. Byte 0 bit 2: max_images = 1; bit 3: nested stl10_binary/ folder. */
#include "fuzz-common.h"
#include "mia/dataset.h"
#include "mia/status.h"

#define STL_IMG (3 * 96 * 96)

/* flags, size delta, labels length (2) */
size_t fuzz_header_end(const uint8_t *data, size_t size)
{
    return size > 4 ? 4 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    unsigned flags = data[0];
    long xs = (long)(flags % 4) * STL_IMG + (int8_t)data[1];
    if (xs < 0) xs = 0;
    size_t ny = fuzz_u16(data + 2, size - 2);
    const uint8_t *rest = data + 4;
    size_t nrest = size - 4;
    if (ny > nrest) ny = nrest;
    fuzz_clear();
    const char *dir = fuzz_dir();
    const char *base = (flags & 8) ? fuzz_mkdir(0, "stl10_binary") : dir;
    char px[4200], py[4200], pn[4200];
    snprintf(px, sizeof px, "%s/test_X.bin", base);
    snprintf(py, sizeof py, "%s/test_y.bin", base);
    snprintf(pn, sizeof pn, "%s/class_names.txt", base);
    uint8_t *x = malloc((size_t)xs + 1);
    if (!x) abort();
    for (long i = 0; i < xs; i++) x[i] = data[(size_t)i % size];
    FILE *f = fopen(px, "wb");
    if (!f || (xs && fwrite(x, 1, (size_t)xs, f) != (size_t)xs) || fclose(f)) abort();
    free(x);
    f = fopen(py, "wb");
    if (!f || (ny && fwrite(rest, 1, ny, f) != ny) || fclose(f)) abort();
    if (nrest > ny) {
        f = fopen(pn, "wb");
        if (!f || fwrite(rest + ny, 1, nrest - ny, f) != nrest - ny || fclose(f)) abort();
    }
    mia_dataset_load_opts o;
    mia_dataset_load_opts_init(&o);
    if (flags & 4) o.max_images = 1;
    mia_dataset *d = NULL;
    mia_status s = mia_dataset_load_stl10(&d, dir, MIA_DATA_TEST, &o);
    if (s == MIA_OK) {
        fuzz_accepted++;
        for (int64_t i = 0; i < mia_dataset_n(d); i++)
            fuzz_sink += mia_dataset_pixels(d, i)[STL_IMG - 1] + (unsigned)mia_dataset_label(d, i);
        for (int64_t k = 0; k < mia_dataset_n_classes(d); k++) (void)mia_dataset_class_name(d, k);
        mia_dataset_free(d);
    } else if (d || !mia_last_error()[0]) {
        abort();
    }
    return 0;
}
