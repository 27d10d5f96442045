/*
 * PNG writing through stb_image_write (Debian libstb; safe: it only encodes our own pixels).
 * Files are written atomically: "<path>.tmp.<pid>.<n>", fsync, rename.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <stb_image_write.h>

#include "data/image.h"

typedef struct membuf {
    uint8_t *data;
    size_t len, cap;
    bool failed;
} membuf;

static void append_cb(void *ctx, void *data, int size)
{
    membuf *m = ctx;
    if (m->failed || size <= 0) return;
    if (m->len + (size_t)size > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + (size_t)size) cap *= 2;
        uint8_t *p = mia__realloc(m->data, cap);
        if (!p) {
            m->failed = true;
            return;
        }
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->len, data, (size_t)size);
    m->len += (size_t)size;
}

mia_status mia__image_encode_png(const uint8_t *pixels, int64_t width, int64_t height,
                                 int channels, uint8_t **png, size_t *len)
{
    if (png) *png = NULL;
    MIA_CHECK_ARG(png && len && pixels, "png, len and pixels must not be NULL");
    MIA_CHECK_ARG(channels == 1 || channels == 3 || channels == 4,
                  "channels must be 1, 3 or 4 (got %d)", channels);
    MIA_CHECK_ARG(width >= 1 && height >= 1 && width <= 65535 && height <= 65535,
                  "image size %lldx%lld out of range 1..65535", (long long)width,
                  (long long)height);
    membuf m = {0};
    int ok = stbi_write_png_to_func(append_cb, &m, (int)width, (int)height, channels, pixels,
                                    (int)(width * channels));
    if (!ok || m.failed) {
        mia__free(m.data);
        return MIA_ERROR(MIA_ERR_NOMEM, "PNG encoding of a %lldx%lld image failed (out of memory)",
                         (long long)width, (long long)height);
    }
    *png = m.data;
    *len = m.len;
    return MIA_OK;
}

mia_status mia__image_write_png(const char *path, const uint8_t *pixels, int64_t width,
                                int64_t height, int channels)
{
    static atomic_uint counter;
    MIA_CHECK_ARG(path != NULL, "path must not be NULL");
    uint8_t *png = NULL;
    size_t len = 0;
    MIA_TRY(mia__image_encode_png(pixels, width, height, channels, &png, &len));
    size_t tl = strlen(path) + 64;
    char *tmp = mia__malloc(tl);
    if (!tmp) {
        mia__free(png);
        return MIA_ERROR(MIA_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, tl, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1u));
    mia_status s = MIA_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        s = MIA_ERROR(MIA_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        goto out;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, png + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            s = MIA_ERROR(MIA_ERR_IO, "%s: write failed: %s", path, strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (s == MIA_OK && fsync(fd) != 0)
        s = MIA_ERROR(MIA_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
    if (close(fd) != 0 && s == MIA_OK)
        s = MIA_ERROR(MIA_ERR_IO, "%s: close failed: %s", path, strerror(errno));
    if (s == MIA_OK && rename(tmp, path) != 0)
        s = MIA_ERROR(MIA_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
    if (s != MIA_OK) unlink(tmp);
out:
    mia__free(tmp);
    mia__free(png);
    return s;
}
