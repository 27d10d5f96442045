#include <mia/version.h>

#include "mia-internal.h"

unsigned mia_version(void) { return MIA_VERSION_NUMBER; }

const char *mia_version_string(void) { return MIA_VERSION_STRING; }

size_t mia_dtype_size(mia_dtype dtype)
{
    switch (dtype) {
    case MIA_DTYPE_F32: return 4;
    case MIA_DTYPE_F64: return 8;
    case MIA_DTYPE_U8: return 1;
    case MIA_DTYPE_I32: return 4;
    case MIA_DTYPE_I64: return 8;
    }
    return 0;
}

const char *mia_dtype_name(mia_dtype dtype)
{
    switch (dtype) {
    case MIA_DTYPE_F32: return "f32";
    case MIA_DTYPE_F64: return "f64";
    case MIA_DTYPE_U8: return "u8";
    case MIA_DTYPE_I32: return "i32";
    case MIA_DTYPE_I64: return "i64";
    }
    return "unknown";
}
