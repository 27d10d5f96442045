/* Bounded whole-file reads: the size is checked with fstat before anything is allocated. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io.h"

mia_status mia__read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len)
{
    if (data) *data = NULL;
    if (len) *len = 0;
    if (!data || !len) return MIA_ERROR(MIA_ERR_INVALID, "data/len output is NULL");
    if (!path) return MIA_ERROR(MIA_ERR_INVALID, "path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return MIA_ERROR(MIA_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return MIA_ERROR(MIA_ERR_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return MIA_ERROR(MIA_ERR_IO, "cannot read '%s': %s", path, strerror(EISDIR));
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)max_bytes ||
        (uint64_t)st.st_size >= (uint64_t)SIZE_MAX) {
        close(fd);
        return MIA_ERROR(MIA_ERR_FORMAT, "'%s' is %lld bytes, more than the limit of %zu bytes",
                         path, (long long)st.st_size, max_bytes);
    }
    size_t cap = (size_t)st.st_size + 1; /* +1: NUL terminator, and detects growth */
    if (cap < 4096 && !S_ISREG(st.st_mode)) cap = 4096;
    uint8_t *buf = mia__malloc(cap);
    if (!buf) {
        close(fd);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory reading '%s' (%zu bytes)", path, cap);
    }
    if (max_bytes > SIZE_MAX - 2) max_bytes = SIZE_MAX - 2;
    size_t n = 0;
    for (;;) {
        if (n + 1 == cap) { /* buffer full: at EOF, or the file grew / is not a regular file */
            uint8_t extra;
            ssize_t r = read(fd, &extra, 1);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                int e = errno;
                mia__free(buf);
                close(fd);
                return MIA_ERROR(MIA_ERR_IO, "cannot read '%s': %s", path, strerror(e));
            }
            if (r == 0) break;
            if (n + 1 > max_bytes) {
                mia__free(buf);
                close(fd);
                return MIA_ERROR(MIA_ERR_FORMAT, "'%s' is more than the limit of %zu bytes", path,
                                 max_bytes);
            }
            size_t ncap = cap > (max_bytes + 1) / 2 ? max_bytes + 1 : cap * 2;
            if (ncap < n + 2) ncap = n + 2;
            uint8_t *nb = mia__realloc(buf, ncap);
            if (!nb) {
                mia__free(buf);
                close(fd);
                return MIA_ERROR(MIA_ERR_NOMEM, "out of memory reading '%s'", path);
            }
            buf = nb;
            cap = ncap;
            buf[n++] = extra;
            continue;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            mia__free(buf);
            close(fd);
            return MIA_ERROR(MIA_ERR_IO, "cannot read '%s': %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *data = buf;
    *len = n;
    return MIA_OK;
}
