/**
 * @file log.h
 * @brief Process-wide log sink and the progress/cancellation callback type.
 *
 * The library never prints. Messages go to a sink installed once at start-up; by default WARN
 * and ERROR go to stderr.
 * @code
 *   static void sink(mia_log_level lvl, const char *msg, void *ud) { fprintf(stderr, "%s\n", msg); }
 *   mia_log_set(sink, NULL);
 *   mia_log_set_level(MIA_LOG_INFO);
 * @endcode
 * Long operations take a mia_progress_fn in their options; returning false cancels the
 * operation, which then returns MIA_ERR_CANCELLED.
 */
#ifndef MIA_LOG_H
#define MIA_LOG_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mia_log_level {
    MIA_LOG_ERROR = 0,
    MIA_LOG_WARN  = 1,
    MIA_LOG_INFO  = 2,
    MIA_LOG_DEBUG = 3
} mia_log_level;

/** A log sink. @p msg is valid only during the call. */
typedef void (*mia_log_fn)(mia_log_level level, const char *msg, void *user_data);

/**
 * @brief Install the process-wide log sink (NULL restores the default stderr sink).
 * @note Not thread-safe with concurrent logging: call once at start-up, before other threads
 *       use libmia.
 */
MIA_API void mia_log_set(mia_log_fn fn, void *user_data);

/** Messages above @p level are dropped before formatting. Default MIA_LOG_WARN. Thread-safe. */
MIA_API void mia_log_set_level(mia_log_level level);

/** Current level. Thread-safe. */
MIA_API mia_log_level mia_log_get_level(void);

/**
 * @brief Progress report passed to callbacks of long operations.
 *
 * Fields are appended, never reordered. Unknown quantities are negative.
 */
typedef struct mia_progress {
    uint32_t    struct_size;   /**< sizeof(mia_progress) of the library that filled it */
    const char *stage;         /**< e.g. "train", "calibrate", "attack"; static text */
    int64_t     epoch;         /**< 1-based epoch, or -1 */
    int64_t     epochs;        /**< total epochs, or -1 */
    int64_t     step;          /**< 1-based step within the stage/epoch */
    int64_t     steps;         /**< total steps, or -1 */
    double      loss;          /**< running mean loss, or NaN when not applicable */
    double      items_per_sec; /**< throughput (images/s), or -1 when the stage has none */
    double      eta_seconds;   /**< estimated seconds to the end of the stage, or -1 */
    double      fraction;      /**< 0..1 overall fraction done */
} mia_progress;

/**
 * @brief Progress callback. Return false to cancel; the operation then returns
 *        MIA_ERR_CANCELLED after releasing what it allocated.
 * @note Called on the thread that runs the operation.
 */
typedef bool (*mia_progress_fn)(const mia_progress *p, void *user_data);

#ifdef __cplusplus
}
#endif
#endif
