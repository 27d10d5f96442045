/* Fake-image folders: DIR/Images/<class>/<%05d>.png (ImageFolder layout, PNGs through
 * stb_image_write, each written atomically) and DIR/manifest.json in the data-manifest format
 * (files: name, size, sha256) plus the generator's description, so mia_manifest_verify()
 * re-checks it. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <mia/dataset.h>
#include <mia/gen.h>

#include "core/rng.h"
#include "data/image.h"
#include "io/io.h"

static const char *const PAPER_CIFAR10[10] = {"plane", "car",  "bird",  "cat",  "deer",
                                              "dog",   "frog", "horse", "ship", "truck"};

void mia_gen_folder_opts_init_sized(mia_gen_folder_opts *o, size_t size)
{
    if (!o) return;
    memset(o, 0, size);
    mia_gen_folder_opts t = {0};
    t.struct_size = (uint32_t)sizeof t;
    t.per_class = 100;
    t.seed = 42;
    t.truncation = 1.0f;
    t.noise = MIA_STYLEGAN2_NOISE_RANDOM;
    t.batch = 16;
    memcpy(o, &t, size < sizeof t ? size : sizeof t);
    o->struct_size = (uint32_t)size;
}

static mia_status mkdir1(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return MIA_OK;
    return MIA_ERROR(MIA_ERR_IO, "%s: cannot create directory: %s", path, strerror(errno));
}

static bool name_ok(const char *s)
{
    if (!s || !*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strlen(s) > 200) return false;
    for (; *s; s++)
        if (*s == '/' || *s == '\\') return false;
    return true;
}

mia_status mia_gen_write_folder(const char *dir, mia_cgan *cgan, mia_stylegan2 *sg,
                                const mia_gen_folder_opts *opts)
{
    mia__error_begin();
    MIA_CHECK_ARG(dir && *dir, "dir is NULL or empty");
    MIA_CHECK_ARG((cgan != NULL) != (sg != NULL), "exactly one of cgan and sg must be given");
    mia_gen_folder_opts o;
    mia_gen_folder_opts_init(&o);
    if (opts) memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    MIA_CHECK_ARG(o.per_class >= 1 && o.per_class <= 10000000, "per_class %lld outside [1, 1e7]",
                  (long long)o.per_class);
    MIA_CHECK_ARG(o.batch >= 1 && o.batch <= 4096, "batch %lld outside [1, 4096]",
                  (long long)o.batch);
    MIA_CHECK_ARG(isfinite(o.truncation), "truncation is not finite");
    int64_t K, C, H, W, zd = 0, cd = 0;
    if (cgan) {
        mia_cgan_shape(cgan, &K, &C, &H, &W);
        MIA_CHECK_ARG(o.truncation >= 0.0f, "cGAN truncation must be >= 0");
    } else {
        mia_stylegan2_shape(sg, &zd, &cd, &C, &H);
        W = H;
        K = cd > 0 ? cd : 10;
    }
    MIA_CHECK_ARG(C == 1 || C == 3 || C == 4, "generator has %lld channels", (long long)C);
    const char *const *names = o.class_names;
    if (!names && sg && cd == 10) names = PAPER_CIFAR10;
    char cname[64];
    for (int64_t k = 0; names && k < K; k++)
        MIA_CHECK_ARG(name_ok(names[k]), "class_names[%lld] is not a valid folder name",
                      (long long)k);
    size_t plen = strlen(dir) + 300;
    char *path = mia__malloc(plen);
    uint8_t *px = mia__malloc((size_t)(o.batch * C * H * W));
    float *z = sg ? mia__malloc((size_t)(o.batch * (zd > 0 ? zd : 1)) * sizeof(float)) : NULL;
    float *img = sg ? mia__malloc((size_t)(o.batch * C * H * W) * sizeof(float)) : NULL;
    int32_t *cls = mia__malloc((size_t)o.batch * sizeof(int32_t));
    json_t *files = json_array();
    mia_status s = MIA_OK;
    if (!path || !px || (sg && (!z || !img)) || !cls || !files) {
        s = MIA_ERROR(MIA_ERR_NOMEM, "fake folder: out of memory");
        goto done;
    }
    snprintf(path, plen, "%s", dir);
    if ((s = mkdir1(path)) != MIA_OK) goto done;
    snprintf(path, plen, "%s/Images", dir);
    if ((s = mkdir1(path)) != MIA_OK) goto done;
    double t0 = mia__now();
    int64_t total = K * o.per_class, done_n = 0;
    for (int64_t k = 0; k < K && s == MIA_OK; k++) {
        const char *cn = names ? names[k] : cname;
        if (!names) {
            if (sg && cd == 0) snprintf(cname, sizeof cname, "GoodBoys%lld", (long long)k);
            else snprintf(cname, sizeof cname, "class%lld", (long long)k);
        }
        snprintf(path, plen, "%s/Images/%s", dir, cn);
        if ((s = mkdir1(path)) != MIA_OK) break;
        for (int64_t at = 0; at < o.per_class && s == MIA_OK; at += o.batch) {
            int64_t b = o.per_class - at < o.batch ? o.per_class - at : o.batch;
            if (cgan) {
                s = mia_cgan_generate(cgan, (int32_t)k, at, b, o.seed, o.truncation, px);
            } else {
                for (int64_t i = 0; i < b; i++) {
                    int64_t gi = k * o.per_class + at + i; /* global index, as the paper chunks */
                    mia_rng r;
                    mia__rng_init(&r, o.seed, ((uint64_t)MIA_STREAM_GAN << 56) | (2ull << 40) |
                                                  (uint64_t)gi);
                    for (int64_t q = 0; q < zd; q++) z[i * zd + q] = (float)mia__rng_normal(&r);
                    cls[i] = (int32_t)k;
                }
                s = mia_stylegan2_generate(sg, z, b, cd > 0 ? cls : NULL, o.truncation, o.noise,
                                           o.seed, k * o.per_class + at, img);
                for (int64_t i = 0; s == MIA_OK && i < b; i++)
                    mia_gen_to_u8(img + i * C * H * W, C, H, W, px + i * C * H * W);
            }
            for (int64_t i = 0; s == MIA_OK && i < b; i++) {
                char rel[300];
                snprintf(rel, sizeof rel, "Images/%s/%05lld.png", cn, (long long)(at + i));
                snprintf(path, plen, "%s/%s", dir, rel);
                s = mia__image_write_png(path, px + i * C * H * W, W, H, (int)C);
                uint8_t d[32];
                char hex[65];
                struct stat sb;
                if (s == MIA_OK) s = mia__sha256_file(path, d);
                if (s == MIA_OK && stat(path, &sb) != 0)
                    s = MIA_ERROR(MIA_ERR_IO, "%s: stat failed: %s", path, strerror(errno));
                if (s != MIA_OK) break;
                mia__sha256_hex(d, hex);
                json_t *f = json_pack("{s:s, s:I, s:s}", "name", rel, "size",
                                      (json_int_t)sb.st_size, "sha256", hex);
                if (!f || json_array_append_new(files, f) != 0) {
                    s = MIA_ERROR(MIA_ERR_NOMEM, "fake folder: out of memory");
                    break;
                }
            }
            done_n += b;
            if (s == MIA_OK && o.progress) {
                double el = mia__now() - t0;
                mia_progress p = {.struct_size = sizeof p, .stage = "sample", .epoch = -1,
                                  .epochs = -1, .step = done_n, .steps = total, .loss = NAN,
                                  .items_per_sec = el > 0 ? (double)done_n / el : 0.0,
                                  .eta_seconds = done_n > 0 ? el / (double)done_n * (double)(total - done_n) : -1.0,
                                  .fraction = (double)done_n / (double)total};
                if (!o.progress(&p, o.progress_data))
                    s = MIA_ERROR(MIA_ERR_CANCELLED, "sampling cancelled after %lld images",
                                  (long long)done_n);
            }
        }
    }
    if (s == MIA_OK) {
        char trunc[32];
        snprintf(trunc, sizeof trunc, "%.9g", (double)o.truncation);
        json_t *gen = cgan ? json_pack("{s:s, s:I}", "kind", "cgan", "step",
                                       (json_int_t)mia_cgan_step(cgan))
                           : json_pack("{s:s, s:s, s:s}", "kind", "stylegan2", "model_sha256",
                                       mia_stylegan2_hash(sg), "noise",
                                       o.noise == MIA_STYLEGAN2_NOISE_CONST  ? "const"
                                       : o.noise == MIA_STYLEGAN2_NOISE_NONE ? "none"
                                                                             : "random");
        json_t *m = json_pack("{s:s, s:s, s:o, s:I, s:s, s:I, s:o}", "name", "fakes",
                              "description", "libmia mia_gen_write_folder output (ImageFolder "
                              "layout); verify with mia-fakegen verify",
                              "generator", gen, "seed", (json_int_t)o.seed, "truncation", trunc,
                              "per_class", (json_int_t)o.per_class, "files", files);
        files = NULL; /* owned by m now */
        char *text = m ? json_dumps(m, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(m);
        if (!text) {
            s = MIA_ERROR(MIA_ERR_NOMEM, "fake folder: out of memory for the manifest");
        } else {
            snprintf(path, plen, "%s/manifest.json", dir);
            s = mia__write_file_atomic(path, text, strlen(text));
            free(text);
        }
    }
done:
    json_decref(files);
    mia__free(path);
    mia__free(px);
    mia__free(z);
    mia__free(img);
    mia__free(cls);
    return s;
}

mia_status mia_gen_verify_folder(const char *dir, int64_t *n_bad, char *first_bad, size_t cap)
{
    mia__error_begin();
    MIA_CHECK_ARG(dir, "dir is NULL");
    MIA_CHECK_ARG(n_bad, "n_bad is NULL");
    *n_bad = 0;
    if (first_bad && cap) first_bad[0] = '\0';
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    mia_manifest_report *r = NULL;
    MIA_TRY(mia_manifest_verify(&r, path, dir));
    int64_t n = mia_manifest_report_count(r);
    for (int64_t i = 0; i < n; i++) {
        if (mia_manifest_report_status(r, i) == MIA_FILE_OK) continue;
        if (*n_bad == 0 && first_bad && cap)
            snprintf(first_bad, cap, "%s: %s", mia_manifest_report_name(r, i),
                     mia_manifest_report_detail(r, i) ? mia_manifest_report_detail(r, i) : "bad");
        (*n_bad)++;
    }
    mia_manifest_report_free(r);
    return MIA_OK;
}

mia_status mia_gen_load_folder(mia_dataset **out, const char *dir)
{
    mia__error_begin();
    if (out) *out = NULL;
    MIA_CHECK_ARG(out, "out is NULL");
    MIA_CHECK_ARG(dir, "dir is NULL");
    char path[4096];
    snprintf(path, sizeof path, "%s/Images", dir);
    mia__folder_opts fo;
    mia__folder_opts_init(&fo);
    return mia__folder_load(out, path, &fo);
}
