/**
 * @file status.h
 * @brief Status codes and the thread-local error message.
 *
 * Every fallible libmia function returns a mia_status. MIA_OK is 0; errors are negative and their
 * values are pinned forever. The detail of the most recent error is kept per thread:
 * @code
 *   mia_status s = mia_tensor_create(&t, be, MIA_DTYPE_F32, 2, shape);
 *   if (s != MIA_OK)
 *       fprintf(stderr, "error: %s (%s)\n", mia_last_error(), mia_status_str(s));
 * @endcode
 */
#ifndef MIA_STATUS_H
#define MIA_STATUS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One table generates the enum, the names and the messages. */
#define MIA_STATUS_MAP(X)                                                        \
    X(OK,               0, "success")                                            \
    X(ERR_INVALID,     -1, "invalid argument")                                   \
    X(ERR_NOMEM,       -2, "out of memory")                                      \
    X(ERR_IO,          -3, "I/O error")                                          \
    X(ERR_FORMAT,      -4, "malformed input file")                               \
    X(ERR_UNSUPPORTED, -5, "not supported by this build or backend")             \
    X(ERR_DEVICE,      -6, "device or driver error")                             \
    X(ERR_STATE,       -7, "object in wrong state")                              \
    X(ERR_CANCELLED,   -8, "cancelled by callback")                              \
    X(ERR_NUMERIC,     -9, "non-finite value (NaN or Inf)")                      \
    X(ERR_MISMATCH,   -10, "inputs do not match (config, data or shape)")

/** Status codes. Values are pinned; retired codes leave gaps. */
typedef enum mia_status {
#define MIA_STATUS_ENUM_(name, value, msg) MIA_##name = value,
    MIA_STATUS_MAP(MIA_STATUS_ENUM_)
#undef MIA_STATUS_ENUM_
    MIA_STATUS_END_ = 1
} mia_status;

/**
 * @brief Static description of @p s.
 * @return never NULL; "unknown status" for values outside the table.
 * @note Thread-safe.
 */
MIA_API const char *mia_status_str(mia_status s);

/**
 * @brief Short symbolic name of @p s, e.g. "ERR_FORMAT". Never NULL. Thread-safe.
 */
MIA_API const char *mia_status_name(mia_status s);

/**
 * @brief Detail of the most recent error on the calling thread.
 *
 * The first error within a call wins; the text names the argument, file or offset at fault.
 * @return a thread-local string, "" if no error was recorded. Valid until the next libmia call
 *         on the same thread.
 * @note Thread-safe: every thread has its own message.
 */
MIA_API const char *mia_last_error(void);

/** Forget the calling thread's error message. Thread-safe. */
MIA_API void mia_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
