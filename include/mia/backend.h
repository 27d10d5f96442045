/**
 * @file backend.h
 * @brief Compute backends: the registry and backend handles.
 *
 * A backend owns memory and runs kernels. "ref" (plain C, the test oracle) is always compiled;
 * "onednn" (CPU) and "cuda" (GPU) depend on the build. Availability is a run-time query.
 * @code
 *   mia_backend_opts o;
 *   mia_backend_opts_init(&o);
 *   o.n_threads = 2;
 *   mia_backend *be;
 *   if (mia_backend_create(&be, "auto", &o) != MIA_OK) return 1;   // cuda > onednn > ref
 *   printf("running on %s\n", mia_backend_type(be));
 *   ...
 *   mia_backend_free(be);   // after every tensor/model created on it
 * @endcode
 * The environment variable MIA_DISABLE_BACKENDS (comma-separated names) hides backends from
 * the registry; it is read once, at the first registry call (for tests).
 */
#ifndef MIA_BACKEND_H
#define MIA_BACKEND_H

#include "common.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options for mia_backend_create(). Initialise with mia_backend_opts_init(). */
typedef struct mia_backend_opts {
    uint32_t struct_size;   /**< set by mia_backend_opts_init() */
    int32_t  n_threads;     /**< intra-op threads for host backends; 0 = all online CPUs */
    int32_t  device;        /**< device ordinal for device backends (default 0) */
    bool     deterministic; /**< device backends: bit-identical results run to run (default true) */
} mia_backend_opts;

/** Fill @p o with defaults. Use the mia_backend_opts_init() macro. Thread-safe. */
MIA_API void mia_backend_opts_init_sized(mia_backend_opts *o, size_t size);
#define mia_backend_opts_init(o) mia_backend_opts_init_sized((o), sizeof *(o))

/**
 * @brief Create a backend.
 * @param[out] out   caller owns; free with mia_backend_free() after everything created on it.
 * @param name       "auto" (first available of cuda, onednn, ref), "cuda", "onednn" or "ref".
 * @param opts       NULL for defaults.
 * @return MIA_OK; MIA_ERR_INVALID for an unknown name or bad option (message names it);
 *         MIA_ERR_UNSUPPORTED if the backend is not compiled in or has no device;
 *         MIA_ERR_DEVICE if the device fails to initialise; MIA_ERR_NOMEM.
 * @note Thread-safe. The returned handle is used by one thread at a time.
 */
MIA_API mia_status mia_backend_create(mia_backend **out, const char *name,
                                      const mia_backend_opts *opts);

/** Release @p be. Accepts NULL. Logs a warning if tensors created on it are still alive. */
MIA_API void mia_backend_free(mia_backend *be);

/** Number of backends compiled into this library and not disabled. Thread-safe. */
MIA_API size_t mia_backend_count(void);

/** Name of registry entry @p i (in priority order), NULL if out of range. Static text. */
MIA_API const char *mia_backend_name(size_t i);

/**
 * @brief Whether backend @p name is compiled in, enabled and (for device backends) has a device.
 * @note Thread-safe.
 */
MIA_API bool mia_backend_available(const char *name);

/** Name of the backend type of @p be ("ref", "onednn", "cuda"). Static text. */
MIA_API const char *mia_backend_type(const mia_backend *be);

/** Whether @p be computes on the host or on a device. */
MIA_API mia_device_kind mia_backend_device_kind(const mia_backend *be);

/** Threads used by @p be (1 for device backends). */
MIA_API int mia_backend_n_threads(const mia_backend *be);

/**
 * @brief Wait for all queued work on @p be.
 * @return MIA_OK or MIA_ERR_DEVICE (an asynchronous kernel failed; message has the driver text).
 */
MIA_API mia_status mia_backend_synchronize(mia_backend *be);

/** Number of tensors currently alive on @p be (leak accounting). */
MIA_API int64_t mia_backend_live_tensors(const mia_backend *be);

#ifdef __cplusplus
}
#endif
#endif
