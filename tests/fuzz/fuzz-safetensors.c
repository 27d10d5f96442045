/* libFuzzer target: the safetensors reader (mia_safetensors_open_memory), under both
 * non-finite policies and a file-size cap; every accessor is exercised on what it accepted. */
#include <string.h>

#include "fuzz-common.h"
#include "mia/safetensors.h"
#include "mia/status.h"

static void walk(const mia_safetensors *st)
{
    size_t n = mia_safetensors_count(st);
    for (size_t i = 0; i <= n; i++) { /* one past the end on purpose */
        const char *name = mia_safetensors_name(st, i);
        if (name && mia_safetensors_find(st, name) != (int64_t)i) abort();
        mia_safetensors_dtype dt;
        int ndim = 0;
        int64_t shape[MIA_MAX_DIMS];
        (void)mia_safetensors_info(st, i, &dt, &ndim, shape);
        const unsigned char *p = mia_safetensors_data(st, i);
        size_t nb = mia_safetensors_nbytes(st, i);
        for (size_t k = 0; p && k < nb; k += 61) fuzz_sink += p[k];
        if (p && nb) fuzz_sink += p[nb - 1];
        (void)mia_safetensors_nonfinite_count(st, i);
    }
    size_t m = mia_safetensors_metadata_count(st);
    for (size_t i = 0; i <= m; i++) {
        const char *k = NULL, *v = NULL;
        if (mia_safetensors_metadata_at(st, i, &k, &v) && (!k || !v || strlen(v) > (size_t)-2))
            abort();
    }
    (void)mia_safetensors_find(st, "");
}

size_t fuzz_header_end(const uint8_t *data, size_t size)
{
    if (size < 8) return 0;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | data[i];
    return n <= size - 8 ? (size_t)n + 8 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int policy = 0; policy < 2; policy++) {
        mia_safetensors_opts o;
        mia_safetensors_opts_init(&o);
        o.nonfinite = policy ? MIA_SAFETENSORS_NONFINITE_COUNT : MIA_SAFETENSORS_NONFINITE_REJECT;
        if (policy) o.max_file_bytes = 1 << 16;
        mia_safetensors *st = NULL;
        mia_status s = mia_safetensors_open_memory(&st, data, size, &o);
        if (s == MIA_OK) {
            fuzz_accepted++;
            if (!st) abort();
            walk(st);
            mia_safetensors_free(st);
        } else {
            if (st) abort();                 /* *out must be NULL on failure */
            const char *msg = mia_last_error();
            if (!msg || !*msg) abort();      /* one clear message */
        }
    }
    return 0;
}
