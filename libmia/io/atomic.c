/* Atomic, durable file writes: temp file in the same directory (O_EXCL) -> write all ->
 * fsync(file) -> rename -> fsync(directory). Any failure removes the temp file and leaves the
 * destination untouched. A test hook fails the k-th write/fsync/rename with a chosen errno. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io.h"

#define AFILE_BUF (1 << 16)

struct mia_afile {
    char *path;
    char *tmp;
    char *dir;       /* directory holding path, fsynced after the rename */
    int fd;
    int err;         /* sticky errno of the first failure, 0 if none */
    const char *op;  /* what failed */
    size_t nbuf;
    uint8_t buf[AFILE_BUF];
};

/* ---- fault hook ------------------------------------------------------------------------- */
static atomic_int g_fail_k;
static atomic_int g_fail_err;
static atomic_long g_ops;

void mia__io_fail_after(int k, int err)
{
    atomic_store(&g_ops, 0);
    atomic_store(&g_fail_err, err);
    atomic_store(&g_fail_k, k > 0 ? k : 0);
}

long mia__io_ops(void) { return atomic_load(&g_ops); }

/* Returns nonzero (and sets errno) when this hooked call must fail. */
static int inject(void)
{
    long n = atomic_fetch_add(&g_ops, 1) + 1;
    int k = atomic_load(&g_fail_k);
    if (k > 0 && n == k) {
        atomic_store(&g_fail_k, 0);
        errno = atomic_load(&g_fail_err);
        return 1;
    }
    return 0;
}

static ssize_t h_write(int fd, const void *p, size_t n)
{
    if (inject()) return -1;
    return write(fd, p, n);
}
static int h_fsync(int fd)
{
    if (inject()) return -1;
    return fsync(fd);
}
static int h_rename(const char *a, const char *b)
{
    if (inject()) return -1;
    return rename(a, b);
}

/* ---- implementation ------------------------------------------------------------------------ */
static void set_err(mia_afile *f, const char *op, int e)
{
    if (!f->err) {
        f->err = e ? e : EIO;
        f->op = op;
    }
}

static mia_status report(mia_afile *f)
{
    return MIA_ERROR(MIA_ERR_IO, "cannot write '%s' (%s): %s", f->path, f->op, strerror(f->err));
}

static void flush_buf(mia_afile *f)
{
    size_t off = 0;
    while (!f->err && off < f->nbuf) {
        ssize_t w = h_write(f->fd, f->buf + off, f->nbuf - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) set_err(f, "write", errno);
        else if (w == 0) set_err(f, "write", ENOSPC);
        else off += (size_t)w;
    }
    f->nbuf = 0;
}

static void destroy(mia_afile *f, int unlink_tmp)
{
    if (f->fd >= 0) close(f->fd);
    if (unlink_tmp && f->tmp) unlink(f->tmp);
    mia__free(f->tmp);
    mia__free(f->dir);
    mia__free(f->path);
    mia__free(f);
}

mia_status mia__afile_open(mia_afile **out, const char *path)
{
    if (!out) return MIA_ERROR(MIA_ERR_INVALID, "out is NULL");
    *out = NULL;
    if (!path || !*path) return MIA_ERROR(MIA_ERR_INVALID, "path is NULL or empty");
    mia_afile *f = mia__calloc(1, sizeof *f);
    if (!f) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory opening '%s'", path);
    f->fd = -1;
    size_t n = strlen(path);
    f->path = mia__strdup(path);
    f->tmp = mia__malloc(n + 32);
    f->dir = mia__malloc(n + 2);
    if (!f->path || !f->tmp || !f->dir) {
        destroy(f, 0);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory opening '%s'", path);
    }
    memcpy(f->dir, path, n + 1);
    char *slash = strrchr(f->dir, '/');
    if (!slash) strcpy(f->dir, ".");
    else if (slash == f->dir) f->dir[1] = '\0';
    else *slash = '\0';
    static atomic_uint counter;
    for (int attempt = 0; attempt < 64; attempt++) {
        uint64_t r = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^
                     (uint64_t)(mia__now() * 1e9) ^
                     ((uint64_t)atomic_fetch_add(&counter, 1) << 40);
        snprintf(f->tmp, n + 32, "%s.tmp.%06llx", path, (unsigned long long)(r & 0xffffffull));
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (f->fd >= 0 || errno != EEXIST) break;
    }
    if (f->fd < 0) {
        int e = errno;
        mia_status s = MIA_ERROR(MIA_ERR_IO, "cannot create temporary file for '%s': %s", path,
                                 strerror(e));
        destroy(f, 0);
        return s;
    }
    *out = f;
    return MIA_OK;
}

mia_status mia__afile_write(mia_afile *f, const void *data, size_t n)
{
    if (!f) return MIA_ERROR(MIA_ERR_INVALID, "file handle is NULL");
    if (n && !data) return MIA_ERROR(MIA_ERR_INVALID, "data is NULL");
    const uint8_t *p = data;
    while (n && !f->err) {
        if (f->nbuf == AFILE_BUF) flush_buf(f);
        if (f->err) break;
        if (f->nbuf == 0 && n >= AFILE_BUF) { /* large writes bypass the buffer */
            memcpy(f->buf, p, AFILE_BUF);
            f->nbuf = AFILE_BUF;
            flush_buf(f);
            p += AFILE_BUF;
            n -= AFILE_BUF;
            continue;
        }
        size_t take = AFILE_BUF - f->nbuf < n ? AFILE_BUF - f->nbuf : n;
        memcpy(f->buf + f->nbuf, p, take);
        f->nbuf += take;
        p += take;
        n -= take;
    }
    return f->err ? report(f) : MIA_OK;
}

mia_status mia__afile_printf(mia_afile *f, const char *fmt, ...)
{
    if (!f) return MIA_ERROR(MIA_ERR_INVALID, "file handle is NULL");
    if (!fmt) return MIA_ERROR(MIA_ERR_INVALID, "fmt is NULL");
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (len < 0) {
        set_err(f, "format", EINVAL);
        return report(f);
    }
    if ((size_t)len < sizeof small) return mia__afile_write(f, small, (size_t)len);
    char *big = mia__malloc((size_t)len + 1);
    if (!big) {
        set_err(f, "format", ENOMEM);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory writing '%s'", f->path);
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)len + 1, fmt, ap);
    va_end(ap);
    mia_status s = mia__afile_write(f, big, (size_t)len);
    mia__free(big);
    return s;
}

static void fsync_dir(mia_afile *f)
{
    int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        set_err(f, "open directory", errno);
        return;
    }
    if (h_fsync(dfd) != 0 && errno != EINVAL) set_err(f, "fsync directory", errno);
    close(dfd);
}

mia_status mia__afile_commit(mia_afile *f)
{
    if (!f) return MIA_ERROR(MIA_ERR_INVALID, "file handle is NULL");
    if (!f->err) flush_buf(f);
    if (!f->err && h_fsync(f->fd) != 0) set_err(f, "fsync", errno);
    if (!f->err && close(f->fd) != 0) set_err(f, "close", errno);
    if (!f->err) f->fd = -1;
    if (f->err) {
        mia_status s = report(f);
        destroy(f, 1);
        return s;
    }
    if (h_rename(f->tmp, f->path) != 0) {
        set_err(f, "rename", errno);
        mia_status s = report(f);
        destroy(f, 1);
        return s;
    }
    /* The new file is in place; only its directory entry's durability can still fail. */
    fsync_dir(f);
    mia_status s = f->err ? report(f) : MIA_OK;
    destroy(f, 0);
    return s;
}

void mia__afile_abort(mia_afile *f)
{
    if (f) destroy(f, 1);
}

mia_status mia__write_file_atomic(const char *path, const void *data, size_t n)
{
    mia_afile *f = NULL;
    MIA_TRY(mia__afile_open(&f, path));
    mia_status s = mia__afile_write(f, data, n);
    if (s != MIA_OK) {
        mia__afile_abort(f);
        return s;
    }
    return mia__afile_commit(f);
}
