/*
 * Shared helpers of the mia-* tools: argument parsing, the stderr log sink, the progress line
 * and error reporting. Tools include only <mia/mia.h> and this header; all logic is in libmia.
 */
#ifndef MIA_TOOL_COMMON_H
#define MIA_TOOL_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include <mia/mia.h>

/* Exit codes of every tool (documented in doc/tools.md). */
enum {
    TOOL_EXIT_OK = 0,
    TOOL_EXIT_FAILURE = 1,  /* the operation failed: bad input file, I/O, numeric */
    TOOL_EXIT_USAGE = 2,    /* bad command line */
    TOOL_EXIT_NOMEM = 3,
    TOOL_EXIT_CANCELLED = 4 /* SIGINT/SIGTERM or callback */
};

/* Set the program name used in messages ("mia-train"); installs the log sink and the
 * SIGINT/SIGTERM handlers that make tool_progress() cancel the running operation. */
void tool_init(const char *prog);

/* -v / -q handling: verbosity -1 (quiet), 0 (default), 1 (info), 2 (debug). */
void tool_set_verbosity(int v);

/* Print "prog: what" on stderr (printf-style); returns TOOL_EXIT_USAGE. */
int tool_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "prog: <mia_last_error()>" (or "prog: <context>: <status text>" when the library left
 * no message) and return the exit code for status s. */
int tool_fail(mia_status s, const char *context);

/* Exit code for a status. */
int tool_exit_code(mia_status s);

/* Strict number parsing: whole string must be a number within [lo, hi]. Return false and print
 * a usage error naming opt otherwise. */
bool tool_parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out);
bool tool_parse_f64(const char *opt, const char *s, double lo, double hi, double *out);

/* Progress callback for libmia operations: a single updating line on a terminal, plain lines
 * (at most one per 2 seconds, plus the last) otherwise. Returns false after SIGINT/SIGTERM.
 * user_data is unused (pass NULL). */
bool tool_progress(const mia_progress *p, void *user_data);

/* End the current progress line (prints a newline on a terminal if one is pending). */
void tool_progress_done(void);

/* True once SIGINT/SIGTERM was received. */
bool tool_interrupted(void);

#endif
