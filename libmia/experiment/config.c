/*
 * Experiment configs: JSON (jansson) -> mia_experiment_config, validated with messages that
 * name the key path. Unknown keys are refused (a typo must not silently fall back to a default).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "experiment-impl.h"
#include "mia/model.h"
#include "../io/io.h"

/* ---- small utilities shared by the module -------------------------------------------------- */

void mia__sb_puts(mia__sbuf *b, const char *s)
{
    if (b->failed) return;
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = mia__realloc(b->s, cap);
        if (!p) { b->failed = true; return; }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

void mia__sb_printf(mia__sbuf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) { b->failed = true; return; }
    if ((size_t)n < sizeof small) { mia__sb_puts(b, small); return; }
    char *big = mia__malloc((size_t)n + 1);
    if (!big) { b->failed = true; return; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    mia__sb_puts(b, big);
    mia__free(big);
}

void mia__sb_html(mia__sbuf *b, const char *s)
{
    char one[2] = {0, 0};
    for (; s && *s; s++) {
        switch (*s) {
        case '<': mia__sb_puts(b, "&lt;"); break;
        case '>': mia__sb_puts(b, "&gt;"); break;
        case '&': mia__sb_puts(b, "&amp;"); break;
        case '"': mia__sb_puts(b, "&quot;"); break;
        default: one[0] = *s; mia__sb_puts(b, one);
        }
    }
}

void mia__sb_base64(mia__sbuf *b, const uint8_t *d, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[5] = {0};
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        if (i + 1 < n) v |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < n) v |= d[i + 2];
        q[0] = tab[(v >> 18) & 63];
        q[1] = tab[(v >> 12) & 63];
        q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        mia__sb_puts(b, q);
    }
}

char *mia__exp_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = mia__malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    size_t k = la;
    if (la && a[la - 1] != '/') p[k++] = '/';
    memcpy(p + k, b, lb + 1);
    return p;
}

mia_status mia__exp_mkdirs(const char *path)
{
    char *p = mia__strdup(path);
    if (!p) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                mia_status st = MIA_ERROR(MIA_ERR_IO, "cannot create directory '%s': %s", p,
                                          strerror(errno));
                mia__free(p);
                return st;
            }
            *s = c;
            if (c == '\0') break;
        }
    }
    mia__free(p);
    return MIA_OK;
}

char *mia__exp_expand(const char *s, const char *data_dir)
{
    if (!s) return NULL;
    mia__sbuf b = {0};
    const char *k;
    while ((k = strstr(s, "{data}")) != NULL) {
        char *pre = mia__malloc((size_t)(k - s) + 1);
        if (!pre) { mia__free(b.s); return NULL; }
        memcpy(pre, s, (size_t)(k - s));
        pre[k - s] = '\0';
        mia__sb_puts(&b, pre);
        mia__free(pre);
        mia__sb_puts(&b, data_dir);
        s = k + 6;
    }
    mia__sb_puts(&b, s);
    if (b.failed || !b.s) { mia__free(b.s); return b.failed ? NULL : mia__strdup(""); }
    return b.s;
}

const char *mia__exp_data_dir(const mia_experiment_config *c, const mia_experiment_opts *o)
{
    if (o && o->data_dir) return o->data_dir;
    if (c->data_dir) return c->data_dir;
    const char *e = getenv("MIA_DATA_ROOT");
    if (e && *e) return e;
    return "data";
}

void mia__exp_pyfloat(double v, char *buf, size_t n)
{
    /* Python repr: the shortest %.{p}g that round-trips, with ".0" for integers and Python's
     * exponent form (1e-05) which %g already matches. */
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    double a = fabs(v);
    if (strpbrk(buf, "eE") && a >= 1e-4 && a < 1e16) /* Python keeps fixed notation here */
        for (int d = 0; d <= 20; d++) {
            snprintf(buf, n, "%.*f", d, v);
            if (strtod(buf, NULL) == v) break;
        }
    if (!strpbrk(buf, ".eEn")) {
        size_t l = strlen(buf);
        if (l + 3 <= n) memcpy(buf + l, ".0", 3);
    }
}

/* ---- parsing ------------------------------------------------------------------------------- */

typedef struct pctx {
    char path[256];
} pctx;

#define BAD(key, ...) bad_(key, __VA_ARGS__)

static mia_status bad_(const char *key, const char *fmt, ...) MIA_PRINTF(2, 3);
static mia_status bad_(const char *key, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return MIA_ERROR(MIA_ERR_INVALID, "config key '%s': %s", key, msg);
}

/* Refuse keys not in the NULL-terminated list. */
static mia_status check_keys(json_t *obj, const char *where, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k) == 0) ok = true;
        if (!ok) {
            char key[300];
            snprintf(key, sizeof key, "%s%s%s", where, *where ? "." : "", k);
            return BAD(key, "unknown key");
        }
    }
    return MIA_OK;
}

static mia_status get_str(char **out, json_t *obj, const char *k, const char *where,
                          const char *def, bool required)
{
    char key[300];
    snprintf(key, sizeof key, "%s%s%s", where, *where ? "." : "", k);
    json_t *v = json_object_get(obj, k);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required) return BAD(key, "missing (a string is required)");
        if (!def) return MIA_OK;
        *out = mia__strdup(def);
        return *out ? MIA_OK : MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    if (!json_is_string(v)) return BAD(key, "must be a string");
    if (json_string_length(v) == 0) return BAD(key, "must not be empty");
    *out = mia__strdup(json_string_value(v));
    return *out ? MIA_OK : MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
}

static mia_status get_int(int64_t *out, json_t *obj, const char *k, const char *where,
                          int64_t def, int64_t lo, int64_t hi)
{
    char key[300];
    snprintf(key, sizeof key, "%s%s%s", where, *where ? "." : "", k);
    json_t *v = json_object_get(obj, k);
    if (!v) { *out = def; return MIA_OK; }
    if (!json_is_integer(v)) return BAD(key, "must be an integer");
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return BAD(key, "%lld is out of range [%lld, %lld]", (long long)x, (long long)lo,
                   (long long)hi);
    *out = (int64_t)x;
    return MIA_OK;
}

static mia_status get_num(double *out, json_t *obj, const char *k, const char *where, double def,
                          double lo, double hi, bool required)
{
    char key[300];
    snprintf(key, sizeof key, "%s%s%s", where, *where ? "." : "", k);
    json_t *v = json_object_get(obj, k);
    if (!v) {
        if (required) return BAD(key, "missing (a number is required)");
        *out = def;
        return MIA_OK;
    }
    if (!json_is_number(v)) return BAD(key, "must be a number");
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) return BAD(key, "%g is out of range [%g, %g]", x, lo, hi);
    *out = x;
    return MIA_OK;
}

static mia_status get_bool(bool *out, json_t *obj, const char *k, const char *where, bool def)
{
    char key[300];
    snprintf(key, sizeof key, "%s%s%s", where, *where ? "." : "", k);
    json_t *v = json_object_get(obj, k);
    if (!v) { *out = def; return MIA_OK; }
    if (!json_is_boolean(v)) return BAD(key, "must be true or false");
    *out = json_is_true(v);
    return MIA_OK;
}

static mia_status get_obj(json_t **out, json_t *root, const char *k, bool required)
{
    json_t *v = json_object_get(root, k);
    *out = v;
    if (!v) return required ? BAD(k, "missing (an object is required)") : MIA_OK;
    if (!json_is_object(v)) return BAD(k, "must be an object");
    return MIA_OK;
}

static mia_status parse_floats(float *dst, int64_t n, json_t *obj, const char *k,
                               const char *where, float def, bool positive)
{
    char key[300];
    snprintf(key, sizeof key, "%s.%s", where, k);
    json_t *v = json_object_get(obj, k);
    for (int64_t i = 0; i < 4; i++) dst[i] = def;
    if (!v) return MIA_OK;
    if (!json_is_array(v) || (int64_t)json_array_size(v) != n)
        return BAD(key, "must be an array of %lld numbers (one per channel)", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, (size_t)i);
        if (!json_is_number(e)) return BAD(key, "element %lld is not a number", (long long)i);
        double x = json_number_value(e);
        if (!isfinite(x) || (positive && x <= 0))
            return BAD(key, "element %lld must be %s", (long long)i,
                       positive ? "> 0" : "finite");
        dst[i] = (float)x;
    }
    return MIA_OK;
}

static mia_status parse_dataset(mia_experiment_config *c, json_t *root)
{
    json_t *d;
    MIA_TRY(get_obj(&d, root, "dataset", true));
    static const char *const keys[] = {"train", "test", "all", "train_fraction", "manifest",
                                       "files_dir", "channels", "height", "width", "classes",
                                       "mean", "std", NULL};
    MIA_TRY(check_keys(d, "dataset", keys));
    if (json_object_get(d, "all")) { /* one dataset, split train/test by a seeded permutation */
        if (json_object_get(d, "train") || json_object_get(d, "test"))
            return BAD("dataset.all", "cannot be combined with dataset.train / dataset.test");
        MIA_TRY(get_str(&c->train_spec, d, "all", "dataset", NULL, true));
        MIA_TRY(get_num(&c->train_fraction, d, "train_fraction", "dataset", 0.0, 0.0, 1.0,
                        true));
        if (!(c->train_fraction > 0.0 && c->train_fraction < 1.0))
            return BAD("dataset.train_fraction", "%g must lie strictly between 0 and 1",
                       c->train_fraction);
    } else {
        if (json_object_get(d, "train_fraction"))
            return BAD("dataset.train_fraction", "needs dataset.all (one dataset to split)");
        MIA_TRY(get_str(&c->train_spec, d, "train", "dataset", NULL, true));
        MIA_TRY(get_str(&c->test_spec, d, "test", "dataset", NULL, true));
    }
    MIA_TRY(get_str(&c->manifest, d, "manifest", "dataset", NULL, false));
    MIA_TRY(get_str(&c->files_dir, d, "files_dir", "dataset", NULL, false));
    if (c->manifest && !c->files_dir)
        return BAD("dataset.files_dir", "missing: needed with dataset.manifest (the folder of "
                                        "the manifest's files)");
    MIA_TRY(get_int(&c->channels, d, "channels", "dataset", 3, 1, 4));
    MIA_TRY(get_int(&c->height, d, "height", "dataset", 32, 4, 4096));
    MIA_TRY(get_int(&c->width, d, "width", "dataset", 32, 4, 4096));
    int64_t k;
    MIA_TRY(get_int(&k, d, "classes", "dataset", 10, 2, 100000));
    c->n_classes = (int)k;
    MIA_TRY(parse_floats(c->mean, c->channels, d, "mean", "dataset", 0.0f, false));
    MIA_TRY(parse_floats(c->std, c->channels, d, "std", "dataset", 1.0f, true));
    return MIA_OK;
}

static mia_status parse_splits(mia_experiment_config *c, json_t *root)
{
    json_t *s;
    MIA_TRY(get_obj(&s, root, "splits", false));
    c->split_seed = 42;
    c->member_seed = 0;
    c->train_size = 12500;
    c->test_size = 5000;
    c->attack_size = 2500;
    c->stratify_pool = true;
    if (!s) return MIA_OK;
    static const char *const keys[] = {"seed", "member_seed", "train_size", "test_size",
                                       "attack_size", "stratify_pool", NULL};
    MIA_TRY(check_keys(s, "splits", keys));
    int64_t v;
    MIA_TRY(get_int(&v, s, "seed", "splits", 42, 0, INT64_MAX));
    c->split_seed = (uint64_t)v;
    MIA_TRY(get_int(&v, s, "member_seed", "splits", 0, 0, INT64_MAX));
    c->member_seed = (uint64_t)v;
    MIA_TRY(get_int(&c->train_size, s, "train_size", "splits", 12500, 1, INT64_MAX / 4));
    MIA_TRY(get_int(&c->test_size, s, "test_size", "splits", 5000, 1, INT64_MAX / 4));
    MIA_TRY(get_int(&c->attack_size, s, "attack_size", "splits", 2500, 1, INT64_MAX / 4));
    if (c->attack_size > c->train_size)
        return BAD("splits.attack_size", "%lld is larger than splits.train_size (%lld)",
                   (long long)c->attack_size, (long long)c->train_size);
    if (c->attack_size > c->test_size)
        return BAD("splits.attack_size", "%lld is larger than splits.test_size (%lld)",
                   (long long)c->attack_size, (long long)c->test_size);
    MIA_TRY(get_bool(&c->stratify_pool, s, "stratify_pool", "splits", true));
    return MIA_OK;
}

static mia_status parse_training(mia_experiment_config *c, json_t *root)
{
    json_t *m, *t;
    MIA_TRY(get_obj(&m, root, "model", true));
    static const char *const mkeys[] = {"arch", NULL};
    MIA_TRY(check_keys(m, "model", mkeys));
    MIA_TRY(get_str(&c->arch, m, "arch", "model", NULL, true));
    bool known = false;
    for (size_t i = 0; i < mia_model_arch_count(); i++)
        if (strcmp(mia_model_arch_name(i), c->arch) == 0) known = true;
    if (!known) return BAD("model.arch", "unknown architecture '%s'", c->arch);
    MIA_TRY(get_obj(&t, root, "training", false));
    c->epochs = 100;
    c->batch_size = 64;
    c->lr = strcmp(c->arch, "salem_cnn") == 0 ? 0.001 : 0.01;
    c->seed = 42;
    c->train_images_per_sec = 1000;
    if (!t) return MIA_OK;
    static const char *const tkeys[] = {"epochs", "batch_size", "lr", "seed",
                                        "estimated_images_per_second", NULL};
    MIA_TRY(check_keys(t, "training", tkeys));
    MIA_TRY(get_int(&c->epochs, t, "epochs", "training", 100, 1, 100000));
    MIA_TRY(get_int(&c->batch_size, t, "batch_size", "training", 64, 1, 1 << 20));
    MIA_TRY(get_num(&c->lr, t, "lr", "training", c->lr, 1e-12, 100, false));
    int64_t v;
    MIA_TRY(get_int(&v, t, "seed", "training", 42, 0, INT64_MAX));
    c->seed = (uint64_t)v;
    MIA_TRY(get_num(&c->train_images_per_sec, t, "estimated_images_per_second", "training",
                    1000, 1e-3, 1e9, false));
    return MIA_OK;
}

static mia_status parse_variants(mia_experiment_config *c, json_t *root)
{
    json_t *v = json_object_get(root, "variants");
    if (!v) return BAD("variants", "missing (an array of variants, the first {\"kind\": \"base\"})");
    if (!json_is_array(v) || json_array_size(v) < 1)
        return BAD("variants", "must be a non-empty array");
    if (json_array_size(v) > MIA__EXP_MAX_VARIANTS)
        return BAD("variants", "at most %d variants", MIA__EXP_MAX_VARIANTS);
    c->llla_samples = 100;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        char where[64];
        snprintf(where, sizeof where, "variants[%zu]", i);
        if (!json_is_object(e)) return BAD(where, "must be an object");
        static const char *const keys[] = {"kind", "epsilon", "weight_decay", "T", "samples",
                                           NULL};
        MIA_TRY(check_keys(e, where, keys));
        char *kind = NULL;
        MIA_TRY(get_str(&kind, e, "kind", where, NULL, true));
        mia__variant *var = &c->variants[c->n_variants++];
        char num[40];
        mia_status st = MIA_OK;
        if (strcmp(kind, "base") == 0) {
            var->kind = MIA__VAR_BASE;
            snprintf(var->name, sizeof var->name, "base");
            var->tag[0] = '\0';
        } else if (strcmp(kind, "label_smoothing") == 0) {
            var->kind = MIA__VAR_LS;
            st = get_num(&var->value, e, "epsilon", where, 0, 1e-12, 0.999999, true);
            mia__exp_pyfloat(var->value, num, sizeof num);
            snprintf(var->name, sizeof var->name, "LS %s", num);
            snprintf(var->tag, sizeof var->tag, "LS_%s_", num);
        } else if (strcmp(kind, "weight_decay") == 0) {
            var->kind = MIA__VAR_L2;
            st = get_num(&var->value, e, "weight_decay", where, 0, 1e-12, 10, true);
            mia__exp_pyfloat(var->value, num, sizeof num);
            snprintf(var->name, sizeof var->name, "L2 %s", num);
            snprintf(var->tag, sizeof var->tag, "L2_%s_", num);
        } else if (strcmp(kind, "llla") == 0) {
            var->kind = MIA__VAR_LLLA;
            int64_t s;
            st = get_int(&s, e, "samples", where, 100, 1, 100000);
            c->llla_samples = (int)s;
            snprintf(var->name, sizeof var->name, "LLLA");
            snprintf(var->tag, sizeof var->tag, "LLLA_");
        } else if (strcmp(kind, "temperature") == 0) {
            var->kind = MIA__VAR_TEMP;
            st = get_num(&var->value, e, "T", where, 0, 1e-6, 1e6, true);
            mia__exp_pyfloat(var->value, num, sizeof num);
            snprintf(var->name, sizeof var->name, "temp %s", num);
            snprintf(var->tag, sizeof var->tag, "temp_%s_calib_", num);
        } else {
            char key[80];
            snprintf(key, sizeof key, "%s.kind", where);
            st = BAD(key, "unknown variant '%s' (base, label_smoothing, weight_decay, llla, "
                          "temperature)", kind);
        }
        mia__free(kind);
        MIA_TRY(st);
        if (i == 0 && var->kind != MIA__VAR_BASE)
            return BAD("variants[0].kind", "the first variant must be \"base\" (LLLA and "
                                           "temperature wrap the base models)");
        for (int j = 0; j < c->n_variants - 1; j++)
            if (strcmp(c->variants[j].tag, var->tag) == 0)
                return BAD(where, "duplicate variant '%s'", var->name);
    }
    return MIA_OK;
}

static mia_status parse_sets(mia_experiment_config *c, json_t *root)
{
    json_t *v = json_object_get(root, "non_members");
    if (!v) return BAD("non_members", "missing (an array of non-member sets)");
    if (!json_is_array(v) || json_array_size(v) < 1)
        return BAD("non_members", "must be a non-empty array");
    if (json_array_size(v) > MIA__EXP_MAX_SETS)
        return BAD("non_members", "at most %d sets", MIA__EXP_MAX_SETS);
    static const struct { const char *name; mia__nm_kind kind; } kinds[] = {
        {"test", MIA__NM_TEST}, {"permuted", MIA__NM_PERMUTED}, {"scaled", MIA__NM_SCALED},
        {"unnormalized", MIA__NM_UNNORMALIZED}, {"dataset", MIA__NM_DATASET},
        {"noise_uniform", MIA__NM_NOISE_UNIFORM}, {"noise_gaussian", MIA__NM_NOISE_GAUSSIAN},
        {"fakes", MIA__NM_FAKES}};
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        char where[64];
        snprintf(where, sizeof where, "non_members[%zu]", i);
        if (!json_is_object(e)) return BAD(where, "must be an object");
        static const char *const keys[] = {"name", "kind", "spec", "manifest", "files_dir",
                                           "keep_label", "drop_label", "subsample", "mean",
                                           "std", NULL};
        MIA_TRY(check_keys(e, where, keys));
        mia__nm_set *s = &c->sets[c->n_sets++];
        s->keep_label = s->drop_label = -1;
        MIA_TRY(get_str(&s->name, e, "name", where, NULL, true));
        for (int j = 0; j < c->n_sets - 1; j++)
            if (strcmp(c->sets[j].name, s->name) == 0)
                return BAD(where, "duplicate name '%s'", s->name);
        char *kind = NULL;
        MIA_TRY(get_str(&kind, e, "kind", where, NULL, true));
        int found = -1;
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            if (strcmp(kinds[k].name, kind) == 0) found = (int)k;
        char key[96];
        snprintf(key, sizeof key, "%s.kind", where);
        mia_status st = found < 0 ? BAD(key, "unknown kind '%s' (test, permuted, scaled, "
                                             "unnormalized, dataset, noise_uniform, "
                                             "noise_gaussian, fakes)", kind)
                                  : MIA_OK;
        mia__free(kind);
        MIA_TRY(st);
        s->kind = kinds[found].kind;
        MIA_TRY(get_str(&s->spec, e, "spec", where, NULL, s->kind == MIA__NM_DATASET));
        MIA_TRY(get_str(&s->manifest, e, "manifest", where, NULL, false));
        MIA_TRY(get_str(&s->files_dir, e, "files_dir", where, NULL, false));
        if (s->manifest && !s->files_dir) {
            snprintf(key, sizeof key, "%s.files_dir", where);
            return BAD(key, "missing: needed with manifest");
        }
        int64_t x;
        MIA_TRY(get_int(&x, e, "keep_label", where, -1, -1, INT32_MAX));
        s->keep_label = (int32_t)x;
        MIA_TRY(get_int(&x, e, "drop_label", where, -1, -1, INT32_MAX));
        s->drop_label = (int32_t)x;
        MIA_TRY(get_bool(&s->subsample, e, "subsample", where, true));
        MIA_TRY(get_num(&s->mean, e, "mean", where, 127.5, 0, 255, false));
        MIA_TRY(get_num(&s->std, e, "std", where, 64, 0, 1000, false));
    }
    return MIA_OK;
}

static mia_status parse_attacks(mia_experiment_config *c, json_t *root)
{
    json_t *a = json_object_get(root, "attacks");
    c->salem_k = 3;
    if (!a) {
        c->attacks[0] = MIA_ATTACK_THRESHOLD;
        c->attacks[1] = MIA_ATTACK_SALEM;
        c->attacks[2] = MIA_ATTACK_ENTROPY;
        c->n_attacks = 3;
        return MIA_OK;
    }
    if (!json_is_array(a) || json_array_size(a) < 1)
        return BAD("attacks", "must be a non-empty array of \"threshold\", \"salem\", "
                              "\"entropy\", \"loss\"");
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        char where[64];
        snprintf(where, sizeof where, "attacks[%zu]", i);
        if (!json_is_string(e)) return BAD(where, "must be a string");
        const char *n = json_string_value(e);
        mia_attack_kind k;
        if (strcmp(n, "threshold") == 0) k = MIA_ATTACK_THRESHOLD;
        else if (strcmp(n, "salem") == 0) k = MIA_ATTACK_SALEM;
        else if (strcmp(n, "entropy") == 0) k = MIA_ATTACK_ENTROPY;
        else if (strcmp(n, "loss") == 0) k = MIA_ATTACK_LOSS;
        else return BAD(where, "unknown attack '%s' (threshold, salem, entropy, loss)", n);
        for (int j = 0; j < c->n_attacks; j++)
            if (c->attacks[j] == k) return BAD(where, "duplicate attack '%s'", n);
        c->attacks[c->n_attacks++] = k;
    }
    return MIA_OK;
}

static mia_status parse_root(mia_experiment_config *c, json_t *root, const char *base_dir)
{
    if (!json_is_object(root)) return BAD("(root)", "the config must be a JSON object");
    static const char *const keys[] = {"name", "description", "dataset", "splits", "model",
                                       "training", "variants", "non_members", "attacks",
                                       "salem_k", "output_dir", "data_dir", "manifest_dir",
                                       "file_prefix", "fakes", "report", NULL};
    MIA_TRY(check_keys(root, "", keys));
    MIA_TRY(get_str(&c->name, root, "name", "", NULL, true));
    MIA_TRY(get_str(&c->output_dir, root, "output_dir", "", NULL, false));
    if (!c->output_dir) {
        char d[300];
        snprintf(d, sizeof d, "runs/%s", c->name);
        c->output_dir = mia__strdup(d);
        if (!c->output_dir) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    MIA_TRY(get_str(&c->data_dir, root, "data_dir", "", NULL, false));
    char *md = NULL;
    MIA_TRY(get_str(&md, root, "manifest_dir", "", "../data-manifests", false));
    if (md[0] == '/' || !base_dir) c->manifest_dir = md;
    else {
        c->manifest_dir = mia__exp_join(base_dir, md);
        mia__free(md);
        if (!c->manifest_dir) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    c->base_dir = mia__strdup(base_dir ? base_dir : ".");
    if (!c->base_dir) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    MIA_TRY(parse_dataset(c, root));
    MIA_TRY(parse_splits(c, root));
    MIA_TRY(parse_training(c, root));
    MIA_TRY(parse_variants(c, root));
    MIA_TRY(parse_sets(c, root));
    MIA_TRY(parse_attacks(c, root));
    int64_t k;
    MIA_TRY(get_int(&k, root, "salem_k", "", 3, 1, 1000));
    c->salem_k = (int)k;
    if (c->salem_k > c->n_classes)
        return BAD("salem_k", "%d is larger than dataset.classes (%d)", c->salem_k, c->n_classes);
    char *fp = NULL;
    MIA_TRY(get_str(&fp, root, "file_prefix", "", NULL, false));
    if (!fp) {
        char d[300];
        snprintf(d, sizeof d, "%s_%s", c->arch, c->name);
        for (char *p = d; *p; p++)
            if (*p == '-' || *p == ' ') *p = '_';
        fp = mia__strdup(d);
        if (!fp) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    c->file_prefix = fp;
    json_t *f;
    MIA_TRY(get_obj(&f, root, "fakes", false));
    c->fakes_gan_steps = 2000;
    if (f) {
        static const char *const fk[] = {"gan_steps", NULL};
        MIA_TRY(check_keys(f, "fakes", fk));
        MIA_TRY(get_int(&c->fakes_gan_steps, f, "gan_steps", "fakes", 2000, 1, 100000000));
    }
    json_t *r;
    MIA_TRY(get_obj(&r, root, "report", false));
    c->n_samples_shown = 8;
    if (r) {
        static const char *const rk[] = {"samples", NULL};
        MIA_TRY(check_keys(r, "report", rk));
        MIA_TRY(get_int(&k, r, "samples", "report", 8, 0, 8));
        c->n_samples_shown = (int)k;
    }
    char *dump = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    if (!dump) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    c->canonical = mia__strdup(dump);
    free(dump); /* jansson's allocator */
    if (!c->canonical) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    uint8_t dg[32];
    mia__sha256(c->canonical, strlen(c->canonical), dg);
    mia__sha256_hex(dg, c->hash);
    return MIA_OK;
}

mia_status mia_experiment_config_parse(mia_experiment_config **out, const char *json,
                                       const char *base_dir)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(json != NULL, "json is NULL");
    json_error_t err;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return MIA_ERROR(MIA_ERR_FORMAT, "config is not valid JSON: line %d, column %d: %s",
                         err.line, err.column, err.text);
    mia_experiment_config *c = mia__calloc(1, sizeof *c);
    if (!c) {
        json_decref(root);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    mia_status st = parse_root(c, root, base_dir);
    json_decref(root);
    if (st != MIA_OK) {
        mia_experiment_config_free(c);
        return st;
    }
    *out = c;
    return MIA_OK;
}

mia_status mia_experiment_config_load(mia_experiment_config **out, const char *path)
{
    mia__error_begin();
    MIA_CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    MIA_CHECK_ARG(path != NULL, "path is NULL");
    uint8_t *data = NULL;
    size_t n = 0;
    MIA_TRY(mia__read_file(path, (size_t)16 << 20, &data, &n));
    char *text = mia__realloc(data, n + 1);
    if (!text) {
        mia__free(data);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    text[n] = '\0';
    char *dir = mia__strdup(path);
    if (!dir) {
        mia__free(text);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else strcpy(dir, ".");
    mia_status st = mia_experiment_config_parse(out, text, dir);
    if (st != MIA_OK) mia__error_prefix("%s", path);
    mia__free(dir);
    mia__free(text);
    return st;
}

void mia_experiment_config_free(mia_experiment_config *c)
{
    if (!c) return;
    mia__free(c->name);
    mia__free(c->output_dir);
    mia__free(c->data_dir);
    mia__free(c->base_dir);
    mia__free(c->manifest_dir);
    mia__free(c->file_prefix);
    mia__free(c->train_spec);
    mia__free(c->test_spec);
    mia__free(c->manifest);
    mia__free(c->files_dir);
    mia__free(c->arch);
    for (int i = 0; i < c->n_sets; i++) {
        mia__free(c->sets[i].name);
        mia__free(c->sets[i].spec);
        mia__free(c->sets[i].manifest);
        mia__free(c->sets[i].files_dir);
    }
    mia__free(c->canonical);
    mia__free(c);
}

const char *mia_experiment_config_name(const mia_experiment_config *c)
{
    return c ? c->name : NULL;
}

const char *mia_experiment_config_output_dir(const mia_experiment_config *c)
{
    return c ? c->output_dir : NULL;
}

void mia_experiment_config_hash_hex(const mia_experiment_config *c, char out[65])
{
    if (!out) return;
    if (!c) { out[0] = '\0'; return; }
    memcpy(out, c->hash, 65);
}

void mia_experiment_free_string(char *s)
{
    mia__free(s);
}
