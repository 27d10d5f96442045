/* libFuzzer target: the PNG/JPEG decode wrapper (mia__image_sniff, mia__image_info,
 * mia__image_decode to 1 and 3 channels). Caps: 2048 px per side and 2^22 decoded bytes (the
 * defaults are 16384 and 2^28; smaller caps keep the fuzzer fast; the cap logic is the same).
 * Byte 0 bit 0 selects the default caps for that input. */
#include "fuzz-common.h"
#include "mia-internal.h"
#include "data/image.h"
#include "mia/status.h"

/* flags (1) + PNG signature (8) + IHDR chunk (25); JPEG: unknown */
size_t fuzz_header_end(const uint8_t *data, size_t size)
{
    return size > 34 && data[1] == 0x89 ? 34 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned flags = data[0];
    data++;
    size--;
    (void)mia__image_sniff(data, size);
    int64_t w = 0, h = 0;
    int ch = 0;
    mia__error_begin();
    mia_status si = mia__image_info(data, size, "fuzz.img", &w, &h, &ch);
    mia__image_limits lim;
    mia__image_limits_init(&lim);
    if (!(flags & 1)) {
        lim.max_dim = 2048;
        lim.max_bytes = 1 << 22;
    }
    for (int channels = 1; channels <= 3; channels += 2) {
        uint8_t *px = NULL;
        int64_t dw = 0, dh = 0;
        mia__error_begin();
        mia_status s = mia__image_decode(data, size, "fuzz.img", channels, &lim, &px, &dw, &dh);
        if (s == MIA_OK) {
            fuzz_accepted++;
            if (!px || dw <= 0 || dh <= 0 || dw > lim.max_dim || dh > lim.max_dim) abort();
            if (si == MIA_OK && (dw != w || dh != h)) abort();
            fuzz_sink += px[0] + px[(size_t)(dw * dh * channels) - 1];
            mia__free(px);
        } else if (px || !mia_last_error()[0]) {
            abort();
        }
    }
    return 0;
}
