/* Streaming, capped archive reader on top of libarchive. See archive.h for the rules. */
#include <archive.h>
#include <archive_entry.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"

void mia__archive_caps_default(mia_archive_caps *c)
{
    c->max_entries = 1000000;
    c->max_entry_bytes = (uint64_t)4 << 30;
    c->max_total_bytes = (uint64_t)64 << 30;
    c->max_ratio = 200.0;
    c->ratio_grace = (uint64_t)64 << 20;
    c->max_name_len = 4096;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    if (b > a) return 0;
    for (size_t i = 0; i < b; i++) {
        char x = s[a - b + i], y = suf[i];
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (x != y) return 0;
    }
    return 1;
}

int mia__archive_is_archive_name(const char *path)
{
    return ends_with(path, ".tar") || ends_with(path, ".tar.gz") || ends_with(path, ".tgz") ||
           ends_with(path, ".zip");
}

/* Returns NULL when the name is acceptable, else a description of the problem. */
static const char *check_name(const char *name, size_t max_len)
{
    size_t len = strlen(name);
    if (len == 0) return "empty name";
    if (len > max_len) return "name longer than the cap";
    if (name[0] == '/' || name[0] == '\\') return "absolute path";
    if (len >= 2 && name[1] == ':') return "absolute (drive) path";
    const char *p = name;
    /* a leading "./" is harmless (tar archives made with "tar -C dir .") */
    while (p[0] == '.' && p[1] == '/') p += 2;
    while (*p) {
        const char *e = p;
        while (*e && *e != '/' && *e != '\\') e++;
        size_t cl = (size_t)(e - p);
        if (cl == 0 && *e) return "empty path component";
        if (cl == 2 && p[0] == '.' && p[1] == '.') return "'..' path component";
        p = *e ? e + 1 : e;
    }
    return NULL;
}

typedef struct ratio_state {
    struct archive *a;
    const mia_archive_caps *caps;
    const char *path;
} ratio_state;

static mia_status check_ratio(const ratio_state *r, const char *name)
{
    int64_t out = archive_filter_bytes(r->a, 0);
    int64_t in = archive_filter_bytes(r->a, -1);
    if (out < 0 || in <= 0) return MIA_OK;
    if ((uint64_t)out > r->caps->ratio_grace && (double)out > r->caps->max_ratio * (double)in)
        return MIA_ERROR(MIA_ERR_FORMAT,
                         "%s: entry '%s': decompression ratio %.0f:1 exceeds the cap %.0f:1 "
                         "after %lld bytes (compressed offset %lld): refusing a possible "
                         "decompression bomb",
                         r->path, name, (double)out / (double)in, r->caps->max_ratio,
                         (long long)out, (long long)in);
    return MIA_OK;
}

/* Iterate an opened reader (shared by the file and memory entry points); frees a. */
static mia_status foreach_open(struct archive *a, const char *path, const mia_archive_caps *caps_in,
                               mia_archive_want_fn want, mia_archive_entry_fn fn, void *user);

static struct archive *new_reader(void)
{
    struct archive *a = archive_read_new();
    if (!a) return NULL;
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_read_support_format_zip(a);
    return a;
}

mia_status mia__archive_foreach(const char *path, const mia_archive_caps *caps_in,
                                mia_archive_want_fn want, mia_archive_entry_fn fn, void *user)
{
    MIA_CHECK_ARG(path != NULL, "archive path is NULL");
    MIA_CHECK_ARG(fn != NULL, "archive callback is NULL");
    struct archive *a = new_reader();
    if (!a) return MIA_ERROR(MIA_ERR_NOMEM, "%s: cannot create an archive reader", path);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        mia_status st;
        struct stat sb;
        if (stat(path, &sb) != 0)
            st = MIA_ERROR(MIA_ERR_IO, "%s: cannot open archive: no such file", path);
        else
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: not a readable tar/tar.gz/zip archive: %s", path,
                           archive_error_string(a) ? archive_error_string(a) : "unknown");
        archive_read_free(a);
        return st;
    }
    return foreach_open(a, path, caps_in, want, fn, user);
}

mia_status mia__archive_foreach_mem(const void *data, size_t len, const char *name,
                                    const mia_archive_caps *caps_in, mia_archive_want_fn want,
                                    mia_archive_entry_fn fn, void *user)
{
    if (!name) name = "<memory>";
    MIA_CHECK_ARG(data != NULL || len == 0, "%s: archive data is NULL", name);
    MIA_CHECK_ARG(fn != NULL, "archive callback is NULL");
    static const uint8_t empty[1] = {0};
    struct archive *a = new_reader();
    if (!a) return MIA_ERROR(MIA_ERR_NOMEM, "%s: cannot create an archive reader", name);
    if (archive_read_open_memory(a, len ? data : empty, len) != ARCHIVE_OK) {
        mia_status st = MIA_ERROR(MIA_ERR_FORMAT, "%s: not a readable tar/tar.gz/zip archive: %s",
                                  name, archive_error_string(a) ? archive_error_string(a)
                                                                : "unknown");
        archive_read_free(a);
        return st;
    }
    return foreach_open(a, name, caps_in, want, fn, user);
}

static mia_status foreach_open(struct archive *a, const char *path, const mia_archive_caps *caps_in,
                               mia_archive_want_fn want, mia_archive_entry_fn fn, void *user)
{
    mia_archive_caps caps;
    if (caps_in) caps = *caps_in;
    else mia__archive_caps_default(&caps);
    mia_status st = MIA_OK;
    uint8_t *buf = NULL;
    size_t cap = 0;
    uint8_t scratch[65536];
    ratio_state rs = {a, &caps, path};
    uint64_t n_entries = 0, total = 0;
    for (;;) {
        struct archive_entry *e = NULL;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r == ARCHIVE_RETRY) continue;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: bad archive header after entry #%llu "
                           "(compressed offset %lld): %s",
                           path, (unsigned long long)n_entries,
                           (long long)archive_filter_bytes(a, -1),
                           archive_error_string(a) ? archive_error_string(a) : "unknown");
            break;
        }
        n_entries++;
        if (n_entries > caps.max_entries) {
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: more than %llu entries (cap)", path,
                           (unsigned long long)caps.max_entries);
            break;
        }
        const char *name = archive_entry_pathname(e);
        if (!name) {
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: entry #%llu has no (or an unconvertible) name",
                           path, (unsigned long long)n_entries);
            break;
        }
        const char *bad = check_name(name, caps.max_name_len);
        if (bad) {
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: entry #%llu '%.200s' rejected: %s", path,
                           (unsigned long long)n_entries, name, bad);
            break;
        }
        if (archive_entry_hardlink(e)) {
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: entry '%s' rejected: hardlink to '%.200s'", path,
                           name, archive_entry_hardlink(e));
            break;
        }
        mode_t ft = archive_entry_filetype(e);
        if (ft == AE_IFDIR) continue;
        if (ft == AE_IFLNK) {
            const char *t = archive_entry_symlink(e);
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: entry '%s' rejected: symlink to '%.200s'", path,
                           name, t ? t : "?");
            break;
        }
        if (ft != AE_IFREG) {
            st = MIA_ERROR(MIA_ERR_FORMAT,
                           "%s: entry '%s' rejected: not a regular file (type 0%o)", path, name,
                           (unsigned)ft);
            break;
        }
        int have_size = archive_entry_size_is_set(e);
        int64_t declared = have_size ? archive_entry_size(e) : -1;
        if (have_size && (declared < 0 || (uint64_t)declared > caps.max_entry_bytes)) {
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: entry '%s' declares %lld bytes (cap %llu)", path,
                           name, (long long)declared, (unsigned long long)caps.max_entry_bytes);
            break;
        }
        if (have_size && total + (uint64_t)declared > caps.max_total_bytes) {
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: entry '%s' would bring the total to more than "
                           "%llu bytes (cap)", path, name,
                           (unsigned long long)caps.max_total_bytes);
            break;
        }
        int w = want ? want(name, declared, user) : 1;
        if (w < 0) break;
        size_t got = 0;
        if (w > 0 && have_size && (size_t)declared > cap) {
            uint8_t *nb = mia__realloc(buf, (size_t)declared ? (size_t)declared : 1);
            if (!nb) {
                st = MIA_ERROR(MIA_ERR_NOMEM, "%s: entry '%s': cannot allocate %lld bytes", path,
                               name, (long long)declared);
                break;
            }
            buf = nb;
            cap = (size_t)declared;
        }
        for (;;) {
            uint8_t *dst = scratch;
            size_t room = sizeof scratch;
            if (w > 0) {
                if (got == cap) {
                    /* unknown or exceeded declared size: grow (capped) */
                    if (have_size) {
                        /* one more read to detect data beyond the declared size */
                        dst = scratch;
                        room = sizeof scratch;
                    } else {
                        size_t nc = cap ? cap * 2 : (1u << 20);
                        if (nc > caps.max_entry_bytes) nc = (size_t)caps.max_entry_bytes + 1;
                        uint8_t *nb = mia__realloc(buf, nc);
                        if (!nb) {
                            st = MIA_ERROR(MIA_ERR_NOMEM, "%s: entry '%s': out of memory", path,
                                           name);
                            break;
                        }
                        buf = nb;
                        cap = nc;
                        dst = buf + got;
                        room = cap - got;
                    }
                } else {
                    dst = buf + got;
                    room = cap - got;
                }
            }
            la_ssize_t k = archive_read_data(a, dst, room);
            if (k < 0) {
                st = MIA_ERROR(MIA_ERR_FORMAT, "%s: entry '%s': data error after %zu bytes "
                               "(compressed offset %lld): %s",
                               path, name, got, (long long)archive_filter_bytes(a, -1),
                               archive_error_string(a) ? archive_error_string(a) : "unknown");
                break;
            }
            if (k == 0) break;
            if (w > 0 && have_size && dst == scratch) {
                st = MIA_ERROR(MIA_ERR_FORMAT, "%s: entry '%s': more data than the declared "
                               "%lld bytes", path, name, (long long)declared);
                break;
            }
            got += (size_t)k;
            total += (uint64_t)k;
            if (got > caps.max_entry_bytes) {
                st = MIA_ERROR(MIA_ERR_FORMAT, "%s: entry '%s' exceeds %llu bytes (cap)", path,
                               name, (unsigned long long)caps.max_entry_bytes);
                break;
            }
            if (total > caps.max_total_bytes) {
                st = MIA_ERROR(MIA_ERR_FORMAT, "%s: total uncompressed data exceeds %llu bytes "
                               "(cap) in entry '%s'", path,
                               (unsigned long long)caps.max_total_bytes, name);
                break;
            }
            if ((st = check_ratio(&rs, name)) != MIA_OK) break;
        }
        if (st != MIA_OK) break;
        if (have_size && got != (size_t)declared) {
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: entry '%s': %zu bytes of data but %lld declared "
                           "(truncated archive?)", path, name, got, (long long)declared);
            break;
        }
        if (w > 0) {
            static const uint8_t empty[1] = {0};
            st = fn(name, got ? buf : empty, got, user);
            if (st != MIA_OK) break;
        }
    }
    mia__free(buf);
    archive_read_free(a);
    return st;
}
