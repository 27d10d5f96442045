/* Shared helpers of the mia-* tools. Argument parsing and printing only. */
#include "tool-common.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *g_prog = "mia";
static int g_verbosity;
static volatile sig_atomic_t g_interrupted;
static int g_line_open;
static double g_last_print;

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static void log_sink(mia_log_level level, const char *msg, void *ud)
{
    (void)ud;
    static const char *names[] = {"error", "warning", "info", "debug"};
    tool_progress_done();
    fprintf(stderr, "%s: %s: %s\n", g_prog, names[level <= MIA_LOG_DEBUG ? level : 0], msg);
}

void tool_init(const char *prog)
{
    g_prog = prog;
    mia_log_set(log_sink, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void tool_set_verbosity(int v)
{
    g_verbosity = v;
    mia_log_set_level(v < 0 ? MIA_LOG_ERROR : v == 0 ? MIA_LOG_WARN : v == 1 ? MIA_LOG_INFO
                                                                             : MIA_LOG_DEBUG);
}

int tool_usage_error(const char *fmt, ...)
{
    va_list ap;
    tool_progress_done();
    fprintf(stderr, "%s: ", g_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return TOOL_EXIT_USAGE;
}

int tool_exit_code(mia_status s)
{
    switch (s) {
    case MIA_OK: return TOOL_EXIT_OK;
    case MIA_ERR_INVALID: return TOOL_EXIT_USAGE;
    case MIA_ERR_NOMEM: return TOOL_EXIT_NOMEM;
    case MIA_ERR_CANCELLED: return TOOL_EXIT_CANCELLED;
    default: return TOOL_EXIT_FAILURE;
    }
}

int tool_fail(mia_status s, const char *context)
{
    const char *msg = mia_last_error();
    tool_progress_done();
    if (msg && *msg)
        fprintf(stderr, "%s: %s\n", g_prog, msg);
    else
        fprintf(stderr, "%s: %s: %s\n", g_prog, context ? context : "error", mia_status_str(s));
    return tool_exit_code(s);
}

bool tool_parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        tool_usage_error("%s: '%s' is not an integer in [%lld, %lld]", opt, s ? s : "",
                         (long long)lo, (long long)hi);
        return false;
    }
    *out = v;
    return true;
}

bool tool_parse_f64(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !isfinite(v) || v < lo || v > hi) {
        tool_usage_error("%s: '%s' is not a number in [%g, %g]", opt, s ? s : "", lo, hi);
        return false;
    }
    *out = v;
    return true;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fmt_eta(double s, char *buf, size_t n)
{
    if (!(s >= 0)) {
        snprintf(buf, n, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

bool tool_progress(const mia_progress *p, void *user_data)
{
    (void)user_data;
    if (g_interrupted) return false;
    if (g_verbosity < 0) return true;
    bool tty = isatty(STDERR_FILENO);
    bool last = p->steps > 0 && p->step >= p->steps;
    double t = now_s();
    if (!tty && !last && t - g_last_print < 2.0) return true;
    g_last_print = t;
    char eta[32] = "", epoch[48] = "", loss[32] = "", rate[32] = "";
    if (p->eta_seconds >= 0) {
        snprintf(eta, sizeof eta, " ETA ");
        fmt_eta(p->eta_seconds, eta + 5, sizeof eta - 5);
    }
    /* stages that do not process images report a negative rate: print neither rate nor ETA */
    if (p->items_per_sec >= 0) snprintf(rate, sizeof rate, " %.0f img/s", p->items_per_sec);
    if (p->epoch > 0) snprintf(epoch, sizeof epoch, " epoch %lld/%lld", (long long)p->epoch,
                               (long long)p->epochs);
    if (!isnan(p->loss)) snprintf(loss, sizeof loss, " loss %.4f", p->loss);
    fprintf(stderr, "%s%s: %s%s step %lld/%lld%s%s%s%s", tty ? "\r" : "", g_prog,
            p->stage ? p->stage : "", epoch, (long long)p->step, (long long)p->steps, loss, rate,
            eta, tty ? "\033[K" : "\n");
    g_line_open = tty;
    fflush(stderr);
    return true;
}

void tool_progress_done(void)
{
    if (g_line_open) {
        fputc('\n', stderr);
        g_line_open = 0;
    }
}

bool tool_interrupted(void) { return g_interrupted != 0; }
