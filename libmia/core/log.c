/* Process-wide log sink. The library never writes to stdout/stderr except through the default
 * sink, which a program replaces with mia_log_set(). */
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "mia-internal.h"

static void default_sink(mia_log_level level, const char *msg, void *ud)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    (void)ud;
    fprintf(stderr, "libmia: %s: %s\n", names[level <= MIA_LOG_DEBUG ? level : 0], msg);
}

static mia_log_fn g_sink = default_sink;
static void *g_sink_ud;
static atomic_int g_level = MIA_LOG_WARN;

void mia_log_set(mia_log_fn fn, void *user_data)
{
    g_sink = fn ? fn : default_sink;
    g_sink_ud = fn ? user_data : NULL;
}

void mia_log_set_level(mia_log_level level) { atomic_store(&g_level, (int)level); }

mia_log_level mia_log_get_level(void) { return (mia_log_level)atomic_load(&g_level); }

void mia__log(mia_log_level level, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    if ((int)level > atomic_load(&g_level)) return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_sink(level, buf, g_sink_ud);
}

double mia__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
