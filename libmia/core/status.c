/* Status names, messages and the thread-local error detail. */
#include <stdio.h>
#include <string.h>

#include "mia-internal.h"

#define MIA_ERRBUF 1024

static _Thread_local char tl_msg[MIA_ERRBUF];
static _Thread_local int tl_pending; /* an error was recorded in the current call */

const char *mia_status_str(mia_status s)
{
    switch (s) {
#define MIA_STATUS_STR_(name, value, msg) case MIA_##name: return msg;
        MIA_STATUS_MAP(MIA_STATUS_STR_)
#undef MIA_STATUS_STR_
    default: return "unknown status";
    }
}

const char *mia_status_name(mia_status s)
{
    switch (s) {
#define MIA_STATUS_NAME_(name, value, msg) case MIA_##name: return #name;
        MIA_STATUS_MAP(MIA_STATUS_NAME_)
#undef MIA_STATUS_NAME_
    default: return "UNKNOWN";
    }
}

const char *mia_last_error(void) { return tl_msg; }

void mia_clear_error(void)
{
    tl_msg[0] = '\0';
    tl_pending = 0;
}

void mia__error_begin(void)
{
    tl_pending = 0;
}

mia_status mia__verror(mia_status s, const char *func, const char *fmt, va_list ap)
{
    (void)func;
    if (s == MIA_OK) return s;
    if (tl_pending) return s; /* the first error of a call wins */
    tl_pending = 1;
    vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
    mia__log(MIA_LOG_DEBUG, "%s: %s: %s", func ? func : "?", mia_status_name(s), tl_msg);
    return s;
}

mia_status mia__error(mia_status s, const char *func, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mia__verror(s, func, fmt, ap);
    va_end(ap);
    return s;
}

void mia__error_prefix(const char *fmt, ...)
{
    char buf[2 * MIA_ERRBUF + 4];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, MIA_ERRBUF, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (n >= MIA_ERRBUF ? MIA_ERRBUF - 1 : (size_t)n);
    memcpy(buf + len, ": ", 2);
    memcpy(buf + len + 2, tl_msg, strlen(tl_msg) + 1);
    memcpy(tl_msg, buf, MIA_ERRBUF - 1);
    tl_msg[MIA_ERRBUF - 1] = '\0';
}
