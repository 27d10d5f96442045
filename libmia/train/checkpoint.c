/* Crash-safe checkpoints: one safetensors file per save (model.<key>, optim.* tensors;
 * __metadata__ holds positions, hashes, RNG keys and the SHA-256 of the tensor payload),
 * written atomically by the safetensors writer (temp, fsync, rename, fsync dir). The newest two
 * are kept; resume loads the newest that validates. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mia/graph.h>
#include <mia/safetensors.h>

#include "train-internal.h"
#include "core/rng.h"
#include "io/io.h"

#define CKPT_FORMAT "mia-checkpoint"
#define CKPT_VERSION "1"
#define CKPT_PREFIX "ckpt-"
#define CKPT_SUFFIX ".safetensors"

static int g_delay_ms;
void mia__train_ckpt_delay(int ms) { g_delay_ms = ms; }

static void sleep_ms(int ms)
{
    if (ms <= 0) return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One tensor of the checkpoint, in payload order. */
typedef struct ck_item {
    const char *key;      /* without prefix */
    const char *prefix;   /* "model." or "" */
    mia_tensor *t;
} ck_item;

static mia_status list_items(mia_model *m, const mia_optim_state *os, ck_item **items,
                             size_t *n)
{
    mia_graph *g = mia_model_graph(m);
    size_t np = mia_graph_param_count(g), no = os ? mia__optim_n_state(os) : 0;
    ck_item *it = mia__calloc(np + no + 1, sizeof *it);
    if (!it) return MIA_ERROR(MIA_ERR_NOMEM, "checkpoint item list");
    for (size_t i = 0; i < np; i++) {
        mia_param_info pi;
        mia_status s = mia_graph_param(g, i, &pi);
        if (s != MIA_OK) {
            mia__free(it);
            return s;
        }
        it[i] = (ck_item){pi.name, "model.", pi.value};
    }
    for (size_t i = 0; i < no; i++)
        it[np + i] = (ck_item){mia__optim_state_name(os, i), "", mia__optim_state_tensor(os, i)};
    *items = it;
    *n = np + no;
    return MIA_OK;
}

static void hash_item(mia_sha256 *h, const ck_item *it, const void *data, size_t nbytes)
{
    mia__sha256_update(h, it->prefix, strlen(it->prefix));
    mia__sha256_update(h, it->key, strlen(it->key) + 1);
    uint64_t len = nbytes;
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(len >> (8 * i));
    mia__sha256_update(h, le, 8);
    mia__sha256_update(h, data, nbytes);
}

static mia_safetensors_dtype st_dtype(mia_dtype d)
{
    return d == MIA_DTYPE_I64 ? MIA_SAFETENSORS_I64 : MIA_SAFETENSORS_F32;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Steps of the checkpoint files in dir, newest first. */
static mia_status list_ckpts(const char *dir, int64_t **steps, size_t *n)
{
    *steps = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return MIA_OK;
        return MIA_ERROR(MIA_ERR_IO, "checkpoint directory '%s': %s", dir, strerror(errno));
    }
    size_t cap = 0;
    struct dirent *e;
    mia_status s = MIA_OK;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        size_t L = strlen(nm), lp = strlen(CKPT_PREFIX), ls = strlen(CKPT_SUFFIX);
        if (L <= lp + ls || strncmp(nm, CKPT_PREFIX, lp) != 0 ||
            strcmp(nm + L - ls, CKPT_SUFFIX) != 0)
            continue;
        char *end;
        long long v = strtoll(nm + lp, &end, 10);
        if (end != nm + L - ls || v < 0) continue;
        if (*n == cap) {
            size_t nc = cap ? 2 * cap : 8;
            int64_t *p = mia__realloc(*steps, nc * sizeof *p);
            if (!p) {
                s = MIA_ERROR(MIA_ERR_NOMEM, "checkpoint list");
                break;
            }
            *steps = p;
            cap = nc;
        }
        (*steps)[(*n)++] = v;
    }
    closedir(d);
    if (s != MIA_OK) {
        mia__free(*steps);
        *steps = NULL;
        *n = 0;
        return s;
    }
    if (*n) qsort(*steps, *n, sizeof **steps, cmp_desc);
    return MIA_OK;
}

static void ckpt_path(char *buf, size_t size, const char *dir, int64_t step)
{
    snprintf(buf, size, "%s/" CKPT_PREFIX "%012" PRId64 CKPT_SUFFIX, dir, step);
}

void mia__ckpt_clean_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, CKPT_PREFIX, strlen(CKPT_PREFIX)) != 0) continue;
        if (!strstr(e->d_name, CKPT_SUFFIX ".tmp")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) == 0) mia__log(MIA_LOG_INFO, "removed stale temporary file %s", path);
    }
    closedir(d);
}

static mia_status make_dir(const char *dir)
{
    if (mkdir(dir, 0755) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return MIA_OK;
        return MIA_ERROR(MIA_ERR_IO, "checkpoint directory '%s' is not a directory", dir);
    }
    return MIA_ERROR(MIA_ERR_IO, "checkpoint directory '%s': cannot create: %s", dir,
                     strerror(errno));
}

static int is_finite_f32(const float *p, int64_t n, int64_t *bad)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(p[i])) {
            *bad = i;
            return 0;
        }
    return 1;
}

mia_status mia__ckpt_save(const char *dir, mia_model *m, const mia_optim_state *os,
                          const mia_ckpt_pos *pos, const char *config_hash,
                          const char *dataset_hash, uint64_t seed)
{
    MIA_TRY(make_dir(dir));
    ck_item *items;
    size_t n;
    MIA_TRY(list_items(m, os, &items, &n));
    mia_safetensors_writer *w = NULL;
    mia_status s = mia_safetensors_writer_create(&w);
    void *buf = NULL;
    size_t cap = 0;
    mia_sha256 h;
    mia__sha256_init(&h);
    for (size_t i = 0; s == MIA_OK && i < n; i++) {
        mia_tensor *t = items[i].t;
        size_t nb = mia_tensor_nbytes(t);
        if (nb > cap) {
            void *p = mia__realloc(buf, nb);
            if (!p) {
                s = MIA_ERROR(MIA_ERR_NOMEM, "checkpoint buffer");
                break;
            }
            buf = p;
            cap = nb;
        }
        s = mia_tensor_download(t, buf, nb);
        if (s != MIA_OK) break;
        int64_t bad;
        if (mia_tensor_dtype(t) == MIA_DTYPE_F32 &&
            !is_finite_f32(buf, mia_tensor_numel(t), &bad)) {
            s = MIA_ERROR(MIA_ERR_NUMERIC,
                          "checkpoint not written: tensor '%s%s' element %" PRId64
                          " is not finite", items[i].prefix, items[i].key, bad);
            break;
        }
        hash_item(&h, &items[i], buf, nb);
        char name[1024];
        snprintf(name, sizeof name, "%s%s", items[i].prefix, items[i].key);
        s = mia_safetensors_writer_add(w, name, st_dtype(mia_tensor_dtype(t)),
                                       mia_tensor_ndim(t), mia_tensor_shape(t), buf);
    }
    mia__free(buf);
    mia__free(items);
    if (s == MIA_OK) {
        uint8_t dig[32];
        char hex[65], v[64];
        mia__sha256_final(&h, dig);
        mia__sha256_hex(dig, hex);
#define META(k, ...)                                                                            \
    do {                                                                                        \
        if (s == MIA_OK) {                                                                      \
            snprintf(v, sizeof v, __VA_ARGS__);                                                 \
            s = mia_safetensors_writer_set_metadata(w, (k), v);                                 \
        }                                                                                       \
    } while (0)
        META("format", "%s", CKPT_FORMAT);
        META("format_version", "%s", CKPT_VERSION);
        META("mia_version", "%s", mia_version_string());
        META("mia_arch", "%s", mia_model_arch(m));
        META("epoch", "%" PRId64, pos->epoch);
        META("pos", "%" PRId64, pos->pos);
        META("global_step", "%" PRId64, pos->global_step);
        META("optim_step", "%" PRId64, pos->optim_step);
        META("epoch_loss_sum", "%a", pos->loss_sum);
        META("epoch_correct", "%" PRId64, pos->correct);
        META("epoch_seen", "%" PRId64, pos->seen);
        META("seed", "%" PRIu64, seed);
        /* Every random stream is counter-based: its whole state is (seed, stream, counter). */
        META("rng_shuffle", "philox:%" PRIu64 ":stream=%d+epoch<<32:ctr=0", seed,
             MIA_STREAM_SHUFFLE);
        META("rng_dropout", "philox:%" PRIu64 ":stream=%d:ctr=%" PRId64, seed,
             MIA_STREAM_DROPOUT, pos->global_step);
        META("rng_augment", "transform-seed:epoch=%" PRId64, pos->epoch);
        if (s == MIA_OK) s = mia_safetensors_writer_set_metadata(w, "config_hash", config_hash);
        if (s == MIA_OK) s = mia_safetensors_writer_set_metadata(w, "dataset_hash", dataset_hash);
        if (s == MIA_OK) s = mia_safetensors_writer_set_metadata(w, "payload_sha256", hex);
#undef META
    }
    char path[4096];
    ckpt_path(path, sizeof path, dir, pos->global_step);
    void *img = NULL;
    size_t img_len = 0;
    if (s == MIA_OK) s = mia_safetensors_writer_write_memory(w, &img, &img_len);
    mia_safetensors_writer_free(w);
    if (s == MIA_OK) {
        /* temp file, write, fsync, rename, fsync dir (io.h); the optional test delay sits in
         * the middle of the write so that kill tests can land inside it */
        mia_afile *f = NULL;
        s = mia__afile_open(&f, path);
        size_t half = img_len / 2;
        if (s == MIA_OK) s = mia__afile_write(f, img, half);
        if (s == MIA_OK) {
            sleep_ms(g_delay_ms);
            s = mia__afile_write(f, (const uint8_t *)img + half, img_len - half);
        }
        if (s == MIA_OK) {
            s = mia__afile_commit(f);
            f = NULL;
        }
        mia__afile_abort(f);
    }
    mia_safetensors_buffer_free(img);
    if (s != MIA_OK) return s;
    mia__log(MIA_LOG_DEBUG, "checkpoint %s written", path);
    /* keep the newest two */
    int64_t *steps;
    size_t ns;
    if (list_ckpts(dir, &steps, &ns) == MIA_OK) {
        for (size_t i = 2; i < ns; i++) {
            char old[4096];
            ckpt_path(old, sizeof old, dir, steps[i]);
            unlink(old);
        }
        mia__free(steps);
    }
    return MIA_OK;
}

static mia_status meta_i64(const mia_safetensors *st, const char *key, const char *path,
                           int64_t *out)
{
    const char *v = mia_safetensors_metadata_get(st, key);
    char *end;
    if (!v || !*v) return MIA_ERROR(MIA_ERR_FORMAT, "checkpoint '%s': metadata '%s' missing",
                                    path, key);
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*end || errno || x < 0)
        return MIA_ERROR(MIA_ERR_FORMAT, "checkpoint '%s': metadata '%s' = '%s' is not a count",
                         path, key, v);
    *out = x;
    return MIA_OK;
}

/* Validate and load one checkpoint. MIA_ERR_MISMATCH for another config/dataset; other errors
 * mean the file is unusable. */
static mia_status load_one(const char *path, mia_model *m, mia_optim_state *os,
                           mia_ckpt_pos *pos, const char *config_hash, const char *dataset_hash)
{
    mia_safetensors *st;
    MIA_TRY(mia_safetensors_open(&st, path, NULL));
    mia_status s = MIA_OK;
    const char *fmt = mia_safetensors_metadata_get(st, "format");
    if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0) {
        s = MIA_ERROR(MIA_ERR_FORMAT, "checkpoint '%s': not a libmia checkpoint", path);
        goto done;
    }
    const char *ver = mia_safetensors_metadata_get(st, "format_version");
    if (!ver || strcmp(ver, CKPT_VERSION) != 0) {
        s = MIA_ERROR(MIA_ERR_FORMAT, "checkpoint '%s': format version '%s' (expected %s)", path,
                      ver ? ver : "(none)", CKPT_VERSION);
        goto done;
    }
    const char *ch = mia_safetensors_metadata_get(st, "config_hash");
    if (!ch || strcmp(ch, config_hash) != 0) {
        s = MIA_ERROR(MIA_ERR_MISMATCH,
                      "checkpoint '%s' was written with another training configuration "
                      "(config hash %.12s..., this run %.12s...); refusing to resume (use another "
                      "--checkpoint-dir or the original options)",
                      path, ch ? ch : "(none)", config_hash);
        goto done;
    }
    const char *dh = mia_safetensors_metadata_get(st, "dataset_hash");
    if (!dh || strcmp(dh, dataset_hash) != 0) {
        s = MIA_ERROR(MIA_ERR_MISMATCH,
                      "checkpoint '%s' was written for another training dataset (dataset hash "
                      "%.12s..., this run %.12s...); refusing to resume",
                      path, dh ? dh : "(none)", dataset_hash);
        goto done;
    }
    mia_ckpt_pos p;
    memset(&p, 0, sizeof p);
    if ((s = meta_i64(st, "epoch", path, &p.epoch)) != MIA_OK) goto done;
    if ((s = meta_i64(st, "pos", path, &p.pos)) != MIA_OK) goto done;
    if ((s = meta_i64(st, "global_step", path, &p.global_step)) != MIA_OK) goto done;
    if ((s = meta_i64(st, "optim_step", path, &p.optim_step)) != MIA_OK) goto done;
    if ((s = meta_i64(st, "epoch_correct", path, &p.correct)) != MIA_OK) goto done;
    if ((s = meta_i64(st, "epoch_seen", path, &p.seen)) != MIA_OK) goto done;
    const char *ls = mia_safetensors_metadata_get(st, "epoch_loss_sum");
    char *end;
    p.loss_sum = ls ? strtod(ls, &end) : NAN;
    if (!ls || *end || !isfinite(p.loss_sum)) {
        s = MIA_ERROR(MIA_ERR_FORMAT, "checkpoint '%s': bad epoch_loss_sum", path);
        goto done;
    }
    const char *want_hex = mia_safetensors_metadata_get(st, "payload_sha256");
    ck_item *items = NULL;
    size_t n = 0;
    if ((s = list_items(m, os, &items, &n)) != MIA_OK) goto done;
    if (mia_safetensors_count(st) != n) {
        s = MIA_ERROR(MIA_ERR_MISMATCH, "checkpoint '%s': %zu tensors, expected %zu", path,
                      mia_safetensors_count(st), n);
        mia__free(items);
        goto done;
    }
    /* verify everything before touching the model */
    mia_sha256 h;
    mia__sha256_init(&h);
    int64_t *idx = mia__calloc(n + 1, sizeof *idx);
    if (!idx) {
        s = MIA_ERROR(MIA_ERR_NOMEM, "checkpoint index");
        mia__free(items);
        goto done;
    }
    for (size_t i = 0; s == MIA_OK && i < n; i++) {
        char name[1024];
        snprintf(name, sizeof name, "%s%s", items[i].prefix, items[i].key);
        int64_t j = mia_safetensors_find(st, name);
        if (j < 0) {
            s = MIA_ERROR(MIA_ERR_MISMATCH, "checkpoint '%s': tensor '%s' missing", path, name);
            break;
        }
        idx[i] = j;
        if (mia_safetensors_nbytes(st, (size_t)j) != mia_tensor_nbytes(items[i].t)) {
            s = MIA_ERROR(MIA_ERR_MISMATCH, "checkpoint '%s': tensor '%s' has the wrong size",
                          path, name);
            break;
        }
        hash_item(&h, &items[i], mia_safetensors_data(st, (size_t)j),
                  mia_safetensors_nbytes(st, (size_t)j));
    }
    if (s == MIA_OK) {
        uint8_t dig[32];
        char hex[65];
        mia__sha256_final(&h, dig);
        mia__sha256_hex(dig, hex);
        if (!want_hex || strcmp(hex, want_hex) != 0)
            s = MIA_ERROR(MIA_ERR_FORMAT, "checkpoint '%s': payload SHA-256 does not match", path);
    }
    /* one staging buffer, allocated before the first upload: running out of memory must not
     * leave the model half loaded */
    size_t max_nb = 1;
    for (size_t i = 0; i < n; i++)
        if (mia_tensor_nbytes(items[i].t) > max_nb) max_nb = mia_tensor_nbytes(items[i].t);
    void *tmp = s == MIA_OK ? mia__malloc(max_nb) : NULL;
    if (s == MIA_OK && !tmp) s = MIA_ERROR(MIA_ERR_NOMEM, "checkpoint tensor");
    for (size_t i = 0; s == MIA_OK && i < n; i++) {
        size_t nb = mia_tensor_nbytes(items[i].t);
        memcpy(tmp, mia_safetensors_data(st, (size_t)idx[i]), nb);
        s = mia_tensor_upload(items[i].t, tmp, nb);
    }
    mia__free(tmp);
    mia__free(idx);
    mia__free(items);
    if (s == MIA_OK) *pos = p;
done:
    mia_safetensors_free(st);
    return s;
}

mia_status mia__ckpt_resume(const char *dir, mia_model *m, mia_optim_state *os,
                            mia_ckpt_pos *pos, const char *config_hash,
                            const char *dataset_hash, bool *found, char *path_out,
                            size_t path_size)
{
    *found = false;
    int64_t *steps;
    size_t n;
    MIA_TRY(list_ckpts(dir, &steps, &n));
    mia_status s = MIA_OK;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        ckpt_path(path, sizeof path, dir, steps[i]);
        mia__error_begin();
        s = load_one(path, m, os, pos, config_hash, dataset_hash);
        if (s == MIA_OK) {
            *found = true;
            if (path_out) snprintf(path_out, path_size, "%s", path);
            mia__log(MIA_LOG_INFO, "resuming from %s (epoch %" PRId64 ", step %" PRId64 ")",
                     path, pos->epoch + 1, pos->global_step);
            break;
        }
        if (s == MIA_ERR_MISMATCH || s == MIA_ERR_NOMEM || s == MIA_ERR_DEVICE) break;
        mia__log(MIA_LOG_WARN, "skipping unusable checkpoint: %s", mia_last_error());
        s = MIA_OK;
    }
    mia__free(steps);
    if (s == MIA_OK) mia__error_begin();
    return s;
}
