/*
 * The plan of a run (stages, sizes, estimated time) and the data check: every data file the
 * config needs, against its manifest (expected size, SHA-256, MD5) or, for the offline sets
 * prepared by scripts/fetch-offline-data.sh, by presence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "experiment-impl.h"

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The offline-set cache folder (same rule as dataset.h). */
static void offline_dir(char *buf, size_t n)
{
    const char *e = getenv("MIA_DATA_DIR");
    if (e && *e) { snprintf(buf, n, "%s", e); return; }
    e = getenv("XDG_CACHE_HOME");
    if (e && *e) { snprintf(buf, n, "%s/libmia", e); return; }
    e = getenv("HOME");
    snprintf(buf, n, "%s/.cache/libmia", e ? e : ".");
}

static const char *offline_base(const char *spec)
{
    static const char *const names[] = {"mnist-opencv", "sklearn-digits", "skimage-patches"};
    for (size_t i = 0; i < 3; i++)
        if (strcmp(spec, names[i]) == 0) return names[i];
    return NULL;
}

/* Append the expected values of a manifest entry. */
static void expected(mia__sbuf *b, json_t *files, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (!n || strcmp(n, name) != 0) continue;
        json_t *v;
        if ((v = json_object_get(f, "size")) && json_is_integer(v))
            mia__sb_printf(b, "      size %lld bytes\n", (long long)json_integer_value(v));
        static const char *const keys[] = {"sha256", "md5", "md5_decompressed"};
        for (size_t k = 0; k < 3; k++)
            if ((v = json_object_get(f, keys[k])) && json_is_string(v))
                mia__sb_printf(b, "      %-16s %s\n", keys[k], json_string_value(v));
        if (!json_object_get(f, "sha256"))
            mia__sb_puts(b, "      sha256           (not published upstream; md5 above)\n");
    }
}

/* Check one manifest; appends lines; counts bad files. */
static mia_status check_manifest(mia__sbuf *b, int64_t *bad, const mia_experiment_config *c,
                                 const char *manifest, const char *files_dir_raw,
                                 const char *data_dir)
{
    char *mpath_name = NULL;
    char fname[256];
    snprintf(fname, sizeof fname, "%s.json", manifest);
    mpath_name = mia__exp_join(c->manifest_dir, fname);
    char *dir = mia__exp_expand(files_dir_raw, data_dir);
    if (!mpath_name || !dir) {
        mia__free(mpath_name);
        mia__free(dir);
        return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    }
    /* Fashion-MNIST's folder may be overridden like the loader does. */
    const char *fm = getenv("MIA_FASHION_MNIST_DIR");
    if (strcmp(manifest, "fashion-mnist") == 0 && fm && *fm) {
        mia__free(dir);
        dir = mia__strdup(fm);
        if (!dir) { mia__free(mpath_name); return MIA_ERROR(MIA_ERR_NOMEM, "out of memory"); }
    }
    mia_manifest_report *rep = NULL;
    mia_status st = mia_manifest_verify(&rep, mpath_name, dir);
    if (st != MIA_OK) {
        mia__error_prefix("manifest '%s'", manifest);
        mia__free(mpath_name);
        mia__free(dir);
        return st;
    }
    json_error_t err;
    json_t *root = json_load_file(mpath_name, 0, &err);
    json_t *files = root ? json_object_get(root, "files") : NULL;
    mia__sb_printf(b, "  manifest %s (%s), files in %s:\n", manifest, mpath_name, dir);
    for (int64_t i = 0; i < mia_manifest_report_count(rep); i++) {
        const char *n = mia_manifest_report_name(rep, i);
        mia_file_check fc = mia_manifest_report_status(rep, i);
        mia__sb_printf(b, "    %-8s %s/%s%s%s\n",
                       fc == MIA_FILE_OK ? "ok" : fc == MIA_FILE_MISSING ? "MISSING" : "WRONG",
                       dir, n, fc == MIA_FILE_MISMATCH ? ": " : "",
                       fc == MIA_FILE_MISMATCH ? mia_manifest_report_detail(rep, i) : "");
        if (fc != MIA_FILE_OK) {
            (*bad)++;
            if (files) expected(b, files, n);
        }
    }
    json_decref(root);
    mia_manifest_report_free(rep);
    mia__free(mpath_name);
    mia__free(dir);
    return MIA_OK;
}

static void check_offline(mia__sbuf *b, int64_t *bad, const char *base)
{
    char dir[512];
    offline_dir(dir, sizeof dir);
    static const char *const parts[] = {"images", "labels"};
    for (int k = 0; k < 2; k++) {
        char p[700];
        snprintf(p, sizeof p, "%s/%s-%s.idx.gz", dir, base, parts[k]);
        bool ok = file_exists(p);
        mia__sb_printf(b, "    %-8s %s\n", ok ? "ok" : "MISSING", p);
        if (!ok) {
            (*bad)++;
            mia__sb_puts(b, "      (offline set: prepare it with scripts/fetch-offline-data.sh)\n");
        }
    }
}

/* An ImageFolder spec without a data manifest (the paper's fakes, a prepared split): report
 * the folder itself when it is absent, so that a dry run lists every missing input. */
static mia_status check_folder(mia__sbuf *b, int64_t *bad, const char *what, const char *raw,
                               const char *data)
{
    char *d = mia__exp_expand(raw, data);
    if (!d) return MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    struct stat sb;
    bool there = stat(d, &sb) == 0 && S_ISDIR(sb.st_mode);
    mia__sb_printf(b, "  image folder of %s (no data manifest):\n", what);
    mia__sb_printf(b, "    %-8s %s/\n", there ? "ok" : "MISSING", d);
    if (!there) {
        (*bad)++;
        mia__sb_puts(b, "      (an ImageFolder tree, one sub-folder per class; for fakes, "
                        "generate it with mia-fakegen, which writes manifest.json beside "
                        "Images/)\n");
    }
    mia__free(d);
    return MIA_OK;
}

static mia_status check_all(mia__sbuf *b, int64_t *bad, const mia_experiment_config *c,
                            const mia_experiment_opts *o)
{
    const char *data = mia__exp_data_dir(c, o);
    *bad = 0;
    mia__sb_puts(b, "Data files:\n");
    if (c->manifest) MIA_TRY(check_manifest(b, bad, c, c->manifest, c->files_dir, data));
    if (strncmp(c->train_spec, "folder:", 7) == 0)
        MIA_TRY(check_folder(b, bad, "the training data", c->train_spec + 7, data));
    if (c->test_spec && strncmp(c->test_spec, "folder:", 7) == 0)
        MIA_TRY(check_folder(b, bad, "the test data", c->test_spec + 7, data));
    for (int i = 0; i < c->n_sets; i++) {
        const mia__nm_set *s = &c->sets[i];
        if (s->kind != MIA__NM_DATASET) continue;
        bool dup = false;
        for (int j = 0; j < i; j++)
            if (c->sets[j].kind == MIA__NM_DATASET && c->sets[j].manifest && s->manifest &&
                strcmp(c->sets[j].manifest, s->manifest) == 0)
                dup = true;
        if (c->manifest && s->manifest && strcmp(c->manifest, s->manifest) == 0) dup = true;
        if (dup) continue;
        if (s->manifest) {
            MIA_TRY(check_manifest(b, bad, c, s->manifest, s->files_dir, data));
        } else if (offline_base(s->spec)) {
            mia__sb_printf(b, "  offline set %s (non-member set '%s'):\n", s->spec, s->name);
            check_offline(b, bad, offline_base(s->spec));
        } else if (strncmp(s->spec, "folder:", 7) == 0) {
            char what[300];
            snprintf(what, sizeof what, "non-member set '%s'", s->name);
            MIA_TRY(check_folder(b, bad, what, s->spec + 7, data));
        } else {
            mia__sb_printf(b, "  %s (non-member set '%s'): no manifest, checked when loaded\n",
                           s->spec, s->name);
        }
    }
    if (*bad == 0) mia__sb_puts(b, "All data files present and verified.\n");
    else mia__sb_printf(b, "%lld data file(s) missing or wrong.\n", (long long)*bad);
    return MIA_OK;
}

mia_status mia_experiment_verify_data(char **text, bool *ok, const mia_experiment_config *cfg,
                                      const mia_experiment_opts *opts)
{
    mia__error_begin();
    MIA_CHECK_ARG(text != NULL, "text is NULL");
    *text = NULL;
    MIA_CHECK_ARG(cfg != NULL, "cfg is NULL");
    mia__sbuf b = {0};
    int64_t bad = 0;
    mia_status st = check_all(&b, &bad, cfg, opts);
    if (st == MIA_OK && b.failed) st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    if (st != MIA_OK) {
        mia__free(b.s);
        return st;
    }
    if (ok) *ok = bad == 0;
    *text = b.s;
    return MIA_OK;
}

static void fmt_secs(char *buf, size_t n, double s)
{
    if (s < 120) snprintf(buf, n, "%.0f s", s);
    else if (s < 7200) snprintf(buf, n, "%.1f min", s / 60);
    else snprintf(buf, n, "%.1f h", s / 3600);
}

mia_status mia_experiment_plan(char **text, int64_t *n_missing, const mia_experiment_config *c,
                               const mia_experiment_opts *o)
{
    mia__error_begin();
    MIA_CHECK_ARG(text != NULL, "text is NULL");
    *text = NULL;
    MIA_CHECK_ARG(c != NULL, "cfg is NULL");
    mia__sbuf b = {0};
    int n_train_variants = 0, n_llla = 0, n_temp = 0;
    for (int v = 0; v < c->n_variants; v++) {
        if (c->variants[v].kind <= MIA__VAR_L2) n_train_variants++;
        if (c->variants[v].kind == MIA__VAR_LLLA) n_llla++;
        if (c->variants[v].kind == MIA__VAR_TEMP) n_temp++;
    }
    const double ips = c->train_images_per_sec;
    double t_train = 2.0 * n_train_variants * (double)c->epochs * (double)c->train_size / ips;
    /* Inference runs roughly 4x faster than a training step per image. */
    double infer_ips = 4 * ips;
    double t_calib = n_llla ? 2.0 * (double)(c->train_size + 3 * c->attack_size) / infer_ips : 0;
    bool fakes = false;
    for (int i = 0; i < c->n_sets; i++)
        if (c->sets[i].kind == MIA__NM_FAKES) fakes = true;
    double t_fakes = fakes ? 3.0 * 64.0 * (double)c->fakes_gan_steps / ips : 0;
    double t_eval = (double)c->n_variants * (double)(c->n_sets + 3) * (double)c->attack_size /
                    infer_ips * (n_llla ? 2 : 1);
    double t_attack = c->n_variants * c->n_sets * 0.5 + c->n_variants * 20.0 *
                      (c->attack_size / 2500.0);
    double total = t_train + t_calib + t_fakes + t_eval + t_attack;
    char ts[32];
    mia__sb_printf(&b, "Experiment %s (config sha256 %.16s)\n", c->name, c->hash);
    mia__sb_printf(&b, "Output directory: %s\n",
                   o && o->output_dir ? o->output_dir : c->output_dir);
    if (c->test_spec)
        mia__sb_printf(&b, "Data: train %s, test %s", c->train_spec, c->test_spec);
    else
        mia__sb_printf(&b, "Data: %s, split %g train / %g test by a seeded permutation",
                       c->train_spec, c->train_fraction, 1.0 - c->train_fraction);
    mia__sb_printf(&b, "; model input %lldx%lldx%lld, %d classes\n", (long long)c->channels,
                   (long long)c->height, (long long)c->width, c->n_classes);
    mia__sb_puts(&b, "Stages:\n");
    mia__sb_printf(&b, "  1 verify      data against manifests%s%s\n",
                   c->manifest ? ": " : "", c->manifest ? c->manifest : "");
    mia__sb_printf(&b, "  2 split       target/shadow train %lld + %lld, test %lld + %lld, "
                       "members / non-members %lld each (seed %llu, member seed %llu)\n",
                   (long long)c->train_size, (long long)c->train_size, (long long)c->test_size,
                   (long long)c->test_size, (long long)c->attack_size,
                   (unsigned long long)c->split_seed, (unsigned long long)c->member_seed);
    fmt_secs(ts, sizeof ts, t_train);
    mia__sb_printf(&b, "  3 train       %s: %d models (", c->arch, 2 * n_train_variants);
    for (int v = 0, k = 0; v < c->n_variants; v++)
        if (c->variants[v].kind <= MIA__VAR_L2)
            mia__sb_printf(&b, "%s%s", k++ ? ", " : "", c->variants[v].name);
    mia__sb_printf(&b, " x target+shadow), %lld epochs x %lld images, batch %lld, lr %g; "
                       "est. %s (cached models are reused)\n",
                   (long long)c->epochs, (long long)c->train_size, (long long)c->batch_size,
                   c->lr, ts);
    fmt_secs(ts, sizeof ts, t_calib);
    mia__sb_printf(&b, "  4 calibrate   %s%s%s on the base models; est. %s\n",
                   n_llla ? "LLLA (target + shadow)" : "", n_llla && n_temp ? ", " : "",
                   n_temp ? "temperature scaling" : (n_llla ? "" : "none"), ts);
    fmt_secs(ts, sizeof ts, t_fakes);
    if (fakes)
        mia__sb_printf(&b, "  5 fakes       class-conditional GAN, %lld steps, %lld images; "
                           "est. %s\n", (long long)c->fakes_gan_steps,
                       (long long)c->attack_size, ts);
    else
        mia__sb_puts(&b, "  5 fakes       none in this config\n");
    mia__sb_printf(&b, "  6 nonmembers  %d sets:", c->n_sets);
    for (int i = 0; i < c->n_sets; i++) mia__sb_printf(&b, "%s %s", i ? "," : "", c->sets[i].name);
    mia__sb_printf(&b, " (%lld images each unless the config keeps a set whole)\n",
                   (long long)c->attack_size);
    fmt_secs(ts, sizeof ts, t_eval + t_attack);
    mia__sb_printf(&b, "  7 attack      %d attacks x %d sets x %d variants = %d evaluations; "
                       "est. %s\n", c->n_attacks, c->n_sets, c->n_variants,
                   c->n_attacks * c->n_sets * c->n_variants, ts);
    mia__sb_printf(&b, "  8 write       %d paper-layout CSVs + JSON, SVG plots, results.json, "
                       "report.html\n", c->n_variants);
    fmt_secs(ts, sizeof ts, total);
    mia__sb_printf(&b, "Estimated time: %s (at %.0f training images/s; "
                       "training.estimated_images_per_second)\n", ts, ips);
    int64_t bad = 0;
    mia_status st = check_all(&b, &bad, c, o);
    if (st == MIA_OK && b.failed) st = MIA_ERROR(MIA_ERR_NOMEM, "out of memory");
    if (st != MIA_OK) {
        mia__free(b.s);
        return st;
    }
    if (n_missing) *n_missing = bad;
    *text = b.s;
    return MIA_OK;
}
