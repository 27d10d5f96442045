/**
 * @file common.h
 * @brief Export macro, forward declarations of every opaque type, and the basic enums.
 *
 * Every libmia object is an opaque handle created by mia_X_create() (or a loader) and released
 * with mia_X_free(), which accepts NULL. On failure a constructor sets its out-parameter to NULL.
 * @code
 *   mia_backend *be = NULL;
 *   if (mia_backend_create(&be, "auto", NULL) != MIA_OK)
 *       fprintf(stderr, "%s\n", mia_last_error());
 *   mia_backend_free(be);
 * @endcode
 */
#ifndef MIA_COMMON_H
#define MIA_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(MIA_BUILDING)
#    define MIA_API __declspec(dllexport)
#  else
#    define MIA_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__)
#  define MIA_API __attribute__((visibility("default")))
#else
#  define MIA_API
#endif

#if defined(__GNUC__)
#  define MIA_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#  define MIA_DEPRECATED(msg)
#endif

/** Maximum tensor rank. */
#define MIA_MAX_DIMS 8

/** Element types. Values are persisted (checkpoints): never renumber. */
typedef enum mia_dtype {
    MIA_DTYPE_F32 = 0,
    MIA_DTYPE_F64 = 1,
    MIA_DTYPE_U8  = 2,
    MIA_DTYPE_I32 = 3,
    MIA_DTYPE_I64 = 4
} mia_dtype;

/** Where a backend's memory lives. */
typedef enum mia_device_kind {
    MIA_DEVICE_HOST   = 0, /**< memory is directly addressable by the CPU */
    MIA_DEVICE_DEVICE = 1  /**< memory lives on an accelerator; copies are explicit */
} mia_device_kind;

typedef struct mia_backend mia_backend;
typedef struct mia_tensor  mia_tensor;
typedef struct mia_graph   mia_graph;
typedef struct mia_model   mia_model;
typedef struct mia_dataset mia_dataset;

/** Size in bytes of one element of @p dtype (0 for an unknown value). Thread-safe. */
MIA_API size_t mia_dtype_size(mia_dtype dtype);

/** Lower-case name of @p dtype ("f32", "u8", ...); "unknown" for an invalid value. Static text. */
MIA_API const char *mia_dtype_name(mia_dtype dtype);

/** Run-time version as MAJOR*10000 + MINOR*100 + PATCH. Thread-safe. */
MIA_API unsigned mia_version(void);

/** Run-time version string, e.g. "0.1.0". Static text. Thread-safe. */
MIA_API const char *mia_version_string(void);

#ifdef __cplusplus
}
#endif
#endif
