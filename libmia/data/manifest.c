/* Data manifests (data-manifests/NAME.json): per-file size, SHA-256, MD5, MD5 of gunzipped
 * content; verification report. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data/data-internal.h"
#include "io/io.h"

typedef struct report_entry {
    char *name;
    mia_file_check status;
    char *detail;
} report_entry;

struct mia_manifest_report {
    report_entry *e;
    int64_t n;
};

void mia_manifest_report_free(mia_manifest_report *r)
{
    if (!r) return;
    for (int64_t i = 0; i < r->n; i++) {
        mia__free(r->e[i].name);
        mia__free(r->e[i].detail);
    }
    mia__free(r->e);
    mia__free(r);
}

int64_t mia_manifest_report_count(const mia_manifest_report *r) { return r ? r->n : 0; }

const char *mia_manifest_report_name(const mia_manifest_report *r, int64_t i)
{
    return (r && i >= 0 && i < r->n) ? r->e[i].name : NULL;
}

mia_file_check mia_manifest_report_status(const mia_manifest_report *r, int64_t i)
{
    return (r && i >= 0 && i < r->n) ? r->e[i].status : MIA_FILE_MISSING;
}

const char *mia_manifest_report_detail(const mia_manifest_report *r, int64_t i)
{
    return (r && i >= 0 && i < r->n) ? r->e[i].detail : NULL;
}

bool mia_manifest_report_ok(const mia_manifest_report *r)
{
    if (!r) return false;
    for (int64_t i = 0; i < r->n; i++)
        if (r->e[i].status != MIA_FILE_OK) return false;
    return true;
}

static void hex(const uint8_t *d, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_eq(const char *a, const char *b)
{
    if (strlen(a) != strlen(b)) return 0;
    for (; *a; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'F') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'F') y = (char)(y - 'A' + 'a');
        if (x != y) return 0;
    }
    return 1;
}

/* Stream the file once computing MD5 and SHA-256. */
static mia_status hash_file(const char *path, char md5[33], char sha[65])
{
    FILE *f = fopen(path, "rb");
    if (!f) return MIA_ERROR(MIA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    mia_md5 m;
    mia_sha256 s;
    mia__md5_init(&m);
    mia__sha256_init(&s);
    uint8_t buf[1 << 16];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) {
        mia__md5_update(&m, buf, k);
        mia__sha256_update(&s, buf, k);
    }
    int err = ferror(f);
    fclose(f);
    if (err) return MIA_ERROR(MIA_ERR_IO, "%s: read error", path);
    uint8_t d[32];
    mia__md5_final(&m, d);
    hex(d, 16, md5);
    mia__sha256_final(&s, d);
    hex(d, 32, sha);
    return MIA_OK;
}

static int gunzip_md5(const char *path, char md5[33], char *err, size_t errcap)
{
    gzFile g = gzopen(path, "rb");
    if (!g) {
        snprintf(err, errcap, "cannot open for gunzip");
        return -1;
    }
    mia_md5 m;
    mia__md5_init(&m);
    uint8_t buf[1 << 16];
    int k;
    while ((k = gzread(g, buf, sizeof buf)) > 0) mia__md5_update(&m, buf, (size_t)k);
    int zerr = 0;
    const char *msg = gzerror(g, &zerr);
    if (k < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
        snprintf(err, errcap, "gunzip failed: %s", msg ? msg : "error");
        gzclose(g);
        return -1;
    }
    gzclose(g);
    uint8_t d[16];
    mia__md5_final(&m, d);
    hex(d, 16, md5);
    return 0;
}

static mia_status check_one(report_entry *e, json_t *f, const char *dir)
{
    char path[4096], det[512];
    snprintf(path, sizeof path, "%s/%s", dir, e->name);
    e->status = MIA_FILE_OK;
    snprintf(det, sizeof det, "ok");
    struct stat sb;
    json_t *size = json_object_get(f, "size");
    const char *md5 = json_string_value(json_object_get(f, "md5"));
    const char *sha = json_string_value(json_object_get(f, "sha256"));
    const char *md5d = json_string_value(json_object_get(f, "md5_decompressed"));
    json_t *alt = json_object_get(f, "md5_alt");
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        e->status = MIA_FILE_MISSING;
        snprintf(det, sizeof det, "missing: %.400s", path);
    } else if (json_is_integer(size) && json_integer_value(size) != (json_int_t)sb.st_size &&
               !(alt && md5d)) {
        /* a size mismatch is final unless alternatives exist (Debian's re-gzipped files) */
        e->status = MIA_FILE_MISMATCH;
        snprintf(det, sizeof det, "size mismatch: %lld bytes, expected %lld",
                 (long long)sb.st_size, (long long)json_integer_value(size));
    } else {
        char m[33], s[65];
        MIA_TRY(hash_file(path, m, s));
        int md5_ok = !md5 || hex_eq(m, md5);
        if (!md5_ok && json_is_array(alt))
            for (size_t i = 0; i < json_array_size(alt); i++) {
                const char *a = json_string_value(json_array_get(alt, i));
                if (a && hex_eq(m, a)) md5_ok = 1;
            }
        if (sha && !hex_eq(s, sha)) {
            e->status = MIA_FILE_MISMATCH;
            snprintf(det, sizeof det, "sha256 mismatch: %s, expected %s", s, sha);
        } else if (md5d) {
            char dm[33], err[200];
            if (gunzip_md5(path, dm, err, sizeof err) != 0) {
                e->status = MIA_FILE_MISMATCH;
                snprintf(det, sizeof det, "%s", err);
            } else if (!hex_eq(dm, md5d)) {
                e->status = MIA_FILE_MISMATCH;
                snprintf(det, sizeof det, "md5 of decompressed content mismatch: %s, expected %s",
                         dm, md5d);
            } else {
                snprintf(det, sizeof det, "ok (decompressed content md5 %s)", dm);
            }
        } else if (!md5_ok) {
            e->status = MIA_FILE_MISMATCH;
            snprintf(det, sizeof det, "md5 mismatch: %s, expected %s", m, md5);
        }
    }
    e->detail = mia__strdup(det);
    if (!e->detail) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    return MIA_OK;
}

/* Parse manifest JSON text (named manifest_path in messages) and check its files in data_dir. */
static mia_status verify_text(mia_manifest_report **out, const char *text, size_t len,
                              const char *manifest_path, const char *data_dir)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return MIA_ERROR(MIA_ERR_FORMAT, "%s: invalid JSON at line %d column %d: %s",
                         manifest_path, jerr.line, jerr.column, jerr.text);
    mia_status st = MIA_OK;
    json_t *files = json_object_get(root, "files");
    mia_manifest_report *r = NULL;
    if (!json_is_array(files) || json_array_size(files) == 0) {
        st = MIA_ERROR(MIA_ERR_FORMAT, "%s: missing or empty \"files\" array", manifest_path);
        goto done;
    }
    r = mia__calloc(1, sizeof *r);
    if (r) r->e = mia__calloc(json_array_size(files), sizeof *r->e);
    if (!r || !r->e) {
        st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        if (!name || !*name || strstr(name, "..") || name[0] == '/') {
            st = MIA_ERROR(MIA_ERR_FORMAT, "%s: files[%zu] has a missing or unsafe \"name\"",
                           manifest_path, i);
            goto done;
        }
        r->e[i].name = mia__strdup(name);
        r->n = (int64_t)i + 1;
        if (!r->e[i].name) {
            st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
            goto done;
        }
        if ((st = check_one(&r->e[i], f, data_dir)) != MIA_OK) goto done;
    }
done:
    json_decref(root);
    if (st != MIA_OK) {
        mia_manifest_report_free(r);
        return st;
    }
    *out = r;
    return MIA_OK;
}

mia_status mia_manifest_verify(mia_manifest_report **out, const char *manifest_path,
                               const char *data_dir)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(manifest_path != NULL && data_dir != NULL, "manifest_path or data_dir is NULL");
    uint8_t *text = NULL;
    size_t len = 0;
    MIA_TRY(mia__read_file(manifest_path, 1 << 20, &text, &len));
    mia_status st = verify_text(out, (const char *)text, len, manifest_path, data_dir);
    mia__free(text);
    return st;
}

mia_status mia__manifest_verify_mem(mia_manifest_report **out, const char *json, size_t len,
                                    const char *name, const char *data_dir)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG((json != NULL || len == 0) && data_dir != NULL, "json or data_dir is NULL");
    MIA_CHECK_ARG(len <= (1u << 20), "%s: manifest of %zu bytes exceeds 1 MiB",
                  name ? name : "<memory>", len);
    return verify_text(out, json ? json : "", len, name ? name : "<memory>", data_dir);
}
