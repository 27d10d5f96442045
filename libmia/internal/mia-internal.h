/*
 * Internal helpers shared by every libmia source file. Not installed.
 *
 * - Errors: MIA_ERROR(status, fmt, ...) records the thread-local message (first error of a call
 *   wins) and evaluates to the status, so `return MIA_ERROR(MIA_ERR_INVALID, "...")` is the idiom.
 * - Memory: every allocation goes through mia__malloc & co so that tests can inject failures.
 * - Logging: mia__log() routes to the process-wide sink.
 */
#ifndef MIA_INTERNAL_H
#define MIA_INTERNAL_H

/* libmia relies on isnan()/isinf() and on IEEE semantics (error paths, NaN -> null in JSON,
 * non-finite loss detection): refuse to build in the compiler's fast-math mode. */
#if defined(__FAST_MATH__) || (defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__)
#error "libmia must not be compiled in fast-math / finite-math-only mode"
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include <mia/common.h>
#include <mia/log.h>
#include <mia/status.h>

#define MIA_PRIVATE __attribute__((visibility("hidden")))

#if defined(__GNUC__)
#  define MIA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define MIA_PRINTF(a, b)
#endif

/* ---- errors ------------------------------------------------------------------------------- */

/* Record an error message for status s unless one is already pending in this call.
 * Returns s. func is the reporting function (for debugging logs only). */
MIA_PRIVATE mia_status mia__error(mia_status s, const char *func, const char *fmt, ...)
    MIA_PRINTF(3, 4);
MIA_PRIVATE mia_status mia__verror(mia_status s, const char *func, const char *fmt, va_list ap);
/* Start of a public call: clears the "error pending" latch so the first error of this call wins. */
MIA_PRIVATE void mia__error_begin(void);
/* Prefix the pending message with "context: " (e.g. the file name) without changing status. */
MIA_PRIVATE void mia__error_prefix(const char *fmt, ...) MIA_PRINTF(1, 2);

#define MIA_ERROR(s, ...) mia__error((s), __func__, __VA_ARGS__)

/* Propagate a failing status without touching the message. */
#define MIA_TRY(expr)                                                                           \
    do {                                                                                        \
        mia_status mia_try_s_ = (expr);                                                         \
        if (mia_try_s_ != MIA_OK) return mia_try_s_;                                            \
    } while (0)

/* Validate an argument; the message names it. */
#define MIA_CHECK_ARG(cond, ...)                                                                \
    do {                                                                                        \
        if (!(cond)) return MIA_ERROR(MIA_ERR_INVALID, __VA_ARGS__);                             \
    } while (0)

/* ---- memory ------------------------------------------------------------------------------- */

MIA_PRIVATE void *mia__malloc(size_t n);
MIA_PRIVATE void *mia__calloc(size_t count, size_t size);
MIA_PRIVATE void *mia__realloc(void *p, size_t n);
MIA_PRIVATE void *mia__aligned_alloc(size_t alignment, size_t n); /* free with mia__free */
MIA_PRIVATE void  mia__free(void *p);
MIA_PRIVATE char *mia__strdup(const char *s);

/* Test hook: make the n-th allocation from now fail (n >= 1); n <= 0 disables injection.
 * With persistent, every allocation after the n-th fails too. */
MIA_PRIVATE void mia__alloc_fail_after(long n, int persistent);
/* Number of allocations that were failed by injection since the hook was armed. */
MIA_PRIVATE long mia__alloc_injected(void);
/* Number of live allocations made through mia__malloc & co (leak accounting in tests). */
MIA_PRIVATE int64_t mia__alloc_live(void);

/* Overflow-checked size arithmetic: return 0 and set *out on success, -1 on overflow. */
static inline int mia__mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}

/* ---- logging ------------------------------------------------------------------------------ */

MIA_PRIVATE void mia__log(mia_log_level level, const char *fmt, ...) MIA_PRINTF(2, 3);

/* ---- time --------------------------------------------------------------------------------- */

MIA_PRIVATE double mia__now(void); /* monotonic seconds */

#endif
