/*
 * mia_experiment_run(): the paper's pipeline (spec §1) from one config.
 *   1 verify  2 split  3 train (cached, resumable)  4 calibrate  5 fakes  6 non-member sets
 *   7 attacks  8 write (paper CSV per variant, JSON, SVG, results.json, report.html)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "experiment-impl.h"
#include "mia/backend.h"
#include "mia/calib.h"
#include "mia/gen.h"
#include "mia/model.h"
#include "mia/report.h"
#include "mia/tensor.h"
#include "mia/train.h"
#include "../core/rng.h"
#include "../data/dataset-impl.h"
#include "../data/image.h"
#include "../io/io.h"

enum { N_STAGES = 8, ROLE_TARGET = 0, ROLE_SHADOW = 1 };
static const char *const stage_names[N_STAGES] = {"verify", "split", "train", "calibrate",
                                                  "fakes", "nonmembers", "attack", "write"};
static const char *const role_names[2] = {"target", "shadow"};

typedef struct runctx {
    const mia_experiment_config *c;
    mia_experiment_opts o;
    mia_backend *be;
    char *dir;
    const char *data;
    mia_dataset *train, *test;
    mia_split *split;
    mia_dataset *part[MIA_PART_COUNT_];
    mia_model *models[MIA__EXP_MAX_VARIANTS][2];   /* trained variants (index = variant) */
    char model_hash[MIA__EXP_MAX_VARIANTS][2][65]; /* SHA-256 of the model files */
    mia_calibrated *cal[MIA__EXP_MAX_VARIANTS][2];
    mia__exp_set sets[MIA__EXP_MAX_SETS];
    int n_sets;
    mia_experiment_result *r;
    int stage;                 /* 0-based */
    double stage_t0;
    char label[200];           /* stage text passed to nested progress */
    double sub_lo, sub_hi;     /* fraction range of the nested operation within the stage */
} runctx;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Report progress of stage ctx->stage: step of steps. */
static mia_status progress(runctx *x, const char *label, int64_t step, int64_t steps)
{
    if (!x->o.progress) return MIA_OK;
    mia_progress p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    snprintf(x->label, sizeof x->label, "%s: %s", stage_names[x->stage], label);
    p.stage = x->label;
    p.epoch = p.epochs = -1;
    p.step = step;
    p.steps = steps;
    p.loss = NAN;
    p.items_per_sec = -1;
    p.eta_seconds = -1;
    double f = steps > 0 ? (double)step / (double)steps : 0;
    p.fraction = ((double)x->stage + f) / N_STAGES;
    if (!x->o.progress(&p, x->o.progress_user_data))
        return MIA_ERROR(MIA_ERR_CANCELLED, "experiment cancelled during stage '%s'",
                         stage_names[x->stage]);
    return MIA_OK;
}

/* Forward the progress of a nested operation (training, LLLA, GAN) under the stage label. */
static bool nested_progress(const mia_progress *in, void *user)
{
    runctx *x = user;
    if (!x->o.progress) return true;
    mia_progress p = *in;
    p.struct_size = sizeof p;
    p.stage = x->label;
    double f = in->fraction >= 0 && in->fraction <= 1 ? in->fraction : 0;
    p.fraction = ((double)x->stage + x->sub_lo + (x->sub_hi - x->sub_lo) * f) / N_STAGES;
    return x->o.progress(&p, x->o.progress_user_data);
}

static void begin_stage(runctx *x, int s)
{
    if (x->stage >= 0 && x->stage < N_STAGES)
        x->r->stage_seconds[x->stage] += now_s() - x->stage_t0;
    x->stage = s;
    x->stage_t0 = now_s();
    if (s < N_STAGES) mia__log(MIA_LOG_INFO, "experiment: stage %d/%d %s", s + 1, N_STAGES,
                               stage_names[s]);
}

/* ---- data ------------------------------------------------------------------------------------ */

/* Convert @p d to (C, H, W): RGB -> L with PIL's formula, L -> RGB by replication, then PIL
 * bilinear resize of every plane (antialiased, bit-exact to Pillow). Returns d itself
 * (ownership kept) when the geometry already matches. */
static mia_status fit_geometry(mia_dataset **out, mia_dataset *d, int64_t C, int64_t H, int64_t W)
{
    *out = NULL;
    if (d->c == C && d->h == H && d->w == W) { *out = d; return MIA_OK; }
    if (!((d->c == 3 && C == 1) || (d->c == 1 && C == 3) || d->c == C))
        return MIA_ERROR(MIA_ERR_MISMATCH, "cannot convert %lld-channel images of '%s' to %lld "
                         "channels", (long long)d->c, d->source ? d->source : "?", (long long)C);
    mia_dataset *n = NULL;
    MIA_TRY(mia__dataset_new(&n, d->n, C, H, W, d->n_classes, d->source));
    const int64_t hw = d->h * d->w;
    uint8_t *tmp = mia__malloc((size_t)(hw * 4 + hw * C));
    if (!tmp) {
        mia_dataset_free(n);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    uint8_t *planes = tmp + hw * 3 + hw; /* C planes at source size */
    mia_status st = MIA_OK;
    for (int64_t i = 0; i < d->n && st == MIA_OK; i++) {
        const uint8_t *src = d->pixels + i * d->c * hw;
        if (d->c == 3 && C == 1) {
            for (int64_t p = 0; p < hw; p++) {
                tmp[3 * p] = src[p];
                tmp[3 * p + 1] = src[hw + p];
                tmp[3 * p + 2] = src[2 * hw + p];
            }
            mia__rgb_to_l(tmp, hw, planes);
        } else if (d->c == 1 && C == 3) {
            for (int k = 0; k < 3; k++) memcpy(planes + k * hw, src, (size_t)hw);
        } else {
            memcpy(planes, src, (size_t)(hw * C));
        }
        uint8_t *dst = n->pixels + i * C * H * W;
        if (d->h == H && d->w == W) memcpy(dst, planes, (size_t)(hw * C));
        else st = mia__resize_chw(planes, C, d->h, d->w, dst, H, W);
        n->labels[i] = d->labels[i];
    }
    mia__free(tmp);
    if (st != MIA_OK) {
        mia_dataset_free(n);
        return st;
    }
    for (int64_t k = 0; k < d->n_classes && d->class_names; k++)
        if (d->class_names[k]) {
            st = mia__dataset_set_class_name(n, k, d->class_names[k]);
            if (st != MIA_OK) { mia_dataset_free(n); return st; }
        }
    mia__dataset_finish(n);
    *out = n;
    return MIA_OK;
}

/* Load a dataset spec; "folder:DIR" (ImageFolder) and "afhq:PATH[:train|val]" are read
 * straight into the model geometry. */
static mia_status load_spec(mia_dataset **out, const char *spec_raw, const runctx *x)
{
    *out = NULL;
    char *spec = mia__exp_expand(spec_raw, x->data);
    if (!spec) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    mia_status st;
    mia__folder_opts fo;
    mia__folder_opts_init(&fo);
    fo.height = x->c->height;
    fo.width = x->c->width;
    fo.channels = x->c->channels == 1 ? 1 : 3;
    if (strncmp(spec, "folder:", 7) == 0) {
        st = mia__folder_load(out, spec + 7, &fo);
    } else if (strncmp(spec, "afhq:", 5) == 0) {
        char *path = spec + 5;
        const char *split = "train";
        char *colon = strrchr(path, ':');
        if (colon && (strcmp(colon + 1, "train") == 0 || strcmp(colon + 1, "val") == 0)) {
            *colon = '\0';
            split = colon + 1;
        }
        st = mia__afhq_load(out, path, split, &fo);
    } else {
        st = mia_dataset_load(out, spec, NULL);
    }
    if (st != MIA_OK) mia__error_prefix("loading '%s'", spec);
    mia__free(spec);
    return st;
}

static mia_status filter_labels(mia_dataset **d, int32_t keep, int32_t drop)
{
    if (keep < 0 && drop < 0) return MIA_OK;
    int64_t n = mia_dataset_n(*d), k = 0;
    int64_t *idx = mia__malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
    if (!idx) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        int32_t l = mia_dataset_label(*d, i);
        if ((keep < 0 || l == keep) && (drop < 0 || l != drop)) idx[k++] = i;
    }
    mia_status st = k > 0 ? MIA_OK
                          : MIA_ERROR(MIA_ERR_INVALID, "no image of '%s' is left after the "
                                      "label filter", mia_dataset_source(*d));
    mia_dataset *s = NULL;
    if (st == MIA_OK) st = mia_dataset_subset(&s, *d, idx, k);
    mia__free(idx);
    if (st != MIA_OK) return st;
    mia_dataset_free(*d);
    *d = s;
    return MIA_OK;
}

/* First @p k of a seeded permutation (the paper's get_subsampled_dataset). */
static mia_status subsample(mia_dataset **d, int64_t k, uint64_t seed)
{
    int64_t n = mia_dataset_n(*d);
    if (n <= k) return MIA_OK;
    int64_t *idx = mia__malloc((size_t)k * sizeof *idx);
    if (!idx) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    mia_status st = mia_split_random(idx, k, NULL, 0, n, seed, MIA_SPLIT_RNG_PHILOX);
    mia_dataset *s = NULL;
    if (st == MIA_OK) st = mia_dataset_subset(&s, *d, idx, k);
    mia__free(idx);
    if (st != MIA_OK) return st;
    mia_dataset_free(*d);
    *d = s;
    return MIA_OK;
}

/* ---- prediction -------------------------------------------------------------------------------- */

typedef struct scorer {
    mia_model *m;
    mia_calibrated *cal;
} scorer;

/* Probabilities of every image of @p d (batches built with @p flags), n x classes. */
static mia_status predict(runctx *x, scorer s, const mia_dataset *d, uint32_t flags, float **out)
{
    const mia_experiment_config *c = x->c;
    const int64_t n = mia_dataset_n(d), k = c->n_classes;
    const int64_t img = c->channels * c->height * c->width;
    const int64_t B = 256;
    *out = NULL;
    float *probs = mia__malloc((size_t)(n * k) * sizeof *probs);
    float *buf = mia__malloc((size_t)(B * img) * sizeof *buf);
    int64_t *idx = mia__malloc((size_t)B * sizeof *idx);
    if (!probs || !buf || !idx) {
        mia__free(probs); mia__free(buf); mia__free(idx);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    mia_batch_opts bo;
    mia_batch_opts_init(&bo);
    bo.flags = flags;
    memcpy(bo.mean, c->mean, sizeof bo.mean);
    memcpy(bo.std, c->std, sizeof bo.std);
    bo.permute_seed = c->member_seed;
    mia_status st = MIA_OK;
    for (int64_t off = 0; off < n && st == MIA_OK; off += B) {
        int64_t nb = n - off < B ? n - off : B;
        for (int64_t i = 0; i < nb; i++) idx[i] = off + i;
        st = mia_dataset_batch_f32(d, idx, nb, buf, NULL, &bo);
        if (st != MIA_OK) break;
        int64_t shape[4] = {nb, c->channels, c->height, c->width};
        mia_tensor *t = NULL;
        st = mia_tensor_create(&t, x->be, MIA_DTYPE_F32, 4, shape);
        if (st == MIA_OK) st = mia_tensor_upload(t, buf, (size_t)(nb * img) * sizeof *buf);
        if (st == MIA_OK) {
            if (s.cal) st = mia_calibrated_predict(s.cal, t, probs + off * k);
            else st = mia_model_predict(s.m, t, MIA_PREDICT_SOFTMAX, probs + off * k);
        }
        mia_tensor_free(t);
    }
    mia__free(buf);
    mia__free(idx);
    if (st != MIA_OK) {
        mia__free(probs);
        return st;
    }
    *out = probs;
    return MIA_OK;
}

/* Labels of @p d for the LOSS attack: a label outside [0, k) (OOD sets) becomes 0, as the
 * paper labels every derived set 0. */
static int32_t *labels_of(const mia_dataset *d, int64_t k)
{
    int64_t n = mia_dataset_n(d);
    int32_t *l = mia__malloc((size_t)(n > 0 ? n : 1) * sizeof *l);
    if (!l) return NULL;
    for (int64_t i = 0; i < n; i++) {
        int32_t v = mia_dataset_label(d, i);
        l[i] = v >= 0 && v < k ? v : 0;
    }
    return l;
}

/* ---- stages -------------------------------------------------------------------------------------- */

static mia_status stage_verify(runctx *x)
{
    MIA_TRY(progress(x, "checking data files", 0, 1));
    if (!x->o.verify_data) return MIA_OK;
    char *text = NULL;
    bool ok = false;
    MIA_TRY(mia_experiment_verify_data(&text, &ok, x->c, &x->o));
    if (!ok) {
        mia_status st = MIA_ERROR(MIA_ERR_IO, "data files are missing or wrong (run "
                                  "'mia-experiment verify-data' for the list with the expected "
                                  "checksums):\n%s", text);
        mia__free(text);
        return st;
    }
    mia__free(text);
    return progress(x, "data verified", 1, 1);
}

/* dataset.all: a permutation from Philox (split seed, MIA_STREAM_HOLDOUT); its first
 * floor(train_fraction * n) images are the training data, the rest the test data (the paper's
 * get_train_val_split(all, 0.8) for Stanford Dogs, with libmia's RNG). */
static mia_status split_all(runctx *x)
{
    const mia_experiment_config *c = x->c;
    mia_dataset *all = NULL;
    MIA_TRY(load_spec(&all, c->train_spec, x));
    const int64_t n = mia_dataset_n(all);
    const int64_t n_train = (int64_t)floor(c->train_fraction * (double)n);
    if (n_train < 1 || n_train >= n) {
        mia_dataset_free(all);
        return MIA_ERROR(MIA_ERR_INVALID, "dataset.train_fraction %g of %lld images leaves "
                         "an empty train or test part", c->train_fraction, (long long)n);
    }
    int64_t *perm = mia__malloc((size_t)n * sizeof *perm);
    if (!perm) {
        mia_dataset_free(all);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    mia_rng r;
    mia__rng_init(&r, c->split_seed, MIA_STREAM_HOLDOUT);
    mia__rng_shuffle(&r, perm, n);
    mia_status st = mia_dataset_subset(&x->train, all, perm, n_train);
    if (st == MIA_OK) st = mia_dataset_subset(&x->test, all, perm + n_train, n - n_train);
    mia__free(perm);
    mia_dataset_free(all);
    return st;
}

static mia_status stage_split(runctx *x)
{
    const mia_experiment_config *c = x->c;
    MIA_TRY(progress(x, "loading data", 0, 3));
    if (c->test_spec) {
        MIA_TRY(load_spec(&x->train, c->train_spec, x));
        MIA_TRY(load_spec(&x->test, c->test_spec, x));
    } else {
        MIA_TRY(split_all(x));
    }
    if (mia_dataset_channels(x->train) != c->channels || mia_dataset_height(x->train) !=
        c->height || mia_dataset_width(x->train) != c->width)
        return MIA_ERROR(MIA_ERR_MISMATCH, "config dataset geometry %lldx%lldx%lld differs "
                         "from the training data '%s' (%lldx%lldx%lld)", (long long)c->channels,
                         (long long)c->height, (long long)c->width, mia_dataset_source(x->train),
                         (long long)mia_dataset_channels(x->train),
                         (long long)mia_dataset_height(x->train),
                         (long long)mia_dataset_width(x->train));
    MIA_TRY(progress(x, "drawing splits", 1, 3));
    mia_split_opts so;
    mia_split_opts_init(&so);
    so.seed = c->split_seed;
    so.member_seed = c->member_seed;
    so.train_size = c->train_size;
    so.test_size = c->test_size;
    so.attack_size = c->attack_size;
    so.stratify_pool = c->stratify_pool;
    MIA_TRY(mia_split_create(&x->split, x->train, x->test, &so));
    char *sdir = mia__exp_join(x->dir, "splits");
    if (!sdir) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    mia_status st = mia__exp_mkdirs(sdir);
    if (st == MIA_OK) st = mia_split_save(x->split, sdir);
    mia__free(sdir);
    MIA_TRY(st);
    for (int p = 0; p < MIA_PART_COUNT_; p++) {
        int64_t n = 0;
        const int64_t *idx = mia_split_indices(x->split, (mia_split_part)p, &n);
        bool from_train = p == MIA_PART_TARGET_TRAIN || p == MIA_PART_SHADOW_TRAIN ||
                          p == MIA_PART_MEMBER_TARGET || p == MIA_PART_MEMBER_SHADOW;
        MIA_TRY(mia_dataset_subset(&x->part[p], from_train ? x->train : x->test, idx, n));
    }
    mia_dataset_hash_hex(x->train, x->r->data_hash);
    return progress(x, "splits saved", 3, 3);
}

static int n_trained(const mia_experiment_config *c)
{
    int k = 0;
    for (int v = 0; v < c->n_variants; v++)
        if (c->variants[v].kind <= MIA__VAR_L2) k++;
    return k;
}

static mia_status train_one(runctx *x, int v, int role, int which, int total)
{
    const mia_experiment_config *c = x->c;
    const mia__variant *var = &c->variants[v];
    mia_model_opts mo;
    mia_model_opts_init(&mo);
    mo.n_classes = c->n_classes;
    mo.in_channels = (int32_t)c->channels;
    mo.in_h = (int32_t)c->height;
    mo.in_w = (int32_t)c->width;
    mo.seed = c->seed + (uint64_t)role;
    memcpy(mo.mean, c->mean, sizeof mo.mean);
    memcpy(mo.std, c->std, sizeof mo.std);
    mia_model *m = NULL;
    MIA_TRY(mia_model_create(&m, x->be, c->arch, &mo));
    x->models[v][role] = m;
    mia_train_opts to;
    mia_train_opts_init(&to);
    mia_train_opts_paper(&to, c->arch);
    to.lr = c->lr;
    to.epochs = c->epochs;
    to.batch_size = c->batch_size;
    to.seed = c->seed + (uint64_t)role;
    if (var->kind == MIA__VAR_LS) to.label_smoothing = var->value;
    if (var->kind == MIA__VAR_L2) to.weight_decay = var->value;
    const mia_dataset *data = x->part[role == ROLE_TARGET ? MIA_PART_TARGET_TRAIN
                                                         : MIA_PART_SHADOW_TRAIN];
    char th[65], key[65];
    MIA_TRY(mia_train_config_hash(m, &to, th));
    MIA_TRY(mia__exp_cache_key(key, data, th, mia_backend_type(x->be), mo.seed));
    char name[200];
    snprintf(name, sizeof name, "models/%s-%s-%.16s.safetensors",
             var->kind == MIA__VAR_BASE ? "base" : var->tag, role_names[role], key);
    for (char *p = name; *p; p++)
        if (*p == ' ') *p = '_';
    char *path = mia__exp_join(x->dir, name);
    if (!path) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    struct stat sb;
    mia_status st = MIA_OK;
    char what[160];
    snprintf(what, sizeof what, "%s %s model (%d/%d)", var->name, role_names[role], which, total);
    if (stat(path, &sb) == 0) {
        st = progress(x, what, which - 1, total);
        if (st == MIA_OK) st = mia_model_load_weights(m, path);
        if (st == MIA_OK) {
            x->r->models_cached++;
            mia__log(MIA_LOG_INFO, "experiment: %s loaded from the cache %s", what, path);
        }
    } else {
        char ck[200];
        snprintf(ck, sizeof ck, "checkpoints/%.*s", (int)(strlen(name) - 7 - 12), name + 7);
        char *ckdir = mia__exp_join(x->dir, ck);
        if (!ckdir) st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
        if (st == MIA_OK) st = mia__exp_mkdirs(ckdir);
        if (st == MIA_OK) {
            to.checkpoint_dir = ckdir;
            to.resume = true;
            to.progress = nested_progress;
            to.progress_user_data = x;
            snprintf(x->label, sizeof x->label, "train: %s", what);
            x->sub_lo = (double)(which - 1) / total;
            x->sub_hi = (double)which / total;
            mia_train_result tr;
            st = mia_train(m, data, &to, &tr);
            if (st == MIA_OK && tr.resumed_step >= 0)
                mia__log(MIA_LOG_INFO, "experiment: %s resumed from %s", what, tr.resumed_from);
        }
        if (st == MIA_OK) st = mia_model_save(m, path);
        mia__free(ckdir);
        if (st != MIA_OK) mia__error_prefix("training the %s", what);
    }
    if (st == MIA_OK) {
        uint8_t dg[32];
        st = mia__sha256_file(path, dg);
        if (st == MIA_OK) mia__sha256_hex(dg, x->model_hash[v][role]);
    }
    mia__free(path);
    return st;
}

static mia_status stage_train(runctx *x)
{
    const mia_experiment_config *c = x->c;
    char *mdir = mia__exp_join(x->dir, "models");
    if (!mdir) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    mia_status st = mia__exp_mkdirs(mdir);
    mia__free(mdir);
    MIA_TRY(st);
    int total = 2 * n_trained(c), which = 0;
    for (int v = 0; v < c->n_variants; v++) {
        if (c->variants[v].kind > MIA__VAR_L2) continue;
        for (int role = 0; role < 2; role++) MIA_TRY(train_one(x, v, role, ++which, total));
    }
    return progress(x, "models ready", total, total);
}

static mia_status stage_calibrate(runctx *x)
{
    const mia_experiment_config *c = x->c;
    int steps = 0, step = 0;
    for (int v = 0; v < c->n_variants; v++)
        if (c->variants[v].kind >= MIA__VAR_LLLA) steps += 2;
    for (int v = 0; v < c->n_variants; v++) {
        const mia__variant *var = &c->variants[v];
        if (var->kind < MIA__VAR_LLLA) continue;
        for (int role = 0; role < 2; role++) {
            char what[120];
            snprintf(what, sizeof what, "%s %s model", var->name, role_names[role]);
            MIA_TRY(progress(x, what, step, steps));
            mia_model *base = x->models[0][role];
            if (var->kind == MIA__VAR_TEMP) {
                MIA_TRY(mia_calibrated_temperature(&x->cal[v][role], base, var->value));
            } else {
                mia_llla_opts lo;
                mia_llla_opts_init(&lo);
                /* spec §4.2: Hessian on the model's training set, var0 searched on its
                 * non-members (the paper's leak, quirk §10.11), paper noise as OOD. */
                lo.fit = x->part[role == ROLE_TARGET ? MIA_PART_TARGET_TRAIN
                                                     : MIA_PART_SHADOW_TRAIN];
                lo.val = x->part[role == ROLE_TARGET ? MIA_PART_NON_MEMBER_TARGET
                                                     : MIA_PART_NON_MEMBER_SHADOW];
                lo.n_samples = c->llla_samples;
                lo.seed = c->seed;
                lo.progress = nested_progress;
                lo.progress_user_data = x;
                x->sub_lo = (double)step / steps;
                x->sub_hi = (double)(step + 1) / steps;
                snprintf(x->label, sizeof x->label, "calibrate: %s", what);
                mia_status st = mia_calibrated_llla(&x->cal[v][role], base, &lo);
                if (st != MIA_OK) {
                    mia__error_prefix("LLLA of the %s", what);
                    return st;
                }
            }
            step++;
        }
    }
    return progress(x, "done", steps, steps);
}

/* libmia's generator: a class-conditional GAN on the target's training data, cached. */
static mia_status make_fakes(runctx *x, mia_dataset **out)
{
    const mia_experiment_config *c = x->c;
    const mia_dataset *tr = x->part[MIA_PART_TARGET_TRAIN];
    *out = NULL;
    if (x->o.fakes)
        return x->o.fakes(out, tr, c->attack_size, c->seed, x->o.fakes_user_data);
    char dh[65], key[65];
    mia_dataset_hash_hex(tr, dh);
    char text[300];
    int tl = snprintf(text, sizeof text, "gan-v1 %s steps=%lld seed=%llu backend=%s", dh,
                      (long long)c->fakes_gan_steps, (unsigned long long)c->seed,
                      mia_backend_type(x->be));
    uint8_t dg[32];
    mia__sha256(text, (size_t)tl, dg);
    mia__sha256_hex(dg, key);
    char name[120];
    snprintf(name, sizeof name, "models/gan-%.16s.safetensors", key);
    char *path = mia__exp_join(x->dir, name);
    if (!path) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    mia_cgan_opts go;
    mia_cgan_opts_init(&go);
    go.steps = c->fakes_gan_steps;
    go.seed = c->seed;
    go.checkpoint = path;
    go.progress = nested_progress;
    go.progress_data = x;
    x->sub_lo = 0;
    x->sub_hi = 0.9;
    snprintf(x->label, sizeof x->label, "fakes: GAN training");
    mia_cgan *g = NULL;
    mia_status st = mia_cgan_create(&g, x->be, c->n_classes, c->channels, c->height, c->width,
                                    &go);
    if (st == MIA_OK) st = mia_cgan_train(g, tr);
    mia_dataset *d = NULL;
    const int64_t n = c->attack_size, K = c->n_classes, hw = c->height * c->width;
    if (st == MIA_OK) st = mia__dataset_new(&d, n, c->channels, c->height, c->width, K,
                                            "fakes:cgan");
    uint8_t *hwc = st == MIA_OK ? mia__malloc((size_t)(hw * c->channels)) : NULL;
    if (st == MIA_OK && !hwc) st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    /* Image i has class i mod K and index i / K within its class. */
    for (int64_t i = 0; i < n && st == MIA_OK; i++) {
        int32_t cls = (int32_t)(i % K);
        st = mia_cgan_generate(g, cls, i / K, 1, c->seed, 0.0f, hwc);
        if (st != MIA_OK) break;
        uint8_t *dst = d->pixels + i * c->channels * hw;
        for (int64_t p = 0; p < hw; p++)
            for (int64_t ch = 0; ch < c->channels; ch++)
                dst[ch * hw + p] = hwc[p * c->channels + ch];
        d->labels[i] = cls;
    }
    mia__free(hwc);
    mia_cgan_free(g);
    mia__free(path);
    if (st != MIA_OK) {
        mia_dataset_free(d);
        return st;
    }
    mia__dataset_finish(d);
    *out = d;
    return MIA_OK;
}

static mia_status add_samples(runctx *x, mia__exp_set *s)
{
    const mia_experiment_config *c = x->c;
    int n = c->n_samples_shown;
    if (!s->data || n <= 0) return MIA_OK;
    if (n > mia_dataset_n(s->data)) n = (int)mia_dataset_n(s->data);
    const int64_t hw = c->height * c->width, C = c->channels;
    float *buf = mia__malloc((size_t)(C * hw) * sizeof *buf);
    uint8_t *pix = mia__malloc((size_t)(C * hw));
    if (!buf || !pix) {
        mia__free(buf); mia__free(pix);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    mia_batch_opts bo;
    mia_batch_opts_init(&bo);
    bo.flags = s->flags & MIA_BATCH_PERMUTE; /* show pixels; the value scaling is in the caption */
    bo.permute_seed = c->member_seed;
    mia_status st = MIA_OK;
    for (int i = 0; i < n && st == MIA_OK; i++) {
        int64_t idx = i;
        st = mia_dataset_batch_f32(s->data, &idx, 1, buf, NULL, &bo);
        if (st != MIA_OK) break;
        for (int64_t p = 0; p < hw; p++)
            for (int64_t ch = 0; ch < C; ch++) {
                float v = buf[ch * hw + p] * 255.0f + 0.5f;
                pix[p * C + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        st = mia__image_encode_png(pix, c->width, c->height, (int)C, &s->samples_png[i],
                                   &s->samples_len[i]);
        if (st == MIA_OK) s->n_samples = i + 1;
    }
    mia__free(buf);
    mia__free(pix);
    return st;
}

static mia_status stage_sets(runctx *x, mia_dataset *fakes)
{
    const mia_experiment_config *c = x->c;
    for (int i = 0; i < c->n_sets; i++) {
        const mia__nm_set *cs = &c->sets[i];
        mia__exp_set *s = &x->sets[x->n_sets++];
        s->name = cs->name;
        s->kind = cs->kind;
        s->flags = MIA_BATCH_NORMALIZE;
        MIA_TRY(progress(x, cs->name, i, c->n_sets));
        switch (cs->kind) {
        case MIA__NM_TEST:
        case MIA__NM_PERMUTED:
        case MIA__NM_SCALED:
        case MIA__NM_UNNORMALIZED:
            s->data = x->part[MIA_PART_NON_MEMBER_TARGET];
            s->owned = false;
            if (cs->kind == MIA__NM_PERMUTED) s->flags |= MIA_BATCH_PERMUTE;
            if (cs->kind == MIA__NM_SCALED) s->flags |= MIA_BATCH_SCALE_255;
            if (cs->kind == MIA__NM_UNNORMALIZED) s->flags = 0;
            break;
        case MIA__NM_DATASET: {
            mia_dataset *d = NULL;
            MIA_TRY(load_spec(&d, cs->spec, x));
            s->data = d;
            s->owned = true;
            MIA_TRY(filter_labels(&s->data, cs->keep_label, cs->drop_label));
            if (cs->subsample) MIA_TRY(subsample(&s->data, c->attack_size, c->member_seed));
            mia_dataset *f = NULL;
            MIA_TRY(fit_geometry(&f, s->data, c->channels, c->height, c->width));
            if (f != s->data) {
                mia_dataset_free(s->data);
                s->data = f;
            }
            break;
        }
        case MIA__NM_NOISE_UNIFORM:
        case MIA__NM_NOISE_GAUSSIAN:
            MIA_TRY(mia_dataset_noise(&s->data, cs->kind == MIA__NM_NOISE_UNIFORM
                                                    ? MIA_NOISE_UNIFORM : MIA_NOISE_GAUSSIAN,
                                      c->attack_size, c->channels, c->height, c->width,
                                      cs->mean, cs->std, c->seed + (uint64_t)i));
            s->owned = true;
            break;
        case MIA__NM_FAKES:
            if (!fakes) {
                s->note = mia__strdup("skipped: no fakes were generated (see the log)");
                break;
            }
            s->data = fakes;
            s->owned = true;
            fakes = NULL;
            if (cs->subsample) MIA_TRY(subsample(&s->data, c->attack_size, c->member_seed));
            break;
        }
        x->r->set_sizes[x->n_sets - 1] = s->data ? mia_dataset_n(s->data) : 0;
        MIA_TRY(add_samples(x, s));
    }
    mia_dataset_free(fakes);
    return progress(x, "done", c->n_sets, c->n_sets);
}

static scorer scorer_of(runctx *x, int v, int role)
{
    scorer s = {NULL, NULL};
    if (x->c->variants[v].kind >= MIA__VAR_LLLA) s.cal = x->cal[v][role];
    else s.m = x->models[v][role];
    return s;
}

/* Accuracy, ECE and the 15-bin reliability diagram from probabilities. */
static mia_status calib_stats(mia__exp_variant_result *vr, const float *p, const mia_dataset *d,
                              int64_t k, double *acc, double *ece, double *oe, bool bins)
{
    int64_t n = mia_dataset_n(d);
    int32_t *lab = labels_of(d, k);
    if (!lab) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t am = 0;
        for (int64_t j = 1; j < k; j++)
            if (p[i * k + j] > p[i * k + am]) am = j;
        correct += am == lab[i];
        if (bins) {
            float conf = p[i * k + am];
            int b = (int)ceilf(conf * 15.0f) - 1; /* lo < conf <= hi */
            if (b < 0) b = 0;
            if (b > 14) b = 14;
            vr->bin_n[b]++;
            vr->bin_conf[b] += conf;
            vr->bin_acc[b] += am == lab[i];
        }
    }
    if (bins)
        for (int b = 0; b < 15; b++)
            if (vr->bin_n[b]) {
                vr->bin_conf[b] /= (double)vr->bin_n[b];
                vr->bin_acc[b] /= (double)vr->bin_n[b];
            }
    *acc = (double)correct / (double)n;
    mia_status st = mia_calibration_errors(p, lab, n, k, 15, ece, oe);
    mia__free(lab);
    return st;
}

static mia_status write_text(const char *path, const char *s)
{
    return mia__write_file_atomic(path, s, strlen(s));
}

static mia_status attack_variant(runctx *x, int v)
{
    const mia_experiment_config *c = x->c;
    const mia__variant *var = &c->variants[v];
    mia__exp_variant_result *vr = &x->r->vr[v];
    const int64_t k = c->n_classes;
    scorer st_ = scorer_of(x, v, ROLE_TARGET), ss = scorer_of(x, v, ROLE_SHADOW);
    float *p_sm = NULL, *p_sn = NULL, *p_tm = NULL, *p_test = NULL;
    float *p_set[MIA__EXP_MAX_SETS] = {0};
    int32_t *l_sm = NULL, *l_sn = NULL, *l_tm = NULL, *l_set[MIA__EXP_MAX_SETS] = {0};
    mia_attack *atk[MIA_ATTACK_KIND_COUNT] = {0};
    mia_attack_result *res[MIA__EXP_MAX_SETS][MIA_ATTACK_KIND_COUNT] = {{0}};
    mia_report *rep = NULL;
    mia_status s = MIA_OK;
    char what[160];
    const int steps = 4 + x->n_sets;
    int step = 0;
#define STEP(label) do { snprintf(what, sizeof what, "%s: %s", var->name, label); \
                         s = progress(x, what, step++, steps); if (s) goto done; } while (0)
#define TRY(e) do { s = (e); if (s != MIA_OK) goto done; } while (0)
    STEP("shadow scores");
    TRY(predict(x, ss, x->part[MIA_PART_MEMBER_SHADOW], MIA_BATCH_NORMALIZE, &p_sm));
    TRY(predict(x, ss, x->part[MIA_PART_NON_MEMBER_SHADOW], MIA_BATCH_NORMALIZE, &p_sn));
    STEP("target scores");
    TRY(predict(x, st_, x->part[MIA_PART_MEMBER_TARGET], MIA_BATCH_NORMALIZE, &p_tm));
    TRY(predict(x, st_, x->part[MIA_PART_TARGET_TEST], MIA_BATCH_NORMALIZE, &p_test));
    l_sm = labels_of(x->part[MIA_PART_MEMBER_SHADOW], k);
    l_sn = labels_of(x->part[MIA_PART_NON_MEMBER_SHADOW], k);
    l_tm = labels_of(x->part[MIA_PART_MEMBER_TARGET], k);
    if (!l_sm || !l_sn || !l_tm) TRY(MIA_ERROR(MIA_ERR_NOMEM, "out of memory"));
    double oe;
    TRY(calib_stats(vr, p_test, x->part[MIA_PART_TARGET_TEST], k, &vr->acc_test, &vr->ece, &oe,
                    true));
    vr->oe = oe;
    double e2, o2;
    TRY(calib_stats(vr, p_tm, x->part[MIA_PART_MEMBER_TARGET], k, &vr->acc_train, &e2, &o2,
                    false));
    TRY(calib_stats(vr, p_sn, x->part[MIA_PART_NON_MEMBER_SHADOW], k, &vr->acc_test_shadow,
                    &vr->ece_shadow, &o2, false));
    vr->T = var->kind == MIA__VAR_TEMP ? var->value : NAN;
    vr->var0 = var->kind == MIA__VAR_LLLA ? mia_calibrated_var0(x->cal[v][ROLE_TARGET]) : NAN;
    STEP("fitting attacks on the shadow model");
    mia_score_set sm = {p_sm, l_sm, mia_dataset_n(x->part[MIA_PART_MEMBER_SHADOW]), k};
    mia_score_set sn = {p_sn, l_sn, mia_dataset_n(x->part[MIA_PART_NON_MEMBER_SHADOW]), k};
    mia_score_set tm = {p_tm, l_tm, mia_dataset_n(x->part[MIA_PART_MEMBER_TARGET]), k};
    mia_attack_opts ao;
    mia_attack_opts_init(&ao);
    ao.seed = c->seed;
    ao.salem_k = c->salem_k;
    for (int a = 0; a < c->n_attacks; a++) {
        s = mia_attack_fit(&atk[a], c->attacks[a], &sm, &sn, &ao);
        if (s != MIA_OK) {
            mia__error_prefix("%s, %s", var->name, mia_attack_kind_name(c->attacks[a]));
            goto done;
        }
    }
    /* provenance */
    mia_report_hash dh[2] = {{"train", x->r->data_hash}, {"test", NULL}};
    char test_hash[65];
    mia_dataset_hash_hex(x->test, test_hash);
    dh[1].sha256 = test_hash;
    int mv = var->kind >= MIA__VAR_LLLA ? 0 : v;
    mia_report_hash mh[2] = {{"target", x->model_hash[mv][0]}, {"shadow", x->model_hash[mv][1]}};
    char keep[65];
    {
        int64_t n = 0;
        const int64_t *idx = mia_split_indices(x->split, MIA_PART_MEMBER_TARGET, &n);
        uint8_t dg[32];
        mia__sha256(idx, (size_t)n * sizeof *idx, dg);
        mia__sha256_hex(dg, keep);
    }
    mia_report_provenance pv;
    mia_report_provenance_init(&pv);
    pv.seed = c->seed;
    pv.config_hash = c->hash;
    pv.keep_mask_hash = keep;
    pv.datasets = dh;
    pv.n_datasets = 2;
    pv.models = mh;
    pv.n_models = 2;
    TRY(mia_report_create(&rep, &pv));
    for (int i = 0; i < x->n_sets; i++) {
        mia__exp_set *set = &x->sets[i];
        snprintf(what, sizeof what, "%s: %s", var->name, set->name);
        TRY(progress(x, what, step++, steps));
        for (int a = 0; a < c->n_attacks; a++) vr->fpr[i][a] = NAN;
        if (!set->data) continue;
        TRY(predict(x, st_, set->data, set->flags, &p_set[i]));
        l_set[i] = labels_of(set->data, k);
        if (!l_set[i]) TRY(MIA_ERROR(MIA_ERR_NOMEM, "out of memory"));
        mia_score_set nm = {p_set[i], l_set[i], mia_dataset_n(set->data), k};
        for (int a = 0; a < c->n_attacks; a++) {
            TRY(mia_attack_evaluate(&res[i][a], atk[a], &tm, &nm));
            TRY(mia_report_add(rep, set->name, res[i][a]));
            vr->metrics[i][a] = *mia_attack_result_metrics(res[i][a]);
            vr->fpr[i][a] = vr->metrics[i][a].fpr;
        }
    }
    STEP("writing files");
    char fname[300];
    snprintf(vr->csv_name, sizeof vr->csv_name, "%s_%sattack_results.csv", c->file_prefix,
             var->tag);
    char *p = mia__exp_join(x->dir, vr->csv_name);
    if (!p) TRY(MIA_ERROR(MIA_ERR_NOMEM, "out of memory"));
    s = mia_report_write_csv(rep, p, false);
    mia__free(p);
    TRY(s);
    static const char *const files[3] = {"attack_results_full.csv", "attack_results.json",
                                         "attack_scores.csv"};
    for (int f = 0; f < 3; f++) {
        snprintf(fname, sizeof fname, "%s_%s%s", c->file_prefix, var->tag, files[f]);
        p = mia__exp_join(x->dir, fname);
        if (!p) TRY(MIA_ERROR(MIA_ERR_NOMEM, "out of memory"));
        s = f == 0 ? mia_report_write_csv(rep, p, true)
            : f == 1 ? mia_report_write_json(rep, p) : mia_report_write_scores_csv(rep, p);
        mia__free(p);
        TRY(s);
    }
    for (int a = 0; a < c->n_attacks; a++) {
        static const char *const short_names[] = {"threshold", "salem", "entropy", "loss"};
        for (int kind = 0; kind < 2; kind++) {
            snprintf(fname, sizeof fname, "%s_%s%s_%s.svg", c->file_prefix, var->tag,
                     kind ? "hist" : "roc", short_names[c->attacks[a]]);
            p = mia__exp_join(x->dir, fname);
            if (!p) TRY(MIA_ERROR(MIA_ERR_NOMEM, "out of memory"));
            s = kind ? mia_report_write_hist_svg(rep, c->attacks[a], p)
                     : mia_report_write_roc_svg(rep, c->attacks[a], p);
            uint8_t *svg = NULL;
            size_t len = 0;
            if (s == MIA_OK) s = mia__read_file(p, (size_t)64 << 20, &svg, &len);
            mia__free(p);
            TRY(s);
            if (kind) vr->svg_hist[a] = (char *)svg;
            else vr->svg_roc[a] = (char *)svg;
        }
    }
done:
#undef STEP
#undef TRY
    mia_report_free(rep);
    for (int i = 0; i < MIA__EXP_MAX_SETS; i++) {
        for (int a = 0; a < MIA_ATTACK_KIND_COUNT; a++) mia_attack_result_free(res[i][a]);
        mia__free(p_set[i]);
        mia__free(l_set[i]);
    }
    for (int a = 0; a < MIA_ATTACK_KIND_COUNT; a++) mia_attack_free(atk[a]);
    mia__free(p_sm); mia__free(p_sn); mia__free(p_tm); mia__free(p_test);
    mia__free(l_sm); mia__free(l_sn); mia__free(l_tm);
    return s;
}

static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static mia_status write_results_json(runctx *x, const char *path)
{
    const mia_experiment_config *c = x->c;
    const mia_experiment_result *r = x->r;
    json_t *root = json_object();
    json_error_t err;
    json_t *cfg = json_loads(c->canonical, 0, &err);
    json_object_set_new(root, "format_version", json_integer(1));
    json_object_set_new(root, "libmia_version", json_string(mia_version_string()));
    json_object_set_new(root, "name", json_string(c->name));
    json_object_set_new(root, "config_sha256", json_string(c->hash));
    json_object_set_new(root, "config", cfg ? cfg : json_null());
    json_object_set_new(root, "backend", json_string(r->backend));
    json_object_set_new(root, "train_data_sha256", json_string(r->data_hash));
    json_t *models = json_object();
    for (int v = 0; v < c->n_variants; v++)
        if (c->variants[v].kind <= MIA__VAR_L2)
            for (int role = 0; role < 2; role++) {
                char k[120];
                snprintf(k, sizeof k, "%s %s", c->variants[v].name, role_names[role]);
                json_object_set_new(models, k, json_string(x->model_hash[v][role]));
            }
    json_object_set_new(root, "models_sha256", models);
    json_t *sizes = json_object();
    static const char *const parts[] = {"target_train", "shadow_train", "target_test",
                                        "shadow_test", "member_target", "non_member_target",
                                        "member_shadow", "non_member_shadow"};
    for (int p = 0; p < MIA_PART_COUNT_; p++)
        json_object_set_new(sizes, parts[p], json_integer(mia_dataset_n(x->part[p])));
    json_object_set_new(root, "split_sizes", sizes);
    json_t *sets = json_array();
    for (int i = 0; i < r->n_sets; i++) {
        json_t *s = json_object();
        json_object_set_new(s, "name", json_string(r->set_names[i]));
        json_object_set_new(s, "size", json_integer(r->set_sizes[i]));
        if (x->sets[i].data) {
            char h[65];
            mia_dataset_hash_hex(x->sets[i].data, h);
            json_object_set_new(s, "sha256", json_string(h));
            json_object_set_new(s, "source", json_string(mia_dataset_source(x->sets[i].data)));
        } else {
            json_object_set_new(s, "skipped", json_string(x->sets[i].note ? x->sets[i].note
                                                                            : "skipped"));
        }
        json_array_append_new(sets, s);
    }
    json_object_set_new(root, "non_member_sets", sets);
    json_t *vars = json_array();
    for (int v = 0; v < r->n_variants; v++) {
        const mia__exp_variant_result *vr = &r->vr[v];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(c->variants[v].name));
        json_object_set_new(o, "tag", json_string(c->variants[v].tag));
        json_object_set_new(o, "csv", json_string(vr->csv_name));
        json_object_set_new(o, "train_accuracy_target", jnum(vr->acc_train));
        json_object_set_new(o, "test_accuracy_target", jnum(vr->acc_test));
        json_object_set_new(o, "ece_target", jnum(vr->ece));
        json_object_set_new(o, "oe_target", jnum(vr->oe));
        json_object_set_new(o, "test_accuracy_shadow", jnum(vr->acc_test_shadow));
        json_object_set_new(o, "ece_shadow", jnum(vr->ece_shadow));
        json_object_set_new(o, "temperature", jnum(vr->T));
        json_object_set_new(o, "llla_var0", jnum(vr->var0));
        json_t *fpr = json_object();
        for (int i = 0; i < r->n_sets; i++) {
            json_t *row = json_object();
            for (int a = 0; a < r->n_attacks; a++)
                json_object_set_new(row, mia_attack_kind_name(r->attacks[a]), jnum(vr->fpr[i][a]));
            json_object_set_new(fpr, r->set_names[i], row);
        }
        json_object_set_new(o, "fpr", fpr);
        json_array_append_new(vars, o);
    }
    json_object_set_new(root, "variants", vars);
    /* Everything that differs from run to run lives here and only here. */
    json_t *t = json_object();
    json_object_set_new(t, "seconds_total", json_real(now_s() - r->seconds_total));
    json_t *st = json_object();
    for (int s = 0; s < N_STAGES; s++)
        json_object_set_new(st, stage_names[s], json_real(r->stage_seconds[s]));
    json_object_set_new(t, "stage_seconds", st);
    json_object_set_new(t, "models_from_cache", json_integer(r->models_cached));
    json_object_set_new(root, "timing", t);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!text) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    size_t n = strlen(text);
    mia_status s = MIA_OK;
    char *copy = mia__malloc(n + 2);
    if (!copy) s = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    else {
        memcpy(copy, text, n);
        copy[n] = '\n';
        copy[n + 1] = '\0';
        s = write_text(path, copy);
        mia__free(copy);
    }
    free(text); /* jansson's allocator */
    return s;
}

static mia_status stage_write(runctx *x)
{
    MIA_TRY(progress(x, "results.json", 0, 2));
    char *p = mia__exp_join(x->dir, "results.json");
    if (!p) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    begin_stage(x, N_STAGES - 1); /* account the time so far */
    mia_status s = write_results_json(x, p);
    mia__free(p);
    MIA_TRY(s);
    x->r->seconds_total = now_s() - x->r->seconds_total; /* start time -> elapsed */
    MIA_TRY(progress(x, "report.html", 1, 2));
    x->r->report_path = mia__exp_join(x->dir, "report.html");
    if (!x->r->report_path) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    MIA_TRY(mia__exp_write_html(x->r, x->c, x->sets, x->n_sets, x->r->report_path));
    return progress(x, "done", 2, 2);
}

/* ---- entry point ----------------------------------------------------------------------------- */

void mia_experiment_opts_init_sized(mia_experiment_opts *o, size_t size)
{
    if (!o) return;
    memset(o, 0, size);
    o->struct_size = (uint32_t)size;
    o->verify_data = true;
}

static void ctx_free(runctx *x)
{
    for (int i = 0; i < x->n_sets; i++) {
        if (x->sets[i].owned) mia_dataset_free(x->sets[i].data);
        for (int k = 0; k < 8; k++) mia__free(x->sets[i].samples_png[k]);
        mia__free(x->sets[i].note);
    }
    for (int v = 0; v < MIA__EXP_MAX_VARIANTS; v++)
        for (int r = 0; r < 2; r++) mia_calibrated_free(x->cal[v][r]);
    for (int v = 0; v < MIA__EXP_MAX_VARIANTS; v++)
        for (int r = 0; r < 2; r++) mia_model_free(x->models[v][r]);
    for (int p = 0; p < MIA_PART_COUNT_; p++) mia_dataset_free(x->part[p]);
    mia_split_free(x->split);
    mia_dataset_free(x->train);
    mia_dataset_free(x->test);
    mia_backend_free(x->be);
    mia__free(x->dir);
}

static mia_status run(runctx *x)
{
    const mia_experiment_config *c = x->c;
    mia_experiment_result *r = x->r;
    MIA_TRY(mia__exp_mkdirs(x->dir));
    begin_stage(x, 0);
    MIA_TRY(stage_verify(x));
    mia_backend_opts bo;
    mia_backend_opts_init(&bo);
    bo.n_threads = x->o.n_threads;
    MIA_TRY(mia_backend_create(&x->be, x->o.backend ? x->o.backend : "auto", &bo));
    snprintf(r->backend, sizeof r->backend, "%s", mia_backend_type(x->be));
    begin_stage(x, 1);
    MIA_TRY(stage_split(x));
    begin_stage(x, 2);
    MIA_TRY(stage_train(x));
    begin_stage(x, 3);
    MIA_TRY(stage_calibrate(x));
    begin_stage(x, 4);
    mia_dataset *fakes = NULL;
    bool want_fakes = false;
    for (int i = 0; i < c->n_sets; i++)
        if (c->sets[i].kind == MIA__NM_FAKES) want_fakes = true;
    if (want_fakes) {
        MIA_TRY(progress(x, "generating fakes", 0, 1));
        mia_status s = make_fakes(x, &fakes);
        if (s == MIA_ERR_UNSUPPORTED) {
            mia__log(MIA_LOG_WARN, "experiment: fakes stage skipped: %s", mia_last_error());
            fakes = NULL;
        } else if (s != MIA_OK) {
            mia__error_prefix("fakes");
            return s;
        }
        MIA_TRY(progress(x, "fakes ready", 1, 1));
    } else {
        MIA_TRY(progress(x, "no fake set in this config", 1, 1));
    }
    begin_stage(x, 5);
    MIA_TRY(stage_sets(x, fakes));
    r->n_sets = x->n_sets;
    for (int i = 0; i < x->n_sets; i++) {
        r->set_names[i] = mia__strdup(x->sets[i].name);
        if (!r->set_names[i]) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    begin_stage(x, 6);
    r->vr = mia__calloc((size_t)c->n_variants, sizeof *r->vr);
    if (!r->vr) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    r->n_variants = c->n_variants;
    for (int v = 0; v < c->n_variants; v++) {
        r->variant_names[v] = mia__strdup(c->variants[v].name);
        if (!r->variant_names[v]) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    r->n_attacks = c->n_attacks;
    memcpy(r->attacks, c->attacks, sizeof r->attacks);
    for (int v = 0; v < c->n_variants; v++) MIA_TRY(attack_variant(x, v));
    MIA_TRY(stage_write(x));
    begin_stage(x, N_STAGES);
    return MIA_OK;
}

mia_status mia_experiment_run(mia_experiment_result **out, const mia_experiment_config *cfg,
                              const mia_experiment_opts *opts)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(cfg != NULL, "cfg is NULL");
    runctx x;
    memset(&x, 0, sizeof x);
    x.c = cfg;
    mia_experiment_opts_init(&x.o);
    if (opts) memcpy(&x.o, opts, opts->struct_size < sizeof x.o ? opts->struct_size : sizeof x.o);
    x.stage = -1;
    x.data = mia__exp_data_dir(cfg, &x.o);
    x.dir = mia__strdup(x.o.output_dir ? x.o.output_dir : cfg->output_dir);
    x.r = mia__calloc(1, sizeof *x.r);
    if (!x.dir || !x.r) {
        mia__free(x.dir);
        mia__free(x.r);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    x.r->seconds_total = now_s();
    x.r->cfg = cfg;
    mia_status s = run(&x);
    if (s == MIA_OK) {
        x.r->dir = x.dir;
        x.dir = NULL;
    } else if (x.stage >= 0 && x.stage < N_STAGES) {
        mia__error_prefix("stage '%s'", stage_names[x.stage]);
    }
    for (int v = 0; s == MIA_OK && v < x.r->n_variants; v++)
        for (int a = 0; a < MIA_ATTACK_KIND_COUNT; a++) {
            mia__free(x.r->vr[v].svg_roc[a]);
            mia__free(x.r->vr[v].svg_hist[a]);
            x.r->vr[v].svg_roc[a] = x.r->vr[v].svg_hist[a] = NULL;
        }
    ctx_free(&x);
    x.r->cfg = NULL;
    if (s != MIA_OK) {
        mia_experiment_result_free(x.r);
        return s;
    }
    *out = x.r;
    return MIA_OK;
}

void mia_experiment_result_free(mia_experiment_result *r)
{
    if (!r) return;
    for (int v = 0; v < MIA__EXP_MAX_VARIANTS; v++) mia__free(r->variant_names[v]);
    for (int i = 0; i < MIA__EXP_MAX_SETS; i++) mia__free(r->set_names[i]);
    if (r->vr)
        for (int v = 0; v < r->n_variants; v++)
            for (int a = 0; a < MIA_ATTACK_KIND_COUNT; a++) {
                mia__free(r->vr[v].svg_roc[a]);
                mia__free(r->vr[v].svg_hist[a]);
            }
    mia__free(r->vr);
    mia__free(r->dir);
    mia__free(r->report_path);
    mia__free(r);
}

const char *mia_experiment_result_report_path(const mia_experiment_result *r)
{
    return r ? r->report_path : NULL;
}
const char *mia_experiment_result_dir(const mia_experiment_result *r)
{
    return r ? r->dir : NULL;
}
int mia_experiment_result_n_variants(const mia_experiment_result *r)
{
    return r ? r->n_variants : 0;
}
const char *mia_experiment_result_variant(const mia_experiment_result *r, int v)
{
    return r && v >= 0 && v < r->n_variants ? r->variant_names[v] : NULL;
}
int mia_experiment_result_n_sets(const mia_experiment_result *r)
{
    return r ? r->n_sets : 0;
}
const char *mia_experiment_result_set(const mia_experiment_result *r, int s)
{
    return r && s >= 0 && s < r->n_sets ? r->set_names[s] : NULL;
}
int mia_experiment_result_n_attacks(const mia_experiment_result *r)
{
    return r ? r->n_attacks : 0;
}
int mia_experiment_result_attack(const mia_experiment_result *r, int a)
{
    return r && a >= 0 && a < r->n_attacks ? (int)r->attacks[a] : -1;
}
double mia_experiment_result_fpr(const mia_experiment_result *r, int v, int s, int a)
{
    if (!r || v < 0 || v >= r->n_variants || s < 0 || s >= r->n_sets || a < 0 ||
        a >= r->n_attacks)
        return NAN;
    return r->vr[v].fpr[s][a];
}
double mia_experiment_result_accuracy(const mia_experiment_result *r, int v)
{
    return r && v >= 0 && v < r->n_variants ? r->vr[v].acc_test : NAN;
}
double mia_experiment_result_ece(const mia_experiment_result *r, int v)
{
    return r && v >= 0 && v < r->n_variants ? r->vr[v].ece : NAN;
}
int mia_experiment_result_models_cached(const mia_experiment_result *r)
{
    return r ? r->models_cached : 0;
}
