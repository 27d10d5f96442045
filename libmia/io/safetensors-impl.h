/* Private parts shared by the safetensors reader (safetensors.c) and writer
 * (safetensors-write.c). Not installed. */
#ifndef MIA_SAFETENSORS_IMPL_H
#define MIA_SAFETENSORS_IMPL_H

#include <mia/safetensors.h>

#include "mia-internal.h"

/* Every dtype name of the format, with its element size in bits and the position in the
 * reference's Dtype enum (the writer sorts by that position, descending, then by name).
 * supported >= 0 is the mia_safetensors_dtype value; -1 marks a known but unsupported dtype. */
typedef struct st_dtype_desc {
    const char *name;
    int bits;
    int order;
    int supported;
} st_dtype_desc;

MIA_PRIVATE const st_dtype_desc *mia__st_dtype_lookup(const char *name);
MIA_PRIVATE const st_dtype_desc *mia__st_dtype_desc(mia_safetensors_dtype dt);

/* 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF); else 0 and *bad is
 * the offset of the first invalid byte. */
MIA_PRIVATE int mia__utf8_valid(const uint8_t *s, size_t n, size_t *bad);

#endif
